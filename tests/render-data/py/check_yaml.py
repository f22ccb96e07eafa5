"""Read a YAML report with PyYAML (a real consumer, safe loader) and a JSON
report, and say whether they are the same document."""
import json
import sys

import yaml

with open(sys.argv[1]) as f:
    y = yaml.safe_load(f)
with open(sys.argv[2]) as f:
    j = json.load(f)
same = y == j
if not same:
    for k in sorted(set(y) | set(j)):
        if y.get(k) != j.get(k):
            print("differs at", k, file=sys.stderr)
print(json.dumps({"consumer": "PyYAML " + yaml.__version__, "same": same, "keys": len(y)}))
sys.exit(0 if same else 1)

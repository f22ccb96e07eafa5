"""Validate a SARIF log against SARIF 2.1.0 JSON schemas (tests/data), with
format checking (rfc3987 makes `uri` strict). Prints one line per schema
and each error; exits 1 on any error."""
import json
import pathlib
import sys

import jsonschema
from jsonschema import FormatChecker, validators

log = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
data = pathlib.Path(__file__).resolve().parent.parent / "data"
failed = False
for name in ("sarif-schema-2.1.0.json", "sarif-2.1.0-rtm.5.json"):
    schema = json.loads((data / name).read_text(encoding="utf-8"))
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    checker = FormatChecker()
    checker.check("docs/x.md", "uri-reference")
    try:
        checker.check("docs/x.md", "uri")
        raise SystemExit("format checking of `uri` is off: pip install rfc3987")
    except jsonschema.FormatError:
        pass
    errors = sorted(cls(schema, format_checker=checker).iter_errors(log), key=lambda e: list(e.path))
    print(f"{name} {cls.__name__}: {len(errors)} errors")
    for e in errors:
        failed = True
        print("  at", "/".join(map(str, e.path)), ":", e.message[:300])
sys.exit(1 if failed else 0)

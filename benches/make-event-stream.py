#!/usr/bin/env python3
"""A large agent event stream for the replay memory bound (issue 22): FLOWS
mutual-TLS flows, each the fixture openssl-tls12-mutual's flow under a new
id and client port (handshake and flow events; the certificates' bytes on
the first handshake, as the agent sends them), then a summary counting them.
Written from fixtures/events, nothing is captured or sent.

    python3 benches/make-event-stream.py OUT.ndjson FLOWS"""
import json
import os
import sys

out, n = sys.argv[1], int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "fixtures", "events", "openssl-tls12-mutual.events.ndjson")
lines = {}
for line in open(src):
    v = json.loads(line)
    lines.setdefault(v["event"], v)

seq = 0


def emit(f, v):
    global seq
    v["seq"] = seq
    seq += 1
    f.write(json.dumps(v, separators=(",", ":")) + "\n")


with open(out, "w") as f:
    emit(f, lines["start"])
    for i in range(1, n + 1):
        port = 1024 + i % 60000
        for kind in ("handshake", "flow"):
            v = json.loads(json.dumps(lines[kind]))
            v["id"] = i
            v["flow"]["client"]["port"] = port
            if i > 1:
                v.pop("certificates", None)
            emit(f, v)
    summary = lines["summary"]
    summary["report"]["stats"]["flows"] = n
    emit(f, summary)

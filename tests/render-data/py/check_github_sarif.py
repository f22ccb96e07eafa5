"""Check a SARIF log against GitHub code scanning's documented ingestion
requirements ("SARIF support for code scanning",
https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning,
and the upload limits in "Uploading a SARIF file to GitHub"), the rules the
SARIF Multitool encodes as GH1001-GH1007 and GH2012. Prints one line per
violation and a count; exits 1 on any."""
import json
import pathlib
import re
import sys
from urllib.parse import urlparse

log = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
errors = []


def err(where, what):
    errors.append(f"{where}: {what}")


if log.get("version") != "2.1.0":
    err("log", "version must be 2.1.0")
runs = log.get("runs") or []
if not runs or len(runs) > 20:
    err("log", f"1 to 20 runs per upload, got {len(runs)}")
for r, run in enumerate(runs):
    driver = run.get("tool", {}).get("driver", {})
    if not driver.get("name"):
        err(f"runs/{r}", "tool.driver.name is required")
    rules = driver.get("rules", [])
    if len(rules) > 25000:
        err(f"runs/{r}", "more than 25,000 rules")
    ids = set()
    for i, rule in enumerate(rules):
        where = f"runs/{r}/rules/{i}"
        if not rule.get("id"):
            err(where, "id is required")
        ids.add(rule.get("id"))
        for k in ("shortDescription", "fullDescription"):
            if not rule.get(k, {}).get("text"):
                err(where, f"{k}.text is required (GH2012 for fullDescription)")
        help_uri = rule.get("helpUri")
        if help_uri is not None:
            u = urlparse(help_uri)
            if u.scheme not in ("http", "https") or not u.netloc:
                err(where, f"helpUri must be an absolute http(s) URL, got {help_uri!r}")
        props = rule.get("properties", {})
        tags = props.get("tags", [])
        if len(tags) > 20:
            err(where, "more than 20 tags")
        sev = props.get("security-severity")
        if sev is not None:
            try:
                v = float(sev)
                if not 0.0 <= v <= 10.0:
                    raise ValueError
            except ValueError:
                err(where, f"security-severity must be a number 0.0-10.0 as a string, got {sev!r}")
    results = run.get("results", [])
    if len(results) > 25000:
        err(f"runs/{r}", "more than 25,000 results")
    for j, res in enumerate(results):
        where = f"runs/{r}/results/{j}"
        if not res.get("ruleId"):
            err(where, "ruleId is required")
        elif ids and res["ruleId"] not in ids:
            err(where, f"ruleId {res['ruleId']} is not a rule of the driver")
        msg = res.get("message", {})
        if not msg.get("text"):
            err(where, "message.text is required (GH1007: fully formatted)")
        locs = res.get("locations") or []
        if not locs:
            err(where, "at least one location is required (GH1001)")
        if len(locs) > 1000:
            err(where, "more than 1,000 locations")
        for k, loc in enumerate(locs):
            pl = loc.get("physicalLocation")
            lw = f"{where}/locations/{k}"
            if not pl:
                err(lw, "physicalLocation is required (GH1001)")
                continue
            uri = pl.get("artifactLocation", {}).get("uri")
            if not uri:
                err(lw, "physicalLocation.artifactLocation.uri is required (GH1001)")
            else:
                u = urlparse(uri)
                if u.scheme or uri.startswith("/") or re.match(r"^[A-Za-z]:", uri):
                    err(lw, f"uri must be relative to the repository root (GH1005), got {uri!r}")
                if any(seg in (".", "..") for seg in uri.split("/")):
                    err(lw, f"uri must not climb out of the repository, got {uri!r}")
                if re.search(r"[\s\x00-\x1f\"<>\\^`{|}]", uri):
                    err(lw, f"uri holds characters a URI may not, got {uri!r}")
            start = pl.get("region", {}).get("startLine")
            if not isinstance(start, int) or start < 1:
                err(lw, "region.startLine (1-based) is required (GH1003)")
        fps = res.get("partialFingerprints")
        if not isinstance(fps, dict) or not fps:
            err(where, "partialFingerprints is required for stable alerts across runs")
        bs = res.get("baselineState")
        if bs is not None and bs not in ("new", "unchanged", "updated", "absent"):
            err(where, f"baselineState {bs!r} is not a SARIF value")
for e in errors:
    print(" ", e)
print(f"github: {len(errors)} errors")
sys.exit(1 if errors else 0)

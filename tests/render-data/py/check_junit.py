"""Read a JUnit XML file with junitparser (a real consumer) and print what
it saw as JSON, for tests/junit.rs to compare with the report."""
import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped, version

xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        results = []
        for r in case.result:
            kind = {Failure: "failure", Skipped: "skipped", Error: "error"}.get(type(r), type(r).__name__)
            results.append({"kind": kind, "type": r.type, "message": r.message, "text": r.text})
        cases.append({
            "classname": case.classname,
            "name": case.name,
            "results": results,
            "system_out": case.system_out,
        })
    suites.append({
        "name": suite.name,
        "tests": suite.tests,
        "failures": suite.failures,
        "errors": suite.errors,
        "skipped": suite.skipped,
        "cases": cases,
    })
json.dump({
    "consumer": "junitparser " + version,
    "tests": xml.tests,
    "failures": xml.failures,
    "errors": xml.errors,
    "skipped": xml.skipped,
    "suites": suites,
}, sys.stdout)

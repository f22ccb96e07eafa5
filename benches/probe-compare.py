"""Compare tls-audit probe verdicts with sslyze's and testssl.sh's.

usage: probe-compare.py TLS_AUDIT.json SSLYZE.json [TESTSSL-PORT.json ...]

Per endpoint: the protocol versions accepted, the client-certificate policy
(testssl 3.0 only tells `required` from the rest) and whether the chain
validates against the run's CA. Prints a count of agreeing verdicts per tool
and every disagreement. The same mapping as tests/integration/probe/compare.rs.
"""
import json
import os
import sys

VERSIONS = ["TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0", "SSL3.0"]


def ours(path):
    r = json.load(open(path))
    out = {}
    for p in r["probes"]:
        v = {x["version"]: x["accepted"] for x in p["versions"]}
        ep = p["target"]
        rules = {f["rule"] for f in r["findings"] if f["flow"]["server"] == ep}
        chain = "expired" if "TA-CERT-EXPIRED" in rules else "untrusted" if "TA-CHAIN" in rules else "ok"
        out[ep] = {**{k: v.get(k) for k in VERSIONS}, "client_auth": p["client_auth"]["policy"], "chain": chain}
    return out


def sslyze(path):
    out = {}
    keys = ["tls_1_3", "tls_1_2", "tls_1_1", "tls_1_0", "ssl_3_0"]
    for s in json.load(open(path))["server_scan_results"]:
        loc = s["server_location"]
        ep = f'{loc["ip_address"]}:{loc["port"]}'
        r = s.get("scan_result") or {}
        v = {}
        for name, key in zip(VERSIONS, keys):
            res = (r.get(key + "_cipher_suites") or {}).get("result")
            v[name] = None if res is None else bool(res["accepted_cipher_suites"])
        ca = (s.get("connectivity_result") or {}).get("client_auth_requirement")
        v["client_auth"] = {"DISABLED": "none", None: None}.get(ca, (ca or "").lower())
        chain = None
        try:
            for x in r["certificate_info"]["result"]["certificate_deployments"][0]["path_validation_results"]:
                if x["trust_store"]["path"].endswith("ca.pem"):
                    ok, err = x["was_validation_successful"], x["validation_error"] or ""
                    chain = "ok" if ok else "expired" if "expired" in err else "untrusted"
        except (KeyError, TypeError, IndexError):
            pass
        v["chain"] = chain
        out[ep] = v
    return out


def testssl(paths):
    out = {}
    ids = ["TLS1_3", "TLS1_2", "TLS1_1", "TLS1", "SSLv3"]
    for path in paths:
        items = json.load(open(path))
        if not items:
            continue
        find = {i["id"]: i["finding"] for i in items}
        ep = f'{items[-1]["ip"].split("/")[-1]}:{items[-1]["port"]}'
        v = {n: (find[i].startswith("offered") if i in find else None) for n, i in zip(VERSIONS, ids)}
        service = find.get("service", "")
        v["client_auth"] = ("required" if "certificate-based authentication" in service
                            else None if "determine service" in service else "not-required")
        trust = find.get("cert_chain_of_trust")
        v["chain"] = None if trust is None else "ok" if trust.startswith("passed") else "untrusted"
        if find.get("cert_expirationStatus", "").startswith("expired"):
            v["chain"] = "expired"
        out[ep] = v
    return out


def agree(field, mine, theirs):
    if theirs is None or mine is None:
        return None
    if field == "client_auth" and theirs == "not-required":
        return mine in ("none", "optional")
    return mine == theirs


def main():
    mine = ours(sys.argv[1])
    tools = []
    if os.path.exists(sys.argv[2]):
        tools.append(("sslyze", sslyze(sys.argv[2])))
    if sys.argv[3:]:
        tools.append(("testssl.sh", testssl([p for p in sys.argv[3:] if os.path.exists(p)])))
    print("\n== verdicts: versions, client-certificate policy, chain ==")
    for name, theirs in tools:
        ok, bad = 0, []
        for ep, t in theirs.items():
            m = mine.get(ep)
            if m is None:
                continue
            for field in VERSIONS + ["client_auth", "chain"]:
                a = agree(field, m[field], t[field])
                if a is True:
                    ok += 1
                elif a is False:
                    bad.append(f"{ep} {field}: tls-audit {m[field]}, {name} {t[field]}")
        print(f"{name}: {ok} verdicts agree, {len(bad)} differ on {len(theirs)} endpoints")
        for b in bad:
            print("   ", b)


if __name__ == "__main__":
    main()

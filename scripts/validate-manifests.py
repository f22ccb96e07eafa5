#!/usr/bin/env python3
"""Render and validate the Kubernetes manifests for every supported version.

    python3 scripts/validate-manifests.py

`kubectl kustomize` renders probes/ (the base) and each overlay in
deploy/overlays/, offline; the two fragments are wrapped into whole objects
(probes/ephemeral-container.yaml into a Pod's spec.ephemeralContainers,
probes/sidecar.yaml merged into a Deployment as `kubectl patch --type
strategic` would: a container added, annotations added). Every object is
validated with kubernetes-validate (PyPI), strictly (unknown fields are
errors), against each Kubernetes minor version from 1.25 (ephemeral
containers stable) to the newest the installed kubernetes-validate knows.
Each overlay must change what it says it changes, and a manifest with a
wrong field type must be rejected, so the validation is seen to bite.

Needs kubectl (with kustomize v4 or later: kubectl 1.21+) and
kubernetes-validate; skips with a NOTICE without them outside CI.
"""

import copy
import os
import re
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OLDEST = (1, 25)
IMAGE = "ghcr.io/tls-audit/tls-audit:0.1.0"


def fail(msg):
    print(f"validate-manifests: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def say(msg):
    print(f"validate-manifests: {msg}", file=sys.stderr)


def skip(msg):
    if os.environ.get("CI") == "true":
        fail(f"{msg} (scripts/install-deps.sh installs it)")
    print(f"NOTICE: manifest validation skipped: {msg}", file=sys.stderr)
    sys.exit(0)


try:
    import yaml
    import kubernetes_validate
except ImportError as e:
    skip(f"python module missing: {e.name}")


def kustomize(path):
    try:
        out = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, cwd=REPO)
    except FileNotFoundError:
        skip("kubectl not installed")
    if out.returncode != 0:
        fail(f"kubectl kustomize {path}: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def load(rel):
    with open(os.path.join(REPO, rel), encoding="utf-8") as f:
        return yaml.safe_load(f)


def versions():
    """The minor versions the installed kubernetes-validate has strict schemas for."""
    schemas = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    found = set()
    for d in os.listdir(schemas):
        m = re.fullmatch(r"v(\d+)\.(\d+)\.0-local-strict", d)
        if m and (int(m.group(1)), int(m.group(2))) >= OLDEST:
            found.add((int(m.group(1)), int(m.group(2))))
    if not found:
        fail(f"kubernetes-validate has no schemas from {OLDEST} on")
    return [f"{a}.{b}.0" for a, b in sorted(found)]


def by_kind(docs, kind):
    hits = [d for d in docs if d.get("kind") == kind]
    if len(hits) != 1:
        fail(f"want one {kind}, found {len(hits)}")
    return hits[0]


def ephemeral_pod():
    """probes/ephemeral-container.yaml as the plugin sends it: in a Pod."""
    ec = load("probes/ephemeral-container.yaml")
    ec = dict(ec, name="tls-audit-x7k2p", targetContainerName="app")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-7d9f8b6c5-x2k4p", "namespace": "pay"},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/pay/api:1.4"}], "ephemeralContainers": [ec]},
    }


def sidecar_deployment():
    """probes/sidecar.yaml applied to a Deployment (strategic merge: containers merge by name)."""
    patch = load("probes/sidecar.yaml")
    labels = {"app": "payments"}
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "payments", "namespace": "pay"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {"example.com/owner": "pay"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/pay/api:1.4"}]},
            },
        },
    }
    tpl, ptpl = dep["spec"]["template"], patch["spec"]["template"]
    tpl["metadata"]["annotations"].update(ptpl.get("metadata", {}).get("annotations", {}))
    names = {c["name"] for c in tpl["spec"]["containers"]}
    for c in ptpl["spec"]["containers"]:
        if c["name"] in names:
            fail(f"sidecar container name {c['name']} collides")
        tpl["spec"]["containers"].append(c)
    for k, v in ptpl["spec"].items():
        if k != "containers":
            tpl["spec"][k] = v
    return dep


def validate(docs, label, vers):
    for v in vers:
        for d in docs:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                fail(f"{label}: {d['kind']}/{d['metadata']['name']} is invalid for Kubernetes {v}: {e.message} at {list(e.path)}")
            except kubernetes_validate.SchemaNotFoundError as e:
                fail(f"{label}: no schema for {d['kind']} in Kubernetes {v}: {e}")


def images(docs):
    return sorted(
        c["image"]
        for d in docs
        if d["kind"] == "DaemonSet"
        for c in d["spec"]["template"]["spec"]["containers"]
    )


def main():
    vers = versions()
    base = kustomize("probes")
    kinds = sorted(d["kind"] for d in base)
    if kinds != ["ClusterRole", "DaemonSet", "Namespace", "ServiceAccount"]:
        fail(f"probes/ renders {kinds}")
    validate(base, "probes/", vers)

    ns = kustomize("deploy/overlays/namespace")
    if by_kind(ns, "Namespace")["metadata"]["name"] != "security-audit" or {
        d["metadata"].get("namespace") for d in ns if d["kind"] in ("DaemonSet", "ServiceAccount")
    } != {"security-audit"}:
        fail("the namespace overlay does not move the agent to security-audit")
    validate(ns, "deploy/overlays/namespace", vers)

    img = kustomize("deploy/overlays/image")
    if images(base) != [IMAGE] or images(img) != ["registry.example.com/security/tls-audit:0.1.0"]:
        fail(f"image overlay: {images(base)} -> {images(img)}")
    validate(img, "deploy/overlays/image", vers)

    sel = kustomize("deploy/overlays/node-selector")
    node_selector = by_kind(sel, "DaemonSet")["spec"]["template"]["spec"].get("nodeSelector")
    if node_selector != {"kubernetes.io/os": "linux", "node.kubernetes.io/pool": "payments"}:
        fail(f"node-selector overlay: {node_selector}")
    validate(sel, "deploy/overlays/node-selector", vers)

    enr = kustomize("deploy/overlays/enrich")
    args = by_kind(enr, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]
    if args[:-1] != by_kind(base, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"] or args[-1] != "--enrich=probe":
        fail(f"enrich overlay: {args}")
    validate(enr, "deploy/overlays/enrich", vers)

    fragments = [ephemeral_pod(), sidecar_deployment()]
    validate(fragments, "fragments", vers)

    # The check must be able to fail: a capability list given as a string.
    bad = copy.deepcopy(by_kind(base, "DaemonSet"))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = "NET_RAW"
    try:
        kubernetes_validate.validate(bad, vers[-1], strict=True)
        fail("a DaemonSet with capabilities.add: \"NET_RAW\" passed validation")
    except kubernetes_validate.ValidationError:
        pass
    say(
        f"ok: probes/ and 4 overlays render offline; "
        f"{len(base) + len(ns) + len(img) + len(sel) + len(enr) + len(fragments)} objects valid (strict) "
        f"for Kubernetes {vers[0]} to {vers[-1]} ({len(vers)} versions)"
    )


if __name__ == "__main__":
    main()

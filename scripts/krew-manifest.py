#!/usr/bin/env python3
"""Write the krew plugin manifest for a release, from its archives.

    scripts/krew-manifest.py --version v0.1.0 [--base-url URL] [-o OUT] ARCHIVE...

plugins/tls-audit.yaml is the template (its description, caveats,
selectors, `files` and `bin`); for each platform this script takes the
archive scripts/release-archive.sh made for it
(tls-audit-VERSION-linux-ARCH.tar.gz, ARCH being the selector's `arch`),
and writes `version`, `uri` (BASE_URL/ARCHIVE-NAME; by default the GitHub
release of VERSION) and the archive's real `sha256`. Before writing, it
checks what krew checks when it installs (kubernetes-sigs/krew,
pkg/index/validation and the installation's file moves): the plugin name, a
semantic version with a leading `v`, a short description, a selector and
an https URI per platform, a 64-character lowercase sha256 (not the
template's zeros), and that every
`files[].from` and the `bin` are in the archive as regular files, the
`bin` executable. Any failure exits 1 and writes nothing.
"""

import argparse
import hashlib
import os
import re
import sys
import tarfile

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TEMPLATE = os.path.join(REPO, "plugins", "tls-audit.yaml")
DEFAULT_BASE = "https://github.com/tls-audit/tls-audit/releases/download/{version}"
# krew: "^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)..." with the v required in manifests.
SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def fail(msg):
    print(f"krew-manifest: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_archive(path, platform):
    """The archive holds each `files[].from` and the `bin`, as krew moves them."""
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers()}
    for f in platform.get("files") or []:
        m = members.get(f["from"])
        if m is None or not m.isfile():
            fail(f"{os.path.basename(path)}: files[].from {f['from']!r} is not a regular file in the archive")
        if f.get("to") != ".":
            fail(f"files[].to {f.get('to')!r}: the manifest installs into the plugin's directory ('.')")
    m = members.get(platform["bin"])
    if m is None or not m.isfile() or not m.mode & 0o111:
        fail(f"{os.path.basename(path)}: bin {platform['bin']!r} is not an executable file in the archive")
    extra = sorted(n for n in members if n.startswith("kubectl-") and n != platform["bin"])
    if extra:
        fail(f"{os.path.basename(path)}: other kubectl-* files would confuse `kubectl plugin list`: {extra}")


def validate(m):
    if m.get("apiVersion") != "krew.googlecontainertools.github.com/v1alpha2" or m.get("kind") != "Plugin":
        fail("apiVersion/kind are not krew's Plugin v1alpha2")
    name = m.get("metadata", {}).get("name", "")
    if not NAME.match(name) or name == "kubectl":
        fail(f"metadata.name {name!r} is not a valid plugin name")
    spec = m.get("spec") or {}
    if not SEMVER.match(str(spec.get("version", ""))):
        fail(f"spec.version {spec.get('version')!r} is not a semantic version with a leading v")
    if not spec.get("shortDescription"):
        fail("spec.shortDescription is missing")
    if not spec.get("platforms"):
        fail("spec.platforms is empty")
    for p in spec["platforms"]:
        if not (p.get("selector") or {}).get("matchLabels"):
            fail("a platform has no selector")
        if not str(p.get("uri", "")).startswith("https://"):
            fail(f"uri {p.get('uri')!r} is not https")
        if not re.fullmatch(r"[0-9a-f]{64}", str(p.get("sha256", ""))) or set(p["sha256"]) == {"0"}:
            fail(f"sha256 {p.get('sha256')!r} is not a real SHA-256")
        if not p.get("bin"):
            fail("a platform has no bin")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", required=True, help="the release tag, e.g. v0.1.0")
    ap.add_argument("--base-url", help="where the archives are published (default: the GitHub release)")
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("-o", "--output", help="write here instead of standard output")
    ap.add_argument("archives", nargs="+")
    a = ap.parse_args()
    if not SEMVER.match(a.version):
        fail(f"--version {a.version!r} is not like v1.2.3")
    base = (a.base_url or DEFAULT_BASE.format(version=a.version)).rstrip("/")
    with open(a.template, encoding="utf-8") as f:
        m = yaml.safe_load(f)
    by_name = {os.path.basename(p): p for p in a.archives}
    m["spec"]["version"] = a.version
    for p in m["spec"]["platforms"]:
        labels = p["selector"]["matchLabels"]
        name = f"tls-audit-{a.version}-{labels['os']}-{labels['arch']}.tar.gz"
        path = by_name.get(name) or fail(f"no archive {name} among {sorted(by_name)}")
        check_archive(path, p)
        p["uri"] = f"{base}/{name}"
        p["sha256"] = sha256(path)
    validate(m)
    text = (
        f"# Generated by scripts/krew-manifest.py from plugins/tls-audit.yaml for {a.version}.\n"
        "# Install: kubectl krew install --manifest=tls-audit.yaml\n"
        + yaml.safe_dump(m, sort_keys=False, width=100)
    )
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

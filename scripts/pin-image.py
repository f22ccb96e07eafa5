#!/usr/bin/env python3
"""Pin the agent image to the digest the release pushed.

    python3 scripts/pin-image.py --digest sha256:HEX [--image NAME] -o OUTDIR FILE...

Every `image: NAME:TAG` (or `image: NAME:TAG@sha256:OLD`) line of each
FILE becomes `image: NAME:TAG@sha256:HEX` in OUTDIR/FILE's name: the tag
stays for people to read, the digest is what the kubelet pulls (Kubernetes
resolves `name:tag@digest` by the digest alone). A FILE without such a
line is an error, so a renamed image cannot leave a manifest unpinned; a
digest that is not sha256 and 64 lowercase hex digits is refused. The
release workflow runs this with the digest `docker/build-push-action`
reports for the multi-architecture index and publishes the pinned copies;
scripts/install-test.sh runs it offline against probes/ with a made-up
digest."""
import argparse
import os
import re
import sys

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def pin(text, image, digest):
    """The text with every image line of `image` pinned; how many lines."""
    line = re.compile(
        r"^(?P<lead>\s*(?:-\s+)?image:\s*)(?P<q>[\"']?)"
        + re.escape(image)
        + r"(?P<tag>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?(?P=q)\s*$"
    )
    out, n = [], 0
    for l in text.splitlines(keepends=True):
        m = line.match(l.rstrip("\n"))
        if m:
            n += 1
            l = f"{m['lead']}{m['q']}{image}{m['tag'] or ''}@{digest}{m['q']}\n"
        out.append(l)
    return "".join(out), n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default="ghcr.io/tls-audit/tls-audit")
    p.add_argument("--digest", required=True)
    p.add_argument("-o", "--out-dir", required=True)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    if not DIGEST.match(a.digest):
        sys.exit(f"pin-image: {a.digest!r} is not a sha256 digest (sha256: and 64 lowercase hex digits)")
    os.makedirs(a.out_dir, exist_ok=True)
    for f in a.files:
        text, n = pin(open(f).read(), a.image, a.digest)
        if n == 0:
            sys.exit(f"pin-image: {f} has no `image: {a.image}[:TAG]` line to pin")
        with open(os.path.join(a.out_dir, os.path.basename(f)), "w") as o:
            o.write(text)
        print(f"pin-image: {f}: {n} image line(s) pinned to {a.digest}", file=sys.stderr)


if __name__ == "__main__":
    main()

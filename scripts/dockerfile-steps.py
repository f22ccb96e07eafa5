#!/usr/bin/env python3
"""Run the Dockerfile's build stage without a container engine or registry.

scripts/image-test.sh builds the image for real (buildah, podman, runc) on
a local Debian base, but with BINARY_FROM=prebuilt: the Rust image the
build stage starts from cannot be pulled here, and a release build inside
the image would double CI's build time. This script covers that stage, so
it cannot rot: it replays the `build` stage's steps in a directory standing
for its root filesystem. COPY copies from the build context (honouring
.dockerignore's simple patterns); WORKDIR and ARG are honoured; RUN runs
each `&&`-joined command in the stage's working directory, translated where
a command would change this machine instead of an image:

  apt-get install PKGS    each package must exist in Debian's archive
                          (apt-cache policy shows a candidate); nothing is
                          installed
  apt-get update/purge,   skipped: they manage the image's package database
  rm -rf /var/lib/apt/...
  absolute paths          (mkdir /out...) point into the stage's root
  cargo build --release   with STEPS_PROFILE=dev (the default in the test
                          suite) runs as a dev build in the repository's
                          target directory, so dependencies are not built a
                          second time; later `target/release/` paths read
                          `target/debug/`. STEPS_PROFILE=release runs it as
                          written (a cold release build: minutes).

The stage must leave the binary at /out/tls-audit, where the runtime stage
copies it from. Any other instruction is an error, so a Dockerfile change
this script does not understand fails the check.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# Where `target/release/` really is once a dev build stood in for it.
RELEASE_TO = [None]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def fail(msg):
    print(f"dockerfile-steps: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def say(msg):
    print(f"dockerfile-steps: {msg}", file=sys.stderr)


def instructions(path):
    """(instruction, argument text) pairs, continuations joined."""
    out, cur = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def ignored(rel, patterns):
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in patterns)


def copy_in(src, dst, patterns, base):
    if os.path.isdir(src):
        for root, dirs, files in os.walk(src):
            relroot = os.path.relpath(root, base)
            dirs[:] = [d for d in dirs if not ignored(os.path.normpath(os.path.join(relroot, d)), patterns)]
            for f in files:
                rel = os.path.normpath(os.path.join(relroot, f))
                if ignored(rel, patterns):
                    continue
                target = os.path.join(dst, os.path.relpath(os.path.join(root, f), src))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.join(root, f), target)
    elif os.path.exists(src):
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        shutil.copy2(src, dst)
    else:
        fail(f"COPY source {src} does not exist")


class Stage:
    def __init__(self, name, root):
        self.name, self.root = name, root
        self.workdir = "/"
        self.args = {}

    def host(self, path):
        """An image path as a path in this stage's directory."""
        if not path.startswith("/"):
            path = os.path.join(self.workdir, path)
        return os.path.join(self.root, path.lstrip("/"))


def apt_check(pkgs):
    for p in pkgs:
        out = subprocess.run(["apt-cache", "policy", p], capture_output=True, text=True).stdout
        m = re.search(r"Candidate:\s*(\S+)", out)
        if not m or m.group(1) == "(none)":
            fail(f"apt-get install: no Debian package {p}")
    say(f"  apt packages exist: {' '.join(pkgs)}")


def run_command(stage, words, profile, state):
    if not words:
        return
    prog = words[0]
    if prog == "apt-get":
        sub = [w for w in words[1:] if not w.startswith("-")]
        if sub and sub[0] == "install":
            apt_check(sub[1:])
        else:
            say(f"  skipped (package database): {' '.join(words)}")
        return
    if prog == "rm" and any(w.startswith("/var/lib/apt/lists") for w in words):
        say(f"  skipped (package database): {' '.join(words)}")
        return
    if prog == "cargo" and len(words) > 1 and words[1] == "build":
        cmd = list(words)
        env = dict(os.environ)
        if profile == "dev" and "--release" in cmd:
            cmd.remove("--release")
            state["release_to"] = "debug"
            RELEASE_TO[0] = "debug"
            # The repository's target directory: dependencies are already
            # built there by the test suite. Keep its tls-audit binary as it
            # was (this build comes from a copy of the same sources).
            env["CARGO_TARGET_DIR"] = os.path.join(REPO, "target")
            keep = os.path.join(REPO, "target", "debug", "tls-audit")
            saved = keep + ".steps-saved"
            if os.path.exists(keep):
                shutil.copy2(keep, saved)
            say(f"  running (dev profile): {' '.join(cmd)}")
            r = subprocess.run(cmd, cwd=stage.host("."), env=env)
            built = os.path.join(stage.host("."), "target", "debug", "tls-audit")
            os.makedirs(os.path.dirname(built), exist_ok=True)
            if r.returncode == 0:
                shutil.copy2(keep, built)
            if os.path.exists(saved):
                os.replace(saved, keep)
            if r.returncode != 0:
                fail(f"RUN {' '.join(words)} failed")
            return
    words = [w.replace("target/release/", f"target/{state['release_to']}/") if state.get("release_to") else w for w in words]
    # Absolute paths point into the stage's root.
    words = [stage.host(w) if w.startswith("/") else w for w in words]
    say(f"  running: {' '.join(words)}")
    r = subprocess.run(" ".join(shlex.quote(w) for w in words), shell=True, cwd=stage.host("."), executable="/bin/bash")
    if r.returncode != 0:
        fail(f"RUN {' '.join(words)} failed")


def split_and(text):
    """`a && b && c` into word lists (redirections kept as words)."""
    parts, cur = [], []
    for tok in shlex.split(text, posix=True):
        if tok == "&&":
            parts.append(cur)
            cur = []
        else:
            cur.append(tok)
    parts.append(cur)
    return parts


def run_shell_redirect(stage, text):
    """A RUN whose commands use redirection (`echo x > f`): run as shell."""
    say(f"  running (shell): {text}")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=stage.host("."))
    if r.returncode != 0:
        fail(f"RUN {text} failed")


def main():
    profile = os.environ.get("STEPS_PROFILE", "dev")
    dockerfile = os.path.join(REPO, "Dockerfile")
    patterns = []
    if os.path.exists(os.path.join(REPO, ".dockerignore")):
        patterns = [l.strip() for l in open(os.path.join(REPO, ".dockerignore")) if l.strip() and not l.startswith("#")]
    work = tempfile.mkdtemp(prefix="tlsa-dockerfile-")
    stages, stage, state = {}, None, {}
    try:
        for word, rest in instructions(dockerfile):
            if word == "ARG" and stage is None:
                continue  # a global ARG: only FROM lines use them
            if word == "FROM" and "build" in stages:
                break  # the stages after `build` are scripts/image-test.sh's
            if word == "FROM":
                m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
                if not m:
                    fail(f"FROM {rest}")
                name = m.group(2) or f"stage{len(stages)}"
                stage = Stage(name, os.path.join(work, name))
                os.makedirs(stage.root)
                stages[name] = stage
                state = {}
                say(f"stage {name} (from {m.group(1)}, not pulled)")
            elif stage is None:
                fail(f"{word} before FROM")
            elif word == "ARG":
                k, _, v = rest.partition("=")
                stage.args[k] = v
            elif word == "WORKDIR":
                stage.workdir = rest if rest.startswith("/") else os.path.join(stage.workdir, rest)
                os.makedirs(stage.host("."), exist_ok=True)
            elif word == "COPY":
                args = rest.split()
                src_stage = None
                if args[0].startswith("--from="):
                    src_stage = stages.get(args[0].split("=", 1)[1]) or fail(f"no stage {args[0]}")
                    args = args[1:]
                *srcs, dst = args
                for s in srcs:
                    if src_stage:
                        if RELEASE_TO[0]:
                            s = s.replace("target/release/", f"target/{RELEASE_TO[0]}/")
                        src = src_stage.host(s)
                    else:
                        src = os.path.join(REPO, s)
                    target = stage.host(dst)
                    if dst.endswith("/") or len(srcs) > 1:
                        target = os.path.join(target, os.path.basename(s.rstrip("/")))
                    copy_in(src, target, [] if src_stage else patterns, REPO)
                say(f"  COPY {rest}")
            elif word == "RUN":
                if re.search(r"[<>|;]", rest):
                    # Redirections or pipes: keep the shell, commands checked one by one.
                    for part in rest.split("&&"):
                        p = part.strip()
                        if re.search(r"[<>|;]", p):
                            run_shell_redirect(stage, p)
                        else:
                            run_command(stage, shlex.split(p), profile, state)
                else:
                    for words in split_and(rest):
                        run_command(stage, words, profile, state)
            else:
                fail(f"unsupported instruction {word} (teach scripts/dockerfile-steps.py)")
        build = stages.get("build") or fail("no stage named build")
        out = build.host("/out/tls-audit")
        if not os.access(out, os.X_OK):
            fail("the build stage did not leave an executable /out/tls-audit")
        v = subprocess.run([out, "--version"], capture_output=True, text=True)
        if v.returncode != 0 or not v.stdout.startswith("tls-audit "):
            fail(f"/out/tls-audit --version: exit {v.returncode}: {v.stdout!r} {v.stderr!r}")
        say(f"ok: the build stage ran from what its COPY lines bring in; /out/tls-audit is {v.stdout.strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

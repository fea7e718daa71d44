#!/usr/bin/env python3
"""Lays out the npm packages of a claude-pool release from built binaries.

Usage: dist/npm/pack.py --version V --out DIR --bin PLATFORM=BINDIR [--bin ...]

PLATFORM is npm's <os>-<cpu> (linux-x64, linux-arm64, darwin-x64,
darwin-arm64, win32-x64); BINDIR holds that platform's binaries (from a
cargo-dist archive, or target/<triple>/release), of which only `pool` is
packed: it runs as every hook (`pool hook pool-stop`, what the plugin's
launcher and `pool install` use) and as `pool query`, so the plugin cache holds
one binary, not seven copies of the same code. Writes:

  DIR/cli-<platform>/   @claude-pool/cli-<platform>: `pool` in bin/, with
                        "os" and "cpu" so npm installs only the one that
                        fits the machine;
  DIR/claude-pool/      claude-pool: the Claude Code plugin (plugin/ of this
                        repository: manifest, hooks, launcher) plus `pool` and
                        `pool-query` commands for `npm install -g`, with the
                        platform packages as optionalDependencies.

Publish the platform packages first, then run `npm install
--package-lock-only --ignore-scripts && npm shrinkwrap` in DIR/claude-pool
against the same registry and publish it: Claude Code installs an npm plugin's
dependencies only from a lockfile it ships (npm-shrinkwrap.json), with
`npm ci --ignore-scripts`, so nothing is downloaded at install or run time but
the packages themselves. tests/dist/run.sh does exactly that against a local
registry.
"""
import argparse
import json
import os
import shutil
import stat
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = ["pool"]
# What `npm install -g claude-pool` puts on PATH, and the `pool` arguments each runs.
COMMANDS = {"pool": [], "pool-query": ["query"]}
PLATFORMS = {"linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"}
SCOPE = "@claude-pool"

SHIM = """#!/usr/bin/env node
// Runs this command's prebuilt binary from the package for this platform
// (@claude-pool/cli-<os>-<cpu>, an optional dependency of claude-pool).
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");
// The package holds one binary, `pool`; `pool-query` is `pool query`.
const name = path.basename(__filename, ".js");
const prefix = @COMMANDS@[name] || [];
const pkg = `@claude-pool/cli-${process.platform}-${process.arch}`;
let exe;
try {
  exe = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin",
    "pool" + (process.platform === "win32" ? ".exe" : ""));
} catch (e) {
  console.error(`claude-pool: no prebuilt binaries for ${process.platform}-${process.arch} (${pkg} is not installed); build them from a checkout: cargo install --locked --path <checkout>`);
  process.exit(1);
}
const r = spawnSync(exe, prefix.concat(process.argv.slice(2)), { stdio: "inherit" });
if (r.error) {
  console.error(`claude-pool: cannot run ${exe}: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status === null ? 1 : r.status);
"""


def die(msg):
    print(f"pack.py: {msg}", file=sys.stderr)
    sys.exit(2)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def common(version):
    with open(os.path.join(REPO, "Cargo.toml")) as f:
        cargo = f.read()
    repo_url = next((l.split('"')[1] for l in cargo.splitlines() if l.startswith("repository")), None)
    out = {"version": version, "license": "MIT"}
    if repo_url:
        out["repository"] = {"type": "git", "url": f"git+{repo_url}.git"}
    return out


def platform_package(out, platform, bindir, version):
    os_, cpu = platform.split("-")
    exe = ".exe" if os_ == "win32" else ""
    d = os.path.join(out, f"cli-{platform}")
    os.makedirs(os.path.join(d, "bin"))
    for b in BINARIES:
        src = os.path.join(bindir, b + exe)
        if not os.path.isfile(src):
            die(f"{src} missing")
        dst = os.path.join(d, "bin", b + exe)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)
    write_json(os.path.join(d, "package.json"), {
        "name": f"{SCOPE}/cli-{platform}",
        **common(version),
        "description": f"claude-pool's prebuilt binaries for {platform}",
        "os": [os_],
        "cpu": [cpu],
        "files": ["bin"],
        "preferUnplugged": True,
    })
    return f"{SCOPE}/cli-{platform}"


def plugin_package(out, version, deps):
    d = os.path.join(out, "claude-pool")
    shutil.copytree(os.path.join(REPO, "plugin"), d)
    manifest = os.path.join(d, ".claude-plugin", "plugin.json")
    with open(manifest) as f:
        m = json.load(f)
    if m.get("version") != version:
        die(f"plugin/.claude-plugin/plugin.json has version {m.get('version')}, the release is {version}")
    os.makedirs(os.path.join(d, "bin"))
    for c in COMMANDS:
        p = os.path.join(d, "bin", f"{c}.js")
        with open(p, "w") as f:
            f.write(SHIM.replace("@COMMANDS@", json.dumps(COMMANDS)))
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for extra in ["LICENSE", "README.md"]:
        shutil.copyfile(os.path.join(REPO, extra), os.path.join(d, extra))
    write_json(os.path.join(d, "package.json"), {
        "name": "claude-pool",
        **common(version),
        "description": "Claude Code plugin and hooks that let parallel sessions share what each completed, claimed, is blocked on or discovered (prebuilt binaries)",
        "bin": {c: f"bin/{c}.js" for c in COMMANDS},
        "optionalDependencies": {name: version for name in sorted(deps)},
        "files": [".claude-plugin", "hooks", "bin", "npm-shrinkwrap.json"],
        "keywords": ["claude-code", "claude-code-plugin", "hooks"],
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bin", action="append", default=[], metavar="PLATFORM=BINDIR")
    a = ap.parse_args()
    if not a.bin:
        die("at least one --bin PLATFORM=BINDIR")
    if os.path.exists(a.out) and os.listdir(a.out):
        die(f"{a.out} is not empty")
    os.makedirs(a.out, exist_ok=True)
    deps = []
    for spec in a.bin:
        platform, _, bindir = spec.partition("=")
        if platform not in PLATFORMS or not bindir:
            die(f"bad --bin {spec!r}: PLATFORM is one of {', '.join(sorted(PLATFORMS))}")
        deps.append(platform_package(a.out, platform, bindir, a.version))
    plugin_package(a.out, a.version, deps)
    print("\n".join(os.path.join(a.out, n) for n in sorted(os.listdir(a.out))))


if __name__ == "__main__":
    main()

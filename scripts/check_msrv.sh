#!/usr/bin/env bash
# Checks that Cargo.toml's `rust-version` is at least the largest `rust-version` declared by any
# crate in the lock file (normal, optional and dev-dependencies alike: `cargo test` builds them
# all), so that the declared minimum Rust version is one the locked dependencies allow.
# Prints the crates that need the most recent Rust. Needs cargo and python3. Fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --format-version 1 --locked | python3 -c '
import json, sys

def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(sys.stdin)
root = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"])
declared = root.get("rust_version")
if not declared:
    sys.exit("Cargo.toml declares no rust-version")
deps = [(version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
        for p in meta["packages"] if p["id"] != root["id"] and p.get("rust_version")]
deps.sort(reverse=True)
need = deps[0][0]
print(f"declared rust-version {declared}; largest in the lock file {deps[0][3]}:")
for v, name, ver, rv in deps[:5]:
    print(f"  {name} {ver} needs {rv}")
if version(declared) < need:
    sys.exit(f"rust-version {declared} is below {deps[0][3]}, which the locked {deps[0][1]} {deps[0][2]} needs")
print("rust-version ok")
'

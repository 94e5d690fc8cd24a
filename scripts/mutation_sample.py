#!/usr/bin/env python3
"""A seeded uniform sample of the mutation scope, each mutant tested with the registry test.

Usage (from a clone with a warm build directory, which this script edits and restores):

    cargo mutants --list --json --diff -f 'src/solve/**' -f 'src/goodhart/**' \\
        -f 'src/sample/**' -f src/stats.rs > mutants.json
    python3 scripts/mutation_sample.py mutants.json results.txt [--size 300] [--seed 20261129]

The sample is `random.Random(seed).sample(names, size)` over the names in list order, so the
same list, seed and size give the same sample; mutants are run in sample order and every result
is appended to `results.txt` as it comes, so a run can stop anywhere and resume (the first `k`
results are a uniform sample of size `k`). Each mutant is applied from its span and
replacement (cargo-mutants' own `-F` name filter does not exclude its `delete field` mutants,
so one cargo-mutants call per mutant would test ten), built with `cargo test --test claims
--no-run` on one job, and tested with `cargo test --test claims`: `caught` when it fails,
`missed` when it passes, `unviable` when it does not build, `timeout` beyond 300 s. A link
failure of a stale incremental build is retried once from a clean incremental directory.
"""
import json
import os
import random
import subprocess
import sys
import time


def arguments(argv):
    args = {"size": 300, "seed": 20261129}
    positional = []
    it = iter(argv)
    for a in it:
        if a in ("--size", "--seed"):
            args[a[2:]] = int(next(it))
        else:
            positional.append(a)
    if len(positional) != 2:
        sys.exit(__doc__)
    return positional[0], positional[1], args["size"], args["seed"]


def apply(mutant):
    """Writes the mutant's replacement over its span (1-based columns, end exclusive)."""
    path = mutant["file"]
    text = open(path).read()
    lines = text.split("\n")

    def offset(pos):
        return sum(len(l) + 1 for l in lines[: pos["line"] - 1]) + pos["column"] - 1

    a, b = offset(mutant["span"]["start"]), offset(mutant["span"]["end"])
    open(path, "w").write(text[:a] + mutant["replacement"] + text[b:])


def cargo(args, timeout=None):
    env = dict(os.environ, CARGO_BUILD_JOBS="1")
    return subprocess.run(["cargo", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def built(build):
    """Whether `build()` (a `cargo ... --no-run` call) succeeds, retried once from a clean
    incremental directory after a link failure (a stale incremental build can leave an
    undefined symbol behind, which is no fault of the mutant)."""
    result = build()
    if result.returncode != 0 and "linking with" in result.stderr:
        subprocess.run(["rm", "-rf", "target/debug/incremental"], check=True)
        result = build()
    return result.returncode == 0


def verdict():
    if not built(lambda: cargo(["test", "--test", "claims", "--no-run"])):
        return "unviable"
    try:
        run = cargo(["test", "--test", "claims"], timeout=300)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "caught" if run.returncode != 0 else "missed"


def main():
    listing, results, size, seed = arguments(sys.argv[1:])
    mutants = {m["name"]: m for m in json.load(open(listing))}
    names = [m["name"] for m in json.load(open(listing))]
    sample = random.Random(seed).sample(names, size)
    done = set()
    if os.path.exists(results):
        done = {int(l.split()[0][1:]) for l in open(results) if l.startswith("#")}
    for i, name in enumerate(sample, 1):
        if i in done:
            continue
        subprocess.run(["git", "checkout", "-q", "--", "src"], check=True)
        apply(mutants[name])
        start = time.time()
        v = verdict()
        with open(results, "a") as out:
            out.write(f"#{i} {v} {time.time() - start:.0f}s :: {name}\n")
    subprocess.run(["git", "checkout", "-q", "--", "src"], check=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The registry's survivors in a `scripts/mutation_sample.py` results file, each run against a
larger test command (by default the whole suite, `cargo test`).

Usage (from a clone whose sources match the listing's spans in the mutated files, with a warm
build directory, which this script edits and restores):

    python3 scripts/mutation_suite.py mutants.json results.txt suite.txt [--only 5,12,...] \\
        [-- <cargo test arguments>]

For each `missed` line of `results.txt` (or only the sample numbers given to `--only`), in
order, skipping those already in `suite.txt`, the mutant is applied from its span and
replacement, built with `cargo test <arguments> --no-run` and tested with `cargo test
<arguments>`. A line `#i killed|survived|unviable|timeout <seconds>s [<arguments>] :: <name>`
is appended to `suite.txt`: `killed` when the tests fail, `survived` when they pass. Before it
is applied, the mutant's span must hold the text its diff removes. Where the file has moved
since the listing, the span is moved to the nearest place (by line) whose lines are those the
diff removes, and the shift is recorded as `moved <k>`; a mutant whose lines are nowhere in
the file is reported `stale` and not run.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_sample import apply, built  # noqa: E402


def arguments(argv):
    if "--" in argv:
        k = argv.index("--")
        argv, test_args = argv[:k], argv[k + 1:]
    else:
        test_args = []
    only = None
    positional = []
    it = iter(argv)
    for a in it:
        if a == "--only":
            only = {int(x) for x in next(it).split(",")}
        else:
            positional.append(a)
    if len(positional) != 3:
        sys.exit(__doc__)
    return (*positional, only, test_args)


def removed_lines(mutant):
    """The lines the mutant's diff removes, in order."""
    return [l[1:] for l in mutant["diff"].split("\n") if l.startswith("-") and not l.startswith("---")]


def line_shift(mutant):
    """The shift `k` (in lines) to the nearest place of the file holding the lines the diff
    removes, or `None` when they are nowhere in it."""
    removed = removed_lines(mutant)
    first = mutant["span"]["start"]["line"] - 1
    lines = open(mutant["file"]).read().split("\n")
    places = [i for i in range(len(lines) - len(removed) + 1)
              if lines[i:i + len(removed)] == removed]
    if not places:
        return None
    return min((i - first for i in places), key=abs)


def moved(mutant, k):
    """The mutant with its span shifted by `k` lines."""
    span = {end: dict(mutant["span"][end], line=mutant["span"][end]["line"] + k)
            for end in ("start", "end")}
    return dict(mutant, span=span)


def cargo_test(test_args, extra, timeout=None):
    return subprocess.run(["cargo", "test", *test_args, *extra], capture_output=True, text=True,
                          timeout=timeout)


def verdict(test_args):
    if not built(lambda: cargo_test(test_args, ["--no-run"])):
        return "unviable"
    try:
        run = cargo_test(test_args, [], timeout=1800)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "killed" if run.returncode != 0 else "survived"


def main():
    import json

    listing, results, suite, only, test_args = arguments(sys.argv[1:])
    mutants = {m["name"]: m for m in json.load(open(listing))}
    todo = []
    for line in open(results):
        number, outcome = line.split()[:2]
        name = line.split(" :: ", 1)[1].strip()
        i = int(number[1:])
        if (only is None and outcome == "missed") or (only is not None and i in only):
            todo.append((i, name))
    done = set()
    if os.path.exists(suite):
        done = {int(l.split()[0][1:]) for l in open(suite) if l.startswith("#")}
    label = "[" + " ".join(test_args or ["(all)"]) + "]"
    for i, name in todo:
        if i in done:
            continue
        subprocess.run(["git", "checkout", "-q", "--", "src"], check=True)
        m = mutants[name]
        start = time.time()
        k = line_shift(m)
        if k is None:
            v = "stale"
        else:
            apply(moved(m, k))
            v = verdict(test_args) + (f" moved {k}" if k else "")
        with open(suite, "a") as out:
            out.write(f"#{i} {v} {time.time() - start:.0f}s {label} :: {name}\n")
    subprocess.run(["git", "checkout", "-q", "--", "src"], check=True)


if __name__ == "__main__":
    main()

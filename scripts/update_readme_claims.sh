#!/usr/bin/env bash
# Rewrites the claim table in README.md from the registry (`rlhf-claims list --format md`).
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(cargo run -q --release -- list --format md)
python3 - "$table" <<'PY'
import sys
table = sys.argv[1] + "\n"
text = open("README.md").read()
start, end = "<!-- claims-table:start -->\n", "<!-- claims-table:end -->"
a = text.index(start) + len(start)
b = text.index(end)
open("README.md", "w").write(text[:a] + table + text[b:])
PY

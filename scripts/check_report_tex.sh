#!/usr/bin/env bash
# Compiles `rlhf-claims report --format tex` with pdflatex (twice, for the cross-references) and
# fails on any LaTeX error. Needs pdflatex (Debian: texlive-latex-base texlive-latex-recommended).
# Usage: scripts/check_report_tex.sh [extra report arguments, e.g. --cases 64]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cargo run -q --release -- report --format tex --out "$dir/report.tex" "$@" || [ $? -eq 1 ]
for pass in 1 2; do
    if ! (cd "$dir" && pdflatex -interaction=nonstopmode -halt-on-error report.tex >pass$pass.log 2>&1); then
        grep -A5 '^!' "$dir/pass$pass.log" || tail -20 "$dir/pass$pass.log"
        echo "report.tex does not compile" >&2
        exit 1
    fi
done
if grep -q 'undefined references' "$dir/pass2.log"; then
    echo "report.tex has undefined references" >&2
    exit 1
fi
echo "report.tex compiles ($(wc -c <"$dir/report.pdf") bytes of PDF)"

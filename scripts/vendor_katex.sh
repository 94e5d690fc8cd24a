#!/usr/bin/env bash
# Vendors KaTeX (MIT) into assets/katex/ for the offline HTML report (`report --format html`):
# katex.min.js, the auto-render extension, the license, and katex.inline.min.css, which is
# katex.min.css with each font's woff2 file embedded as a base64 data URI (the woff and ttf
# fallbacks dropped: every browser that runs KaTeX reads woff2). Needs npm and python3.
set -euo pipefail
version="${1:-0.19.1}"
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "katex@$version" >/dev/null 2>&1 && tar xzf "katex-$version.tgz")
dist="$tmp/package/dist"
mkdir -p assets/katex
cp "$dist/katex.min.js" assets/katex/
cp "$dist/contrib/auto-render.min.js" assets/katex/
cp "$tmp/package/LICENSE" assets/katex/LICENSE
echo "$version" > assets/katex/VERSION
python3 - "$dist" assets/katex/katex.inline.min.css <<'PY'
import base64, re, sys
dist, out = sys.argv[1], sys.argv[2]
css = open(f"{dist}/katex.min.css").read()
def embed(m):
    data = base64.b64encode(open(f"{dist}/fonts/{m.group(1)}.woff2", "rb").read()).decode()
    return f'src:url(data:font/woff2;base64,{data}) format("woff2")'
css, n = re.subn(r'src:url\(fonts/([A-Za-z0-9_-]+)\.woff2\) format\("woff2"\)'
                 r'(?:,url\(fonts/[^)]*\) format\("[a-z]+"\))*', embed, css)
assert n > 0 and "url(fonts/" not in css, "unexpected katex.min.css layout"
open(out, "w").write(css)
PY
echo "KaTeX $version vendored into assets/katex/"

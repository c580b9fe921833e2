#!/usr/bin/env bash
# Screenshots of every built page, as a reader sees them (headless Chromium; not run in CI).
# Usage: tools/screenshots.sh [OUT_DIR]   (after `make book`; needs Debian's `chromium` package)
set -euo pipefail
out="${1:-_build/screenshots}"
html="_build/html"
[ -d "$html" ] || { echo "no $html: run 'make book' first" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "chromium not found: apt-get install chromium" >&2; exit 2; }
mkdir -p "$out"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
find "$html" -name '*.html' ! -path '*/_static/*' ! -name 'genindex.html' ! -name 'search.html' | sort | while read -r page; do
  name="$(echo "${page#"$html"/}" | tr '/' '_' | sed 's/\.html$//')"
  for width in 1300 800; do
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --hide-scrollbars --window-size="$width,4000" \
      --screenshot="$out/$name-$width.png" "file://$PWD/$page" >/dev/null 2>&1
  done
  echo "$out/$name-{1300,800}.png"
done

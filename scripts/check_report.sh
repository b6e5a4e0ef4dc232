#!/usr/bin/env bash
# Renders a `gan report` page in headless Chromium (Debian's `chromium`) and checks it:
# the page loads without console errors, and every embedded image decodes (the page's own
# load handler counts them into `data-images-decoded="N/M"`). Writes a screenshot.
#
#   scripts/check_report.sh REPORT.html SCREENSHOT.png [WIDTH,HEIGHT]
#
# Exit 0: loaded, N = M > 0 images decoded, no console errors. Exit 3: no Chromium here.
set -euo pipefail
report=$(realpath "$1")
shot=$2
size=${3:-1400,2600}
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$browser" ] || { echo "no chromium here (Debian: apt-get install chromium)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The flags a closed network needs (no background connections, no updates, no sync).
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile" --enable-logging=stderr --v=0)
dom=$("$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$report" 2>"$profile/dom.log")
"$browser" "${flags[@]}" --window-size="$size" --screenshot="$shot" "file://$report" 2>"$profile/shot.log" >/dev/null
decoded=$(grep -o 'data-images-decoded="[0-9]*/[0-9]*"' <<<"$dom" | head -1 | cut -d'"' -f2 || true)
errors=$(grep -hE 'CONSOLE|Uncaught|ERR_FILE|Not allowed to load' "$profile/dom.log" "$profile/shot.log" || true)
echo "images decoded: ${decoded:-none}"
[ -s "$shot" ] || { echo "no screenshot written" >&2; exit 1; }
[ -z "$errors" ] || { echo "console errors:"; echo "$errors"; exit 1; } >&2
[ -n "$decoded" ] || { echo "the page's load handler did not run" >&2; exit 1; }
n=${decoded%/*}; m=${decoded#*/}
[ "$m" -gt 0 ] && [ "$n" = "$m" ] || { echo "only $decoded images decoded" >&2; exit 1; }
echo "ok: $report -> $shot"

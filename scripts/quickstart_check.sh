#!/usr/bin/env bash
# Follows README.md's quick start word for word on a fresh clone, on small settings: every
# command of its ```sh blocks runs in order in a new clone of this checkout's HEAD, except
# that training gets `--steps`, the classifier `--epochs 1`, and `gan eval --n 500` (the
# commands are otherwise unchanged), and `cargo test` (CI's job) is skipped. The one input a
# user brings, a folder of edge maps for `gan translate --input my-edges/`, is made here (four
# square outlines). Exit 0 when every command succeeded.
#
#   scripts/quickstart_check.sh [STEPS]      (default 30; needs the network or the shared cache)
set -euo pipefail
steps=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/clone"
cd "$work/clone"
commands=$(awk '/^## Quick start/{on=1; next} /^## /{on=0} on' README.md \
  | awk '/^```sh/{inb=1; next} /^```/{inb=0} inb')
n=0
while IFS= read -r cmd; do
  [ -n "$cmd" ] || continue
  case "$cmd" in
    *"cargo test"*) echo "== skipped (CI runs it): $cmd"; continue ;;
  esac
  small=$cmd
  case "$cmd" in
    *"-- classifier train"*) small="$cmd --epochs 1" ;;
    *"-- train"*) small="$cmd --steps $steps" ;;
    *"-- eval --run"*) small="$cmd --n 500" ;;
    *"-- translate"*"--input my-edges/"*)
      # A folder of edge maps, as a user would bring: four square outlines.
      mkdir -p my-edges
      python3 - <<'PY'
import struct, sys, zlib, pathlib
# Four 32x32 grey PNGs with a simple edge pattern (a square outline), no dependencies.
def png(path, px):
    raw = b"".join(b"\x00" + bytes(row) for row in px)
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 0, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    pathlib.Path(path).write_bytes(data)
for k in range(4):
    lo, hi = 6 + k, 25 - k
    px = [[255 if (lo <= x <= hi and y in (lo, hi)) or (lo <= y <= hi and x in (lo, hi)) else 0
           for x in range(32)] for y in range(32)]
    png(f"my-edges/edge-{k}.png", px)
PY
      ;;
  esac
  n=$((n + 1))
  echo "== $n: $small"
  bash -c "$small"
done <<<"$commands"
[ -n "$(ls translated 2>/dev/null)" ] || { echo "translate wrote nothing" >&2; exit 1; }
echo "ok: $n quick-start commands ran as written (small settings) on a fresh clone"

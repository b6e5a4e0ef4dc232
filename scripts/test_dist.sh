#!/usr/bin/env bash
# Tries a release tarball the way a user without the toolkit's build tree would: unpacks it
# into an empty temporary folder and, in a clean environment (env -i: no Rust, no Python
# environment, no cache, no LD_LIBRARY_PATH, HOME an empty folder), runs `gan doctor`, a
# short `gan train` of the built-in ring preset and `gan sample`. Prints the time from
# `tar xf` to a finished `gan doctor`.
#
#   scripts/test_dist.sh [dist/gan-<version>-linux-x86_64-cpu.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=${1:-$(ls dist/gan-*-linux-x86_64-cpu.tar.gz | head -1)}
[ -f "$tarball" ] || { echo "no tarball $tarball (cargo xtask dist)" >&2; exit 2; }
tarball=$(realpath "$tarball")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/home"
clean=(env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8)

start=$(date +%s.%N)
tar xf "$tarball" -C "$work"
gan=$(ls -d "$work"/gan-*/gan)
"${clean[@]}" "$gan" doctor
end=$(date +%s.%N)
echo "tar xf to a finished gan doctor: $(awk "BEGIN {printf \"%.2f\", $end - $start}") s"

# Nothing outside the folder: every library the binary loads comes from its lib/.
outside=$("${clean[@]}" ldd "$gan" | awk '/=>/ {print $3}' | grep -v "^$work/" | grep -vE '^/(usr/)?lib(64)?/' || true)
[ -z "$outside" ] || { echo "libraries from outside the package: $outside" >&2; exit 1; }

cd "$work"
"${clean[@]}" "$gan" train --config ring --steps 300 --out "$work/run"
"${clean[@]}" "$gan" sample --run "$work/run" --n 100 --out "$work/samples.csv"
[ "$(wc -l < "$work/samples.csv")" -eq 100 ] || { echo "gan sample wrote no 100 samples" >&2; exit 1; }
[ -s "$work/run/plots/losses.png" ] || { echo "no plots/losses.png" >&2; exit 1; }
echo "ok: $(basename "$tarball") runs from an empty folder in a clean environment"

#!/usr/bin/env bash
# The 2D quality protocol of README.md: train each shipped 2D config with 3 seeds, draw 2500
# samples with `gan sample`, score them with `gan eval --samples` (PacGAN protocol), and print
# a Markdown table with the training wall time. Usage: scripts/quality_2d.sh [ring grid] [seeds]
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-"ring grid"}
seeds=${2:-"0 1 2"}
cargo build --release --quiet -p gan-cli
gan=target/release/gan
out=runs/quality
mkdir -p "$out"
echo "| config | seed | modes | high quality | reverse KL | train time (s) |"
echo "|---|---|---|---|---|---|"
for c in $configs; do
  for s in $seeds; do
    run="$out/$c-seed$s"
    rm -rf "$run"
    SECONDS=0
    "$gan" train --config "configs/$c.toml" --seed "$s" --out "$run" > "$run.log" 2>&1
    secs=$SECONDS
    "$gan" sample --run "$run" --n 2500 --out "$run/final-samples.csv" 2>/dev/null
    "$gan" eval --samples "$run/final-samples.csv" --data "$c" --out "$run/final-eval.json" > /dev/null
    python3 - "$run/final-eval.json" "$c" "$s" "$secs" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {sys.argv[3]} | {m['modes_captured']}/{m['n_modes']} | {100*m['high_quality_fraction']:.1f}% | {m['reverse_kl']:.4f} | {float(sys.argv[4]):.0f} |")
PY
  done
done

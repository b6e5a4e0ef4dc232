#!/usr/bin/env bash
# The image protocol of README.md: train each Fashion-MNIST config (wall time and peak resident
# memory from GNU time), then score 10,000 EMA-generator samples with the domain classifier
# (trained first if missing: `gan classifier train`, real train split, accuracy on the test
# split) and print a Markdown table. Usage: scripts/quality_images.sh [configs]
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-"dcgan-fashion-mnist cgan-fashion-mnist"}
cargo build --release --quiet -p gan-cli
gan=target/release/gan
out=runs/quality
clf=classifiers/fashion-mnist-32x32
mkdir -p "$out"
if [ ! -f "$clf/classifier.json" ]; then
  "$gan" classifier train --config configs/dcgan-fashion-mnist.toml --threads 2 > "$out/classifier.log" 2>&1
fi
echo "| config | steps | train time | peak RSS | classifier test acc. | class entropy (nats) | classes covered | classifier score | conditional acc. |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $configs; do
  run="$out/$c"
  rm -rf "$run"
  mkdir -p "$out"
  /usr/bin/time -v -o "$run.time" "$gan" train --config "configs/$c.toml" --out "$run" > "$run.log" 2>&1
  "$gan" eval --run "$run" --n 10000 --classifier "$clf" --out "$run/final-eval.json" > "$run/final-eval.txt"
  python3 - "$run" "$c" <<'PY'
import json, re, sys
run, name = sys.argv[1], sys.argv[2]
t = open(run + ".time").read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip()
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
r = json.load(open(run + "/final-eval.json"))
steps = max(json.loads(l)["step"] for l in open(run + "/metrics.jsonl"))
acc = r.get("conditional_accuracy")
acc = "-" if acc is None else f"{100 * acc:.1f}%"
print(f"| {name} | {steps} | {secs / 60:.1f} min | {rss:.0f} MB | {100 * r['classifier']['test_accuracy']:.2f}% "
      f"| {r['class_entropy']:.3f} | {r['classes_covered']}/{len(r['class_histogram'])} "
      f"| {r['classifier_score']:.2f} ± {r['classifier_score_std']:.2f} | {acc} |")
PY
done

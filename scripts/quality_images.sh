#!/usr/bin/env bash
# The image protocol of README.md: train each Fashion-MNIST config (wall time and peak resident
# memory from GNU time), then score EMA-generator samples with `gan eval` against the real test
# split (10,000 samples; 26,000 for stacked data, as PacGAN/VEEGAN) with the domain classifier
# (trained first if missing: `gan classifier train`, real train split, accuracy on the test
# split), and print a Markdown table. A "real" row scores 10,000 real training images the same
# way: the floor a generator can reach. Inception scores are left out (--no-inception): on 2 CPU
# cores InceptionV3 takes hours for 20,000 images; add them on a GPU.
#
# Usage: scripts/quality_images.sh [configs]     (SKIP_TRAIN=1 scores existing runs only)
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-"dcgan-fashion-mnist cgan-fashion-mnist dcgan-stacked-fashion-mnist"}
cargo build --release --quiet -p gan-cli
gan=target/release/gan
py=${PYTHON:-$HOME/.cache/gan-toolkit/torch-2.11.0/venv/bin/python}
out=runs/quality
clf=classifiers/fashion-mnist-32x32
mkdir -p "$out" runs/real
if [ ! -f "$clf/classifier.json" ]; then
  "$gan" classifier train --config configs/dcgan-fashion-mnist.toml --threads 2 > "$out/classifier.log" 2>&1
fi

table() { # run-or-file name eval.json [time-file]
  python3 - "$@" <<'PY'
import json, os, re, sys
src, name, ev = sys.argv[1:4]
tf = sys.argv[4] if len(sys.argv) > 4 else ""
secs = rss = None
if tf and os.path.exists(tf):
    t = open(tf).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip()
    secs = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
r = json.load(open(ev))
c = r["classifier"]
s, f, st = c["scores"], c["features"], c.get("stacked")
acc = s.get("conditional_accuracy")
cols = [
    name,
    "-" if secs is None else f"{secs / 60:.1f} min / {rss:.0f} MB",
    str(r["n_samples"]),
    f"{f['frechet_distance']:.3f}",
    f"{1000 * f['kid']:.2f} ± {1000 * f['kid_std']:.2f}",
    f"{f['precision']:.3f} / {f['recall']:.3f}",
    f"{f['density']:.3f} / {f['coverage']:.3f}",
    f"{s['class_entropy']:.3f}",
    f"{s['classifier_score']:.2f}",
    "-" if acc is None else f"{100 * acc:.1f}%",
    "-" if st is None else f"{st['modes_covered']}/{st['n_modes']}, KL {st['kl_to_uniform']:.3f}",
]
print("| " + " | ".join(cols) + " |")
PY
}

echo "| samples | train time / peak RSS | n | FCD | KID x1000 | precision / recall | density / coverage | class entropy | classifier score | cond. acc. | stacked modes |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
"$py" scripts/real_samples.py --data data/fashion-mnist --split train --n 10000 --pad 2 --out runs/real/fmnist-train-10k.npy > /dev/null
"$gan" eval --samples runs/real/fmnist-train-10k.npy --reference fashion-mnist:test --classifier "$clf" --no-inception > runs/real/fmnist-train-10k.txt
table runs/real/fmnist-train-10k.npy "real train images" runs/real/fmnist-train-10k.eval.json
"$py" scripts/real_samples.py --data data/fashion-mnist --split train --n 26000 --pad 2 --stacked --out runs/real/stacked-train-26k.npy > /dev/null
"$gan" eval --samples runs/real/stacked-train-26k.npy --reference stacked-fashion-mnist:test --classifier "$clf" --no-inception > runs/real/stacked-train-26k.txt
table runs/real/stacked-train-26k.npy "real stacked train images" runs/real/stacked-train-26k.eval.json
for c in $configs; do
  run="$out/$c"
  if [ -z "${SKIP_TRAIN:-}" ]; then
    rm -rf "$run"
    /usr/bin/time -v -o "$run.time" "$gan" train --config "configs/$c.toml" --out "$run" > "$run.log" 2>&1
  fi
  n=10000
  case "$c" in *stacked*) n=26000 ;; esac
  "$gan" eval --run "$run" --n "$n" --classifier "$clf" --no-inception --out "$run/final-eval.json" > "$run/final-eval.txt"
  table "$run" "$c" "$run/final-eval.json" "$run.time"
done

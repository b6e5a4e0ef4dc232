#!/usr/bin/env bash
# The CycleGAN protocol of README.md on the built-in `hot` task: train
# configs/cyclegan-hot-fashion-mnist.toml and the PyTorch peer (scripts/cyclegan_hot.py, whose
# defaults are the preset's networks, losses, pools, optimiser, schedule, steps and batch) side
# by side, one CPU thread each (so neither gets more of the 2 cores; wall time and peak memory
# from GNU time), the peer for the Rust run's expected wall time (TORCH_SECONDS, default 3300
# s) or the preset's 13,000 steps, whichever ends first. Then both are scored by the same
# `gan eval` code on the 10,000 test images in each direction: PSNR, SSIM and L1 against the
# exact mapping; with the Fashion-MNIST classifier, label preservation and FCD/KID against
# the real test images of the target domain (hot images judged through the exact inverse of
# the colour map, (R + G + B) / 3); and the cycle reconstruction error.
#
# Usage: scripts/quality_cyclegan.sh   (SKIP_TRAIN=1: score existing runs only; TRAIN=rust or
# TRAIN=peer: train only that side and score it beside the other's existing run; SEED=N: both
# runs with seed N, into runs/quality/*-seedN, default seed 0 into runs/quality/*)
set -euo pipefail
cd "$(dirname "$0")/.."
train=${TRAIN:-both}
case "$train" in both|rust|peer) ;; *) echo "TRAIN=$train: expected both, rust or peer" >&2; exit 2;; esac
cargo build --release --quiet -p gan-cli
gan=target/release/gan
py=${PYTHON:-$HOME/.cache/gan-toolkit/torch-2.11.0/venv/bin/python}
out=runs/quality
clf=classifiers/fashion-mnist-32x32
seed=${SEED:-0}
sfx=${SEED:+-seed$SEED}
run=$out/cyclegan-hot$sfx
tp=$out/torch-cyclegan-hot$sfx
data=data/fashion-mnist
[ -d "$data" ] || data=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
if [ ! -f "$clf/classifier.json" ]; then
  "$gan" classifier train --config configs/dcgan-fashion-mnist.toml > "$out/classifier.log" 2>&1
fi
if [ -z "${SKIP_TRAIN:-}" ]; then
  if [ "$train" != peer ]; then
    rm -rf "$run"
    sed 's/^threads = 2/threads = 1/' configs/cyclegan-hot-fashion-mnist.toml > "$out/cyclegan-hot-1t.toml"
    /usr/bin/time -v -o "$run.time" "$gan" train --config "$out/cyclegan-hot-1t.toml" --seed "$seed" --out "$run" > "$run.log" 2>&1 &
  fi
  if [ "$train" != rust ]; then
    /usr/bin/time -v -o "$tp.time" "$py" scripts/cyclegan_hot.py --seconds "${TORCH_SECONDS:-3300}" \
      --threads 1 --seed "$seed" --data "$data" --out "$tp" --json "$tp.json" > "$tp.log" 2>&1 &
  fi
  wait
fi
"$gan" eval --run "$run" --classifier "$clf" --no-inception --out "$run/final-eval.json" > "$run/final-eval.txt"
# The peer's translations, scored as the Rust run's: hot outputs through their grey view.
"$gan" eval --samples "$tp-a2b.npy" --targets "$tp-targets-a2b.npy" --no-classifier \
  --no-inception --out "$tp-a2b.exact.json" > /dev/null
"$gan" eval --samples "$tp-a2b-grey.npy" --labels "$tp-labels.npy" --reference fashion-mnist:test \
  --classifier "$clf" --no-inception --out "$tp-a2b.eval.json" > /dev/null
"$gan" eval --samples "$tp-b2a.npy" --targets "$tp-targets-b2a.npy" --labels "$tp-labels.npy" \
  --reference fashion-mnist:test --classifier "$clf" --no-inception --out "$tp-b2a.eval.json" > /dev/null
# The table (mean ± std when several seeds are given; one seed here).
python3 scripts/quality_cyclegan_seeds.py --out "$out" --seeds "$seed"

#!/usr/bin/env bash
# The pix2pix protocol of README.md on the built-in `edges` task: train
# configs/pix2pix-edges-fashion-mnist.toml (wall time and peak memory from GNU time), score it
# with `gan eval --run` on the 10,000 test pairs (L1, PSNR, SSIM against the true images;
# with the domain classifier: label preservation, FCD/KID against the real test images).
# Then the PyTorch peer (scripts/pix2pix_edges.py: the same networks, losses, optimiser and
# batch) trains for the Rust run's whole wall time (its own evaluations excluded, so the peer
# gets more training time, not less), and its translations are scored by the same
# `gan eval` code (--samples with --targets and --labels).
#
# Usage: scripts/quality_pix2pix.sh          (SKIP_TRAIN=1: score the existing Rust run only;
#                                             SKIP_TORCH=1: no PyTorch run)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p gan-cli
gan=target/release/gan
py=${PYTHON:-$HOME/.cache/gan-toolkit/torch-2.11.0/venv/bin/python}
out=runs/quality
clf=classifiers/fashion-mnist-32x32
cfg=configs/pix2pix-edges-fashion-mnist.toml
run=$out/pix2pix-edges-fashion-mnist
mkdir -p "$out" runs/real
if [ ! -f "$clf/classifier.json" ]; then
  "$gan" classifier train --config configs/dcgan-fashion-mnist.toml --threads 2 > "$out/classifier.log" 2>&1
fi
if [ -z "${SKIP_TRAIN:-}" ]; then
  rm -rf "$run"
  /usr/bin/time -v -o "$run.time" "$gan" train --config "$cfg" --out "$run" > "$run.log" 2>&1
fi
"$gan" eval --run "$run" --classifier "$clf" --no-inception --out "$run/final-eval.json" > "$run/final-eval.txt"
wall=$(python3 - "$run.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
w = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip()
print(round(sum(float(p) * 60 ** i for i, p in enumerate(reversed(w.split(":"))))))
PY
)
echo "rust: trained in $wall s; scores in $run/final-eval.json"
# The real test images (= the B side of the test pairs) and their labels.
"$py" scripts/real_samples.py --data data/fashion-mnist --split test --n 10000 --pad 2 --out runs/real/fmnist-test-10k.npy > /dev/null
if [ -z "${SKIP_TORCH:-}" ]; then
  tp=$out/torch-pix2pix-edges
  /usr/bin/time -v -o "$tp.time" "$py" scripts/pix2pix_edges.py --seconds "$wall" --threads 2 \
    --batch 32 --ngf 32 --ndf 32 --n-layers 2 --test-batch 1 --data data/fashion-mnist \
    --out "$tp" --json "$tp.json" > "$tp.log" 2>&1
  for mode in stochastic eval; do
    "$gan" eval --samples "$tp-$mode.npy" --labels runs/real/fmnist-test-10k.labels.npy \
      --targets runs/real/fmnist-test-10k.npy --reference fashion-mnist:test \
      --classifier "$clf" --no-inception --out "$tp-$mode.eval.json" > "$tp-$mode.eval.txt"
  done
  echo "pytorch: $(tail -1 "$tp.log")"
fi
python3 - "$run/final-eval.json" "$out/torch-pix2pix-edges-stochastic.eval.json" "$out/torch-pix2pix-edges-eval.eval.json" <<'PY'
import json, os, sys
print("| translations | L1 | PSNR (dB) | SSIM | label preservation | FCD | KID x1000 |")
print("|---|---|---|---|---|---|---|")
for name, path in zip(["gan (Rust)", "PyTorch peer, stochastic", "PyTorch peer, eval"], sys.argv[1:]):
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    t = r["translation"]
    c = r.get("classifier") or {}
    f = c.get("features") or {}
    acc = c.get("scores", {}).get("conditional_accuracy")
    fcd = f.get("frechet_distance")
    kid = f.get("kid")
    print(f"| {name} | {t['l1']:.4f} | {t['psnr']:.2f} | {t['ssim']:.4f} | "
          f"{'-' if acc is None else f'{100 * acc:.2f}%'} | {'-' if fcd is None else f'{fcd:.3f}'} | "
          f"{'-' if kid is None else f'{1000 * kid:.2f}'} |")
PY

#!/usr/bin/env bash
# The StyleGAN2 quality protocol of README.md (issue 13): for one seed, the preset
# (configs/stylegan2-fashion-mnist.toml, run for a wall-clock hour instead of its 9,000 steps)
# and its PyTorch peer (scripts/stylegan2_fashion_mnist.py: the same networks and step) side by
# side, one CPU thread each, 3600 s each; or (TRAIN=dcgan) two DCGAN preset runs
# (configs/dcgan-fashion-mnist.toml) of seeds SEED and SEED2 side by side for the same hour.
# Each run's EMA generator then gives 10,000 samples scored by `gan eval` with the domain
# classifier against the whole test split. `scripts/quality_stylegan2_seeds.py` makes the table.
#
# The Rust runs stop by `timeout -s TERM 3600`: `gan train` finishes the step and writes its
# final checkpoint (signals that arrive together, as `timeout` sends them to the run and its
# process group, are one stop); the peer stops by `--seconds 3600` (checked before each step).
#
# Usage: SEED=0 scripts/quality_stylegan2.sh              (StyleGAN2, gan beside the peer)
#        TRAIN=dcgan SEED=0 SEED2=1 scripts/quality_stylegan2.sh   (two DCGAN runs)
#        OUT=runs/sg (default), SECONDS_BUDGET=3600, GAN=path/to/gan (else a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${SEED:-0}
train=${TRAIN:-stylegan2}
out=${OUT:-runs/sg}
budget=${SECONDS_BUDGET:-3600}
py=${PYTHON:-$HOME/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3}
clf=classifiers/fashion-mnist-32x32
# GAN (the binary) and the classifier.
source scripts/quality_common.sh
export OMP_NUM_THREADS=1

# A preset for a wall-clock budget: unbounded steps, no periodic evaluation (the peer has
# none), a checkpoint every 1,000 steps, one thread.
make_config() { # preset file
  python3 - "$1" "$2" <<'PY'
import re, sys
src, path = sys.argv[1:]
text = open(src).read()
for key, value in (("steps", "1000000"), ("eval_every", "0"), ("checkpoint_every", "1000"),
                   ("threads", "1")):
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1, (src, key)
text = re.sub(r'(?m)^best = .*\n', "", text)
open(path, "w").write(text)
PY
}

rust_run() { # config run seed
  rm -rf "$2"
  local rc=0
  /usr/bin/time -v -o "$2.time" timeout -s TERM "$budget" "$GAN" train --config "$1" \
    --out "$2" --seed "$3" > "$2.log" 2>&1 || rc=$?
  # 124: stopped by the budget (the run wrote its final checkpoint); anything else failed.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    echo "gan train for $2 failed (exit $rc); see $2.log:" >&2
    tail -n 5 "$2.log" >&2
    return 1
  fi
  "$GAN" eval --run "$2" --classifier "$clf" --no-inception --out "$2/final-eval.json" \
    > "$2-eval.log" 2>&1
}

echo "$(date -u +%FT%TZ) start $train seed $seed" >> "$out/chain.log"
case "$train" in
  stylegan2)
    make_config configs/stylegan2-fashion-mnist.toml "$out/configs/stylegan2.toml"
    rust_run "$out/configs/stylegan2.toml" "$out/sg-rust-s$seed" "$seed" &
    pids=($!)
    peer=$out/sg-peer-s$seed
    rm -rf "$peer"
    mkdir -p "$peer"
    (
      "$py" scripts/stylegan2_fashion_mnist.py --seconds "$budget" --threads 1 --seed "$seed" \
        --pl-weight 0 --style-mixing 0 --r1-gamma 0.01 --samples 10000 \
        --out "$peer/samples.npy" --json "$peer/summary.json" > "$peer.log" 2>&1
      "$GAN" eval --samples "$peer/samples.npy" --reference fashion-mnist:test \
        --classifier "$clf" --no-inception --out "$peer/final-eval.json" > "$peer-eval.log" 2>&1
    ) &
    pids+=($!)
    ;;
  dcgan)
    make_config configs/dcgan-fashion-mnist.toml "$out/configs/dcgan.toml"
    rust_run "$out/configs/dcgan.toml" "$out/dcgan-s$seed" "$seed" &
    pids=($!)
    if [ -n "${SEED2:-}" ]; then
      rust_run "$out/configs/dcgan.toml" "$out/dcgan-s$SEED2" "$SEED2" &
      pids+=($!)
    fi
    ;;
  *)
    echo "TRAIN must be stylegan2 or dcgan, not '$train'" >&2
    exit 2
    ;;
esac
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "$(date -u +%FT%TZ) FAILED $train seed $seed" >> "$out/chain.log"
  exit 1
fi
echo "$(date -u +%FT%TZ) done $train seed $seed" >> "$out/chain.log"

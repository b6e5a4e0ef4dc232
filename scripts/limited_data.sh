#!/usr/bin/env bash
# The limited-data protocol of README.md: the DCGAN preset (configs/dcgan-fashion-mnist.toml)
# trained on a class-balanced subset of Fashion-MNIST (`[data] subset`, the same images for
# every seed), without augmentation, with DiffAugment (color, translation, cutout) and with
# ADA (blit, colour, cutout; target 0.6, 500 kimg), for the same number of steps, three seeds
# each. Runs go two at a time, one CPU thread each. Each run's EMA generator is then scored by
# `gan eval` on 10,000 samples against the whole real test split with the domain classifier;
# the table gives mean ± std over the seeds. Each evaluated run is recorded as a small JSON file
# in RESULTS (docs/results/limited-data, committed; scripts/limited_data.py): a recorded run is
# not run again, and the table is made from the records, so results outlive the machine.
#
# Usage: scripts/limited_data.sh            (STEPS=15000 SIZES="600 6000" SEEDS="0 1 2"
#                                             AUGS="none diffaugment ada" JOBS=2 runs at a time,
#                                             OUT=runs/limited RESULTS=docs/results/limited-data
#                                             SKIP_TRAIN=1: table only)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-15000}
sizes=${SIZES:-"600 6000"}
seeds=${SEEDS:-"0 1 2"}
augs=${AUGS:-"none diffaugment ada"}
parallel=${JOBS:-2}
out=${OUT:-runs/limited}
res=${RESULTS:-docs/results/limited-data}
mkdir -p "$res"
clf=classifiers/fashion-mnist-32x32
# GAN (the binary) and the classifier.
source scripts/quality_common.sh

# configs/dcgan-fashion-mnist.toml with a subset, an [augment] section and one thread.
make_config() { # size aug file
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
size, aug, path = sys.argv[1:]
text = open("configs/dcgan-fashion-mnist.toml").read()
text = text.replace("[data]\n", f"[data]\nsubset = {size}\n", 1)
text = re.sub(r"(?m)^threads = \d+$", "threads = 1", text)
text = re.sub(r"(?m)^eval_every = \d+$", "eval_every = 0", text)
# Checkpoints often enough that a run cut off part way loses little when it is resumed.
text = re.sub(r"(?m)^checkpoint_every = \d+$", "checkpoint_every = 500", text)
text = re.sub(r"(?m)^name = .*$", f'name = "dcgan-subset{size}-{aug}"', text)
text += f'\n[augment]\nkind = "{aug}"\n'
open(path, "w").write(text)
PY
}

jobs=()
for size in $sizes; do
  for aug in $augs; do
    cfg="$out/configs/subset$size-$aug.toml"
    make_config "$size" "$aug" "$cfg"
    for seed in $seeds; do
      jobs+=("$cfg subset$size-$aug-s$seed $seed $size $aug")
    done
  done
done

if [ -z "${SKIP_TRAIN:-}" ]; then
  printf '%s\n' "${jobs[@]}" | xargs -P "$parallel" -L 1 bash -c '
    cfg=$0 name=$1 seed=$2 size=$3 aug=$4 run='"$out"'/$1 rec='"$res"'/$1.json
    [ -f "$rec" ] && exit 0
    if [ -f "$run/final-eval.json" ]; then
      echo "$name is evaluated (cut off before its record)"
    elif [ -d "$run/checkpoints/step-$(printf %09d '"$steps"')" ]; then
      echo "$name is trained (cut off during its evaluation)"
    else
      if ls "$run"/checkpoints/step-* > /dev/null 2>&1; then
        # A run cut off part way (a machine that went away) continues from its newest
        # checkpoint: resume is exact, so the result is that of an uninterrupted run. Each
        # segment that ends appends its times to $run.time (one killed with the machine
        # does not) and its output to $run.log.
        echo "resuming $name from its newest intact checkpoint"
        start=(--resume "$run")
      else
        rm -rf "$run" "$run.time" "$run.log"
        start=(--config "$cfg" --out "$run" --seed "$seed")
      fi
      /usr/bin/time -a -v -o "$run.time" '"$GAN"' train "${start[@]}" --steps '"$steps"' \
        >> "$run.log" 2>&1 || { echo "FAILED $name: see $run.log" >&2; exit 1; }
    fi
    if [ ! -f "$run/final-eval.json" ]; then
      OMP_NUM_THREADS=1 '"$GAN"' eval --run "$run" --classifier '"$clf"' --no-inception \
        --out "$run/final-eval.json" > "$run/final-eval.txt" 2>&1 \
        || { echo "FAILED $name: see $run/final-eval.txt" >&2; exit 1; }
    fi
    python3 scripts/limited_data.py record "$run" "$rec" "$size" "$aug" "$seed" '"$steps"'
    echo "done $name: $rec"
  '
fi

python3 scripts/limited_data.py table "$res" "$sizes" "$augs" "$seeds" "$steps"

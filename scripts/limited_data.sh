#!/usr/bin/env bash
# The limited-data protocol of README.md: the DCGAN preset (configs/dcgan-fashion-mnist.toml)
# trained on a class-balanced subset of Fashion-MNIST (`[data] subset`, the same images for
# every seed), without augmentation, with DiffAugment (color, translation, cutout) and with
# ADA (blit, colour, cutout; target 0.6, 500 kimg), for the same number of steps, three seeds
# each. Runs go two at a time, one CPU thread each. Each run's EMA generator is then scored by
# `gan eval` on 10,000 samples against the whole real test split with the domain classifier;
# the table gives mean ± std over the seeds.
#
# Usage: scripts/limited_data.sh            (STEPS=15000 SIZES="600 6000" SEEDS="0 1 2"
#                                             AUGS="none diffaugment ada" JOBS=2 runs at a time,
#                                             SKIP_TRAIN=1: table only)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-15000}
sizes=${SIZES:-"600 6000"}
seeds=${SEEDS:-"0 1 2"}
augs=${AUGS:-"none diffaugment ada"}
parallel=${JOBS:-2}
out=${OUT:-runs/limited}
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
      jobs+=("$cfg subset$size-$aug-s$seed $seed")
    done
  done
done

if [ -z "${SKIP_TRAIN:-}" ]; then
  printf '%s\n' "${jobs[@]}" | xargs -P "$parallel" -L 1 bash -c '
    cfg=$0 name=$1 seed=$2 run='"$out"'/$1
    [ -f "$run/final-eval.json" ] && exit 0
    if [ -d "$run/checkpoints/step-$(printf %09d '"$steps"')" ]; then
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
    OMP_NUM_THREADS=1 '"$GAN"' eval --run "$run" --classifier '"$clf"' --no-inception \
      --out "$run/final-eval.json" > "$run/final-eval.txt" 2>&1 \
      || { echo "FAILED $name: see $run/final-eval.txt" >&2; exit 1; }
    echo "done $name"
  '
fi

python3 - "$out" "$sizes" "$augs" "$seeds" "$steps" <<'PY'
import json, os, re, statistics as st, sys
out, sizes, augs, seeds, steps = sys.argv[1:]
def ms(xs, scale=1.0, fmt="{:.3f}"):
    xs = [x * scale for x in xs]
    if not xs:
        return "-"
    sd = st.stdev(xs) if len(xs) > 1 else 0.0
    return (fmt + " ± " + fmt).format(st.mean(xs), sd)
print(f"DCGAN preset, {steps} steps, batch 64, mean ± std over seeds {seeds.split()}")
print()
# Training cost as CPU minutes (user + system time of `gan train`, all segments that ended):
# unlike the wall time it does not grow when other work shares the machine.
print("| train images | augmentation | FCD | KID x1000 | precision | recall | class entropy | final ADA p | CPU minutes |")
print("|---|---|---|---|---|---|---|---|---|")
for size in sizes.split():
    for aug in augs.split():
        rows = []
        for seed in seeds.split():
            run = f"{out}/subset{size}-{aug}-s{seed}"
            ev = f"{run}/final-eval.json"
            if not os.path.exists(ev):
                continue
            r = json.load(open(ev))
            f = r["classifier"]["features"]
            s = r["classifier"]["scores"]
            p = None
            for line in open(f"{run}/metrics.jsonl"):
                m = json.loads(line)
                if "ada_p" in m:
                    p = m["ada_p"]
            t = open(f"{run}.time").read()
            # One "User time" and one "System time" line per segment (a resumed run has several).
            secs = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): (.*)", t))
            rows.append((f["frechet_distance"], f["kid"], f["precision"], f["recall"],
                         s["class_entropy"], p, secs / 60))
        if not rows:
            continue
        col = lambda i: [r[i] for r in rows]
        ps = [x for x in col(5) if x is not None]
        print(f"| {size} | {aug} | {ms(col(0))} | {ms(col(1), 1000, '{:.2f}')} | "
              f"{ms(col(2))} | {ms(col(3))} | {ms(col(4))} | "
              f"{ms(ps) if ps else '-'} | {ms(col(6), 1, '{:.1f}')} |")
PY

#!/usr/bin/env bash
# The fine-tuning protocol of README.md. The DCGAN preset (configs/dcgan-fashion-mnist.toml)
# is pretrained on the eight Fashion-MNIST classes other than sandal (5) and bag (8); then it
# is trained on 100 images each of sandal and bag (`[data] classes = [5, 8]`, `subset = 200`,
# the same images for every seed) three ways, DiffAugment (color, translation, cutout) on in
# all three and the same steps: from scratch; fine-tuned (`gan train --init-from` the
# pretrained run: its G, D and EMA, fresh optimisers); fine-tuned with FreezeD
# (`[finetune] freeze_d`, default 2: the discriminator's 32x32 and 16x16 blocks). Three seeds
# each, two runs at a time on one CPU thread each. Each EMA generator is scored by `gan eval`
# on 10,000 samples against the real test images of those two classes (2,000) with the
# domain classifier; the table gives mean ± std.
#
# Usage: scripts/finetune.sh   (PRETRAIN_STEPS=6000 STEPS=2000 FREEZE_D=2 SEEDS="0 1 2"
#                               WAYS="scratch finetune freezed"; SKIP_TRAIN=1: table only)
set -euo pipefail
cd "$(dirname "$0")/.."
pre_steps=${PRETRAIN_STEPS:-6000}
steps=${STEPS:-2000}
freeze=${FREEZE_D:-2}
seeds=${SEEDS:-"0 1 2"}
ways=${WAYS:-"scratch finetune freezed"}
out=${OUT:-runs/finetune}
clf=classifiers/fashion-mnist-32x32
# GAN (the binary) and the classifier.
source scripts/quality_common.sh

make_config() { # name data-lines augment finetune-lines file
  python3 - "$@" <<'PY'
import re, sys
name, data, aug, ft, path = sys.argv[1:]
text = open("configs/dcgan-fashion-mnist.toml").read()
text = text.replace("[data]\n", "[data]\n" + data.replace("; ", "\n") + "\n", 1)
text = re.sub(r"(?m)^threads = \d+$", "threads = 1", text)
text = re.sub(r"(?m)^eval_every = \d+$", "eval_every = 0", text)
text = re.sub(r"(?m)^name = .*$", f'name = "{name}"', text)
text += f'\n[augment]\nkind = "{aug}"\n'
if ft:
    text += f"\n[finetune]\n{ft}\n"
open(path, "w").write(text)
PY
}
make_config pretrain-8-classes "classes = [0, 1, 2, 3, 4, 6, 7, 9]" none "" "$out/configs/pretrain.toml"
make_config sandal-bag-scratch "classes = [5, 8]; subset = 200" diffaugment "" "$out/configs/scratch.toml"
cp "$out/configs/scratch.toml" "$out/configs/finetune.toml"
make_config sandal-bag-freezed "classes = [5, 8]; subset = 200" diffaugment "freeze_d = $freeze" \
  "$out/configs/freezed.toml"

pre=$out/pretrain
if [ -z "${SKIP_TRAIN:-}" ]; then
  if [ ! -f "$pre/final-eval.json" ]; then
    rm -rf "$pre"
    /usr/bin/time -v -o "$pre.time" "$GAN" train --config "$out/configs/pretrain.toml" \
      --out "$pre" --steps "$pre_steps" > "$pre.log" 2>&1
    OMP_NUM_THREADS=1 "$GAN" eval --run "$pre" --classifier "$clf" --no-inception \
      --out "$pre/final-eval.json" > "$pre/final-eval.txt" 2>&1
  fi
  jobs=()
  for way in $ways; do
    for seed in $seeds; do
      jobs+=("$way $seed")
    done
  done
  printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c '
    way=$0 seed=$1 run='"$out"'/$0-s$1
    [ -f "$run/final-eval.json" ] && exit 0
    rm -rf "$run"
    init=()
    [ "$way" != scratch ] && init=(--init-from '"$pre"')
    /usr/bin/time -v -o "$run.time" '"$GAN"' train --config '"$out"'/configs/$way.toml \
      --out "$run" --seed "$seed" --steps '"$steps"' "${init[@]}" > "$run.log" 2>&1
    OMP_NUM_THREADS=1 '"$GAN"' eval --run "$run" --classifier '"$clf"' --no-inception \
      --out "$run/final-eval.json" > "$run/final-eval.txt" 2>&1
    echo "done $way $seed"
  '
fi

python3 - "$out" "$seeds" "$steps" "$pre_steps" "$freeze" <<'PY'
import json, os, statistics as st, sys
out, seeds, steps, pre_steps, freeze = sys.argv[1:]
def ms(xs, scale=1.0, fmt="{:.3f}"):
    xs = [x * scale for x in xs]
    sd = st.stdev(xs) if len(xs) > 1 else 0.0
    return (fmt + " ± " + fmt).format(st.mean(xs), sd)
pre = json.load(open(f"{out}/pretrain/final-eval.json"))["classifier"]["features"]
print(f"Pretrained {pre_steps} steps on the 8 other classes (FCD {pre['frechet_distance']:.3f} "
      f"against their test images); then {steps} steps on 200 sandal + bag images, DiffAugment on; "
      f"mean ± std over seeds {seeds.split()}, scored against the 2,000 real sandal + bag test images")
print()
print("| start | FCD | KID x1000 | precision | recall | class entropy (max ln 2 = 0.693) |")
print("|---|---|---|---|---|---|")
names = {"scratch": "from scratch", "finetune": "fine-tuned",
         "freezed": f"fine-tuned, FreezeD (first {freeze} D blocks)"}
for way in ["scratch", "finetune", "freezed"]:
    rows = []
    for seed in seeds.split():
        ev = f"{out}/{way}-s{seed}/final-eval.json"
        if os.path.exists(ev):
            r = json.load(open(ev))["classifier"]
            f, s = r["features"], r["scores"]
            rows.append((f["frechet_distance"], f["kid"], f["precision"], f["recall"],
                         s["class_entropy"]))
    if rows:
        col = lambda i: [r[i] for r in rows]
        print(f"| {names[way]} | {ms(col(0))} | {ms(col(1), 1000, '{:.2f}')} | {ms(col(2))} | "
              f"{ms(col(3))} | {ms(col(4))} |")
PY

#!/usr/bin/env python3
"""The record and the table of scripts/limited_data.sh.

  limited_data.py record RUN SUMMARY.json SIZE AUG SEED STEPS
      one finished, evaluated run (RUN/final-eval.json, RUN/metrics.jsonl and the GNU time
      file RUN.time) as a small JSON file; these files are committed
      (docs/results/limited-data/), so a result outlives the machine that made it.
  limited_data.py table DIR "SIZES" "AUGS" "SEEDS" STEPS
      the README table, mean ± std over the seeds, from the records in DIR.
"""
import json
import os
import re
import statistics as st
import sys


def record(run, summary, size, aug, seed, steps):
    ev = json.load(open(f"{run}/final-eval.json"))
    ada_p = None
    last_step = None
    for line in open(f"{run}/metrics.jsonl"):
        m = json.loads(line)
        if "ada_p" in m:
            ada_p = m["ada_p"]
        if "step" in m:
            last_step = m["step"]
    t = open(f"{run}.time").read()
    # One "User time" and one "System time" line per segment that ended (a resumed run has
    # several; a segment killed with its machine left none).
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): (.*)", t))
    segments = len(re.findall(r"User time \(seconds\)", t))
    f = ev["classifier"]["features"]
    s = ev["classifier"]["scores"]
    out = {
        "run": os.path.basename(run),
        "train_images": int(size),
        "augment": aug,
        "seed": int(seed),
        "steps": int(steps),
        "last_logged_step": last_step,
        "fcd": f["frechet_distance"],
        "kid": f["kid"],
        "precision": f["precision"],
        "recall": f["recall"],
        "class_entropy": s["class_entropy"],
        "final_ada_p": ada_p,
        "train_cpu_seconds": cpu,
        "train_segments_timed": segments,
        "final_eval": ev,
    }
    tmp = summary + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, summary)


def ms(xs, scale=1.0, fmt="{:.3f}"):
    xs = [x * scale for x in xs]
    if not xs:
        return "-"
    sd = st.stdev(xs) if len(xs) > 1 else 0.0
    return (fmt + " ± " + fmt).format(st.mean(xs), sd)


def load(folder, sizes, augs, seeds, steps):
    """{(size, aug): {seed: record}} for the records in `folder` (each read once)."""
    out = {}
    for size in sizes.split():
        for aug in augs.split():
            recs = {}
            for seed in seeds.split():
                path = f"{folder}/subset{size}-{aug}-s{seed}.json"
                if not os.path.exists(path):
                    continue
                r = json.load(open(path))
                if r["steps"] != int(steps):
                    sys.exit(f"{path}: {r['steps']} steps, the table is for {steps}")
                recs[seed] = r
            out[size, aug] = recs
    return out


def table(folder, sizes, augs, seeds, steps):
    records = load(folder, sizes, augs, seeds, steps)
    print(f"DCGAN preset, {steps} steps, batch 64, mean ± std over seeds {seeds.split()}")
    print()
    # Training cost as CPU minutes (user + system time of `gan train`, all segments that
    # ended): unlike the wall time it does not grow when other work shares the machine.
    print("| train images | augmentation | seeds | FCD | KID x1000 | precision | recall "
          "| class entropy | final ADA p | CPU minutes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (size, aug), recs in records.items():
        rows = list(recs.values())
        if not rows:
            continue
        col = lambda k: [r[k] for r in rows if r[k] is not None]
        ps = col("final_ada_p")
        print(f"| {size} | {aug} | {len(rows)} | {ms(col('fcd'))} | "
              f"{ms(col('kid'), 1000, '{:.2f}')} | {ms(col('precision'))} | "
              f"{ms(col('recall'))} | {ms(col('class_entropy'))} | "
              f"{ms(ps) if ps else '-'} | "
              f"{ms(col('train_cpu_seconds'), 1 / 60, '{:.1f}')} |")
    print()
    print("Per seed FCD:")
    for (size, aug), recs in records.items():
        fcds = [f"{recs[s]['fcd']:.3f}" if s in recs else "-" for s in seeds.split()]
        print(f"  {size} {aug}: {' / '.join(fcds)}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "record" and len(args) == 6:
        record(*args)
    elif cmd == "table" and len(args) == 5:
        table(*args)
    else:
        sys.exit(__doc__)

"""Mean and standard deviation over seeds of scripts/quality_cyclegan.sh's results: the Rust
run and its PyTorch peer for each direction, as the README's CycleGAN table.

Usage (after `SEED=N scripts/quality_cyclegan.sh` for each seed; seed 0 is the default run
without a suffix):
    python3 scripts/quality_cyclegan_seeds.py [--out runs/quality] [--seeds 0 1 2]
Reads OUT/cyclegan-hot{,-seedN}/final-eval-{a-to-b,b-to-a}.json (the Rust run, scored by
`gan eval --run`), OUT/torch-cyclegan-hot{,-seedN}-{a2b.exact,a2b.eval,b2a.eval}.json (the
peer, scored by the same `gan eval` code), OUT/torch-cyclegan-hot{,-seedN}.json (the peer's
steps and cycle scores) and the GNU time files for wall time. With --same-start the peer rows
are OUT/same-start-seedN* instead (scripts/cyclegan_same_start.py: the peer trained from the
Rust run's own start, so gan - peer per seed is a paired difference). Standard deviations are the
sample ones (n - 1). Needs only the Python standard library.
"""
import argparse
import json
import os
import re
import statistics


def wall_seconds(path):
    """Elapsed wall time from a GNU `time -v` file, or None."""
    if not os.path.exists(path):
        return None
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", open(path).read())
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + float(s)


def load(path):
    with open(path) as f:
        return json.load(f)


def scores(exact, scored, cycle_psnr):
    c = scored.get("classifier") or {}
    f = c.get("features") or {}
    t = exact["translation"]
    return {"psnr": t["psnr"], "ssim": t["ssim"], "l1": t["l1"],
            "labels": 100.0 * c["scores"]["conditional_accuracy"],
            "fcd": f["frechet_distance"], "kid": 1000.0 * f["kid"], "cycle_psnr": cycle_psnr}


def seed_rows(out, seed, same_start=False):
    sfx = "" if seed == 0 else f"-seed{seed}"
    run, tp = f"{out}/cyclegan-hot{sfx}", f"{out}/torch-cyclegan-hot{sfx}"
    if same_start:
        tp = f"{out}/same-start-seed{seed}"
    peer = load(f"{tp}.json")
    rows = {}
    for d, t in (("a-to-b", "a2b"), ("b-to-a", "b2a")):
        r = load(f"{run}/final-eval-{d}.json")
        rows[(d, "gan")] = scores(r, r, r["translation"]["cycle"]["psnr"])
        exact = load(f"{tp}-{t}.exact.json" if t == "a2b" else f"{tp}-{t}.eval.json")
        rows[(d, "peer")] = scores(exact, load(f"{tp}-{t}.eval.json"),
                                   peer["directions"][t]["cycle_per_image"]["psnr"])
    return rows, wall_seconds(f"{run}.time"), peer["steps"], peer["train_seconds"]


def fmt(values, digits):
    """`mean ± std` (sample std, n - 1) of the values, or the one value."""
    m = statistics.mean(values)
    s = f"{m:,.{digits}f}"
    if len(values) > 1:
        s += f" ± {statistics.stdev(values):,.{digits}f}"
    return s


def welch_t(a, b):
    """Welch's t of mean(a) - mean(b) (two independent samples), or None when undefined."""
    if len(a) < 2 or len(b) < 2:
        return None
    se = (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    return (statistics.mean(a) - statistics.mean(b)) / se if se > 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/quality")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--same-start", action="store_true",
                    help="the peer rows from scripts/cyclegan_same_start.py's runs "
                         "(OUT/same-start-seedN*: the peer trained from the Rust run's start)")
    a = ap.parse_args()
    per_seed = {s: seed_rows(a.out, s, a.same_start) for s in a.seeds}
    cols = [("psnr", 2), ("ssim", 3), ("l1", 4), ("labels", 2), ("fcd", 3), ("kid", 2),
            ("cycle_psnr", 2)]
    print(f"seeds {a.seeds}: mean ± std (n - 1)")
    print("| direction, run | PSNR (dB) | SSIM | L1 | label preservation (%) | FCD | KID x1000 "
          "| cycle PSNR (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    names = {"a-to-b": "grey -> hot", "b-to-a": "hot -> grey"}
    for d in ("a-to-b", "b-to-a"):
        for who, label in (("gan", "gan"), ("peer", "PyTorch peer")):
            vals = [per_seed[s][0][(d, who)] for s in a.seeds]
            cells = [fmt([v[k] for v in vals], n) for k, n in cols]
            print(f"| {names[d]}, {label} | " + " | ".join(cells) + " |")
    print()
    print("per seed, PSNR gan / peer (grey -> hot; hot -> grey), Rust wall time, peer steps "
          "and training seconds:")
    for s in a.seeds:
        rows, wall, steps, secs = per_seed[s]
        w = f"{wall / 60:.1f} min" if wall else "?"
        print(f"seed {s}: {rows[('a-to-b', 'gan')]['psnr']:.2f} / "
              f"{rows[('a-to-b', 'peer')]['psnr']:.2f}; {rows[('b-to-a', 'gan')]['psnr']:.2f} / "
              f"{rows[('b-to-a', 'peer')]['psnr']:.2f}; Rust {w}; peer {steps} steps in "
              f"{secs:.0f} s")
    for d in ("a-to-b", "b-to-a"):
        diffs = [per_seed[s][0][(d, "gan")]["psnr"] - per_seed[s][0][(d, "peer")]["psnr"]
                 for s in a.seeds]
        line = (f"{names[d]}: gan - peer PSNR per seed " + ", ".join(f"{x:+.2f}" for x in diffs)
                + f"; mean {fmt(diffs, 2)} dB")
        if len(a.seeds) > 1 and not a.same_start:
            # Welch's t of the two means (the seeds of the two sides start from different
            # weights and batches, so they are two samples, not pairs).
            gan = [per_seed[s][0][(d, "gan")]["psnr"] for s in a.seeds]
            peer = [per_seed[s][0][(d, "peer")]["psnr"] for s in a.seeds]
            t = welch_t(gan, peer)
            if t is not None:
                line += f"; Welch's t of the means {t:+.2f}"
        print(line)


if __name__ == "__main__":
    main()

"""Mean and standard deviation over seeds of scripts/quality_stylegan2.sh's results: the
StyleGAN2 preset (gan), its PyTorch peer and the DCGAN preset, each trained for the same wall
time, as README.md's StyleGAN2 table.

Usage (after `SEED=N scripts/quality_stylegan2.sh` and the `TRAIN=dcgan` runs):
    python3 scripts/quality_stylegan2_seeds.py [--out runs/sg] [--seeds 0 1 2]
Reads OUT/sg-rust-sN/final-eval.json (`gan eval --run` of the Rust run), OUT/sg-peer-sN/
final-eval.json (`gan eval --samples` of the peer's samples, the same scoring code) and
summary.json (the peer's steps), OUT/dcgan-sN/final-eval.json; the Rust runs' steps are their
last checkpoint's. Rows with no finished seed are left out. Standard deviations are the sample
ones (n - 1); Welch's t compares gan's FCD mean with the peer's (independent seeds: two
samples, not pairs). Needs only the Python standard library.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from quality_cyclegan_seeds import fmt, load, welch_t  # noqa: E402


def last_checkpoint_step(run):
    ckpt = os.path.join(run, "checkpoints")
    steps = [int(n[len("step-"):]) for n in os.listdir(ckpt)
             if n.startswith("step-") and n[len("step-"):].isdigit()]
    return max(steps)


def scores(report, steps):
    c = report["classifier"]
    f, s = c["features"], c["scores"]
    return {"steps": steps, "fcd": f["frechet_distance"], "kid": 1000.0 * f["kid"],
            "precision": f["precision"], "recall": f["recall"],
            "entropy": s["class_entropy"], "classes": s["classes_covered"],
            "score": s["classifier_score"]}


def seed_row(out, who, seed):
    if who == "peer":
        run = f"{out}/sg-peer-s{seed}"
        ev = f"{run}/final-eval.json"
        if not os.path.exists(ev):
            return None
        return scores(load(ev), load(f"{run}/summary.json")["steps"])
    run = f"{out}/sg-rust-s{seed}" if who == "gan" else f"{out}/dcgan-s{seed}"
    ev = f"{run}/final-eval.json"
    if not os.path.exists(ev):
        return None
    return scores(load(ev), last_checkpoint_step(run))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/sg")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args()
    names = {"gan": "gan (Rust), `stylegan2-fashion-mnist.toml`", "peer": "PyTorch peer",
             "dcgan": "gan (Rust), `dcgan-fashion-mnist.toml`"}
    rows = {who: {s: r for s in a.seeds if (r := seed_row(a.out, who, s)) is not None}
            for who in names}
    cols = [("steps", 0), ("fcd", 3), ("kid", 1), ("precision", 3), ("recall", 3),
            ("entropy", 3), ("score", 2)]
    print("mean ± std (n - 1) over the seeds given in each row")
    print("| run (seeds) | steps | FCD | KID x1000 | precision | recall | class entropy "
          "| classifier score |")
    print("|---|---|---|---|---|---|---|---|")
    for who, label in names.items():
        got = rows[who]
        if not got:
            continue
        cells = [fmt([r[k] for r in got.values()], n) for k, n in cols]
        print(f"| {label} ({', '.join(map(str, got))}) | " + " | ".join(cells) + " |")
    print()
    for s in a.seeds:
        parts = []
        for who in names:
            r = rows[who].get(s)
            if r:
                parts.append(f"{who} {r['steps']} steps FCD {r['fcd']:.3f} "
                             f"({r['classes']}/10 classes)")
        if parts:
            print(f"seed {s}: " + "; ".join(parts))
    common = [s for s in a.seeds if s in rows["gan"] and s in rows["peer"]]
    if common:
        d = [rows["gan"][s]["fcd"] - rows["peer"][s]["fcd"] for s in common]
        line = "gan - peer FCD per seed " + ", ".join(f"{x:+.3f}" for x in d)
        gan = [rows["gan"][s]["fcd"] for s in common]
        peer = [rows["peer"][s]["fcd"] for s in common]
        t = welch_t(gan, peer)
        if t is not None:
            line += f"; Welch's t of the means {t:+.2f}"
        print(line + " (negative: gan lower, i.e. better)")


if __name__ == "__main__":
    main()

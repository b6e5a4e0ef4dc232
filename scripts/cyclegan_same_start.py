"""Paired CycleGAN comparison on the built-in `hot` task: the PyTorch peer trained for the
whole preset from the Rust run's own start (the state after its first step), with the Rust
run's batches and per-step random numbers, then scored like scripts/cyclegan_hot.py's runs.

scripts/quality_cyclegan.sh compares a Rust seed with a peer seed that starts from other
initial weights and sees other batches, so a difference per seed mixes what the two
implementations do with what the draw of weights and batches does. Here the draw is shared:
1. `gan train --steps K` (the preset at 1 thread, seed `--seed`) makes the Rust state after
   K steps (its initial weights come from the seed, as in the Rust quality run of that seed);
2. the peer loads it (networks, Adam moments, pools; scripts/cyclegan_trajectory.py's
   `build`) and trains the remaining steps of the preset, re-seeding torch per step and
   drawing gan-data's batches as the engine does (`peer`), with the preset's LR schedule;
3. both directions of the 10,000 test images are translated in eval mode and written as
   scripts/cyclegan_hot.py writes them (PREFIX-a2b.npy, ...), for `gan eval` to score exactly
   as it scores the Rust run (scripts/quality_cyclegan.sh's peer commands).
GAN training is chaotic (scripts/cyclegan_trajectory.py: the two sides part by float noise
that grows), so this is not the Rust run again, but the same start.

    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/cyclegan_same_start.py \
        --seed 0 --out runs/quality/same-start-seed0
(about 50 minutes at 1 thread.)
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_cyclegan import LOSS_NAMES  # noqa: E402
from cyclegan_hot import grey_view, hot_map, lr_factor, set_scores, translate  # noqa: E402
from cyclegan_trajectory import Batches, build, checkpoint, make_config  # noqa: E402
from pix2pix_edges import load_split, pad, scores  # noqa: E402
from stylegan2_trajectory import TRAIN_STREAM, load_file, step_seed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gan", default=os.path.join(ROOT, "target", "release", "gan"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=1, help="the Rust steps before the peer takes over")
    ap.add_argument("--out", default=None, help="prefix (default runs/quality/same-start-seedN)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--log-every", type=int, default=500)
    ap.add_argument("--steps", type=int, default=None,
                    help="total steps, the LR schedule's length too (default: the preset's)")
    a = ap.parse_args()
    out = a.out or os.path.join(ROOT, "runs", "quality", f"same-start-seed{a.seed}")
    if not 1 <= a.start <= 2:
        # `gan train --steps K` makes K the schedule's length too, and linear-decay is flat
        # only over its first half: beyond 2 steps the start would not be the preset's.
        sys.exit(f"--start {a.start}: must be 1 or 2 (the Rust start's LR schedule is its "
                 "own --steps)")
    if not os.access(a.gan, os.X_OK):
        sys.exit(f"{a.gan}: no gan binary (cargo build --release -p gan-cli, or --gan PATH)")
    os.makedirs(out, exist_ok=True)
    cfg_path = os.path.join(out, "config.toml")
    cfg = make_config(cfg_path)
    total = a.steps or cfg["train"]["steps"]
    rust = os.path.join(out, "rust-start")
    if not os.path.exists(checkpoint(rust, a.start)):
        cmd = [a.gan, "train", "--config", cfg_path, "--out", rust, "--seed", str(a.seed),
               "--steps", str(a.start)]
        print("+", " ".join(cmd), flush=True)
        with open(rust + ".log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    state = load_file(checkpoint(rust, a.start))
    train, _ = load_split(a.data, "train")
    test, test_labels = load_split(a.data, "test")
    train, test = pad(train), pad(test)
    half = train.shape[0] // 2
    train_a = torch.from_numpy(np.ascontiguousarray(train[:half, None]))
    train_b = torch.from_numpy(hot_map(train[half:]))
    nets, step = build(cfg, state, 1)
    decay_start = cfg["optim"].get("decay_start", 0.5)
    batches = Batches(train_a.shape[0], train_b.shape[0], cfg["train"]["batch_size"], a.seed)
    print(f"peer: steps {a.start}..{total} from the Rust state of step {a.start} (seed {a.seed})",
          flush=True)
    t0 = time.perf_counter()
    for s in range(a.start, total):
        torch.manual_seed(step_seed(a.seed, TRAIN_STREAM, s))
        factor = lr_factor(s, total, decay_start)
        step.set_lr_factor(factor)
        xa = train_a.index_select(0, batches.indices("a", s)).float() / 127.5 - 1.0
        xb = train_b.index_select(0, batches.indices("b", s)).float() / 127.5 - 1.0
        losses = step(xa, xb)
        if (s + 1) % a.log_every == 0:
            v = dict(zip(LOSS_NAMES, losses.tolist()))
            print(f"step {s + 1} {time.perf_counter() - t0:.0f} s lr x {factor:.3f}: "
                  + " ".join(f"{k} {x:.4f}" for k, x in v.items() if not k.startswith("idt")),
                  flush=True)
    train_s = time.perf_counter() - t0
    print(f"trained {total - a.start} steps in {train_s:.0f} s", flush=True)
    test_a, test_b = np.ascontiguousarray(test[:, None]), hot_map(test)
    np.save(out + "-labels.npy", test_labels)
    np.save(out + "-targets-a2b.npy", test_b)
    np.save(out + "-targets-b2a.npy", test_a)
    g_a, g_b = nets[0], nets[1]
    result = {"seed": a.seed, "start": a.start, "steps": total, "train_seconds": train_s,
              "directions": {}}
    for way, x, target, fwd, back in (("a2b", test_a, test_b, g_a, g_b),
                                      ("b2a", test_b, test_a, g_b, g_a)):
        fake = translate(fwd, x, cfg["model"]["test_batch"], torch.device("cpu"))
        rec = translate(back, fake, cfg["model"]["test_batch"], torch.device("cpu"))
        np.save(f"{out}-{way}.npy", fake)
        np.save(f"{out}-rec-{way[0]}.npy", rec)
        if way == "a2b":
            np.save(f"{out}-a2b-grey.npy", grey_view(fake))
        result["directions"][way] = {"set": set_scores(fake, target),
                                     "cycle_set": set_scores(rec, x),
                                     "cycle_per_image": scores(rec, x)}
        print(f"{way}: set PSNR {result['directions'][way]['set']['psnr']:.3f} dB", flush=True)
    with open(out + ".json", "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

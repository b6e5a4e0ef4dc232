"""Deterministic trajectory check: does `gan train` on configs/cyclegan-hot-fashion-mnist.toml
train exactly as the PyTorch peer (scripts/bench_cyclegan.py's `CycleGANStep` on the same
networks, as scripts/cyclegan_hot.py trains them) when both start from the same state and see
the same batches and the same random numbers?

1. `gan train --steps K+N` runs the preset (1 thread, a loss line and a checkpoint every step);
2. the peer loads the Rust checkpoint of step K: the four networks (the Rust names are
   upstream's state-dict names), both Adams' moments and step counts, and both image pools
   (their images and fill counts), then trains N steps, re-seeding torch before each step as
   the engine does (gan-tensor's `step_seed(seed, Stream::Train, step)`: the pools' coins and
   picks come from it), drawing each domain's batch in gan-data's `UnpairedBatcher` order
   (one `EpochBatcher` per domain, streams 0xA and 0xB) and setting the learning rates of
   gan-train's `linear-decay` schedule over the K+N planned steps;
3. the peer runs again at 2 threads: the size of floating-point noise alone.

It prints the losses side by side, the differences, and the max |diff| of every network's
weights (and the Adam moments) after the first `--exact-steps` steps and at the end, and exits
1 if the first steps disagree by more than float noise (`--tolerance`).

With the torch that `cargo xtask setup` installed and a release build:
    cargo build --release -p gan-cli
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/cyclegan_trajectory.py
(about a minute on 1 CPU thread; Fashion-MNIST as for the preset).
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_cyclegan import LOSS_NAMES, CycleGANStep, build_cyclegan  # noqa: E402
from cyclegan_hot import hot_map, lr_factor  # noqa: E402
from pix2pix_edges import load_split, pad  # noqa: E402
from stylegan2_trajectory import (TRAIN_STREAM, checkpoint, epoch_permutation, load_file,  # noqa: E402
                                  rust_losses, step_seed)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = os.path.join(ROOT, "configs", "cyclegan-hot-fashion-mnist.toml")
STREAM_A, STREAM_B = 0xA, 0xB  # gan-data unpaired.rs
NETS = (("g_a", "g.a."), ("g_b", "g.b."), ("d_a", "d.a."), ("d_b", "d.b."))


def make_config(path):
    """The preset at 1 thread, a loss line and a checkpoint every step, no evaluation during
    training and a small final one without the domain classifier."""
    text = open(PRESET).read()
    text, n = re.subn(r"(?m)^best = .*\n", "", text)
    assert n == 1, f"{PRESET}: no single `best` line"
    for key, value in (("threads", 1), ("log_every", 1), ("eval_every", 0),
                       ("eval_samples", 100), ("checkpoint_every", 1),
                       ("keep_checkpoints", 100000), ("classifier_scores", "false")):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, f"{PRESET}: no single `{key}` line"
    open(path, "w").write(text)
    return tomllib.loads(text)


class Batches:
    """gan-data's `UnpairedBatcher` order: domain A's and B's indices at a step."""

    def __init__(self, n_a, n_b, batch, seed):
        self.n, self.batch, self.seed, self.cache = {"a": n_a, "b": n_b}, batch, seed, {}

    def indices(self, side, step):
        n, b = self.n[side], self.batch
        per_epoch = n // b
        epoch, pos = divmod(step, per_epoch)
        key = (side, epoch)
        if key not in self.cache:
            stream = STREAM_A if side == "a" else STREAM_B
            self.cache[key] = torch.tensor(epoch_permutation(n, self.seed, epoch, stream))
        return self.cache[key][pos * b:(pos + 1) * b]


def build(cfg, state, threads):
    """The peer's networks and step, loaded with the Rust state of one checkpoint."""
    torch.set_num_threads(threads)
    m, o = cfg["model"], cfg["optim"]
    g, d = m["generator"], m["discriminator"]
    nets = build_cyclegan(1, 3, ngf=g["ngf"], n_blocks=g["n_blocks"], ndf=d["ndf"],
                          n_layers=d["n_layers"], norm=g["norm"], norm_d=d["norm"])
    for net, (_, prefix) in zip(nets, NETS):
        sd = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            sys.exit(f"checkpoint {prefix}: missing {missing}, unexpected {unexpected}")
        net.train()
    assert o["lr_g"] == o["lr_d"], "the peer has one learning rate"
    step = CycleGANStep(*nets, lr=o["lr_g"], betas=(o["beta1"], o["beta2"]),
                        lambda_a=m["lambda_a"], lambda_b=m["lambda_b"],
                        lambda_identity=m["lambda_identity"], pool_size=m["pool_size"])
    # Adam: the Rust moments are named `opt_g.m.<a|b>.<param>` (`v` for the second moment).
    for opt, name, pair in ((step.opt_g, "opt_g", nets[:2]), (step.opt_d, "opt_d", nets[2:])):
        count = float(state[f"{name}.step"][0])
        for side, net in zip("ab", pair):
            for pname, p in net.named_parameters():
                key = f"{side}.{pname}"
                opt.state[p] = {"step": torch.tensor(count),
                                "exp_avg": state[f"{name}.m.{key}"].clone(),
                                "exp_avg_sq": state[f"{name}.v.{key}"].clone()}
    for pool, name in ((step.pool_a, "pool_a"), (step.pool_b, "pool_b")):
        count = int(state[f"{name}.count"][0])
        images = state[f"{name}.images"]
        pool.images = [images[i:i + 1].clone() for i in range(count)]
    return nets, step


def snapshot(nets, step):
    out = {}
    for net, (_, prefix) in zip(nets, NETS):
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                out[prefix + k] = v.detach().clone()
    for opt, name, pair in ((step.opt_g, "opt_g", nets[:2]), (step.opt_d, "opt_d", nets[2:])):
        for side, net in zip("ab", pair):
            for pname, p in net.named_parameters():
                out[f"{name}.m.{side}.{pname}"] = opt.state[p]["exp_avg"].clone()
                out[f"{name}.v.{side}.{pname}"] = opt.state[p]["exp_avg_sq"].clone()
    return out


def peer(cfg, state, data, seed, start, steps, threads, snapshot_at):
    nets, step = build(cfg, state, threads)
    train_a, train_b = data
    total = cfg["train"]["steps"]
    decay_start = cfg["optim"].get("decay_start", 0.5)
    batches = Batches(train_a.shape[0], train_b.shape[0], cfg["train"]["batch_size"], seed)
    losses, snaps = [], {}
    for s in range(start, start + steps):
        torch.manual_seed(step_seed(seed, TRAIN_STREAM, s))
        step.set_lr_factor(lr_factor(s, total, decay_start))
        xa = train_a.index_select(0, batches.indices("a", s)).float() / 127.5 - 1.0
        xb = train_b.index_select(0, batches.indices("b", s)).float() / 127.5 - 1.0
        losses.append(dict(zip(LOSS_NAMES, step(xa, xb).tolist())))
        if s + 1 in snapshot_at:
            snaps[s + 1] = snapshot(nets, step)
    return losses, snaps


def group(key):
    """The group a checkpoint tensor is reported under: g_a, g_b, d_a, d_b, or their Adam
    moments (adam_g, adam_d)."""
    if key.startswith("opt_"):
        return "adam_" + key[4]
    net, side = key.split(".")[:2]
    return f"{net}_{side}"


GROUPS = ("g_a", "g_b", "d_a", "d_b", "adam_g", "adam_d")


def max_diffs(a, b):
    """Max |a - b| over each group's tensors of the peer snapshot `b`, and the tensor where
    it is reached: {group: (max, name)}."""
    out = {}
    for k, v in b.items():
        if k not in a:
            sys.exit(f"checkpoint has no `{k}`")
        g, d = group(k), (a[k].float() - v.float()).abs().max().item()
        if d >= out.get(g, (-1.0, ""))[0]:
            out[g] = (d, k)
    return out


def fmt(d):
    return " / ".join(f"{d[k][0]:.2e}" for k in GROUPS)


def worst(d):
    return ", ".join(f"{k} {d[k][1]}" for k in GROUPS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gan", default=os.path.join(ROOT, "target", "release", "gan"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "cyclegan-trajectory"))
    ap.add_argument("--start", type=int, default=10,
                    help="the Rust checkpoint the peer starts from (K; the pools fill in 7 steps)")
    ap.add_argument("--steps", type=int, default=30, help="steps compared (N)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-steps", type=int, default=3)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if not os.access(a.gan, os.X_OK):
        sys.exit(f"{a.gan}: no gan binary (cargo build --release -p gan-cli, or --gan PATH)")
    os.makedirs(a.out, exist_ok=True)
    cfg_path = os.path.join(a.out, "config.toml")
    cfg = make_config(cfg_path)
    total = a.start + a.steps
    cfg["train"]["steps"] = total  # `--steps` below: the schedule's length too
    rust = os.path.join(a.out, "rust")
    if not os.path.exists(checkpoint(rust, total)):
        cmd = [a.gan, "train", "--config", cfg_path, "--out", rust, "--seed", str(a.seed),
               "--steps", str(total)]
        print("+", " ".join(cmd), flush=True)
        with open(rust + ".log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    state = load_file(checkpoint(rust, a.start))
    images, _ = load_split(a.data, "train")
    images = pad(images)
    half = images.shape[0] // 2
    data = (torch.from_numpy(np.ascontiguousarray(images[:half, None])),
            torch.from_numpy(hot_map(images[half:])))
    early = min(a.exact_steps, a.steps)
    end = a.start + a.steps
    print(f"peer: from step {a.start}, {a.steps} steps at 1 thread, then at 2 threads",
          flush=True)
    py1, snaps1 = peer(cfg, state, data, a.seed, a.start, a.steps, 1, {a.start + early, end})
    py2, snaps2 = peer(cfg, state, data, a.seed, a.start, a.steps, 2, {end})
    rs = rust_losses(rust)

    keys = [k for k in LOSS_NAMES if not k.startswith("idt")]
    print("\n| step | loss | gan (Rust) | PyTorch 1 thread | |Rust - PyTorch| "
          "| |PyTorch 1 - 2 threads| |")
    print("|---|---|---|---|---|---|")
    worst_early, rows = 0.0, []
    for i in range(a.steps):
        s = a.start + i + 1
        for key in keys:
            r, p1, p2 = rs[s][key], py1[i][key], py2[i][key]
            rows.append({"step": s, "loss": key, "rust": r, "torch_1": p1, "torch_2": p2})
            if i < early:
                worst_early = max(worst_early, abs(r - p1))
            print(f"| {s} | {key} | {r:.6f} | {p1:.6f} | {abs(r - p1):.2e} | {abs(p1 - p2):.2e} |")
    moved = max_diffs(state, snaps1[end])
    at_early = max_diffs(load_file(checkpoint(rust, a.start + early)), snaps1[a.start + early])
    at_end = max_diffs(load_file(checkpoint(rust, end)), snaps1[end])
    threads = max_diffs(snaps2[end], snaps1[end])
    print(f"\nmax |diff| ({' / '.join(GROUPS)}):")
    for name, d in ((f"moved from step {a.start} to {end}", moved),
                    (f"gan (Rust) vs PyTorch at step {a.start + early}", at_early),
                    (f"gan (Rust) vs PyTorch at step {end}", at_end),
                    (f"PyTorch 1 vs 2 threads at step {end}", threads)):
        print(f"  {name}: {fmt(d)}")
        print(f"    (largest in: {worst(d)})")
    ok = worst_early <= a.tolerance
    print(f"\nfirst {early} steps: max |loss diff| {worst_early:.2e} "
          f"({'within' if ok else 'OVER'} {a.tolerance:g})")
    summary = {"start": a.start, "steps": a.steps, "seed": a.seed, "losses": rows,
               "moved": moved, "rust_vs_torch_early": at_early, "rust_vs_torch": at_end,
               "torch_threads": threads, "early_steps": early,
               "early_max_loss_diff": worst_early, "ok": ok}
    with open(os.path.join(a.out, "trajectory.json"), "w") as f:
        json.dump(summary, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

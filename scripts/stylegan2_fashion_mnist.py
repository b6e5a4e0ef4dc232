"""PyTorch peer of the Rust StyleGAN2 run on Fashion-MNIST at 32x32: the same networks and
training step, for a wall-clock budget, then 10,000 samples of the EMA generator written as a
.npy for `gan eval --samples` (scored exactly as the Rust run is).

Run (the torch that `cargo xtask setup` installs; numpy is in that venv):
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/stylegan2_fashion_mnist.py \
        --seconds 3600 --threads 2 --out runs/torch-stylegan2/samples.npy
    ./target/release/gan eval --samples runs/torch-stylegan2/samples.npy \
        --reference fashion-mnist:test --no-inception

Networks: scripts/stylegan2_fixtures.py (the transcription of stylegan2-ada-pytorch's
networks.py that gan-models is checked against to max |diff| 0), sized by the flags as the
`[generator]` / `[discriminator]` of configs/stylegan2-fashion-mnist.toml, and its `[model]`
settings by default (R1 gamma 0.01, no path length, no style mixing). Step:
scripts/bench_stylegan2.py's `StyleGAN2Step` (phases g, g_pl every --pl-every, d, d_r1 every
--r1-every, lazy-regularisation Adam corrections, EMA min(--ema, (1 + s) / (10 + s)), buffers
copied), the same as the `stylegan2` family.

Data as gan-data reads it: the 60,000 train images padded with 2 black pixels a side, scaled
x / 127.5 - 1; each epoch a fresh random permutation (a torch generator seeded --seed) cut
into full batches. Training stops at whichever comes first: --steps steps or --seconds of
training time (checked before each step; loading and sampling are not counted).

Sampling: --samples latents z ~ N(0, 1) (seed --seed + 1), --sample-batch at a time, through
the EMA generator's mapping (no truncation) and synthesis with random noise, no gradients;
outputs become uint8 by round((x + 1) * 127.5) clamped to [0, 255], as gan-train does.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_stylegan2 import StyleGAN2Step, add_network_args, build_from_args  # noqa: E402
from pix2pix_edges import load_split, pad, to_u8  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3600, help="training time budget")
    ap.add_argument("--steps", type=int, default=1_000_000, help="at most this many steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    add_network_args(ap)
    ap.add_argument("--lr", type=float, default=0.0025)
    ap.add_argument("--r1-gamma", type=float, default=0.01)
    ap.add_argument("--r1-every", type=int, default=16)
    ap.add_argument("--pl-weight", type=float, default=0.0)
    ap.add_argument("--pl-every", type=int, default=4)
    ap.add_argument("--style-mixing", type=float, default=0.0)
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay (after its warm-up)")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--sample-batch", type=int, default=250)
    ap.add_argument("--out", default="runs/torch-stylegan2/samples.npy")
    ap.add_argument("--json", default=None, help="also write the run's summary here")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--log-every", type=float, default=60, help="seconds between progress lines")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)

    images, _ = load_split(a.data, "train")
    data = torch.from_numpy(pad(images)).unsqueeze(1).to(dev)  # (60000, 1, 32, 32) uint8
    size = data.shape[-1]
    g, d, g_ema = build_from_args(a, size, 1)
    for net in (g, d, g_ema):
        net.to(dev).train()
    step = StyleGAN2Step(g, d, g_ema, lr=a.lr, r1_gamma=a.r1_gamma, r1_every=a.r1_every,
                         pl_weight=a.pl_weight, pl_every=a.pl_every,
                         style_mixing=a.style_mixing, ema_decay=a.ema)
    order_gen = torch.Generator().manual_seed(a.seed)
    n, b = data.shape[0], a.batch
    per_epoch = n // b
    order, pos = None, per_epoch

    trained, steps, last_log, losses = 0.0, 0, 0.0, {}
    while steps < a.steps and trained < a.seconds:
        if pos == per_epoch:
            order, pos = torch.randperm(n, generator=order_gen).to(dev), 0
        t0 = time.perf_counter()
        idx = order[pos * b:(pos + 1) * b]
        pos += 1
        losses = step(data.index_select(0, idx).float() / 127.5 - 1.0)
        trained += time.perf_counter() - t0
        steps += 1
        if trained - last_log >= a.log_every:
            last_log = trained
            text = "  ".join(f"{k} {v:.4f}" for k, v in losses.items())
            print(f"step {steps:7d}  {text}  {steps / trained:.2f} it/s  {trained:.0f} s",
                  flush=True)
    print(f"trained {steps} steps in {trained:.0f} s ({steps / trained:.2f} it/s)", flush=True)

    g_ema.eval()
    zgen = torch.Generator().manual_seed(a.seed + 1)
    out = []
    with torch.no_grad():
        for start in range(0, a.samples, a.sample_batch):
            m = min(a.sample_batch, a.samples - start)
            z = torch.randn(m, a.z_dim, generator=zgen).to(dev)
            ws = g_ema.mapping(z, None, skip_w_avg_update=True)
            out.append(to_u8(g_ema.synthesis(ws, noise_mode="random")))
    samples = torch.cat(out).numpy()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.save(a.out, samples)
    summary = {"impl": "pytorch-eager", "torch": torch.__version__, "threads": a.threads,
               "steps": steps, "train_seconds": trained, "samples": a.out,
               "shape": list(samples.shape), "args": vars(a)}
    print(json.dumps(summary))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()

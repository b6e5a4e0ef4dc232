"""PyTorch peer of the Rust pix2pix run on the built-in `edges` task
(configs/pix2pix-edges-fashion-mnist.toml): Sobel edge maps (A) to Fashion-MNIST images (B),
1x32x32, trained for a wall-clock budget, then scored on the 10,000 test pairs.

Run (the torch that `cargo xtask setup` installs; numpy is in that venv):
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/pix2pix_edges.py \
        --seconds 1800 --threads 2 --out runs/torch-pix2pix
Writes runs/torch-pix2pix-stochastic.npy and runs/torch-pix2pix-eval.npy (uint8, (10000, 1,
32, 32): the translations of the test edge maps) and runs/torch-pix2pix-labels.npy (int64,
(10000,)), and with `--json FILE` the printed numbers as JSON. Fashion-MNIST's IDX files are
read from --data (default /usr/share/datasets/fashion-mnist; `apt-get install -y
dataset-fashion-mnist` puts them there), each `{train,t10k}-{images-idx3,labels-idx1}-ubyte`
raw or with `.gz` (gzip recognised by its magic bytes, as gan-data).

Data, as gan-data's `PairedDataset::edges`: each 28x28 image padded with 2 black pixels on
every side (B); with integer Sobel responses Gx = I * [[-1,0,1],[-2,0,2],[-1,0,1]] and Gy =
I * Gx^T (cross-correlation, zero padding 1) on the pixel values I,
A = min(floor(sqrt(Gx^2 + Gy^2) / 4 + 0.5), 255), i.e. round(255 * clamp(|grad(I/255)| / 4,
0, 1)) with halves away from zero, evaluated exactly. `--check-edges FILE.npy` compares that
with an edge map the Rust side wrote (uint8, (N, 1, 32, 32) or (N, 32, 32); N = 10000 is the
test split, 60000 the train split) and stops.

Training: the networks and the step of scripts/bench_pix2pix.py (U-Net num_downs 5, ngf 64,
batch norm, dropout on, which at num_downs 5 means no dropout layer; PatchGAN n_layers 2,
ndf 64 on cat(A, B); BCE-with-logits GAN loss + 100 * L1, D loss * 0.5, Adam 2e-4 /
(0.5, 0.999), D step then G step). Pixels scaled x / 127.5 - 1. Each epoch is a fresh random
permutation of the 60,000 train pairs cut into full batches (the last 60000 % batch are
dropped, as gan-data's EpochBatcher); no jitter. Steps run until --seconds of training time
have passed (checked before each step; data loading and scoring are not counted).

Translation of the test edge maps, in order, --test-batch at a time (default: the training
batch size; upstream's test.py uses 1):
- stochastic: pix2pix's default test mode (no `--eval`): train-mode layers, so batch norm uses
  the statistics of each test batch (and dropout would be on). Unlike upstream, the running
  statistics are restored afterwards, as the Rust `ForwardMode::Stochastic` never updates
  them; the eval pass therefore sees the model as training left it.
- eval: `--eval`, running statistics (and no dropout).
Outputs in [-1, 1] become uint8 by round((x + 1) * 127.5) clamped to [0, 255] (torch.round,
halves to even; gan-train's `plot::to_u8`).

Scores against the real test images B, on x = uint8 / 255 in float64, each a mean over the
10,000 images:
- L1: mean absolute error (per image, then the mean; all images have the same size).
- PSNR: 10 log10(1 / MSE) per image, data range 1; an MSE below 1e-10 counts as 1e-10 (100 dB).
- SSIM: Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5, normalised to sum 1),
  K1 = 0.01, K2 = 0.03, data range 1 (C1 = 0.01^2, C2 = 0.03^2), local statistics by the
  window over 'valid' positions only (no padding: a 22x22 SSIM map for 32x32 images), biased
  (weighted population) variances and covariance; the per-image score is the mean of the map.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench_pix2pix import Pix2PixStep, build_pix2pix

SPLITS = {"train": "train", "test": "t10k"}


def read_idx(path):
    """An IDX array of unsigned bytes (raw or gzipped) as a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX type {raw[2]:#04x}, only 0x08 (unsigned byte) is supported")
    ndims = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndims)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: {data.size} bytes of data for dimensions {dims}")
    return data.reshape(dims)


def find_idx(folder, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    sys.exit(f"{folder} has no {name} (or {name}.gz); install Fashion-MNIST with "
             "`apt-get update && apt-get install -y dataset-fashion-mnist`")


def load_split(folder, split):
    """Images (N, 28, 28) uint8 and labels (N,) int64 of the train or test split."""
    prefix = SPLITS[split]
    images = read_idx(find_idx(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
    assert images.ndim == 3 and labels.shape == (images.shape[0],), (images.shape, labels.shape)
    return images, labels.astype(np.int64)


def pad(images, p=2):
    """(N, H, W) -> (N, H + 2p, W + 2p), zeros around (gan-data's `ImageDataset::pad`)."""
    return np.pad(images, ((0, 0), (p, p), (p, p)))


def sobel_edges(images, chunk=5000):
    """gan-data's edge maps of uint8 images (N, H, W), bit for bit (see the module doc)."""
    n, h, w = images.shape
    out = np.empty((n, h, w), dtype=np.uint8)
    for s in range(0, n, chunk):
        x = np.pad(images[s:s + chunk].astype(np.int64), ((0, 0), (1, 1), (1, 1)))
        # Rows / columns y - 1, y, y + 1 of the image are y, y + 1, y + 2 of the padded one.
        up, mid, down = x[:, :-2], x[:, 1:-1], x[:, 2:]
        left = lambda r: r[:, :, :-2]
        centre = lambda r: r[:, :, 1:-1]
        right = lambda r: r[:, :, 2:]
        gx = (right(up) + 2 * right(mid) + right(down)) - (left(up) + 2 * left(mid) + left(down))
        gy = (left(down) + 2 * centre(down) + right(down)) - (left(up) + 2 * centre(up) + right(up))
        m = np.sqrt((gx * gx + gy * gy).astype(np.float64)) / 4.0
        a = np.minimum(np.floor(m + 0.5), 255.0)
        # Rust's f64::round (halves away from zero), exactly: m - floor(m) is exact.
        r = np.floor(m)
        assert np.array_equal(a, np.minimum(r + (m - r >= 0.5), 255.0))
        out[s:s + chunk] = a.astype(np.uint8)
    return out


def check_edges(path, folder):
    want = np.load(path)
    want = want.reshape(want.shape[0], 32, 32) if want.ndim == 4 else want
    split = {10000: "test", 60000: "train"}.get(want.shape[0])
    if split is None or want.shape[1:] != (32, 32) or want.dtype != np.uint8:
        sys.exit(f"{path}: expected uint8 (10000 or 60000, [1,] 32, 32), got {want.dtype} "
                 f"{want.shape}")
    got = sobel_edges(pad(load_split(folder, split)[0]))
    diff = got != want
    print(f"{path} vs the {split} split's edges: {int(diff.sum())} of {diff.size} pixels differ"
          + (f" (first at {np.argwhere(diff)[0].tolist()})" if diff.any() else ""))
    sys.exit(1 if diff.any() else 0)


def to_u8(x):
    """[-1, 1] -> uint8, round((x + 1) * 127.5) clamped (gan-train's plot::to_u8)."""
    return ((x.float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def translate(g, a, batch, stochastic, dev):
    """Translations of the uint8 edge maps a (N, 1, H, W) as uint8."""
    saved = None
    if stochastic:
        # Upstream's test mode without --eval: train-mode layers (batch statistics). Its running
        # statistics would drift; keep them, as the Rust side does.
        saved = {k: v.clone() for k, v in g.state_dict().items()}
        g.train()
    else:
        g.eval()
    out = []
    with torch.no_grad():
        for s in range(0, a.shape[0], batch):
            xa = a[s:s + batch].to(dev).float() / 127.5 - 1.0
            out.append(to_u8(g(xa)))
    if saved is not None:
        g.load_state_dict(saved)
    g.train()
    return torch.cat(out).numpy()


def gaussian_window(size=11, sigma=1.5):
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    return torch.outer(g, g).view(1, 1, size, size)


def scores(fake_u8, real_u8, batch=1000):
    """Mean over images of L1, PSNR and SSIM (see the module doc) on [0, 1] pixels."""
    win = gaussian_window()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    l1, psnr, ssim = [], [], []
    for s in range(0, fake_u8.shape[0], batch):
        x = torch.from_numpy(fake_u8[s:s + batch]).double() / 255.0
        y = torch.from_numpy(real_u8[s:s + batch]).double() / 255.0
        l1.append((x - y).abs().flatten(1).mean(1))
        mse = ((x - y) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        psnr.append(10.0 * torch.log10(1.0 / mse))
        c = x.shape[1]
        w = win.expand(c, 1, -1, -1)
        blur = lambda t: F.conv2d(t, w, groups=c)
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        ssim.append(smap.flatten(1).mean(1))
    return {"l1": torch.cat(l1).mean().item(), "psnr": torch.cat(psnr).mean().item(),
            "ssim": torch.cat(ssim).mean().item()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1800, help="training time budget")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=64, help="U-Net width (model.generator.ngf)")
    ap.add_argument("--ndf", type=int, default=64, help="PatchGAN width (model.discriminator.ndf)")
    ap.add_argument("--n-layers", type=int, default=2, help="PatchGAN layers")
    ap.add_argument("--test-batch", type=int, default=None,
                    help="batch of the test translations (default: --batch)")
    ap.add_argument("--out", default="runs/torch-pix2pix",
                    help="prefix of PREFIX-{stochastic,eval,labels}.npy")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--log-every", type=float, default=60, help="seconds between progress lines")
    ap.add_argument("--check-edges", default=None, metavar="NPY",
                    help="compare the edge maps with this .npy (from the Rust side) and stop")
    a = ap.parse_args()
    if a.check_edges:
        check_edges(a.check_edges, a.data)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    test_batch = a.test_batch or a.batch

    t_load = time.perf_counter()
    train_b, _ = load_split(a.data, "train")
    test_b, test_labels = load_split(a.data, "test")
    train_b, test_b = pad(train_b), pad(test_b)
    train_a, test_a = sobel_edges(train_b), sobel_edges(test_b)
    as_t = lambda v: torch.from_numpy(np.ascontiguousarray(v[:, None]))
    train_a, train_b_t = as_t(train_a).to(dev), as_t(train_b).to(dev)
    print(f"data: {train_a.shape[0]} train / {test_a.shape[0]} test pairs of 1x32x32 from "
          f"{a.data} in {time.perf_counter() - t_load:.1f} s", flush=True)

    g, d = build_pix2pix(1, 1, 32, ngf=a.ngf, ndf=a.ndf, n_layers=a.n_layers,
                         norm="batch", dropout=True)
    g.to(dev).train()
    d.to(dev).train()
    step = Pix2PixStep(g, d, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0)
    n, b = train_a.shape[0], a.batch
    per_epoch = n // b
    shuffle = torch.Generator().manual_seed(a.seed)
    steps, perm, last_log = 0, None, 0.0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        k = steps % per_epoch
        if k == 0:
            perm = torch.randperm(n, generator=shuffle).to(dev)
        idx = perm[k * b:(k + 1) * b]
        xa = train_a.index_select(0, idx).float() / 127.5 - 1.0
        xb = train_b_t.index_select(0, idx).float() / 127.5 - 1.0
        losses = step(xa, xb)
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed - last_log >= a.log_every:
            last_log = elapsed
            ld, lg, ll1 = losses.tolist()
            print(f"step {steps} (epoch {steps / per_epoch:.2f}) {elapsed:.0f} s: loss_D {ld:.4f} "
                  f"loss_G_GAN {lg:.4f} loss_G_L1 {ll1:.4f}", flush=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    ld, lg, ll1 = losses.tolist() if steps else (float("nan"),) * 3
    print(f"trained {steps} steps ({steps / per_epoch:.2f} epochs) in {train_s:.1f} s: "
          f"{steps * b / train_s:.1f} images/s, {train_s * 1e3 / max(steps, 1):.0f} ms/step; "
          f"last loss_D {ld:.4f} loss_G_GAN {lg:.4f} loss_G_L1 {ll1:.4f}", flush=True)

    test_a_t = as_t(test_a)
    real = test_b[:, None]
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    result = {"impl": "pytorch-eager", "torch": torch.__version__, "device": str(dev),
              "threads": torch.get_num_threads(), "batch": b, "test_batch": test_batch,
              "seed": a.seed, "seconds_budget": a.seconds, "train_seconds": train_s,
              "steps": steps, "epochs": steps / per_epoch, "images_per_sec": steps * b / train_s,
              "ms_per_step": train_s * 1e3 / max(steps, 1),
              "last_losses": {"loss_D": ld, "loss_G_GAN": lg, "loss_G_L1": ll1},
              "ssim": "gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, data range 1, valid",
              "modes": {}}
    np.save(a.out + "-labels.npy", test_labels)
    for mode in ("stochastic", "eval"):
        t = time.perf_counter()
        fake = translate(g, test_a_t, test_batch, mode == "stochastic", dev)
        s = scores(fake, real)
        s["translate_seconds"] = time.perf_counter() - t
        np.save(f"{a.out}-{mode}.npy", fake)
        result["modes"][mode] = s
        print(f"{mode:>10}: L1 {s['l1']:.4f}  PSNR {s['psnr']:.3f} dB  SSIM {s['ssim']:.4f}  "
              f"-> {a.out}-{mode}.npy", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""PyTorch peer of the Rust CycleGAN run on the built-in `hot` task: Fashion-MNIST grey images
(domain A, 1x32x32) <-> their `hot` colour maps (domain B, 3x32x32), unpaired, trained for a
wall-clock budget, then both directions scored on the 10,000 test images against the exact
mapping.

Run (the torch that `cargo xtask setup` installs; numpy is in that venv):
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/cyclegan_hot.py \
        --seconds 1800 --threads 2 --out runs/torch-cyclegan-hot
Writes, under the prefix (uint8 unless said, test images in order):
- PREFIX-a2b.npy (10000, 3, 32, 32): G_A of the grey test images;
- PREFIX-a2b-grey.npy (10000, 1, 32, 32): their grey view round((R + G + B) / 3), the exact
  inverse of the hot map (its channels sum to 3p), for the grey Fashion-MNIST classifier;
- PREFIX-b2a.npy (10000, 1, 32, 32): G_B of the test hot maps;
- PREFIX-targets-a2b.npy (10000, 3, 32, 32): the exact hot maps of the test images;
- PREFIX-targets-b2a.npy (10000, 1, 32, 32): the grey test images;
- PREFIX-rec-a.npy (10000, 1, 32, 32) and PREFIX-rec-b.npy (10000, 3, 32, 32): the cycle
  reconstructions G_B(G_A(A)) and G_A(G_B(B));
- PREFIX-labels.npy int64 (10000,): the test labels (the same for A, B and both directions);
and with `--json FILE` the printed numbers as JSON. Fashion-MNIST's IDX files are read from
--data (default /usr/share/datasets/fashion-mnist; `apt-get install -y dataset-fashion-mnist`
puts them there), raw or with `.gz`, as scripts/pix2pix_edges.py reads them.

Data, as the Rust `hot` task: each 28x28 image padded with 2 black pixels on every side. With
p the uint8 pixel value, the hot colour map is R = min(3p, 255), G = clamp(3p - 255, 0, 255),
B = clamp(3p - 510, 0, 255), i.e. round(255 * clamp(3g - k, 0, 1)) with g = p / 255 and
k = 0, 1, 2 (checked for all 256 values at start-up). Train: domain A = the grey train images
0-29,999, domain B = the hot maps of train images 30,000-59,999, so no pair is ever seen.
Test: A = the 10,000 grey test images, B = the hot maps of the same images, in order, so each
direction has an exact target. Pixels scaled x / 127.5 - 1. Each domain has its own epoch
order: a fresh random permutation of its 30,000 images every epoch (torch generators seeded
--seed for A and --seed + 1 for B), cut into full batches (the last 30000 % batch dropped);
no jitter.

Training: the networks and the step of scripts/bench_cyclegan.py (by default those of
configs/cyclegan-hot-fashion-mnist.toml: ResNet generators ngf 16, 3 residual blocks, batch
norm; PatchGANs n_layers 2, ndf 32, instance norm; upstream's init), CycleGAN's
`optimize_parameters`: LSGAN losses, cycle L1 with lambda_A = lambda_B = 10, no identity term
(it needs equal channel counts; A has 1, B 3: printed at start-up), G step over both
generators then D step over both discriminators with pools of 50 past fakes, Adam(2e-4, betas
(0.5, 0.999)). Learning rates: a step-based version of upstream's `linear` policy with
--steps as the planned total T: factor 1 for step s < T / 2, then (T - s) / (T - T / 2), so 0
at step T (s counts from 0, set before each step), as gan-train's `linear-decay` with
`decay_start = 0.5`. Training stops at whichever comes first: --steps steps, or --seconds of
training time (checked before each step; data loading and scoring are not counted), so a
budget that ends early leaves the rates where the schedule had got to.

Translation, --test-batch images at a time (default 50), with no gradients, the generators in
eval mode, as gan-train's CycleGAN translates: batch norm uses its running statistics (upstream's
test.py with `--eval`); instance norm without running statistics behaves the same in either
mode. Outputs in [-1, 1] become
uint8 by round((x + 1) * 127.5) clamped to [0, 255] (torch.round, halves to even; gan-train's
`plot::to_u8`). The cycle reconstructions are translations of those uint8 translations (as
the Rust evaluation does), not of the float outputs.

Scores, on x = uint8 / 255 in float64, for each direction against its exact target and for
each cycle reconstruction against its input:
- psnr: 10 log10(255^2 / MSE) dB with the MSE over all pixels of all 10,000 images (pixel
  values 0-255; the same as data range 1 on x);
- l1: mean absolute error over all pixels, in [0, 1] units;
- per_image: gan-eval's `TranslationScores` as scripts/pix2pix_edges.py computes them (means
  over images of L1, of the per-image PSNR with data range 1 capped at 100 dB, and of SSIM),
  which is what the Rust run records;
- for A -> B also `grey`: psnr and l1 of the grey view against the grey test images.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from bench_cyclegan import LOSS_NAMES, CycleGANStep, build_cyclegan
from pix2pix_edges import load_split, pad, scores, to_u8


def hot_map(images):
    """uint8 (N, H, W) -> uint8 (N, 3, H, W): R = min(3p, 255), G = clamp(3p - 255, 0, 255),
    B = clamp(3p - 510, 0, 255)."""
    p = 3 * images.astype(np.int32)
    return np.stack([np.clip(p - 255 * k, 0, 255) for k in range(3)], 1).astype(np.uint8)


def grey_view(images):
    """uint8 (N, 3, H, W) -> uint8 (N, 1, H, W): round((R + G + B) / 3) (torch.round, in
    float32, as gan-train's `classifier_view`; a sum of integers over 3 is never a half)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().sum(1, keepdim=True) / 3.0
    return x.round().clamp(0, 255).to(torch.uint8).numpy()


def check_hot_map():
    """The integer hot map against its float definition, and the grey view as its inverse,
    for every pixel value."""
    p = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    got = hot_map(p)
    g = p.astype(np.float64) / 255.0
    want = np.stack([np.round(255.0 * np.clip(3.0 * g - k, 0.0, 1.0)) for k in range(3)], 1)
    assert np.array_equal(got.astype(np.float64), want), "hot map != its float definition"
    assert np.array_equal(grey_view(got), p[:, None]), "grey view is not the hot map's inverse"


def lr_factor(step, total, decay_start=0.5):
    """Constant until decay_start * total, then linear to 0 at `total` (gan-train's
    `OptimConfig::lr_factor` with `linear-decay`)."""
    start = decay_start * total
    if step < start:
        return 1.0
    return min(max((total - step) / max(total - start, 1.0), 0.0), 1.0)


def translate(g, x, batch, dev):
    """Translations of the uint8 images x (N, C, H, W) (numpy) as uint8 numpy, with g in eval
    mode (batch norm's running statistics), as gan-train's CycleGAN translates."""
    out = []
    g.eval()
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            xs = torch.from_numpy(np.ascontiguousarray(x[s:s + batch])).to(dev)
            out.append(to_u8(g(xs.float() / 127.5 - 1.0)))
    return torch.cat(out).numpy()


def set_scores(fake_u8, real_u8):
    """PSNR over the whole set (dB, data range 255) and mean L1 in [0, 1] units, in float64."""
    sq, ab, n = 0.0, 0.0, 0
    for s in range(0, fake_u8.shape[0], 1000):
        d = (torch.from_numpy(fake_u8[s:s + 1000]).double()
             - torch.from_numpy(real_u8[s:s + 1000]).double())
        sq += (d * d).sum().item()
        ab += d.abs().sum().item()
        n += d.numel()
    mse = sq / n
    psnr = 10.0 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")
    return {"psnr": psnr, "l1": ab / n / 255.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1800, help="training time budget")
    ap.add_argument("--steps", type=int, default=13000,
                    help="planned total steps: the LR schedule's length and a step limit")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ngf", type=int, default=16, help="ResNet generator width")
    ap.add_argument("--n-blocks", type=int, default=3, help="residual blocks per generator")
    ap.add_argument("--ndf", type=int, default=32, help="PatchGAN width")
    ap.add_argument("--n-layers", type=int, default=2, help="PatchGAN layers")
    ap.add_argument("--norm-g", choices=["batch", "instance"], default="batch",
                    help="the generators' norm (the Rust config's [model.generator] norm)")
    ap.add_argument("--norm-d", choices=["batch", "instance"], default="instance",
                    help="the discriminators' norm ([model.discriminator] norm)")
    ap.add_argument("--test-batch", type=int, default=50, help="batch of the test translations")
    ap.add_argument("--out", default="runs/torch-cyclegan-hot",
                    help="prefix of PREFIX-{a2b,a2b-grey,b2a,targets-a2b,targets-b2a,rec-a,"
                         "rec-b,labels}.npy")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--log-every", type=float, default=60, help="seconds between progress lines")
    a = ap.parse_args()
    check_hot_map()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)

    t_load = time.perf_counter()
    train, _ = load_split(a.data, "train")
    test, test_labels = load_split(a.data, "test")
    assert train.shape[0] == 60000, train.shape
    train, test = pad(train), pad(test)
    half = train.shape[0] // 2
    train_a = torch.from_numpy(np.ascontiguousarray(train[:half, None])).to(dev)
    train_b = torch.from_numpy(hot_map(train[half:])).to(dev)
    test_a, test_b = np.ascontiguousarray(test[:, None]), hot_map(test)
    print(f"data: {train_a.shape[0]} A (grey 1x32x32) / {train_b.shape[0]} B (hot 3x32x32) "
          f"unpaired train images, {test_a.shape[0]} test pairs, from {a.data} in "
          f"{time.perf_counter() - t_load:.1f} s", flush=True)

    nets = build_cyclegan(1, 3, ngf=a.ngf, n_blocks=a.n_blocks, ndf=a.ndf,
                          n_layers=a.n_layers, norm=a.norm_g, norm_d=a.norm_d)
    for net in nets:
        net.to(dev).train()
    g_a, g_b = nets[0], nets[1]
    step = CycleGANStep(*nets, lr=2e-4, betas=(0.5, 0.999), lambda_a=10.0, lambda_b=10.0,
                        lambda_identity=0.5, pool_size=50)
    print(step.identity_note, flush=True)
    print(f"LR: 2e-4 constant until step {a.steps / 2:g}, then linear to 0 at step {a.steps} "
          f"(stops at {a.steps} steps or {a.seconds:g} s, whichever comes first)", flush=True)

    n_a, n_b, b = train_a.shape[0], train_b.shape[0], a.batch
    per_epoch_a, per_epoch_b = n_a // b, n_b // b
    shuffle_a = torch.Generator().manual_seed(a.seed)
    shuffle_b = torch.Generator().manual_seed(a.seed + 1)
    steps, perm_a, perm_b, last_log, factor = 0, None, None, 0.0, 1.0
    losses = None
    t0 = time.perf_counter()
    while steps < a.steps and time.perf_counter() - t0 < a.seconds:
        ka, kb = steps % per_epoch_a, steps % per_epoch_b
        if ka == 0:
            perm_a = torch.randperm(n_a, generator=shuffle_a).to(dev)
        if kb == 0:
            perm_b = torch.randperm(n_b, generator=shuffle_b).to(dev)
        xa = train_a.index_select(0, perm_a[ka * b:(ka + 1) * b]).float() / 127.5 - 1.0
        xb = train_b.index_select(0, perm_b[kb * b:(kb + 1) * b]).float() / 127.5 - 1.0
        factor = lr_factor(steps, a.steps)
        step.set_lr_factor(factor)
        losses = step(xa, xb)
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed - last_log >= a.log_every:
            last_log = elapsed
            v = dict(zip(LOSS_NAMES, losses.tolist()))
            print(f"step {steps} (epoch {steps / per_epoch_a:.2f}) {elapsed:.0f} s, lr x "
                  f"{factor:.3f}: " + " ".join(f"{k} {x:.4f}" for k, x in v.items()
                                                if step.identity or not k.startswith("idt")),
                  flush=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    stopped_by = "steps" if steps >= a.steps else "seconds"
    last = dict(zip(LOSS_NAMES, losses.tolist() if losses is not None
                    else [float("nan")] * len(LOSS_NAMES)))
    print(f"trained {steps} steps ({steps / per_epoch_a:.2f} epochs per domain) in {train_s:.1f} "
          f"s (stopped by --{stopped_by}): {steps * b / train_s:.1f} images/s per domain, "
          f"{train_s * 1e3 / max(steps, 1):.0f} ms/step, last lr x {factor:.4f}; last "
          + " ".join(f"{k} {x:.4f}" for k, x in last.items()), flush=True)

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    result = {"impl": "pytorch-eager", "torch": torch.__version__, "device": str(dev),
              "threads": torch.get_num_threads(), "batch": b, "test_batch": a.test_batch,
              "seed": a.seed, "seconds_budget": a.seconds, "planned_steps": a.steps,
              "train_seconds": train_s, "steps": steps, "stopped_by": stopped_by,
              "epochs": steps / per_epoch_a, "last_lr_factor": factor,
              "images_per_sec": steps * b / train_s,
              "ms_per_step": train_s * 1e3 / max(steps, 1),
              "identity": step.identity, "last_losses": last,
              "ssim": "gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, data range 1, valid",
              "directions": {}}
    np.save(a.out + "-labels.npy", test_labels)
    np.save(a.out + "-targets-a2b.npy", test_b)
    np.save(a.out + "-targets-b2a.npy", test_a)
    for way, x, target, fwd, back in (("a2b", test_a, test_b, g_a, g_b),
                                      ("b2a", test_b, test_a, g_b, g_a)):
        t = time.perf_counter()
        fake = translate(fwd, x, a.test_batch, dev)
        rec = translate(back, fake, a.test_batch, dev)
        translate_s = time.perf_counter() - t
        s = set_scores(fake, target)
        c = set_scores(rec, x)
        r = {"n": int(x.shape[0]), "psnr": s["psnr"], "l1": s["l1"], "cycle_psnr": c["psnr"],
             "cycle_l1": c["l1"], "per_image": scores(fake, target),
             "cycle_per_image": scores(rec, x), "translate_seconds": translate_s}
        np.save(f"{a.out}-{way}.npy", fake)
        np.save(f"{a.out}-rec-{way[0]}.npy", rec)
        line = (f"{way:>5}: PSNR {s['psnr']:.3f} dB  L1 {s['l1']:.4f}  cycle PSNR "
                f"{c['psnr']:.3f} dB  cycle L1 {c['l1']:.4f}  (per image: PSNR "
                f"{r['per_image']['psnr']:.3f} dB  SSIM {r['per_image']['ssim']:.4f})")
        if way == "a2b":
            grey = grey_view(fake)
            np.save(f"{a.out}-a2b-grey.npy", grey)
            r["grey"] = set_scores(grey, x)
            line += f"  grey view: PSNR {r['grey']['psnr']:.3f} dB  L1 {r['grey']['l1']:.4f}"
        result["directions"][way] = r
        print(line + f"  -> {a.out}-{way}.npy", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

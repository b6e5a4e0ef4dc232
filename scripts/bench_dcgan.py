"""PyTorch eager reference for the DCGAN training step of configs/bench-dcgan32.toml and
configs/bench-dcgan64.toml.

Same work as the Rust loop (gan-train) per step: a real batch gathered from uint8 images held
on the device and scaled to [-1, 1]; a discriminator step on real and generated images
(separate passes, as batch norm needs); a generator step; Adam(2e-4, betas (0.5, 0.999)) on
both; the non-saturating loss on logits (DCGAN's BCE); a generator EMA of every parameter and
batch-norm statistic. The networks are pytorch/examples' dcgan/main.py (64x64) and its
32x32 form with one up/down-sampling stage fewer. `--amp` runs both networks under fp16
autocast with dynamic loss scaling (torch.amp.GradScaler), on CUDA.

Prints one JSON line like `gan bench`. Run by `cargo xtask bench` with the torch that
`cargo xtask setup` installed, at the same thread count.
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_timing import time_steps


def generator(nz, ngf, nc, k):
    layers, cin = [], nz
    for i in range(k):
        cout = ngf * 2 ** (k - 1 - i)
        if i == 0:
            layers.append(nn.ConvTranspose2d(cin, cout, 4, 1, 0, bias=False))
        else:
            layers.append(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False))
        layers += [nn.BatchNorm2d(cout), nn.ReLU(True)]
        cin = cout
    layers += [nn.ConvTranspose2d(cin, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(ndf, nc, k):
    layers, cin = [], nc
    for i in range(k):
        cout = ndf * 2 ** i
        layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
        if i > 0:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        cin = cout
    layers.append(nn.Conv2d(cin, 1, 4, 1, 0, bias=False))
    return nn.Sequential(*layers)


def weights_init(m):  # pytorch/examples dcgan
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    k = {32: 3, 64: 4}[a.size]
    g = generator(a.nz, a.width, a.channels, k).to(dev)
    d = discriminator(a.width, a.channels, k).to(dev)
    g.apply(weights_init)
    d.apply(weights_init)
    g_ema = generator(a.nz, a.width, a.channels, k).to(dev)
    g_ema.load_state_dict(g.state_dict())
    for p in g_ema.parameters():
        p.requires_grad_(False)
    ema_pairs = [(e, p) for e, p in zip(list(g_ema.parameters()) + list(g_ema.buffers()),
                                        list(g.parameters()) + list(g.buffers()))
                 if e.dtype.is_floating_point]
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    images = torch.randint(0, 256, (a.images, a.channels, a.size, a.size), dtype=torch.uint8, device=dev)
    amp = a.amp and dev.type == "cuda"
    scaler_d = torch.amp.GradScaler("cuda", enabled=amp)
    scaler_g = torch.amp.GradScaler("cuda", enabled=amp)
    b, step = a.batch, [0]

    def train_step():
        idx = torch.randint(0, a.images, (b,), device=dev)
        real = images.index_select(0, idx).float() / 127.5 - 1.0
        z = torch.randn(b, a.nz, 1, 1, device=dev)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            with torch.no_grad():
                fake = g(z)
            l_r, l_f = d(real).view(-1), d(fake).view(-1)
            loss_d = F.softplus(-l_r.float()).mean() + F.softplus(l_f.float()).mean()
        opt_d.zero_grad(set_to_none=False)
        scaler_d.scale(loss_d).backward()
        scaler_d.step(opt_d)
        scaler_d.update()
        for p in d.parameters():
            p.requires_grad_(False)
        z = torch.randn(b, a.nz, 1, 1, device=dev)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss_g = F.softplus(-d(g(z)).view(-1).float()).mean()
        opt_g.zero_grad(set_to_none=False)
        scaler_g.scale(loss_g).backward()
        scaler_g.step(opt_g)
        scaler_g.update()
        for p in d.parameters():
            p.requires_grad_(True)
        beta = min(0.999, (1 + step[0]) / (10 + step[0]))
        with torch.no_grad():
            for e, p in ema_pairs:
                e.lerp_(p, 1 - beta)
        step[0] += 1

    ms = time_steps(train_step, a.warmup, a.steps, dev)
    out = {"name": f"dcgan{a.size}-step", "impl": "pytorch-eager", "torch": torch.__version__,
           "device": str(dev), "threads": torch.get_num_threads(), "steps": a.steps, "batch": b,
           "amp": amp, "ms_per_step": ms, "images_per_sec": b * 1e3 / ms}
    if dev.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

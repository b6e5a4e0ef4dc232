"""PyTorch eager reference for the 2D training step of configs/ring.toml.

Same networks, loss, optimiser, EMA and batch as the Rust loop (gan-train):
G 4x400 ReLU + batch norm (latent 2), D 3x200 maxout(5) packed by 2, non-saturating loss,
Adam(lr 1e-4, betas (0.8, 0.999)), generator EMA, batch 100, ring data sampled each step.
Prints one JSON line like `gan bench`. Run by `cargo xtask bench` with the torch that
`cargo xtask setup` installed, at the same thread count.
"""
import argparse
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_timing import time_steps


class Maxout(nn.Module):
    def __init__(self, i, o, pieces):
        super().__init__()
        self.o, self.k = o, pieces
        self.lin = nn.Linear(i, o * pieces)

    def forward(self, x):
        return self.lin(x).view(-1, self.o, self.k).amax(2)


def generator(latent=2, width=400, depth=4, out=2):
    layers, d = [], latent
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.BatchNorm1d(width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, out))
    return nn.Sequential(*layers)


class Disc(nn.Module):
    def __init__(self, dim=2, pack=2, width=200, depth=3, pieces=5):
        super().__init__()
        self.pack, self.dim = pack, dim
        d, layers = dim * pack, []
        for _ in range(depth):
            layers.append(Maxout(d, width, pieces))
            d = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, 1)

    def forward(self, x):
        return self.out(self.body(x.reshape(-1, self.dim * self.pack))).view(-1)


def init(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    g, d = generator().to(dev), Disc().to(dev)
    g.apply(init), d.apply(init)
    g_ema = generator().to(dev)
    g_ema.load_state_dict(g.state_dict())
    for p in g_ema.parameters():
        p.requires_grad_(False)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.8, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.8, 0.999))
    means = torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)], device=dev)
    ema_pairs = list(zip(list(g_ema.parameters()) + list(g_ema.buffers()), list(g.parameters()) + list(g.buffers())))
    ema_pairs = [(e, p) for e, p in ema_pairs if e.dtype.is_floating_point]
    b, step = 100, [0]

    def train_step():
        real = means[torch.randint(8, (b,), device=dev)] + 0.01 * torch.randn(b, 2, device=dev)
        z = torch.randn(b, 2, device=dev)
        with torch.no_grad():
            fake = g(z)
        l_r, l_f = d(real), d(fake)
        loss_d = F.softplus(-l_r).mean() + F.softplus(l_f).mean()
        opt_d.zero_grad(set_to_none=False)
        loss_d.backward()
        opt_d.step()
        for p in d.parameters():
            p.requires_grad_(False)
        z = torch.randn(b, 2, device=dev)
        loss_g = F.softplus(-d(g(z))).mean()
        opt_g.zero_grad(set_to_none=False)
        loss_g.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
        beta = min(0.999, (1 + step[0]) / (10 + step[0]))
        with torch.no_grad():
            for e, p in ema_pairs:
                e.lerp_(p, 1 - beta)
        step[0] += 1
        return torch.stack([loss_d.detach(), loss_g.detach()])

    ms = time_steps(train_step, a.warmup, a.steps, dev)
    print(json.dumps({"name": "bench-2d-step", "impl": "pytorch-eager", "torch": torch.__version__,
                      "device": str(dev), "threads": torch.get_num_threads(), "steps": a.steps, "ms_per_step": ms}))


if __name__ == "__main__":
    main()

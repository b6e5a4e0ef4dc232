"""PyTorch eager reference for the StyleGAN2 training step of configs/stylegan2-fashion-mnist.toml
(32x32 grey, z and w 128, 2 mapping layers, channel_base 1024, channel_max 64, minibatch-std
group 4, batch 32).

The networks are the transcription in scripts/stylegan2_fixtures.py of NVlabs'
stylegan2-ada-pytorch `training/networks.py` (checked there against gan-models to max |diff|
0). One step is the `stylegan2` family's (and upstream's `training/loss.py`
`StyleGAN2Loss.accumulate_gradients` in upstream's phase order):
- `g` (Gmain): the non-saturating logistic loss softplus(-D(G(z))) with style mixing at
  probability 0.9 (a cutoff in [1, num_ws) from a second z's ws, the second mapping call
  leaving w_avg alone), the discriminator frozen; non-fused modulated convolutions, random
  noise; one Adam step;
- `g_pl` (Greg) every pl_every = 4 steps: path-length regularisation on batch / 2 samples,
  pl_weight 2, pl_decay 0.01, the loss times pl_every;
- `d` (Dmain): softplus(D(G(z))) + softplus(-D(x)), fakes made under no_grad;
- `d_r1` (Dreg) every r1_every = 16 steps: gamma / 2 * |grad_x D(x)|^2 (gamma 0.1), times
  r1_every;
- then the generator's EMA (beta = min(0.999, (1 + s) / (10 + s)), as the engine), buffers
  (w_avg, noise_const) copied.
Adam with the lazy-regularisation corrections: lr * c, betas ** c, c = I / (I + 1); eps 1e-8.
Inputs are synthetic: `--images` random uint8 images held on the device, a batch gathered per
step and scaled to [-1, 1], as the Rust loop does with real data.

`build_stylegan2` and `StyleGAN2Step` are meant for a peer training script too.

Prints one JSON line like `gan bench` (`cargo xtask bench` reads `ms_per_step` and `torch`
from the last stdout line starting with `{`). Time a multiple of 16 steps, so that each side
runs the same number of each phase. By hand, with the torch that `cargo xtask setup`
installed:
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/bench_stylegan2.py --threads 2
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from stylegan2_fixtures import Discriminator, Generator  # noqa: E402
from bench_timing import time_steps  # noqa: E402


def build_stylegan2(size=32, channels=1, z_dim=128, w_dim=128, mapping_layers=2,
                    channel_base=1024, channel_max=64, mbstd_group=4):
    g = Generator(z_dim, 0, w_dim, size, channels, mapping_layers=mapping_layers,
                  channel_base=channel_base, channel_max=channel_max)
    d = Discriminator(0, size, channels, channel_base=channel_base, channel_max=channel_max,
                      mbstd_group_size=mbstd_group)
    g_ema = Generator(z_dim, 0, w_dim, size, channels, mapping_layers=mapping_layers,
                      channel_base=channel_base, channel_max=channel_max)
    g_ema.load_state_dict(g.state_dict())
    for p in g_ema.parameters():
        p.requires_grad_(False)
    return g, d, g_ema


def add_network_args(ap):
    """The network flags (defaults: configs/stylegan2-fashion-mnist.toml's networks)."""
    ap.add_argument("--z-dim", type=int, default=128)
    ap.add_argument("--w-dim", type=int, default=128)
    ap.add_argument("--mapping-layers", type=int, default=2)
    ap.add_argument("--channel-base", type=int, default=1024)
    ap.add_argument("--channel-max", type=int, default=64)
    ap.add_argument("--mbstd-group", type=int, default=4)


def build_from_args(a, size, channels):
    """`build_stylegan2` sized by `add_network_args`' flags."""
    return build_stylegan2(size, channels, a.z_dim, a.w_dim, a.mapping_layers, a.channel_base,
                           a.channel_max, a.mbstd_group)


class StyleGAN2Step:
    def __init__(self, g, d, g_ema, lr=0.0025, betas=(0.0, 0.99), eps=1e-8, r1_gamma=0.1,
                 r1_every=16, pl_weight=2.0, pl_every=4, pl_decay=0.01, pl_batch_shrink=2,
                 style_mixing=0.9, ema_decay=0.999):
        self.g, self.d, self.g_ema = g, d, g_ema
        self.r1_gamma, self.r1_every = r1_gamma, r1_every
        self.pl_weight, self.pl_every = pl_weight, pl_every
        self.pl_decay, self.pl_batch_shrink = pl_decay, pl_batch_shrink
        self.style_mixing, self.ema_decay = style_mixing, ema_decay
        c_g = pl_every / (pl_every + 1) if pl_weight > 0 else 1.0
        c_d = r1_every / (r1_every + 1) if r1_gamma > 0 else 1.0
        self.opt_g = torch.optim.Adam(g.parameters(), lr=lr * c_g,
                                      betas=(betas[0] ** c_g, betas[1] ** c_g), eps=eps)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=lr * c_d,
                                      betas=(betas[0] ** c_d, betas[1] ** c_d), eps=eps)
        self.pl_mean = torch.zeros([], device=next(g.parameters()).device)
        self.ema_params = [(e, p) for e, p in zip(g_ema.parameters(), g.parameters())]
        self.ema_buffers = [(e, p) for e, p in zip(g_ema.buffers(), g.buffers())]
        self.step = 0
        self.z_dim = g.mapping.z_dim

    def run_g(self, z):
        g = self.g
        ws = g.mapping(z, None)
        if self.style_mixing > 0:
            num_ws = ws.shape[1]
            cutoff = torch.randint(1, num_ws, [], device=ws.device)
            cutoff = torch.where(torch.rand([], device=ws.device) < self.style_mixing, cutoff,
                                 torch.full_like(cutoff, num_ws))
            other = g.mapping(torch.randn_like(z), None, skip_w_avg_update=True)
            take = torch.arange(num_ws, device=ws.device).ge(cutoff).view(1, num_ws, 1)
            ws = torch.where(take, other, ws)
        img = g.synthesis(ws, noise_mode="random", fused_modconv=False)
        return img, ws

    def set_d_grad(self, flag):
        for p in self.d.parameters():
            p.requires_grad_(flag)

    def __call__(self, real):
        """One training step on the real batch `real` (in [-1, 1]); returns the losses."""
        b, dev = real.shape[0], real.device
        self.step += 1
        s = self.step
        out = {}
        # g
        self.set_d_grad(False)
        img, _ = self.run_g(torch.randn(b, self.z_dim, device=dev))
        loss = F.softplus(-self.d(img, None)).mean()
        self.opt_g.zero_grad(set_to_none=False)
        loss.backward()
        self.opt_g.step()
        out["g_loss"] = loss.item()
        # g_pl
        if self.pl_weight > 0 and s % self.pl_every == 0:
            n = b // self.pl_batch_shrink
            img, ws = self.run_g(torch.randn(n, self.z_dim, device=dev))
            noise = torch.randn_like(img) / (img.shape[2] * img.shape[3]) ** 0.5
            grads, = torch.autograd.grad([(img * noise).sum()], [ws], create_graph=True)
            lengths = grads.square().sum(2).mean(1).sqrt()
            mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
            self.pl_mean.copy_(mean.detach())
            loss = (lengths - mean).square().mul(self.pl_weight).mean()
            self.opt_g.zero_grad(set_to_none=False)
            loss.mul(self.pl_every).backward()
            self.opt_g.step()
            out["g_pl"] = loss.item()
        self.set_d_grad(True)
        # d
        with torch.no_grad():
            fake, _ = self.run_g(torch.randn(b, self.z_dim, device=dev))
        l_fake, l_real = self.d(fake, None), self.d(real, None)
        loss = F.softplus(l_fake).mean() + F.softplus(-l_real).mean()
        self.opt_d.zero_grad(set_to_none=False)
        loss.backward()
        self.opt_d.step()
        out["d_loss"] = loss.item()
        # d_r1
        if self.r1_gamma > 0 and s % self.r1_every == 0:
            x = real.detach().requires_grad_(True)
            grads, = torch.autograd.grad([self.d(x, None).sum()], [x], create_graph=True)
            loss = grads.square().sum([1, 2, 3]).mul(self.r1_gamma / 2).mean()
            self.opt_d.zero_grad(set_to_none=False)
            loss.mul(self.r1_every).backward()
            self.opt_d.step()
            out["d_r1"] = loss.item()
        # EMA
        beta = min(self.ema_decay, (1 + s) / (10 + s))
        with torch.no_grad():
            for e, p in self.ema_params:
                e.lerp_(p, 1 - beta)
            for e, p in self.ema_buffers:
                e.copy_(p)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    add_network_args(ap)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    g, d, g_ema = build_from_args(a, a.size, a.channels)
    for net in (g, d, g_ema):
        net.to(dev).train()
    step = StyleGAN2Step(g, d, g_ema)
    images = torch.randint(0, 256, (a.images, a.channels, a.size, a.size), dtype=torch.uint8,
                           device=dev)
    b = a.batch

    def train_step():
        idx = torch.randint(0, a.images, (b,), device=dev)
        return step(images.index_select(0, idx).float() / 127.5 - 1.0)

    ms = time_steps(train_step, a.warmup, a.steps, dev)
    out = {"name": f"stylegan2-{a.size}-step", "impl": "pytorch-eager",
           "torch": torch.__version__, "device": str(dev), "threads": torch.get_num_threads(),
           "steps": a.steps, "batch": b, "ms_per_step": ms, "images_per_sec": b * 1e3 / ms}
    if dev.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""PyTorch eager reference for the pix2pix training step of configs/pix2pix-edges-fashion-mnist.toml.

The networks are those of gan-models' `translation.rs`, transcribed from the structure of
junyanz/pytorch-CycleGAN-and-pix2pix `models/networks.py` (not copied): the U-Net generator of
nested skip blocks and the n-layer PatchGAN, batch norm, upstream's init (conv weights
N(0, 0.02), biases 0, batch-norm scales N(1, 0.02)). For 1x32x32 images: U-Net with
num_downs 5, ngf 64, dropout on (upstream puts Dropout(0.5) only in the num_downs - 5 middle
8*ngf blocks, so at num_downs 5 there is none); PatchGAN n_layers 2, ndf 64, on cat(A, B)
(2 channels), a 6x6 logit map. The state-dict names are upstream's (`model.model.1.model.3...`,
`model.N.*`), as in scripts/translation_fixtures.py, whose networks are the same; this file
defines them again because that script needs safetensors, which `cargo xtask setup` does not
install. The down-path LeakyReLU is not in place, so skips carry x, as in the Rust network
(upstream's in-place one gives the same values: see translation_fixtures.py).

One step is pix2pix's `optimize_parameters`: fake_B = G(A) once; the D step on
D(cat(A, fake_B).detach()) and D(cat(A, B)) (separate passes, as batch norm needs), vanilla GAN
loss (BCE with logits against all-ones / all-zeros maps), loss_D = 0.5 * (fake + real); then
the G step with D frozen: BCE(D(cat(A, fake_B)), 1) + 100 * L1(fake_B, B). Adam(2e-4,
betas (0.5, 0.999)) on each network. Inputs are synthetic: `--images` random uint8 pairs held
on the device, a batch gathered per step and scaled to [-1, 1] (x / 127.5 - 1), as the Rust
loop does with real data.

`build_pix2pix` and `Pix2PixStep` are imported by scripts/pix2pix_edges.py.

Prints one JSON line like `gan bench`. Run by `cargo xtask bench` with the torch that
`cargo xtask setup` installed, at the same thread count; by hand:
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/bench_pix2pix.py --batch 64 --threads 2
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_timing import time_steps


def norm_layer(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"norm must be batch or instance, got {kind!r}")


class UnetBlock(nn.Module):
    """One U-Net level around `sub` (the levels inside it): down = LReLU(0.2) -> conv 4/2/1 ->
    norm, up = ReLU -> convT 4/2/1 -> norm (-> dropout 0.5); output cat(x, up(sub(down(x)))).
    The outermost level has no down activation, no norms, a biased convT to `outer` channels
    and tanh, and no concatenation; the innermost has no down norm and no `sub`."""

    def __init__(self, outer, inner, cin=None, sub=None, norm="batch", outermost=False,
                 innermost=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"  # batch norm has its own shift
        cin = outer if cin is None else cin
        down = nn.Conv2d(cin, inner, 4, 2, 1, bias=bias)
        if outermost:
            seq = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1),
                   nn.Tanh()]
        elif innermost:
            seq = [nn.LeakyReLU(0.2), down, nn.ReLU(True),
                   nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), norm_layer(norm, outer)]
        else:
            seq = [nn.LeakyReLU(0.2), down, norm_layer(norm, inner), sub, nn.ReLU(True),
                   nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias),
                   norm_layer(norm, outer)]
            if dropout:
                seq.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        y = self.model(x)
        return y if self.outermost else torch.cat([x, y], 1)


class UnetGenerator(nn.Module):
    """`num_downs` levels; level i has ngf * min(2^i, 8) channels inside."""

    def __init__(self, cin, cout, num_downs, ngf=64, norm="batch", dropout=True):
        super().__init__()
        assert num_downs >= 5, "the U-Net has at least 5 levels"
        block = UnetBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, norm=norm, dropout=dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, sub=block, norm=norm)
        self.model = UnetBlock(cout, ngf, cin=cin, sub=block, norm=norm, outermost=True)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """conv 4/2/1 (biased, no norm) -> LReLU; n_layers - 1 stride-2 and one stride-1 conv to
    ndf * min(2^n, 8) with norm and LReLU; a biased stride-1 conv to 1 channel (logits)."""

    def __init__(self, cin, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        bias = norm == "instance"
        seq = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1, bias=bias),
                    norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        seq.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


def init_weights(m):
    """Upstream's `normal` init, gain 0.02."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def unet_downs(size):
    """The Rust default when `generator.num_downs` is unset: the largest power of two dividing
    the side, at most 8 (5 for 32x32)."""
    k = min((size & -size).bit_length() - 1, 8)
    assert k >= 5, f"a U-Net needs sides that are multiples of 32, got {size}"
    return k


def build_pix2pix(channels_a=1, channels_b=1, size=32, ngf=64, ndf=64, n_layers=2,
                  norm="batch", dropout=True, num_downs=None):
    """(G, D), initialised: G maps A [B, channels_a, size, size] to B; D judges cat(A, B)."""
    g = UnetGenerator(channels_a, channels_b, num_downs or unet_downs(size), ngf, norm, dropout)
    d = PatchDiscriminator(channels_a + channels_b, ndf, n_layers, norm)
    g.apply(init_weights)
    d.apply(init_weights)
    return g, d


class Pix2PixStep:
    """pix2pix's `optimize_parameters` (D step, then G step) with its Adam optimisers."""

    def __init__(self, g, d, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0):
        self.g, self.d, self.lambda_l1 = g, d, lambda_l1
        self.opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=betas)

    @staticmethod
    def gan_loss(logits, real):
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    def __call__(self, a, b):
        """One step on a batch of A and B in [-1, 1]; returns the detached losses
        (loss_D, loss_G_GAN, loss_G_L1) as one tensor (no host sync)."""
        g, d = self.g, self.d
        fake = g(a)
        # D: fake (detached) and real pairs, separate passes.
        for p in d.parameters():
            p.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=False)
        loss_d = 0.5 * (self.gan_loss(d(torch.cat([a, fake.detach()], 1)), False)
                        + self.gan_loss(d(torch.cat([a, b], 1)), True))
        loss_d.backward()
        self.opt_d.step()
        # G: fool the updated D, plus lambda * L1 to the target; D frozen.
        for p in d.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=False)
        loss_gan = self.gan_loss(d(torch.cat([a, fake], 1)), True)
        loss_l1 = F.l1_loss(fake, b)
        (loss_gan + self.lambda_l1 * loss_l1).backward()
        self.opt_g.step()
        return torch.stack([loss_d.detach(), loss_gan.detach(), loss_l1.detach()])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--n-layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    g, d = build_pix2pix(1, 1, a.size, a.ngf, a.ndf, a.n_layers)
    g.to(dev).train()
    d.to(dev).train()
    step = Pix2PixStep(g, d)
    shape = (a.images, 1, a.size, a.size)
    images_a = torch.randint(0, 256, shape, dtype=torch.uint8, device=dev)
    images_b = torch.randint(0, 256, shape, dtype=torch.uint8, device=dev)
    b = a.batch

    def train_step():
        idx = torch.randint(0, a.images, (b,), device=dev)
        xa = images_a.index_select(0, idx).float() / 127.5 - 1.0
        xb = images_b.index_select(0, idx).float() / 127.5 - 1.0
        return step(xa, xb)

    ms = time_steps(train_step, a.warmup, a.steps, dev)
    out = {"name": f"pix2pix{a.size}-step", "impl": "pytorch-eager", "torch": torch.__version__,
           "device": str(dev), "threads": torch.get_num_threads(), "steps": a.steps, "batch": b,
           "ms_per_step": ms, "images_per_sec": b * 1e3 / ms}
    if dev.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""PyTorch eager reference for the CycleGAN training step of the built-in `hot` task
(Fashion-MNIST grey images, domain A, 1x32x32 <-> their `hot` colour maps, domain B, 3x32x32).

The networks are those of gan-models' ResNet translator and PatchGAN, transcribed from the
structure of junyanz/pytorch-CycleGAN-and-pix2pix `models/networks.py` (not copied):
- ResnetGenerator(input_nc, output_nc, ngf, n_blocks): reflection pad 3, conv 7x7 to ngf,
  norm, ReLU; two stride-2 3x3 convs (padding 1) doubling the channels, each with norm and
  ReLU; n_blocks residual blocks on 4 * ngf channels, x + [reflection pad 1, conv 3x3, norm,
  ReLU, reflection pad 1, conv 3x3, norm](x), no dropout; two stride-2 3x3 transposed convs
  (padding 1, output padding 1) halving the channels, each with norm and ReLU; reflection
  pad 3, a biased conv 7x7 to output_nc, tanh. Instance norm (no affine parameters, no running
  statistics; the convolutions before a norm then have biases, upstream's use_bias) or batch
  norm (affine, running statistics; those convolutions unbiased).
- the n-layer PatchGAN of scripts/bench_pix2pix.py (`PatchDiscriminator`) with instance or
  batch norm (inner convolutions biased under instance norm), on the images of one domain.
Upstream's init (conv and transposed-conv weights N(0, 0.02), biases 0, batch-norm scales
N(1, 0.02)). The state-dict names are upstream's (`model.10.conv_block.1.weight`, ...).
`build_cyclegan`'s keyword defaults are instance norm at ngf 32 with 6 blocks; this script's
command-line defaults are the step of
configs/cyclegan-hot-fashion-mnist.toml: 32x32, ngf 16, 3 blocks, batch-norm generators,
instance-norm PatchGANs at ndf 32 with n_layers 2, so each generator works on 8x8 maps in its
residual blocks and each discriminator gives a 6x6 map.

One step is CycleGAN's `optimize_parameters` (`models/cycle_gan_model.py`), G_A: A -> B,
G_B: B -> A, D_A judging domain B, D_B judging domain A:
- forward: fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A);
- G step, both discriminators frozen (requires_grad off), one Adam over the parameters of
  both generators: loss_G = G_A + G_B + cycle_A + cycle_B (+ idt_A + idt_B), with
  G_A = MSE(D_A(fake_B), 1), G_B = MSE(D_B(fake_A), 1) (LSGAN: the 1 broadcast to the patch
  map), cycle_A = lambda_A * L1(rec_A, A), cycle_B = lambda_B * L1(rec_B, B) (lambda_A =
  lambda_B = 10), and, only when both domains have the same channel count and
  lambda_identity > 0, idt_A = lambda_B * lambda_identity * L1(G_A(B), B) and idt_B =
  lambda_A * lambda_identity * L1(G_B(A), A) (lambda_identity 0.5). The hot task maps 1 to 3
  channels, so there is no identity term at the defaults;
- D step, one Adam over the parameters of both discriminators: D_A = 0.5 (MSE(D_A(B), 1) +
  MSE(D_A(pool_B(fake_B)), 0)), D_B = 0.5 (MSE(D_B(A), 1) + MSE(D_B(pool_A(fake_A)), 0)),
  both backward, then one step. The pools are upstream's `util/image_pool.py` of 50 images
  (`ImagePool`, included in the timed step).
Adam(2e-4, betas (0.5, 0.999)). Inputs are synthetic: `--images` random uint8 images per
domain held on the device, each domain's batch gathered per step with its own indices (the
domains are unpaired) and scaled to [-1, 1] (x / 127.5 - 1), as the Rust loop does with real
data. The learning rate stays constant here (the schedule costs nothing to time).

`build_cyclegan`, `CycleGANStep` and `ImagePool` are imported by scripts/cyclegan_hot.py.

Prints one JSON line like `gan bench`, with the keys of scripts/bench_pix2pix.py's
(`cargo xtask bench` reads `ms_per_step` and `torch` from the last stdout line starting with
`{`; `images_per_sec` counts one image of each domain per batch element, as pix2pix counts
pairs); whether the identity term is on goes to stderr. For `cargo xtask bench`, with the
torch that `cargo xtask setup` installed, at the same thread count (it adds --steps, --warmup,
--threads and --device); by hand:
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/bench_cyclegan.py --batch 8 --threads 2
"""
import argparse
import itertools
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_pix2pix import PatchDiscriminator, init_weights, norm_layer
from bench_timing import time_steps


class ResnetBlock(nn.Module):
    """x + [reflect pad 1, conv 3x3, norm, ReLU, reflect pad 1, conv 3x3, norm](x)."""

    def __init__(self, channels, norm="instance", bias=True):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet translator (see the module doc): two downsamplings, `n_blocks`
    residual blocks on 4 * ngf channels, two upsamplings, tanh."""

    def __init__(self, cin, cout, ngf=64, n_blocks=9, norm="instance"):
        super().__init__()
        bias = norm == "instance"  # batch norm has its own shift
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, 7, bias=bias), norm_layer(norm, ngf),
               nn.ReLU(True)]
        c = ngf
        for _ in range(2):
            seq += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm_layer(norm, 2 * c),
                    nn.ReLU(True)]
            c *= 2
        seq += [ResnetBlock(c, norm, bias) for _ in range(n_blocks)]
        for _ in range(2):
            seq += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                    norm_layer(norm, c // 2), nn.ReLU(True)]
            c //= 2
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cout, 7), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


def build_cyclegan(channels_a=1, channels_b=3, ngf=32, n_blocks=6, ndf=32, n_layers=2,
                   norm="instance", norm_d=None):
    """(G_A, G_B, D_A, D_B), initialised: G_A maps A [B, channels_a, H, W] to B, G_B maps B
    to A, D_A judges B images, D_B judges A images. `norm` is the generators' norm and, unless
    `norm_d` is given, the discriminators' too."""
    norm_d = norm if norm_d is None else norm_d
    g_a = ResnetGenerator(channels_a, channels_b, ngf, n_blocks, norm)
    g_b = ResnetGenerator(channels_b, channels_a, ngf, n_blocks, norm)
    d_a = PatchDiscriminator(channels_b, ndf, n_layers, norm_d)
    d_b = PatchDiscriminator(channels_a, ndf, n_layers, norm_d)
    for net in (g_a, g_b, d_a, d_b):
        net.apply(init_weights)
    return g_a, g_b, d_a, d_b


class ImagePool:
    """Up to `size` past fakes (upstream's util/image_pool.py). For each image of a query, in
    order: while the pool is not full, it is stored and returned; once full, with probability
    1/2 a uniformly chosen stored image is returned and replaced by the new one, otherwise the
    new one is returned. The coin and the index are drawn from torch's CPU generator for every
    image, used or not (upstream uses Python's `random`, and only once the pool is full); as
    the Rust `ImagePool` does. `size = 0`: every query returns its input."""

    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, fakes):
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        n = fakes.shape[0]
        coins = torch.rand(n).tolist()
        picks = torch.randint(self.size, (n,)).tolist()
        out = []
        for i in range(n):
            img = fakes[i:i + 1]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif coins[i] > 0.5:
                out.append(self.images[picks[i]])
                self.images[picks[i]] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)


class CycleGANStep:
    """CycleGAN's `optimize_parameters` (forward, G step, D step) with its two Adams and the
    two image pools (see the module doc)."""

    def __init__(self, g_a, g_b, d_a, d_b, lr=2e-4, betas=(0.5, 0.999), lambda_a=10.0,
                 lambda_b=10.0, lambda_identity=0.5, pool_size=50):
        self.g_a, self.g_b, self.d_a, self.d_b = g_a, g_b, d_a, d_b
        self.lambda_a, self.lambda_b = lambda_a, lambda_b
        cin = g_a.model[1].in_channels
        cout = g_b.model[1].in_channels
        # Upstream asserts input_nc == output_nc when lambda_identity > 0; here the term is
        # simply off when the domains differ in channels (the hot task: 1 vs 3).
        self.identity = lambda_identity > 0 and cin == cout
        self.lambda_identity = lambda_identity if self.identity else 0.0
        self.identity_note = (
            f"identity loss: on (lambda_identity {lambda_identity}, {cin} channels each)"
            if self.identity else
            f"identity loss: off (A has {cin} channels, B has {cout}"
            + (")" if cin != cout else f"; lambda_identity {lambda_identity})"))
        self.lr = lr
        self.opt_g = torch.optim.Adam(itertools.chain(g_a.parameters(), g_b.parameters()),
                                      lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()),
                                      lr=lr, betas=betas)
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)

    def set_lr_factor(self, factor):
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = self.lr * factor

    @staticmethod
    def gan_loss(pred, real):
        """LSGAN: MSE against an all-ones (real) or all-zeros (fake) map."""
        target = torch.ones_like(pred) if real else torch.zeros_like(pred)
        return F.mse_loss(pred, target)

    def _set_d_grad(self, flag):
        for p in itertools.chain(self.d_a.parameters(), self.d_b.parameters()):
            p.requires_grad_(flag)

    def __call__(self, real_a, real_b):
        """One step on a batch of A and one of B in [-1, 1]; returns the detached losses
        (g_a, g_b, cycle_a, cycle_b, idt_a, idt_b, g_loss, d_a, d_b), weighted as they enter
        the losses, as one tensor (no host sync)."""
        g_a, g_b, d_a, d_b = self.g_a, self.g_b, self.d_a, self.d_b
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        # G step, discriminators frozen.
        self._set_d_grad(False)
        self.opt_g.zero_grad(set_to_none=False)
        if self.identity:
            idt_a = F.l1_loss(g_a(real_b), real_b) * self.lambda_b * self.lambda_identity
            idt_b = F.l1_loss(g_b(real_a), real_a) * self.lambda_a * self.lambda_identity
        else:
            idt_a = idt_b = torch.zeros((), device=real_a.device)
        loss_g_a = self.gan_loss(d_a(fake_b), True)
        loss_g_b = self.gan_loss(d_b(fake_a), True)
        cycle_a = F.l1_loss(rec_a, real_a) * self.lambda_a
        cycle_b = F.l1_loss(rec_b, real_b) * self.lambda_b
        loss_g = loss_g_a + loss_g_b + cycle_a + cycle_b + idt_a + idt_b
        loss_g.backward()
        self.opt_g.step()
        # D step: D_A on real B and pooled fake B, D_B on real A and pooled fake A.
        self._set_d_grad(True)
        self.opt_d.zero_grad(set_to_none=False)
        pooled_b = self.pool_b.query(fake_b)
        loss_d_a = 0.5 * (self.gan_loss(d_a(real_b), True)
                          + self.gan_loss(d_a(pooled_b.detach()), False))
        loss_d_a.backward()
        pooled_a = self.pool_a.query(fake_a)
        loss_d_b = 0.5 * (self.gan_loss(d_b(real_a), True)
                          + self.gan_loss(d_b(pooled_a.detach()), False))
        loss_d_b.backward()
        self.opt_d.step()
        return torch.stack([t.detach() for t in (loss_g_a, loss_g_b, cycle_a, cycle_b, idt_a,
                                                 idt_b, loss_g, loss_d_a, loss_d_b)])


LOSS_NAMES = ("g_a", "g_b", "cycle_a", "cycle_b", "idt_a", "idt_b", "g_loss", "d_a", "d_b")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels-a", type=int, default=1)
    ap.add_argument("--channels-b", type=int, default=3)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--n-blocks", type=int, default=3)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--n-layers", type=int, default=2)
    ap.add_argument("--norm-g", choices=["batch", "instance"], default="batch")
    ap.add_argument("--norm-d", choices=["batch", "instance"], default="instance")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    nets = build_cyclegan(a.channels_a, a.channels_b, a.ngf, a.n_blocks, a.ndf, a.n_layers,
                          norm=a.norm_g, norm_d=a.norm_d)
    for net in nets:
        net.to(dev).train()
    step = CycleGANStep(*nets)
    print(step.identity_note, file=sys.stderr)
    images_a = torch.randint(0, 256, (a.images, a.channels_a, a.size, a.size), dtype=torch.uint8,
                             device=dev)
    images_b = torch.randint(0, 256, (a.images, a.channels_b, a.size, a.size), dtype=torch.uint8,
                             device=dev)
    b = a.batch

    def train_step():
        idx_a = torch.randint(0, a.images, (b,), device=dev)
        idx_b = torch.randint(0, a.images, (b,), device=dev)
        xa = images_a.index_select(0, idx_a).float() / 127.5 - 1.0
        xb = images_b.index_select(0, idx_b).float() / 127.5 - 1.0
        return step(xa, xb)

    ms = time_steps(train_step, a.warmup, a.steps, dev)
    out = {"name": f"cyclegan{a.size}-step", "impl": "pytorch-eager", "torch": torch.__version__,
           "device": str(dev), "threads": torch.get_num_threads(), "steps": a.steps, "batch": b,
           "ngf": a.ngf, "n_blocks": a.n_blocks, "norm_g": a.norm_g, "norm_d": a.norm_d,
           "ms_per_step": ms, "images_per_sec": b * 1e3 / ms}
    if dev.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Reference outputs for gan-models' tests, made with PyTorch (the torch `cargo xtask setup`
installs): pytorch/examples' DCGAN (dcgan/main.py, copied below at a small width so the
fixture stays small) and torch.nn.utils.spectral_norm.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/model_fixtures.py
Writes crates/gan-models/tests/fixtures/{dcgan64_small,spectral_norm}.safetensors.
"""
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "gan-models", "tests", "fixtures")


# pytorch/examples dcgan/main.py, verbatim but for the sizes passed in.
class Generator(nn.Module):
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x):
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            # The example ends with nn.Sigmoid(); the toolkit's networks return logits.
        )

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):  # as in the example
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def dcgan():
    torch.manual_seed(0)
    nz, ngf, ndf, nc = 16, 4, 4, 3
    g, d = Generator(nz, ngf, nc), Discriminator(ndf, nc)
    g.apply(weights_init)
    d.apply(weights_init)
    t = {}
    for prefix, net in (("g.", g), ("d.", d)):
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                t[prefix + k] = v.clone()
    z = torch.randn(5, nz, 1, 1)
    t["z"] = z.view(5, nz)
    x = g(z)  # training mode: batch statistics, running stats updated
    t["g_out"] = x.detach()
    t["d_out"] = d(x.detach()).detach()
    for prefix, net in (("g_after.", g), ("d_after.", d)):
        for k, v in net.state_dict().items():
            if "running" in k:
                t[prefix + k] = v.clone()
    g.eval()
    t["g_eval_out"] = g(z).detach()
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, "dcgan64_small.safetensors"))


def spectral_norm():
    torch.manual_seed(1)
    conv = torch.nn.utils.spectral_norm(nn.Conv2d(3, 6, 3, 1, 1))
    t = {
        "weight_orig": conv.weight_orig.detach().clone(),
        "bias": conv.bias.detach().clone(),
        "weight_u": conv.weight_u.clone(),
        "weight_v": conv.weight_v.clone(),
    }
    x = torch.randn(2, 3, 5, 5)
    t["x"] = x
    y = conv(x)  # training mode: one power iteration, then W / sigma
    t["y"] = y.detach()
    t["u_after"] = conv.weight_u.clone()
    t["v_after"] = conv.weight_v.clone()
    y.sum().backward()
    t["grad_weight_orig"] = conv.weight_orig.grad.clone()
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, "spectral_norm.safetensors"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dcgan()
    spectral_norm()

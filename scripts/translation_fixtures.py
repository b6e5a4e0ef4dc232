"""Reference outputs for gan-models' pix2pix networks (`translation.rs`), made with PyTorch (the
torch `cargo xtask setup` installs, plus `pip install safetensors` into its venv).

The networks below are a transcription of the structure of junyanz/pytorch-CycleGAN-and-pix2pix
`models/networks.py` (the U-Net of skip-connection blocks, the n-layer PatchGAN and the 1x1
pixel discriminator), written from its description rather than copied, at small widths so the
fixtures stay small. Like upstream, the U-Net's down-path LeakyReLU is in place: it overwrites
the block's input before the skip connection concatenates it, so the skip carries
LeakyReLU(x), not x. That is harmless: the only reader of the concatenation is the parent's
ReLU, and relu(lrelu(x)) = relu(x) (values and gradients); the script checks it, and the Rust
network concatenates x.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/translation_fixtures.py
Writes crates/gan-models/tests/fixtures/{unet_small,unet_deep,patch_small}.safetensors.

Names: the discriminators keep upstream's state-dict names (`model.N.*`, `net.N.*`); the U-Net
is saved under the Rust names `down.{i}.conv`, `down.{i}.norm`, `up.{i}.conv`, `up.{i}.norm`
(level i = 0 outermost .. num_downs - 1 innermost), mapped from upstream's nested
`model.model.1.model.3...` below.
"""
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "gan-models", "tests", "fixtures")


def norm_layer(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class SkipBlock(nn.Module):
    """One U-Net level: [LReLU -> conv 4/2/1 -> norm] -> inner -> [ReLU -> convT 4/2/1 -> norm
    (-> dropout)], output cat(input, result); the outermost level has neither the down
    activation nor any norm, a biased transposed conv to the output channels and tanh, and no
    concatenation; the innermost has no down norm and no inner block."""

    def __init__(self, outer, inner, cin=None, sub=None, kind="batch", outermost=False,
                 innermost=False, dropout=False, inplace=True):
        super().__init__()
        self.outermost = outermost
        bias = kind == "instance"
        cin = outer if cin is None else cin
        down_conv = nn.Conv2d(cin, inner, 4, 2, 1, bias=bias)
        # Parts by role, for the Rust names (not registered as submodules).
        parts = {"down.conv": down_conv}
        if outermost:
            up_conv = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            layers = [down_conv, sub, nn.ReLU(True), up_conv, nn.Tanh()]
            parts["up.conv"] = up_conv
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias)
            up_norm = norm_layer(kind, outer)
            layers = [nn.LeakyReLU(0.2, inplace), down_conv, nn.ReLU(True), up_conv, up_norm]
            parts.update({"up.conv": up_conv, "up.norm": up_norm})
        else:
            down_norm = norm_layer(kind, inner)
            up_conv = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias)
            up_norm = norm_layer(kind, outer)
            layers = [nn.LeakyReLU(0.2, inplace), down_conv, down_norm, sub, nn.ReLU(True),
                      up_conv, up_norm]
            if dropout:
                layers.append(nn.Dropout(0.5))
            parts.update({"down.norm": down_norm, "up.conv": up_conv, "up.norm": up_norm})
        self.model = nn.Sequential(*layers)
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "sub", sub)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # Evaluated left to right: x is read after the in-place LeakyReLU has changed it.
        return torch.cat([x, self.model(x)], 1)


class Unet(nn.Module):
    def __init__(self, cin, cout, num_downs, ngf, kind, dropout, inplace=True):
        super().__init__()
        block = SkipBlock(ngf * 8, ngf * 8, kind=kind, innermost=True, inplace=inplace)
        for _ in range(num_downs - 5):
            block = SkipBlock(ngf * 8, ngf * 8, sub=block, kind=kind, dropout=dropout,
                              inplace=inplace)
        for mult in (4, 2, 1):
            block = SkipBlock(ngf * mult, ngf * mult * 2, sub=block, kind=kind, inplace=inplace)
        self.model = SkipBlock(cout, ngf, cin=cin, sub=block, kind=kind, outermost=True,
                               inplace=inplace)

    def forward(self, x):
        return self.model(x)

    def rust_state(self):
        """The state dict under the Rust names (running stats included)."""
        t, level, block = {}, 0, self.model
        while block is not None:
            for role, module in block.parts.items():
                direction, kind = role.split(".")
                for k, v in module.state_dict().items():
                    if not k.endswith("num_batches_tracked"):
                        t[f"{direction}.{level}.{kind}.{k}"] = v.detach().clone()
            block, level = block.sub, level + 1
        assert len(t) == len([k for k in self.state_dict() if "num_batches" not in k])
        return t


class NLayerD(nn.Module):
    def __init__(self, cin, ndf, n_layers, kind):
        super().__init__()
        bias = kind == "instance"
        seq = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
                    norm_layer(kind, ndf * mult), nn.LeakyReLU(0.2, True)]
        seq.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class PixelD(nn.Module):
    def __init__(self, cin, ndf, kind):
        super().__init__()
        bias = kind == "instance"
        self.net = nn.Sequential(
            nn.Conv2d(cin, ndf, 1, 1, 0), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, 1, 0, bias=bias), norm_layer(kind, ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, 1, 0, bias=bias))

    def forward(self, x):
        return self.net(x)


def init_weights(m):
    """Upstream's `normal` init with gain 0.02."""
    name = m.__class__.__name__
    if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif "BatchNorm2d" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def plain_state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def running(state):
    return {k: v for k, v in state.items() if "running" in k}


def add(t, prefix, d):
    for k, v in d.items():
        t[prefix + k] = v


def unet_case(t, prefix, cin, cout, size, num_downs, ngf, kind, dropout, batch):
    net = Unet(cin, cout, num_downs, ngf, kind, dropout)
    net.apply(init_weights)
    add(t, prefix + "w.", net.rust_state())
    x = torch.randn(batch, cin, *size)
    t[prefix + "x"] = x
    # Train mode without dropout (dropout's random mask cannot be reproduced): a twin with the
    # same weights and no Dropout layers. It updates the running statistics.
    twin = Unet(cin, cout, num_downs, ngf, kind, False)
    twin.load_state_dict(net.state_dict())
    twin.train()
    with torch.no_grad():
        t[prefix + "train_out"] = twin(x.clone())
    add(t, prefix + "after.", running(twin.rust_state()))
    # Eval mode (dropout off, running statistics) from the updated statistics.
    net.load_state_dict(twin.state_dict())
    net.eval()
    with torch.no_grad():
        t[prefix + "eval_out"] = net(x.clone())
    # Upstream's in-place LeakyReLU changes nothing: the parent's ReLU reads the skip.
    plain = Unet(cin, cout, num_downs, ngf, kind, dropout, inplace=False)
    plain.load_state_dict(net.state_dict())
    plain.eval()
    with torch.no_grad():
        diff = (plain(x.clone()) - t[prefix + "eval_out"]).abs().max().item()
    assert diff == 0.0, f"{prefix}: in-place LeakyReLU changed the output by {diff}"


def d_case(t, prefix, net, x):
    net.apply(init_weights)
    add(t, prefix + "w.", plain_state(net))
    t[prefix + "x"] = x.clone()
    net.train()
    with torch.no_grad():
        t[prefix + "train_out"] = net(x)
    add(t, prefix + "after.", running(plain_state(net)))
    net.eval()
    with torch.no_grad():
        t[prefix + "eval_out"] = net(x)


def save(t, name):
    path = os.path.join(OUT, name)
    save_file({k: v.contiguous() for k, v in t.items()}, path)
    print(f"{path}: {len(t)} tensors, {os.path.getsize(path)} bytes")


def counts():
    """Parameter counts (trainable only) quoted by the Rust tests."""
    n = lambda m: sum(p.numel() for p in m.parameters())
    print("unet_256", n(Unet(3, 3, 8, 64, "batch", True)))
    print("unet_128", n(Unet(3, 3, 7, 64, "batch", True)))
    print("patch n3 6ch batch", n(NLayerD(6, 64, 3, "batch")))
    print("patch n3 3ch instance", n(NLayerD(3, 64, 3, "instance")))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    t = {}
    # 1 -> 3 channels at 32x32, ngf 4, num_downs 5 (no dropout blocks at this depth).
    unet_case(t, "batch.", 1, 3, (32, 32), 5, 4, "batch", True, 3)
    unet_case(t, "instance.", 1, 3, (32, 32), 5, 2, "instance", True, 3)
    save(t, "unet_small.safetensors")
    t = {}
    # num_downs 6: one middle 8*ngf block, with dropout (inactive in eval mode); 2 -> 1
    # channels on a non-square 64x128 image.
    unet_case(t, "deep.", 2, 1, (64, 128), 6, 2, "batch", True, 2)
    save(t, "unet_deep.safetensors")

    t = {}
    x = torch.randn(3, 4, 32, 32)  # cat(A: 1 channel, B: 3 channels)
    d_case(t, "patch_batch.", NLayerD(4, 4, 2, "batch"), x)
    d_case(t, "patch_instance.", NLayerD(4, 4, 2, "instance"), x)
    # n_layers 4: the channel multiplier stops at 8.
    d_case(t, "patch_deep.", NLayerD(2, 2, 4, "batch"), torch.randn(2, 2, 64, 48))
    d_case(t, "pixel_batch.", PixelD(4, 4, "batch"), x)
    d_case(t, "pixel_instance.", PixelD(4, 4, "instance"), x)
    save(t, "patch_small.safetensors")
    counts()


if __name__ == "__main__":
    main()

"""Reference outputs for gan-models' CycleGAN ResNet generator (`ResnetTranslator` in
`translation.rs`), made with PyTorch (the torch `cargo xtask setup` installs, plus
`pip install safetensors` into its venv). A sibling of `translation_fixtures.py`, whose helpers
it uses, so that the pix2pix fixtures stay as they are.

The network below is a transcription of the structure of junyanz/pytorch-CycleGAN-and-pix2pix
`models/networks.py` `ResnetGenerator` / `ResnetBlock` with reflection padding and transposed
convolutions, written from its description rather than copied, at small widths so the fixture
stays small. Its state dict keeps upstream's names (`model.N.*`, the residual blocks'
`model.N.conv_block.M.*`), which are also the Rust names; the script checks the names of
`resnet_9blocks` against the indices quoted in the Rust docs.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/cyclegan_fixtures.py
Writes crates/gan-models/tests/fixtures/resnet_small.safetensors.
"""
import os

import torch
import torch.nn as nn

from translation_fixtures import OUT, add, init_weights, norm_layer, plain_state, running, save


class ResnetBlock(nn.Module):
    """x + [reflection pad 1, conv 3, norm, ReLU, (dropout 0.5), reflection pad 1, conv 3,
    norm](x); the convolutions have a bias only before instance norm."""

    def __init__(self, dim, kind, dropout):
        super().__init__()
        bias = kind == "instance"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias),
                  norm_layer(kind, dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias),
                   norm_layer(kind, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetG(nn.Module):
    """Reflection pad 3, conv 7 to ngf, norm, ReLU; two stride-2 conv 3 down-samplings with norm
    and ReLU; n_blocks residual blocks on 4 * ngf; two transposed conv 3/2/1 (output padding 1)
    up-samplings with norm and ReLU; reflection pad 3, biased conv 7, tanh. One Sequential."""

    def __init__(self, cin, cout, ngf, n_blocks, kind, dropout):
        super().__init__()
        bias = kind == "instance"
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, 7, padding=0, bias=bias),
               norm_layer(kind, ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            seq += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=bias),
                    norm_layer(kind, ngf * m * 2), nn.ReLU(True)]
        seq += [ResnetBlock(ngf * 4, kind, dropout) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            seq += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1,
                                       output_padding=1, bias=bias),
                    norm_layer(kind, ngf * m // 2), nn.ReLU(True)]
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cout, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


def nonzero_biases(net):
    """Upstream's init leaves biases at 0; random ones make the comparison see them."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.1)


def load(net, state):
    """Loads `state` (no `num_batches_tracked`) into `net`, every name matched."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), \
        (missing, unexpected)


def resnet_case(t, prefix, cin, cout, size, ngf, n_blocks, kind, dropout, batch):
    net = ResnetG(cin, cout, ngf, n_blocks, kind, dropout)
    net.apply(init_weights)
    nonzero_biases(net)
    add(t, prefix + "w.", plain_state(net))
    x = torch.randn(batch, cin, *size)
    t[prefix + "x"] = x
    # Train mode without dropout (its random mask cannot be reproduced): a twin with the same
    # weights and no Dropout layers (the names differ: the block's second conv moves from
    # index 6 to 5). It updates the running statistics.
    twin = ResnetG(cin, cout, ngf, n_blocks, kind, False)
    twin_state = plain_state(net)
    if dropout:
        twin_state = {k.replace(".conv_block.6.", ".conv_block.5.")
                      .replace(".conv_block.7.", ".conv_block.6."): v
                      for k, v in twin_state.items()}
    load(twin, twin_state)
    twin.train()
    with torch.no_grad():
        t[prefix + "train_out"] = twin(x.clone())
    after = running(plain_state(twin))
    if dropout:
        after = {k.replace(".conv_block.6.", ".conv_block.7.")
                 .replace(".conv_block.5.", ".conv_block.6."): v for k, v in after.items()}
    add(t, prefix + "after.", after)
    # Eval mode (dropout off, running statistics) from the updated statistics.
    load(net, {**plain_state(net), **after})
    net.eval()
    with torch.no_grad():
        t[prefix + "eval_out"] = net(x.clone())


def check_names():
    """Upstream's indices for resnet_9blocks (instance norm: no norm variables)."""
    keys = list(ResnetG(3, 3, 64, 9, "instance", False).state_dict())
    print("resnet_9blocks state_dict keys:", keys)
    assert keys[:2] == ["model.1.weight", "model.1.bias"], keys
    assert "model.4.weight" in keys and "model.7.weight" in keys
    for i in range(9):
        for j in (1, 5):
            assert f"model.{10 + i}.conv_block.{j}.weight" in keys
    assert "model.19.weight" in keys and "model.22.weight" in keys
    assert keys[-2:] == ["model.26.weight", "model.26.bias"], keys
    keys = list(ResnetG(3, 3, 64, 9, "batch", True).state_dict())
    assert "model.10.conv_block.6.weight" in keys and "model.10.conv_block.7.running_var" in keys
    assert "model.2.weight" in keys and "model.1.bias" not in keys


def counts():
    """Parameter counts (trainable only) quoted by the Rust tests."""
    n = lambda m: sum(p.numel() for p in m.parameters())
    print("resnet_9blocks", n(ResnetG(3, 3, 64, 9, "instance", False)))
    print("resnet_6blocks", n(ResnetG(3, 3, 64, 6, "instance", False)))


def main():
    os.makedirs(OUT, exist_ok=True)
    check_names()
    torch.manual_seed(0)
    t = {}
    # CycleGAN's layout (instance norm, no dropout), 3 -> 3 on a non-square 24x32 image.
    resnet_case(t, "instance.", 3, 3, (24, 32), 8, 2, "instance", False, 2)
    # Grey -> RGB.
    resnet_case(t, "grey.", 1, 3, (16, 16), 4, 2, "instance", False, 2)
    # Batch norm, no dropout: running statistics.
    resnet_case(t, "batch.", 3, 3, (16, 16), 4, 2, "batch", False, 3)
    # Nine blocks with batch norm and dropout (second convs at conv_block.6), ngf 1.
    resnet_case(t, "nine.", 2, 1, (16, 24), 1, 9, "batch", True, 2)
    save(t, "resnet_small.safetensors")
    counts()


if __name__ == "__main__":
    main()

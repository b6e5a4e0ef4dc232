"""Loads a DCGAN-64 generator that `gan export --format safetensors` wrote into
pytorch/examples' Generator (dcgan/main.py, layer for layer: its variable names are the
toolkit's), and samples it in eval mode. Only PyTorch and NumPy are needed.

    python scripts/dcgan64_from_safetensors.py generator.safetensors latents.npy images.npy

`generator.json` (beside the .safetensors file) gives nz, ngf and nc; latents.npy is float32
(N, nz); images.npy gets the float32 output (N, nc, 64, 64) in [-1, 1].
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


class Generator(nn.Module):
    """pytorch/examples dcgan/main.py's Generator."""

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

    def forward(self, z):
        return self.main(z.view(z.shape[0], z.shape[1], 1, 1))


def read_safetensors(path):
    """The tensors of a .safetensors file (the format is an 8-byte header length, a JSON
    header, then the raw little-endian data)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[start:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def load(path):
    info = json.load(open(os.path.splitext(path)[0] + ".json"))
    g = info["generator"]
    if g.get("arch") != "dcgan" or info["output_shape"][1:] != [64, 64]:
        sys.exit(f"{path}: not a DCGAN-64 generator ({g.get('arch')}, {info['output_shape']})")
    model = Generator(nz=g["latent_dim"], ngf=g["width"], nc=info["output_shape"][0])
    state = read_safetensors(path)
    # PyTorch's batch norm also counts its updates; the count is not used in eval mode.
    for key in model.state_dict():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, torch.tensor(0))
    model.load_state_dict(state, strict=True)
    return model.eval()


def main(weights, latents, out):
    model = load(weights)
    z = torch.from_numpy(np.load(latents).astype(np.float32))
    with torch.no_grad():
        images = model(z)
    np.save(out, images.numpy())


if __name__ == "__main__":
    main(*sys.argv[1:4])

#!/usr/bin/env python3
"""Real images as a `.npy` sample file, for the real-vs-real floor of every score.

    python scripts/real_samples.py --data data/fashion-mnist --split train --n 10000 \
        --pad 2 --out runs/real/fashion-mnist-train-10k.npy [--stacked]

Writes uint8 (N, C, H, W) like `gan sample` (plus FILE.labels.npy, int64), so that
`gan eval --samples FILE.npy --reference fashion-mnist:test` scores real training images
against the test split: the best value a generator of that data can expect. `--stacked`
stacks three random images as RGB channels (Stacked Fashion-MNIST; label 100a + 10b + c).
The first N images of the split are taken (a seeded draw with --stacked). Needs numpy only.
"""
import argparse
import gzip
import os

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{folder}: no {stem}[.gz] (run `cargo xtask data fashion-mnist`)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder of the four IDX files")
    ap.add_argument("--split", choices=["train", "test"], default="train")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--stacked", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    prefix = "train" if a.split == "train" else "t10k"
    x = read_idx(find(a.data, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find(a.data, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    if a.pad:
        x = np.pad(x, ((0, 0), (a.pad, a.pad), (a.pad, a.pad)))
    if a.stacked:
        idx = np.random.default_rng(a.seed).integers(0, len(x), size=(a.n, 3))
        images = x[idx]  # (N, 3, H, W)
        labels = y[idx[:, 0]] * 100 + y[idx[:, 1]] * 10 + y[idx[:, 2]]
    else:
        images = x[: a.n, None]
        labels = y[: a.n]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.save(a.out, np.ascontiguousarray(images))
    if not a.stacked:
        np.save(a.out[: -len(".npy")] + ".labels.npy", labels)
    print(f"wrote {a.out}: {images.shape} {images.dtype}")


if __name__ == "__main__":
    main()

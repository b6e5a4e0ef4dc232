"""Exports pytorch-fid's FID InceptionV3 as a TorchScript file that the Rust side
(gan-eval's `Inception`, through tch's `CModule`) loads. Run by `cargo xtask fetch-inception`
with the venv that `cargo xtask setup` made (torch 2.11.0, plus torchvision 0.26.0 and
pytorch-fid 0.3.0, which fetch-inception installs).

The exported module's contract (the Rust side relies on it exactly):

* `forward(x)`: `x` float32 `[N, 3, H, W]` with values in [0, 1], any N >= 1, any H and W,
  on any device. Returns the tuple `(features [N, D] float32, logits [N, K] float32)`.
  Preprocessing is pytorch-fid's `InceptionV3(resize_input=True, normalize_input=True)`:
  `F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)` (antialias off),
  then `2 * x - 1`. The features are the 2048-d pool3 activations (what pytorch-fid's
  `InceptionV3([3])` returns, flattened); the logits are the 1008-way `fc` layer applied to
  them (no dropout: eval mode), the TF graph's head that the Inception Score uses (softmax
  over all 1008, as the TF original and torch-fidelity's `logits_unbiased`).
  Grayscale images must be repeated to 3 channels by the caller.
* `info()`: a JSON object (str) with `name`, `preprocessing`, `weights_file` and
  `weights_sha256` (strings; empty when there is no weights file), `features` (D), `logits`
  (K), `torch` (the exporting version), `fid_weights` (true only for pytorch-fid's official
  weights, recognised by the SHA-256 prefix `6726825d`), `contract` (1) and, for seeded random
  weights, `random_seed`.

The parameter names of the exported module are those of the weights file
(`Conv2d_1a_3x3.conv.weight`, ..., `fc.bias`).

Usage (with the venv's python):

    export_inception.py --weights pt_inception-2015-12-05-6726825d.pth --out fid-inception-v3.pt
    export_inception.py --random-weights 0 --out fid-inception-v3-random.pt
    export_inception.py --tiny --out tiny.pt
    export_inception.py --write-test-fixture crates/gan-eval/tests/fixtures/inception
    export_inception.py --check-against-pytorch-fid [--random-weights SEED | --weights FILE]
    export_inception.py --print-info FILE.pt

Nothing is ever downloaded: `load_state_dict_from_url` is not called.
"""
import argparse
import collections
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The one official weights file and the prefix of its SHA-256 (torch hub's convention: the
# 8 hex digits in the name are the start of the file's SHA-256).
OFFICIAL_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
OFFICIAL_SHA256_PREFIX = "6726825d"

# Version of the module contract described above (bumped on any change the Rust side sees).
CONTRACT = 1

PREPROCESSING = (
    "input float32 [N, 3, H, W] in [0, 1]; bilinear resize to 299x299 "
    "(F.interpolate, align_corners=False, antialias off, applied to every input size, "
    "299x299 included), then [0, 1] -> [-1, 1] by 2x - 1; as pytorch-fid's "
    "InceptionV3(resize_input=True, normalize_input=True). Grayscale inputs must be "
    "repeated to 3 channels by the caller."
)

# Fixture of gan-eval's Rust test: seeds and shapes (changing them changes the files).
FIXTURE_TINY_SEED = 0
FIXTURE_INPUT_SEED = 1
FIXTURE_INPUT_SHAPE = (6, 1, 28, 28)


def preprocess(x: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's input transform: checks, resize to 299x299, [0, 1] -> [-1, 1]."""
    if x.dim() != 4 or x.size(1) != 3:
        raise ValueError(
            "expected images [N, 3, H, W] (grayscale repeated to 3 channels), got shape {}".format(
                x.shape
            )
        )
    if x.dtype != torch.float32:
        raise ValueError("expected float32 images in [0, 1], got {}".format(x.dtype))
    x = F.interpolate(x, size=[299, 299], mode="bilinear", align_corners=False)
    return 2 * x - 1


class FIDInceptionExport(nn.Module):
    """pytorch-fid's FID InceptionV3 from its input transform to the 1008 logits.

    Holds the modules of the torchvision `Inception3` that `fid_inception_v3()` builds
    under their original names, so the parameter names are the weights file's. The forward
    pass is pytorch-fid's `InceptionV3([3])` (blocks 0 to 3: the stem, max pool, two convs,
    max pool, Mixed_5b..Mixed_7c, adaptive average pool) followed by `fc`.
    """

    def __init__(self, inception: nn.Module, info: str):
        super().__init__()
        self.Conv2d_1a_3x3 = inception.Conv2d_1a_3x3
        self.Conv2d_2a_3x3 = inception.Conv2d_2a_3x3
        self.Conv2d_2b_3x3 = inception.Conv2d_2b_3x3
        self.maxpool1 = inception.maxpool1  # nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = inception.Conv2d_3b_1x1
        self.Conv2d_4a_3x3 = inception.Conv2d_4a_3x3
        self.maxpool2 = inception.maxpool2  # nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = inception.Mixed_5b
        self.Mixed_5c = inception.Mixed_5c
        self.Mixed_5d = inception.Mixed_5d
        self.Mixed_6a = inception.Mixed_6a
        self.Mixed_6b = inception.Mixed_6b
        self.Mixed_6c = inception.Mixed_6c
        self.Mixed_6d = inception.Mixed_6d
        self.Mixed_6e = inception.Mixed_6e
        self.Mixed_7a = inception.Mixed_7a
        self.Mixed_7b = inception.Mixed_7b
        self.Mixed_7c = inception.Mixed_7c
        self.avgpool = inception.avgpool  # nn.AdaptiveAvgPool2d((1, 1))
        self.fc = inception.fc  # nn.Linear(2048, 1008)
        self.info_json = info

    def forward(self, x: torch.Tensor):
        x = preprocess(x)
        # pytorch-fid block 0
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = self.maxpool1(x)
        # block 1
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = self.maxpool2(x)
        # block 2
        x = self.Mixed_5b(x)
        x = self.Mixed_5c(x)
        x = self.Mixed_5d(x)
        x = self.Mixed_6a(x)
        x = self.Mixed_6b(x)
        x = self.Mixed_6c(x)
        x = self.Mixed_6d(x)
        x = self.Mixed_6e(x)
        # block 3
        x = self.Mixed_7a(x)
        x = self.Mixed_7b(x)
        x = self.Mixed_7c(x)
        x = self.avgpool(x)
        features = torch.flatten(x, 1)
        logits = self.fc(features)
        return features, logits

    @torch.jit.export
    def info(self) -> str:
        return self.info_json


class TinyExtractor(nn.Module):
    """A tiny stand-in with the same contract and preprocessing, for tests: features
    `[N, 16]`, logits `[N, 10]`. After the resize to 299x299 and 2x - 1, a 13x13 average
    pool (-> 23x23), a 5x5 stride-2 conv 3 -> 16 (-> 10x10), tanh, global average pool
    (the features) and a linear 16 -> 10 (the logits)."""

    def __init__(self, info: str):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, kernel_size=5, stride=2)
        self.fc = nn.Linear(16, 10)
        self.info_json = info

    def forward(self, x: torch.Tensor):
        x = preprocess(x)
        x = F.avg_pool2d(x, kernel_size=13)
        x = torch.tanh(self.conv(x))
        features = torch.flatten(F.adaptive_avg_pool2d(x, [1, 1]), 1)
        logits = self.fc(features)
        return features, logits

    @torch.jit.export
    def info(self) -> str:
        return self.info_json


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fid_architecture():
    """The network of pytorch-fid's `fid_inception_v3()`, built the same way (torchvision's
    Inception3 with 1008 classes, no aux head, pytorch-fid's patched blocks), without its
    `load_state_dict_from_url` call. Weights uninitialised: load a state dict next."""
    import torchvision
    from pytorch_fid.inception import (
        FIDInceptionA,
        FIDInceptionC,
        FIDInceptionE_1,
        FIDInceptionE_2,
    )

    inception = torchvision.models.inception_v3(
        num_classes=1008, aux_logits=False, weights=None, init_weights=False
    )
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


def random_state_dict(seed):
    """A seeded random state dict for `fid_architecture()`, with activations of sane size:
    He-normal conv weights, batch-norm affine parameters and running statistics drawn around
    (1, 0, 0, 1) (so the running statistics are exercised), a small random fc. Deterministic
    for a seed (drawn on the CPU in the state dict's order)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in fid_architecture().state_dict().items():
        shape = t.shape

        def normal(std, mean=0.0):
            return torch.randn(shape, generator=gen) * std + mean

        def uniform(lo, hi):
            return torch.rand(shape, generator=gen) * (hi - lo) + lo

        if name.endswith("num_batches_tracked"):
            out[name] = torch.zeros_like(t)
        elif name.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            out[name] = normal((2.0 / fan_in) ** 0.5)
        elif name.endswith("bn.weight"):
            out[name] = uniform(0.8, 1.2)
        elif name.endswith("bn.bias"):
            out[name] = normal(0.1)
        elif name.endswith("bn.running_mean"):
            out[name] = normal(0.1)
        elif name.endswith("bn.running_var"):
            out[name] = uniform(0.5, 1.5)
        elif name == "fc.weight":
            out[name] = normal(shape[1] ** -0.5)
        elif name == "fc.bias":
            out[name] = normal(0.01)
        else:
            raise RuntimeError("random_state_dict: unexpected entry {}".format(name))
    return out


def load_weights(path, trusted):
    """The state dict of a `.pth` file, loaded directly on the CPU (never downloaded).

    Loaded with `weights_only=True` (tensors only); when that fails and the file is the
    official one (`trusted`: its SHA-256 was checked), again as torch hub loads it for
    pytorch-fid (`weights_only=False`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means the file is unusable
        if not trusted:
            sys.exit(
                "error: cannot load {} as a PyTorch state dict: {}: {}".format(
                    path, type(e).__name__, e
                )
            )
        print("note: weights_only loading failed ({}); loading as torch hub does".format(e))
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e2:  # noqa: BLE001
            sys.exit(
                "error: cannot load {} as a PyTorch state dict: {}: {}".format(
                    path, type(e2).__name__, e2
                )
            )
    if not isinstance(state, dict):
        sys.exit("error: {} holds a {}, not a state dict".format(path, type(state).__name__))
    return state


def eval_frozen(module):
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def build_fid(state, info):
    """pytorch-fid's architecture with `state` loaded (strictly), wrapped for export."""
    inception = fid_architecture()
    # Batch norm's step counters do not change an eval-mode forward pass; files saved before
    # they existed may lack them. Filled in on a copy that keeps the file's version metadata.
    metadata = getattr(state, "_metadata", None)
    state = collections.OrderedDict(state)
    if metadata is not None:
        state._metadata = metadata
    for name, value in inception.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = torch.zeros_like(value)
    try:
        inception.load_state_dict(state, strict=True)
    except RuntimeError as e:
        sys.exit("error: the weights do not fit pytorch-fid's FID InceptionV3:\n{}".format(e))
    return eval_frozen(FIDInceptionExport(eval_frozen(inception), json.dumps(info)))


def fid_module(args):
    """The FID module for --weights FILE or --random-weights SEED, with its info dict."""
    if args.random_weights is not None:
        state = random_state_dict(args.random_weights)
        name = "pytorch-fid InceptionV3 architecture, RANDOM WEIGHTS - not for FID (seed {})"
        name = name.format(args.random_weights)
        weights_file, sha, official = "", "", False
    else:
        if not os.path.isfile(args.weights):
            sys.exit("error: weights file {} not found".format(args.weights))
        weights_file = os.path.basename(args.weights)
        sha = sha256_file(args.weights)
        official = sha.startswith(OFFICIAL_SHA256_PREFIX)
        if official:
            name = "pytorch-fid InceptionV3 (pt_inception-2015-12-05)"
        else:
            print(
                "warning: {} (SHA-256 {}) is not pytorch-fid's {} (SHA-256 {}...): "
                "exported with fid_weights false".format(
                    args.weights, sha, OFFICIAL_WEIGHTS, OFFICIAL_SHA256_PREFIX
                ),
                file=sys.stderr,
            )
            name = "pytorch-fid InceptionV3 architecture, UNOFFICIAL WEIGHTS {} - not for FID"
            name = name.format(weights_file)
        state = load_weights(args.weights, trusted=official)
    info = {
        "name": name,
        "preprocessing": PREPROCESSING,
        "weights_file": weights_file,
        "weights_sha256": sha,
        "features": 2048,
        "logits": 1008,
        "torch": torch.__version__,
        "fid_weights": official,
        "contract": CONTRACT,
    }
    if args.random_weights is not None:
        info["random_seed"] = args.random_weights
    return build_fid(state, info), info


def tiny_module(seed=FIXTURE_TINY_SEED):
    """The tiny stand-in with seeded random weights."""
    torch.manual_seed(seed)
    info = {
        "name": "tiny test extractor",
        "preprocessing": PREPROCESSING,
        "weights_file": "",
        "weights_sha256": "",
        "features": 16,
        "logits": 10,
        "torch": torch.__version__,
        "fid_weights": False,
        "contract": CONTRACT,
        "random_seed": seed,
    }
    return eval_frozen(TinyExtractor(json.dumps(info))), info


def save_scripted(module, out):
    """Scripts `module`, writes it to `out` (in a temporary folder next to it, then renamed,
    so the archive's inner folder is named after `out` and a reader never sees half a file),
    checks that the file loads back and agrees with the eager module, returns the loaded
    module."""
    import shutil
    import tempfile

    scripted = torch.jit.script(module)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".export_inception-", dir=folder)
    tmp = os.path.join(tmp_dir, os.path.basename(out))
    try:
        scripted.save(tmp)
        loaded = torch.jit.load(tmp, map_location="cpu")
        # Odd batch size and input size, to catch anything fixed at export.
        x = torch.rand(3, 3, 37, 45, generator=torch.Generator().manual_seed(123))
        with torch.no_grad():
            want, got = module(x), loaded(x)
        for a, b, what in zip(want, got, ("features", "logits")):
            diff = (a - b).abs().max().item()
            if a.shape != b.shape or b.dtype != torch.float32 or diff > 1e-4:
                raise RuntimeError(
                    "the saved module disagrees with the eager one on {} ({} vs {}, max abs "
                    "diff {})".format(what, tuple(a.shape), tuple(b.shape), diff)
                )
        if json.loads(loaded.info()) != json.loads(module.info()):
            raise RuntimeError("info() did not survive the round trip")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return loaded


def write_test_fixture(folder):
    """gan-eval's fixture: tiny.pt, input.npy (uint8 [6, 1, 28, 28]) and the tiny module's
    outputs on `input.float() / 255` repeated to 3 channels (float32 .npy files)."""
    os.makedirs(folder, exist_ok=True)
    module, _ = tiny_module(FIXTURE_TINY_SEED)
    loaded = save_scripted(module, os.path.join(folder, "tiny.pt"))
    rng = np.random.default_rng(FIXTURE_INPUT_SEED)
    images = rng.integers(0, 256, size=FIXTURE_INPUT_SHAPE, dtype=np.uint8)
    x = torch.from_numpy(images).float() / 255
    x = x.repeat(1, 3, 1, 1)
    with torch.no_grad():
        features, logits = loaded(x)
    np.save(os.path.join(folder, "input.npy"), images)
    np.save(os.path.join(folder, "expected_features.npy"), features.numpy().astype(np.float32))
    np.save(os.path.join(folder, "expected_logits.npy"), logits.numpy().astype(np.float32))
    for name in ("tiny.pt", "input.npy", "expected_features.npy", "expected_logits.npy"):
        path = os.path.join(folder, name)
        print("{}  {} bytes  sha256 {}".format(path, os.path.getsize(path), sha256_file(path)))


def check_against_pytorch_fid(args):
    """Compares the exported module (saved and loaded back) with pytorch-fid's own
    `InceptionV3([3], resize_input=True, normalize_input=True)` (features) and with
    `fid_inception_v3()`'s full forward on the preprocessed input (logits), both given the
    same state dict through a patched `load_state_dict_from_url`. Exits 1 on a mismatch."""
    import tempfile

    import pytorch_fid.inception as pfi

    if args.weights is None and args.random_weights is None:
        args.random_weights = 0
    module, info = fid_module(args)
    state = {k: v.clone() for k, v in module.state_dict().items()}

    def no_download(url, *a, **kw):
        print("  (pytorch-fid asked for {}: given the same state dict instead)".format(url))
        return state

    pfi.load_state_dict_from_url = no_download
    reference = eval_frozen(pfi.InceptionV3([3], resize_input=True, normalize_input=True))
    full = eval_frozen(pfi.fid_inception_v3())  # torchvision's Inception3.forward, for logits

    with tempfile.TemporaryDirectory() as tmp:
        loaded = save_scripted(module, os.path.join(tmp, "check.pt"))
    print("exported: {}".format(info["name"]))
    gen = torch.Generator().manual_seed(2024)
    worst = 0.0
    for size in (28, 32, 64, 299):
        for n in (1, 5):
            x = torch.rand(n, 3, size, size, generator=gen)
            with torch.no_grad():
                features, logits = loaded(x)
                want_f = reference(x)[0].flatten(1)
                xp = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
                want_l = full(xp)
            df = (features - want_f).abs().max().item()
            dl = (logits - want_l).abs().max().item()
            scale_f = want_f.abs().max().item()
            scale_l = want_l.abs().max().item()
            print(
                "  {:3d}x{:<3d} batch {}: features max|diff| {:.3g} (max|f| {:.3g}), "
                "logits max|diff| {:.3g} (max|l| {:.3g})".format(
                    size, size, n, df, scale_f, dl, scale_l
                )
            )
            worst = max(worst, df / max(scale_f, 1e-12), dl / max(scale_l, 1e-12))
    print("worst relative difference (max|diff| / max|value|): {:.3g}".format(worst))
    if worst > 1e-5:
        sys.exit("error: the exported module does not match pytorch-fid")
    print("OK: the exported module matches pytorch-fid")


def main():
    ap = argparse.ArgumentParser(
        description="Export pytorch-fid's FID InceptionV3 to TorchScript for gan-eval."
    )
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--weights", metavar="FILE", help="pt_inception-2015-12-05-6726825d.pth")
    src.add_argument(
        "--random-weights",
        metavar="SEED",
        type=int,
        help="seeded random weights instead (timing and pipeline tests only, not for FID)",
    )
    src.add_argument("--tiny", action="store_true", help="the tiny test stand-in (16/10 outputs)")
    ap.add_argument("--out", metavar="FILE", help="TorchScript file to write")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write-test-fixture", metavar="DIR", help="write gan-eval's test fixture")
    mode.add_argument(
        "--check-against-pytorch-fid",
        action="store_true",
        help="compare with pytorch-fid's InceptionV3 (random weights, seed 0, unless given)",
    )
    mode.add_argument("--print-info", metavar="FILE", help="print the info() of an exported file")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    if args.print_info:
        try:
            print(torch.jit.load(args.print_info, map_location="cpu").info())
        except Exception as e:  # noqa: BLE001
            sys.exit("error: cannot read info() of {}: {}".format(args.print_info, e))
        return
    if args.write_test_fixture:
        write_test_fixture(args.write_test_fixture)
        return
    if args.check_against_pytorch_fid:
        check_against_pytorch_fid(args)
        return
    if not args.out:
        ap.error("--out FILE is needed")
    if args.tiny:
        module, info = tiny_module()
    elif args.weights is None and args.random_weights is None:
        ap.error("give --weights FILE, --random-weights SEED or --tiny")
    else:
        module, info = fid_module(args)
    save_scripted(module, args.out)
    print("wrote {} ({}, {} bytes)".format(args.out, info["name"], os.path.getsize(args.out)))


if __name__ == "__main__":
    main()

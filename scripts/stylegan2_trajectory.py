"""Deterministic trajectory check: does `gan train` on configs/stylegan2-fashion-mnist.toml
train exactly as the PyTorch peer (scripts/bench_stylegan2.py's `StyleGAN2Step` on the
transcribed stylegan2-ada-pytorch networks) when both start from the same weights and see
the same batches and the same random numbers?

1. `gan train --steps 1` makes a starting point (Rust-initialised G, D and EMA, one step in);
2. `gan train --init-from` that run trains N more steps (fresh optimisers, as the peer's);
3. the peer loads the same checkpoint and trains N steps, re-seeding torch before each step
   as the engine does (gan-tensor's `step_seed(seed, Stream::Train, step)`) and drawing the
   batches in gan-data's `EpochBatcher` order (the same SplitMix64 shuffle);
4. the peer runs again at 2 threads: the size of floating-point noise alone (a different
   summation order), which grows over the steps as GAN training is chaotic.

It prints the losses side by side, the differences, and the max |diff| of every network's
weights after the first steps and at the end, and exits 1 if the first steps disagree by more
than float noise (`--tolerance`, on the losses of the first `--exact-steps` steps).

With the torch that `cargo xtask setup` installed and a release build:
    cargo build --release -p gan-cli
    ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/stylegan2_trajectory.py
(about 3 minutes on 1 CPU thread; Fashion-MNIST as for the preset).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tomllib

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_stylegan2 import StyleGAN2Step, build_stylegan2  # noqa: E402
from pix2pix_edges import load_split, pad  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = os.path.join(ROOT, "configs", "stylegan2-fashion-mnist.toml")
M64 = (1 << 64) - 1
# The safetensors dtypes a checkpoint holds, as torch dtypes.
ST_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
             "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
             "U8": torch.uint8, "I8": torch.int8, "BOOL": torch.bool}


def load_file(path):
    """Reads a .safetensors file with torch alone (the venv that `cargo xtask setup` makes has
    no `safetensors` package): an 8-byte little-endian header length, a JSON header naming each
    tensor's dtype, shape and byte range, then the raw bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    body = memoryview(raw)[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] not in ST_DTYPES:
            raise SystemExit(f"{path}: tensor {name} has dtype {meta['dtype']}, not handled")
        start, end = meta["data_offsets"]
        dtype = ST_DTYPES[meta["dtype"]]
        if end == start:  # torch.frombuffer refuses an empty buffer
            out[name] = torch.empty(meta["shape"], dtype=dtype)
        else:
            out[name] = torch.frombuffer(bytearray(body[start:end]), dtype=dtype).reshape(meta["shape"])
    return out
TRAIN_STREAM = 2  # gan_tensor::seed::Stream::Train
DATA_STREAM = 0x646174615F65706F  # gan-data batcher.rs: "data_epo"


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def splitmix(z):
    return mix((z + 0x9E3779B97F4A7C15) & M64)


def step_seed(seed, stream, step):
    """gan-tensor's `step_seed`: the torch seed of one step of one stream."""
    return splitmix(seed ^ splitmix(stream) ^ splitmix((step + 0x12345678) & M64)) >> 1


def epoch_permutation(n, seed, epoch, stream=0):
    """gan-data's `EpochBatcher` order of one epoch (Fisher-Yates on SplitMix64, Lemire's
    multiply-shift for the bound)."""
    state = mix(seed ^ mix(epoch ^ DATA_STREAM) ^ mix(stream))
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & M64
        j = (mix(state) * (i + 1)) >> 64
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def make_config(path, every):
    """The preset with 1 thread, a loss line every step, no evaluation during training and
    only a small final one without the domain classifier (which would otherwise be trained
    first, for minutes, when it is missing), and a checkpoint every `every` steps and at the
    end."""
    text = open(PRESET).read()
    text, n = re.subn(r"(?m)^best = .*\n", "", text)
    assert n == 1, f"{PRESET}: no single `best` line"
    for key, value in (("threads", 1), ("log_every", 1), ("eval_every", 0),
                       ("eval_samples", 200), ("checkpoint_every", every),
                       ("keep_checkpoints", 1000), ("classifier_scores", "false")):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, f"{PRESET}: no single `{key}` line"
    open(path, "w").write(text)
    return tomllib.loads(text)


def checkpoint(run, step):
    return os.path.join(run, "checkpoints", f"step-{step:09d}", "state.safetensors")


def rust_losses(run):
    rows = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if row.get("kind") == "train":
                rows[row["step"]] = row
    return rows


def load_nets(state, cfg):
    g_cfg, d_cfg = cfg["generator"], cfg["discriminator"]
    g, d, g_ema = build_stylegan2(32, 1, g_cfg["latent_dim"], g_cfg["w_dim"],
                                  g_cfg["mapping_layers"], g_cfg["channel_base"],
                                  g_cfg["channel_max"], d_cfg["mbstd_group"])
    for net, prefix in ((g, "g."), (d, "d."), (g_ema, "g_ema.")):
        sd = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        # The FIR filters are constants the Rust side builds instead of storing.
        missing = [m for m in missing if not m.endswith("resample_filter")]
        if missing or unexpected:
            sys.exit(f"checkpoint {prefix}: missing {missing}, unexpected {unexpected}")
        net.train()
    return g, d, g_ema


def peer(state, cfg, data, seed, steps, threads, snapshot_at):
    """Trains the peer from `state`; returns the per-step losses and weight snapshots."""
    torch.set_num_threads(threads)
    g, d, g_ema = load_nets(state, cfg)
    m, o, t = cfg["model"], cfg["optim"], cfg["train"]
    assert o["lr_g"] == o["lr_d"], "the peer has one learning rate"
    step = StyleGAN2Step(g, d, g_ema, lr=o["lr_g"], betas=(o["beta1"], o["beta2"]),
                         eps=o["eps"], r1_gamma=m["r1_gamma"], r1_every=m["r1_every"],
                         pl_weight=m["pl_weight"], pl_every=m["pl_every"],
                         pl_decay=m["pl_decay"], pl_batch_shrink=m["pl_batch_shrink"],
                         style_mixing=m["style_mixing"], ema_decay=t["ema_decay"])
    # The engine counts steps from 0 (R1 at steps 0, 16, ...; EMA beta (1 + s) / (10 + s)),
    # StyleGAN2Step from 1.
    step.step = -1
    b = t["batch_size"]
    assert steps * b <= data.shape[0], "the check stays within the first epoch"
    perm = torch.tensor(epoch_permutation(data.shape[0], seed, 0))
    losses, snaps = [], {}
    for s in range(steps):
        torch.manual_seed(step_seed(seed, TRAIN_STREAM, s))
        batch = data.index_select(0, perm[s * b:(s + 1) * b]).float() / 127.5 - 1.0
        losses.append(step(batch))
        if s + 1 in snapshot_at:
            snaps[s + 1] = weights(g, d, g_ema)
    return losses, snaps


def weights(g, d, g_ema):
    out = {}
    for net, prefix in ((g, "g."), (d, "d."), (g_ema, "g_ema.")):
        for k, v in net.state_dict().items():
            if not k.endswith("resample_filter"):
                out[prefix + k] = v.detach().clone()
    return out


def max_diffs(a, b):
    """Max |a - b| over each network's tensors (g, d, g_ema) of the peer snapshot `b`."""
    out = {}
    for k, v in b.items():  # b: the peer's tensors, each of which the checkpoint `a` has
        if k not in a:
            sys.exit(f"checkpoint has no `{k}`")
        net = k.split(".")[0]
        out[net] = max(out.get(net, 0.0), (a[k].float() - v.float()).abs().max().item())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gan", default=os.path.join(ROOT, "target", "release", "gan"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "stylegan2-trajectory"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-steps", type=int, default=3)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if not os.access(a.gan, os.X_OK):
        sys.exit(f"{a.gan}: no gan binary (cargo build --release -p gan-cli, or --gan PATH)")
    os.makedirs(a.out, exist_ok=True)
    cfg_path = os.path.join(a.out, "config.toml")
    early = min(a.exact_steps, a.steps)
    cfg = make_config(cfg_path, early)
    start, rust = os.path.join(a.out, "start"), os.path.join(a.out, "rust")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for run, extra in ((start, ["--steps", "1"]),
                       (rust, ["--init-from", start, "--steps", str(a.steps)])):
        if not os.path.exists(os.path.join(run, "metrics.jsonl")):
            cmd = [a.gan, "train", "--config", cfg_path, "--out", run,
                   "--seed", str(a.seed)] + extra
            print("+", " ".join(cmd), flush=True)
            with open(run + ".log", "w") as log:
                subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)
    state = load_file(checkpoint(start, 1))
    images, _ = load_split(a.data, "train")
    data = torch.from_numpy(pad(images)).unsqueeze(1)
    print(f"peer: {a.steps} steps at 1 thread, then at 2 threads", flush=True)
    py1, snaps1 = peer(state, cfg, data, a.seed, a.steps, 1, {early, a.steps})
    py2, snaps2 = peer(state, cfg, data, a.seed, a.steps, 2, {a.steps})
    rs = rust_losses(rust)

    print("\n| step | loss | gan (Rust) | PyTorch 1 thread | |Rust - PyTorch| "
          "| |PyTorch 1 - 2 threads| |")
    print("|---|---|---|---|---|---|")
    worst_early, rows = 0.0, []
    for s in range(1, a.steps + 1):
        for key in ("g_loss", "d_loss"):
            r, p1, p2 = rs[s][key], py1[s - 1][key], py2[s - 1][key]
            rows.append({"step": s, "loss": key, "rust": r, "torch_1": p1, "torch_2": p2})
            if s <= early:
                worst_early = max(worst_early, abs(r - p1))
            print(f"| {s} | {key} | {r:.6f} | {p1:.6f} | {abs(r - p1):.2e} | {abs(p1 - p2):.2e} |")
    moved = max_diffs(state, snaps1[a.steps])
    early_rust = max_diffs(load_file(checkpoint(rust, early)), snaps1[early])
    end_rust = max_diffs(load_file(checkpoint(rust, a.steps)), snaps1[a.steps])
    end_threads = max_diffs(snaps2[a.steps], snaps1[a.steps])
    print("\nweights, max |diff| (g / d / g_ema):")
    for name, dd in ((f"moved from the start in {a.steps} steps", moved),
                     (f"gan (Rust) vs PyTorch after {early} steps", early_rust),
                     (f"gan (Rust) vs PyTorch after {a.steps} steps", end_rust),
                     (f"PyTorch 1 vs 2 threads after {a.steps} steps", end_threads)):
        print(f"  {name}: " + " / ".join(f"{dd[k]:.2e}" for k in ("g", "d", "g_ema")))
    ok = worst_early <= a.tolerance
    print(f"\nfirst {early} steps: max |loss diff| {worst_early:.2e} "
          f"({'within' if ok else 'OVER'} {a.tolerance:g})")
    summary = {"steps": a.steps, "seed": a.seed, "losses": rows, "weights_moved": moved,
               "weights_rust_vs_torch_early": early_rust,
               "weights_rust_vs_torch": end_rust, "weights_torch_threads": end_threads,
               "early_steps": early, "early_max_loss_diff": worst_early, "ok": ok}
    with open(os.path.join(a.out, "trajectory.json"), "w") as f:
        json.dump(summary, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""The timing loop shared by the PyTorch eager bench scripts (`cargo xtask bench`)."""
import time

import torch


def time_steps(train_step, warmup, steps, dev):
    """Runs `train_step` `warmup` times untimed, then `steps` times timed; returns ms per step.

    On CUDA the device is synchronised around the timed steps and the peak-memory counter is
    reset after the warm-up, so `torch.cuda.max_memory_allocated()` covers the timed steps.
    """
    for _ in range(warmup):
        train_step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3 / steps

"""Reference values for gan-eval's image-to-image translation scores
(crates/gan-eval/src/translation.rs, checked by crates/gan-eval/tests/translation.rs).

A few small seeded uint8 image pairs (grey and RGB, square and not, and images smaller than
the 11x11 SSIM window), scored by a plain NumPy transcription of the definitions of
scripts/pix2pix_edges.py's `scores` (nothing beyond numpy is needed), on x = uint8 / 255 in
float64:

- L1: per image the mean absolute difference over channels and pixels; the mean over images.
- PSNR: per image 10 log10(1 / max(MSE, 1e-10)) (data range 1, at most 100 dB); the mean.
- SSIM (Wang et al. 2004): Gaussian window of sigma 1.5, 1-D weights
  g(t) = exp(-(t - (s - 1) / 2)^2 / (2 sigma^2)), t = 0..s, normalised to sum 1, the 2-D
  window their outer product (so it sums to 1); s = 11 on both sides, or min(11, H) x
  min(11, W) for images smaller than 11 on a side (the PyTorch reference only knows 11x11).
  Local weighted means over the 'valid' window positions only (no padding), biased
  variances and covariance E[x^2] - mu^2, E[xy] - mu_x mu_y; C1 = 0.01^2, C2 = 0.03^2;
  map = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
  sigma_y^2 + C2)); per image the mean of the map over channels and positions; the mean over
  images.

The local sums here are explicit weighted sums over numpy sliding windows (no convolution
routine). When torch can be imported (the toolkit venv has it), the cases with both sides
>= 11 are also scored by scripts/pix2pix_edges.py's own `scores` and must agree to 1e-12.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/translation_fixtures_eval.py
Writes crates/gan-eval/tests/fixtures/translation/{ID-output.npy, ID-target.npy, expected.json}
(uint8 (N, C, H, W) arrays per case ID).
"""
import json
import os
import platform
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "gan-eval", "tests", "fixtures", "translation")

SIGMA, WINDOW, K1, K2, MSE_FLOOR = 1.5, 11, 0.01, 0.03, 1e-10


def gaussian_1d(size, sigma=SIGMA):
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-t * t / (2 * sigma * sigma))
    return g / g.sum()


def window(h, w):
    return np.outer(gaussian_1d(min(WINDOW, h)), gaussian_1d(min(WINDOW, w)))


def local_mean(img, win):
    """Weighted sums of win over every valid position of img (C, H, W) -> (C, H', W')."""
    views = np.lib.stride_tricks.sliding_window_view(img, win.shape, axis=(1, 2))
    return np.einsum("chwij,ij->chw", views, win)


def ssim_image(x, y):
    """Mean SSIM map of one image pair (C, H, W) in [0, 1]."""
    win = window(*x.shape[1:])
    c1, c2 = K1 ** 2, K2 ** 2
    mx, my = local_mean(x, win), local_mean(y, win)
    vx = local_mean(x * x, win) - mx * mx
    vy = local_mean(y * y, win) - my * my
    cxy = local_mean(x * y, win) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(smap.mean()), list(smap.shape)


def scores(output_u8, target_u8):
    x = output_u8.astype(np.float64) / 255.0
    y = target_u8.astype(np.float64) / 255.0
    n = x.shape[0]
    l1 = np.abs(x - y).reshape(n, -1).mean(1)
    mse = np.maximum(((x - y) ** 2).reshape(n, -1).mean(1), MSE_FLOOR)
    psnr = 10.0 * np.log10(1.0 / mse)
    per = [ssim_image(x[i], y[i]) for i in range(n)]
    ssim = np.array([p[0] for p in per])
    return dict(l1=float(l1.mean()), psnr=float(psnr.mean()), ssim=float(ssim.mean()),
                ssim_per_image=ssim.tolist(), ssim_map_shape=per[0][1])


def pair(rng, shape, noise, offset=0):
    """A smooth-ish target (blocky gradients plus texture) and a noisy, shifted output."""
    n, c, h, w = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = 255 * (0.5 + 0.4 * np.sin(6 * xx + rng.uniform(0, 6, (n, c, 1, 1)))
                  * np.cos(4 * yy + rng.uniform(0, 6, (n, c, 1, 1))))
    target = np.clip(np.round(base + rng.normal(0, 20, shape)), 0, 255)
    output = np.clip(np.round(target + offset + rng.normal(0, noise, shape)), 0, 255)
    return output.astype(np.uint8), target.astype(np.uint8)


def torch_reference():
    """scripts/pix2pix_edges.py's `scores`, or None without torch."""
    try:
        sys.path.insert(0, HERE)
        from pix2pix_edges import scores as torch_scores
    except ImportError as e:
        print(f"torch cross-check skipped: {e}")
        return None
    return torch_scores


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250612)
    specs = [
        ("grey32", "grey 32x32", (3, 1, 32, 32), 25.0, 0),
        ("rgb16x20", "RGB 16x20, output brighter", (2, 3, 16, 20), 40.0, 10),
        ("c2_11x13", "two channels 11x13 (the window fits one row)", (2, 2, 11, 13), 15.0, -5),
        ("grey8x6", "grey 8x6 (window 8x6, a 1x1 map)", (2, 1, 8, 6), 30.0, 0),
        ("grey5x40", "grey 5x40 (window 5x11)", (2, 1, 5, 40), 30.0, 3),
        ("close12", "near-identical grey 12x12", (2, 1, 12, 12), 0.6, 0),
    ]
    torch_scores = torch_reference()
    cases = []
    for case_id, name, shape, noise, offset in specs:
        output, target = pair(rng, shape, noise, offset)
        s = scores(output, target)
        case = dict(id=case_id, name=name, shape=list(shape), noise_std=noise, offset=offset, **s)
        if torch_scores is not None and min(shape[2:]) >= WINDOW:
            t = torch_scores(output, target)
            worst = max(abs(t[k] - s[k]) / abs(s[k]) for k in ("l1", "psnr", "ssim"))
            assert worst < 1e-12, (name, t, s)
            case["pix2pix_edges_max_relative_difference"] = worst
        np.save(os.path.join(OUT, f"{case_id}-output.npy"), output)
        np.save(os.path.join(OUT, f"{case_id}-target.npy"), target)
        cases.append(case)
        print(f"{name}: L1 {s['l1']:.6f} PSNR {s['psnr']:.4f} SSIM {s['ssim']:.6f} "
              f"(map {s['ssim_map_shape']})")

    expected = dict(
        generator="scripts/translation_fixtures_eval.py",
        versions=dict(python=platform.python_version(), numpy=np.__version__),
        formula="x = uint8 / 255; L1, PSNR = 10 log10(1 / max(MSE, 1e-10)) and SSIM (Gaussian "
                "window sigma 1.5, min(11, H) x min(11, W), valid positions, biased variances, "
                "C1 = 0.01^2, C2 = 0.03^2) per image, means over images, of ID-output.npy against "
                "ID-target.npy",
        cases=cases)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

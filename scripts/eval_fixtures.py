"""Reference values for gan-eval's feature-space scores (crates/gan-eval/tests/metrics_reference.rs).

The feature sets are seeded random matrices; the expected numbers come from plain NumPy/SciPy
transcriptions of the reference implementations, written out below (not imported, so that no
package beyond numpy and scipy is needed):

- FID: pytorch-fid's `calculate_frechet_distance` (src/pytorch_fid/fid_score.py): statistics
  `np.mean(axis=0)`, `np.cov(rowvar=False)`; `scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)`,
  the `eps * I` offset on both covariances when that is not finite, the imaginary part dropped.
- KID: stylegan2-ada-pytorch's metrics/kernel_inception_distance.py (cubic polynomial kernel,
  unbiased MMD^2, averaged over subsets of size m = min(n_real, n_fake, max_subset_size)), with
  the standard deviation over subsets as torch-fidelity reports it (np.std, ddof 0). The subset
  indices come from the same SplitMix64 + partial Fisher-Yates sampler as gan-eval's `kid`
  (re-implemented below), so the subset case is exact too.
- Precision/recall: stylegan2-ada-pytorch's metrics/precision_recall.py (radius = distance to
  the k-th nearest neighbour, the (k+1)-th smallest distance counting the sample itself; a
  probe is inside when dist <= radius of some manifold sample), in float64.
- Density/coverage: clovaai/generative-evaluation-prdc's compute_prdc (strict `<`).
- Inception Score: the original (openai/improved-gan inception_score.py; torch-fidelity's
  isc_features_to_metric without its shuffle): contiguous splits `i*N//splits:(i+1)*N//splits`,
  exp(mean_x KL(p(y|x) || p(y))) per split, mean and np.std over splits.

Distances are computed directly as sqrt(sum((x - y)^2)) in float64 (the most accurate form);
the script checks that no probe lies within a relative 1e-9 of a radius, so the discrete
inside/outside decisions cannot depend on how a distance is rounded.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python scripts/eval_fixtures.py
Writes crates/gan-eval/tests/fixtures/metrics/{*.npy, expected.json}.
"""
import json
import os
import platform
import warnings

import numpy as np
import scipy
from scipy import linalg

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "gan-eval",
                   "tests", "fixtures", "metrics")
MASK = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# FID: pytorch-fid's statistics and Frechet distance.

def activation_statistics(act):
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def frechet_distance_pytorch_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape
    diff = mu1 - mu2
    offset_used = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `disp` is deprecated in SciPy 1.16+
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset_used = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    fd = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean
    return float(fd), offset_used


def frechet_distance_eigh(mu1, sigma1, mu2, sigma2):
    """Independent check: Tr (S1 S2)^(1/2) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))."""
    w, v = np.linalg.eigh(sigma1)
    s1_half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = s1_half @ sigma2 @ s1_half
    tr = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr)


# ---------------------------------------------------------------------------------------------
# KID: gan-eval's subset sampler and stylegan2-ada's estimator.

class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        """Uniform in [0, bound) by rejection (no modulo bias)."""
        threshold = ((1 << 64) - bound) % bound
        while True:
            r = self.next_u64()
            if r >= threshold:
                return r % bound


def choose(rng, n, m):
    """m of range(n) without replacement: the first m of a partial Fisher-Yates shuffle."""
    perm = list(range(n))
    for i in range(m):
        j = i + rng.below(n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm[:m], dtype=np.int64)


def kid_stylegan2_ada(real, fake, num_subsets, max_subset_size, seed):
    n = real.shape[1]
    m = min(min(real.shape[0], fake.shape[0]), max_subset_size)
    rng = SplitMix64(seed)
    per_subset = []
    for _ in range(num_subsets):
        x = fake[choose(rng, fake.shape[0], m)]
        y = real[choose(rng, real.shape[0], m)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
        per_subset.append(t / m)
    # stylegan2-ada: kid = sum(t) / num_subsets / m, i.e. the mean of the per-subset values.
    return float(np.mean(per_subset)), float(np.std(per_subset)), m


# ---------------------------------------------------------------------------------------------
# Nearest-neighbour scores.

def pairwise(x, y):
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def kth_radii(x, k):
    """Distance to the k-th nearest neighbour: the (k+1)-th smallest, self (0) included."""
    d = pairwise(x, x)
    return np.sort(d, axis=1)[:, k]


def margin(dist, radii_per_col):
    """Smallest |dist - radius| / radius over all (probe, manifold sample) pairs."""
    return float((np.abs(dist - radii_per_col[None, :]) / radii_per_col[None, :]).min())


def precision_recall_stylegan2_ada(real, fake, k):
    results, margins = {}, []
    for name, manifold, probes in [("precision", real, fake), ("recall", fake, real)]:
        kth = kth_radii(manifold, k)
        dist = pairwise(probes, manifold)  # [probes, manifold]
        results[name] = float((dist <= kth[None, :]).any(axis=1).astype(np.float64).mean())
        margins.append(margin(dist, kth))
    return results["precision"], results["recall"], min(margins)


def density_coverage_prdc(real, fake, k):
    radii = kth_radii(real, k)  # [real]
    dist = pairwise(real, fake)  # [real, fake]
    inside = dist < radii[:, None]
    density = inside.sum(axis=0).mean() / float(k)
    coverage = (dist.min(axis=1) < radii).mean()
    return float(density), float(coverage), margin(dist.T, radii)


# ---------------------------------------------------------------------------------------------
# Inception Score: the original formula on class probabilities.

def inception_score_original(preds, splits):
    n = preds.shape[0]
    per_split = []
    for i in range(splits):
        chunk = preds[i * n // splits:(i + 1) * n // splits]
        marginal = chunk.mean(axis=0, keepdims=True)
        mean_kl = (chunk * (np.log(chunk) - np.log(marginal))).sum(axis=1).mean()
        per_split.append(np.exp(mean_kl))
    return float(np.mean(per_split)), float(np.std(per_split))


# ---------------------------------------------------------------------------------------------

def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250611)

    # Nearest-neighbour / KID features: correlated Gaussians; fake scaled and shifted.
    d = 64
    mix = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
    real = rng.standard_normal((200, d)) @ mix
    shift = rng.standard_normal(d)
    fake = 1.05 * rng.standard_normal((150, d)) @ mix + 0.3 * shift
    # FID features: non-negative (ReLU), like Inception pool features.
    dfid = 256
    mix_fid = rng.standard_normal((dfid, dfid)) / np.sqrt(dfid)
    fid_real = np.maximum(rng.standard_normal((400, dfid)) @ mix_fid + 0.2, 0.0)
    fid_fake = np.maximum(1.1 * rng.standard_normal((400, dfid)) @ mix_fid + 0.3, 0.0)
    # Class probabilities: softmax of logits with a preferred class per sample.
    classes = 10
    pref = rng.integers(0, classes, 250)
    logits = rng.standard_normal((250, classes)) * 1.5
    logits[np.arange(250), pref] += 3.0
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)

    arrays = dict(real=real, fake=fake, fid_real=fid_real, fid_fake=fid_fake, probs=probs)
    for name, a in arrays.items():
        np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a, dtype=np.float64))

    cases = {}

    fid = []
    for rows in (400, 100):
        mu1, s1 = activation_statistics(fid_real[:rows])
        mu2, s2 = activation_statistics(fid_fake[:rows])
        value, offset_used = frechet_distance_pytorch_fid(mu1, s1, mu2, s2)
        fid.append(dict(rows=rows, features=dfid, rank=int(np.linalg.matrix_rank(s1)),
                        fid=value, sqrtm_eps_offset_used=offset_used,
                        fid_eigh=frechet_distance_eigh(mu1, s1, mu2, s2)))
    cases["fid"] = dict(
        formula="pytorch-fid calculate_frechet_distance(np.mean, np.cov(rowvar=False)) of "
                "fid_real[:rows] and fid_fake[:rows]; fid_eigh = the same distance with the "
                "trace of the square root from symmetric eigendecompositions (information)",
        cases=fid)

    kid = []
    for real_rows, subsets, max_size, seed in [(150, 100, 1000, 0), (200, 10, 50, 12345)]:
        mean, std, m = kid_stylegan2_ada(real[:real_rows], fake, subsets, max_size, seed)
        kid.append(dict(real_rows=real_rows, num_subsets=subsets, max_subset_size=max_size,
                        seed=seed, subset_size=m, mean=mean, std=std))
    cases["kid"] = dict(
        formula="stylegan2-ada kernel_inception_distance (x = fake subset, y = real subset), "
                "mean = kid, std = np.std of the per-subset estimates; real[:real_rows] vs "
                "fake; subsets from SplitMix64(seed) + partial Fisher-Yates, fake then real",
        cases=kid)

    pr = []
    for k in (3, 5):
        p, r, mg = precision_recall_stylegan2_ada(real, fake, k)
        pr.append(dict(k=k, precision=p, recall=r, min_relative_margin=mg))
    cases["precision_recall"] = dict(
        formula="stylegan2-ada precision_recall: kthvalue(k + 1) radii, dist <= radius, float64",
        cases=pr)

    dc = []
    for k in (3, 5):
        den, cov, mg = density_coverage_prdc(real, fake, k)
        dc.append(dict(k=k, density=den, coverage=cov, min_relative_margin=mg))
    cases["density_coverage"] = dict(
        formula="prdc compute_prdc density and coverage (strict <)", cases=dc)

    isc = []
    for rows, splits in [(250, 10), (247, 10), (250, 1), (250, 3)]:
        mean, std = inception_score_original(probs[:rows], splits)
        isc.append(dict(rows=rows, splits=splits, mean=mean, std=std))
    cases["inception_score"] = dict(
        formula="original Inception Score on probs[:rows], contiguous splits, np.std",
        cases=isc)

    for name in ("precision_recall", "density_coverage"):
        for c in cases[name]["cases"]:
            assert c["min_relative_margin"] > 1e-9, (name, c)
    for c in fid:
        assert abs(c["fid"] - c["fid_eigh"]) <= 1e-6 * abs(c["fid"]), c

    expected = dict(
        generator="scripts/eval_fixtures.py",
        versions=dict(python=platform.python_version(), numpy=np.__version__,
                      scipy=scipy.__version__),
        arrays={name: list(a.shape) for name, a in arrays.items()},
        **cases)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    print(json.dumps(cases, indent=2))


if __name__ == "__main__":
    main()

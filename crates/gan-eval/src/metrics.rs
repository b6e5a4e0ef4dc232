//! The standard feature-space scores of generated samples, each computed as its reference
//! implementation computes it: Kernel Inception Distance ([`kid`]), improved precision and
//! recall ([`precision_recall`]), density and coverage ([`density_coverage`]) and the Inception
//! Score ([`inception_score`]).
//!
//! Features are `[N, D]` tensors of any numeric kind on any device (Inception pool features
//! for KID, VGG-16 features for precision/recall in stylegan2-ada's protocol, or the domain
//! classifier's); every score copies them to the CPU and computes in float64. Pairwise
//! Euclidean distances are computed in row blocks of about 2^24 values (128 MiB), as
//! `sqrt(max(|x|^2 + |y|^2 - 2 x.y, 0))`, so 10k x 10k sets of 2048-d features need a few
//! hundred MiB beyond the features themselves.
//!
//! `scripts/eval_fixtures.py` computes every score with NumPy transcriptions of the reference
//! code; `tests/metrics_reference.rs` checks these functions against it.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// The neighbourhood size of improved precision and recall: stylegan2-ada's `nhood_size` and
/// Kynkaanniemi et al.'s recommendation, `k = 3`.
pub const DEFAULT_PR_NEIGHBOURS: usize = 3;

/// The neighbourhood size of density and coverage recommended by Naeem et al. (`k = 5`).
pub const DEFAULT_DC_NEIGHBOURS: usize = 5;

/// Values per block of a pairwise-distance matrix (float64: 128 MiB).
const BLOCK_VALUES: i64 = 1 << 24;

/// Tolerance on the row sums of class probabilities given to [`inception_score`].
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// How [`kid`] draws its subsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KidOptions {
    /// Number of subsets averaged (stylegan2-ada and torch-fidelity: 100).
    pub num_subsets: usize,
    /// Largest subset size `m` (stylegan2-ada and torch-fidelity: 1000); the size used is
    /// `min(n_real, n_fake, max_subset_size)`.
    pub max_subset_size: usize,
    /// Seed of the subset sampler; the result depends on it and on nothing else (not on
    /// torch's global generator).
    pub seed: u64,
}

impl Default for KidOptions {
    /// 100 subsets of at most 1000 samples, seed 0.
    fn default() -> Self {
        Self {
            num_subsets: 100,
            max_subset_size: 1000,
            seed: 0,
        }
    }
}

/// The Kernel Inception Distance and its spread over subsets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KidResult {
    /// Mean of the per-subset unbiased MMD^2 estimates: stylegan2-ada's `kid`,
    /// torch-fidelity's `kernel_inception_distance_mean`.
    pub mean: f64,
    /// Standard deviation of the per-subset estimates (`numpy.std`, ddof 0), torch-fidelity's
    /// `kernel_inception_distance_std`.
    pub std: f64,
    /// The subset size `m = min(n_real, n_fake, max_subset_size)`.
    pub subset_size: usize,
    /// Subsets averaged.
    pub num_subsets: usize,
}

/// Kernel Inception Distance (Binkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs",
/// ICLR 2018): the unbiased estimate of the squared maximum mean discrepancy between the real
/// and generated feature distributions under the cubic polynomial kernel
/// `k(x, y) = (x.y / D + 1)^3`, averaged over random subsets, exactly as stylegan2-ada-pytorch's
/// `metrics/kernel_inception_distance.py` computes it:
///
/// ```text
/// m = min(n_real, n_fake, max_subset_size)
/// for each subset s:   x = m fake rows, y = m real rows (without replacement)
///     a = k(x, x) + k(y, y)            ([m, m] kernel matrices)
///     b = k(x, y)
///     t_s = (sum(a) - trace(a)) / (m - 1) - 2 sum(b) / m
///     mmd2_s = t_s / m
///         = sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2
/// mean = sum_s mmd2_s / num_subsets,   std = sqrt(sum_s (mmd2_s - mean)^2 / num_subsets)
/// ```
///
/// The estimate is unbiased, so sets from the same distribution give values scattered around
/// 0, slightly negative ones included. In float64 on the CPU.
///
/// Subsets: subset `s` takes the first `m` entries of a partial Fisher-Yates shuffle of
/// `0..n_fake`, then likewise of `0..n_real`, all indices drawn from one SplitMix64 stream
/// seeded with `opts.seed` (uniform integers by rejection, no modulo bias), so the value is a
/// function of the features and the options only. (stylegan2-ada draws from NumPy's global
/// generator, torch-fidelity from `RandomState(seed)`; the estimator is theirs, the random
/// subsets are not bit-identical to theirs.) When `m` equals both set sizes every subset is a
/// whole set, every per-subset value is the full-set unbiased MMD^2, and it is computed once:
/// `mean` is that value and `std` is 0 (the reference gets the same value up to summation
/// order).
///
/// Errors ([`Error::Shape`]): features not `[N, D]` with `N >= 2`, different `D`, non-finite
/// values, `num_subsets == 0`, `max_subset_size < 2`.
pub fn kid(real: &Tensor, fake: &Tensor, opts: KidOptions) -> Result<KidResult> {
    let _no_grad = tch::no_grad_guard();
    let (real, fake) = feature_pair("KID", real, fake, 2, 2)?;
    if opts.num_subsets == 0 {
        return Err(Error::Shape("KID needs num_subsets >= 1, got 0".into()));
    }
    if opts.max_subset_size < 2 {
        return Err(Error::Shape(format!(
            "KID needs max_subset_size >= 2 (the estimator divides by m - 1), got {}",
            opts.max_subset_size
        )));
    }
    let (n_real, n_fake) = (rows(&real), rows(&fake));
    let d = real.size()[1] as f64;
    let m = n_real.min(n_fake).min(opts.max_subset_size);
    let result = |per_subset: &[f64]| {
        let n = per_subset.len() as f64;
        let mean = per_subset.iter().sum::<f64>() / n;
        let var = per_subset.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        KidResult {
            mean,
            std: var.sqrt(),
            subset_size: m,
            num_subsets: opts.num_subsets,
        }
    };
    if m == n_real && m == n_fake {
        let whole = unbiased_mmd2(&fake, &real, d)?;
        return Ok(KidResult {
            mean: whole,
            ..result(&[whole])
        });
    }
    let mut rng = SplitMix64(opts.seed);
    let mut per_subset = Vec::with_capacity(opts.num_subsets);
    for _ in 0..opts.num_subsets {
        let fake_idx = Tensor::from_slice(&choose(&mut rng, n_fake, m));
        let real_idx = Tensor::from_slice(&choose(&mut rng, n_real, m));
        let x = fake.index_select(0, &fake_idx);
        let y = real.index_select(0, &real_idx);
        per_subset.push(unbiased_mmd2(&x, &y, d)?);
    }
    Ok(result(&per_subset))
}

/// Improved precision and recall (Kynkaanniemi, Karras, Laine, Lehtinen & Aila, "Improved
/// Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019), as
/// stylegan2-ada-pytorch's `metrics/precision_recall.py` computes them; returns
/// `(precision, recall)`.
///
/// Each set approximates its manifold by the union of balls around its samples, the radius
/// of sample `i` being the Euclidean distance to its `k`-th nearest neighbour in its own set
/// (`r_i = NN_k(i)`; stylegan2-ada takes `kthvalue(k + 1)` of the distances counting the
/// sample's zero distance to itself, which is the same):
///
/// ```text
/// precision = (1/M) sum_j 1[ exists i: ||fake_j - real_i|| <= r_real_i ]
/// recall    = (1/N) sum_i 1[ exists j: ||real_i - fake_j|| <= r_fake_j ]
/// ```
///
/// Note the `<=` of stylegan2-ada (prdc's precision and recall use `<`; with continuous
/// features the two agree). Distances in float64 (stylegan2-ada rounds the features to
/// float16 and computes distances in float32, which moves a few samples across the radii of
/// large sets). Three distance matrices are computed, real x real, fake x fake and real x fake,
/// in row blocks.
///
/// Errors ([`Error::Shape`]): features not `[N, D]`, different `D`, non-finite values,
/// `k == 0`, or a set with fewer than `k + 1` samples.
pub fn precision_recall(real: &Tensor, fake: &Tensor, k: usize) -> Result<(f64, f64)> {
    let _no_grad = tch::no_grad_guard();
    check_k("precision/recall", k)?;
    let min_rows = k as i64 + 1;
    let (real, fake) = feature_pair("precision/recall", real, fake, min_rows, min_rows)?;
    let n = neighbourhoods(&Points::new(real), &Points::new(fake), Some(k), None)?;
    Ok((n.precision, n.recall))
}

/// Density and coverage (Naeem, Oh, Uh, Choi & Yoo, "Reliable Fidelity and Diversity Metrics
/// for Generative Models", ICML 2020), as clovaai/generative-evaluation-prdc's `compute_prdc`
/// computes them; returns `(density, coverage)`.
///
/// With `r_i` the distance from real sample `i` to its `k`-th nearest real neighbour (itself
/// excluded; prdc's `get_kth_value(k + 1)` counting the zero self-distance), `N` real and `M`
/// fake samples:
///
/// ```text
/// density  = 1/(k M) sum_j sum_i 1[ ||fake_j - real_i|| < r_i ]
/// coverage = (1/N)   sum_i 1[ min_j ||real_i - fake_j|| < r_i ]
/// ```
///
/// Note prdc's strict `<` (stylegan2-ada's precision/recall uses `<=`). Density is not
/// bounded by 1: about 1 when the fake samples follow the real distribution, above 1 when they
/// crowd the dense regions of the real manifold. For a fake set equal to the real one (no tied
/// distances) it is exactly 1: each real sample's ball holds itself and its `k - 1` nearer
/// neighbours, the `k`-th lying on the boundary. Coverage is in `[0, 1]`. Float64, distances in row blocks
/// (real x real, real x fake).
///
/// Errors ([`Error::Shape`]): features not `[N, D]`, different `D`, non-finite values,
/// `k == 0`, fewer than `k + 1` real samples, no fake sample.
pub fn density_coverage(real: &Tensor, fake: &Tensor, k: usize) -> Result<(f64, f64)> {
    let _no_grad = tch::no_grad_guard();
    check_k("density/coverage", k)?;
    let (real, fake) = feature_pair("density/coverage", real, fake, k as i64 + 1, 1)?;
    let n = neighbourhoods(&Points::new(real), &Points::new(fake), None, Some(k))?;
    Ok((n.density, n.coverage))
}

/// Improved precision and recall (`<=`, k = `pr_k`) and density and coverage (`<`, k = `dc_k`)
/// together, each exactly as [`precision_recall`] and [`density_coverage`] compute it, from
/// three distance matrices (real x real, fake x fake, real x fake) instead of five.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeighbourScores {
    /// Improved precision.
    pub precision: f64,
    /// Improved recall.
    pub recall: f64,
    /// Density.
    pub density: f64,
    /// Coverage.
    pub coverage: f64,
}

/// See [`NeighbourScores`]. Errors as [`precision_recall`] and [`density_coverage`].
pub fn neighbour_scores(
    real: &Tensor,
    fake: &Tensor,
    pr_k: usize,
    dc_k: usize,
) -> Result<NeighbourScores> {
    let _no_grad = tch::no_grad_guard();
    check_k("precision/recall", pr_k)?;
    check_k("density/coverage", dc_k)?;
    let (real, fake) = feature_pair(
        "precision/recall and density/coverage",
        real,
        fake,
        pr_k.max(dc_k) as i64 + 1,
        pr_k as i64 + 1,
    )?;
    neighbourhoods(
        &Points::new(real),
        &Points::new(fake),
        Some(pr_k),
        Some(dc_k),
    )
}

/// The one pass behind [`precision_recall`], [`density_coverage`] and [`neighbour_scores`]
/// (inputs already checked): real radii for each requested k from one real x real pass, fake
/// radii (precision/recall only) from a fake x fake pass, then one real x fake pass for all
/// four counts. Scores not requested are NaN.
fn neighbourhoods(
    real: &Points,
    fake: &Points,
    pr_k: Option<usize>,
    dc_k: Option<usize>,
) -> Result<NeighbourScores> {
    let ks: Vec<usize> = pr_k.into_iter().chain(dc_k).collect();
    let mut radii = knn_radii_multi(real, &ks)?.into_iter();
    let real_pr = pr_k.and_then(|_| radii.next());
    let real_dc = dc_k.and_then(|_| radii.next());
    let fake_radii_row = match pr_k {
        Some(k) => Some(knn_radii(fake, k)?.unsqueeze(0)),
        None => None,
    };
    let mut fake_inside = Tensor::zeros([fake.n], (Kind::Bool, Device::Cpu));
    let (mut real_inside, mut inside, mut covered) = (0i64, 0i64, 0i64);
    for (start, len) in row_blocks(real.n, fake.n) {
        let dist = real.distances_to(start, len, fake)?; // [len, M]
        if let (Some(real_pr), Some(fake_radii_row)) = (&real_pr, &fake_radii_row) {
            real_inside += dist
                .le_tensor(fake_radii_row)
                .any_dim(1, false)
                .sum(Kind::Int64)
                .f_int64_value(&[])?;
            let r_pr = real_pr.narrow(0, start, len).unsqueeze(1);
            let _ = fake_inside.logical_or_(&dist.le_tensor(&r_pr).any_dim(0, false));
        }
        if let Some(real_dc) = &real_dc {
            let r_dc = real_dc.narrow(0, start, len);
            inside += dist
                .lt_tensor(&r_dc.unsqueeze(1))
                .sum(Kind::Int64)
                .f_int64_value(&[])?;
            covered += dist
                .amin(1, false)
                .lt_tensor(&r_dc)
                .sum(Kind::Int64)
                .f_int64_value(&[])?;
        }
    }
    let fake_inside = fake_inside.sum(Kind::Int64).f_int64_value(&[])?;
    let or_nan = |k: Option<usize>, v: f64| if k.is_some() { v } else { f64::NAN };
    Ok(NeighbourScores {
        precision: or_nan(pr_k, fake_inside as f64 / fake.n as f64),
        recall: or_nan(pr_k, real_inside as f64 / real.n as f64),
        density: or_nan(
            dc_k,
            (inside as f64 / fake.n as f64) / dc_k.unwrap_or(1) as f64,
        ),
        coverage: or_nan(dc_k, covered as f64 / real.n as f64),
    })
}

/// Inception Score (Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved
/// Techniques for Training GANs", NeurIPS 2016) of class probabilities `probs` `[N, C]` (rows
/// `p(y|x)`, e.g. softmax of the Inception logits, summing to 1); returns the mean and the
/// standard deviation over `splits` splits (10 in the paper).
///
/// As the original code (openai/improved-gan `inception_score.py`) and torch-fidelity's
/// `isc_features_to_metric` compute it: the rows are cut into `splits` contiguous chunks,
/// chunk `s` being rows `s N / splits .. (s + 1) N / splits` (integer division), and
///
/// ```text
/// IS_s = exp( mean_{x in chunk s} KL(p(y|x) || p_s(y)) ),   p_s(y) = mean_{x in chunk s} p(y|x)
///      = exp( mean_x sum_y p(y|x) (ln p(y|x) - ln p_s(y)) )
/// mean = sum_s IS_s / splits,   std = sqrt(sum_s (IS_s - mean)^2 / splits)   (numpy.std)
/// ```
///
/// In float64; a zero probability contributes 0 (the limit of `p ln p`; the original code
/// would give NaN). torch-fidelity shuffles the rows first (`RandomState(2020)` permutation);
/// this function does not: shuffle before calling to reproduce that.
///
/// Errors ([`Error::Shape`]): `probs` not `[N >= 1, C >= 1]`, `splits` not in `1..=N`,
/// negative or non-finite values, or a row sum further than 1e-3 from 1 (logits passed
/// instead of probabilities).
pub fn inception_score(probs: &Tensor, splits: usize) -> Result<(f64, f64)> {
    let _no_grad = tch::no_grad_guard();
    let p = features("Inception Score: class probabilities", probs, 1)?;
    let n = rows(&p);
    if splits == 0 || splits > n {
        return Err(Error::Shape(format!(
            "Inception Score: splits must be in 1..={n} (the number of samples), got {splits}"
        )));
    }
    if p.lt(0.0).any().f_int64_value(&[])? != 0 {
        return Err(Error::Shape(
            "Inception Score: class probabilities must be >= 0 (pass softmax(logits), not logits)"
                .into(),
        ));
    }
    let worst = (p.sum_dim_intlist(1, false, Kind::Double) - 1.0)
        .abs()
        .max()
        .f_double_value(&[])?;
    if worst > ROW_SUM_TOLERANCE {
        return Err(Error::Shape(format!(
            "Inception Score: rows of class probabilities must sum to 1 (off by up to {worst:e}; \
             pass softmax(logits), not logits)"
        )));
    }
    let mut per_split = Vec::with_capacity(splits);
    for s in 0..splits {
        let (a, b) = (s * n / splits, (s + 1) * n / splits);
        let chunk = p.narrow(0, a as i64, (b - a) as i64);
        let marginal = chunk.mean_dim(0, true, Kind::Double);
        let kl = (&chunk * (chunk.log() - marginal.log()))
            .masked_fill(&chunk.eq(0.0), 0.0)
            .sum_dim_intlist(1, false, Kind::Double);
        per_split.push(kl.mean(Kind::Double).exp().f_double_value(&[])?);
    }
    let mean = per_split.iter().sum::<f64>() / splits as f64;
    let var = per_split.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok((mean, var.sqrt()))
}

/// `[N, D]` features with `N >= min_rows`, as a contiguous float64 CPU tensor with finite
/// values; `what` names them in errors.
fn features(what: &str, t: &Tensor, min_rows: i64) -> Result<Tensor> {
    if !t.defined() {
        return Err(Error::Shape(format!("{what}: undefined tensor")));
    }
    let size = t.size();
    match size[..] {
        [n, d] if n >= min_rows && d >= 1 => {}
        [n, d] if d >= 1 => {
            return Err(Error::Shape(format!(
                "{what}: need at least {min_rows} rows, got {n}"
            )))
        }
        _ => {
            return Err(Error::Shape(format!(
                "{what}: expected a [N, D] matrix with D >= 1, got shape {size:?}"
            )))
        }
    }
    let x = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Double)?
        .f_contiguous()?;
    if x.isfinite().all().f_int64_value(&[])? == 0 {
        return Err(Error::Shape(format!("{what}: NaN or infinite values")));
    }
    Ok(x)
}

/// Real and fake features of the same dimension, checked by [`features`].
fn feature_pair(
    score: &str,
    real: &Tensor,
    fake: &Tensor,
    min_real: i64,
    min_fake: i64,
) -> Result<(Tensor, Tensor)> {
    let real = features(&format!("{score}: real features"), real, min_real)?;
    let fake = features(&format!("{score}: fake features"), fake, min_fake)?;
    let (dr, df) = (real.size()[1], fake.size()[1]);
    if dr != df {
        return Err(Error::Shape(format!(
            "{score}: real and fake features differ in dimension ({dr} vs {df})"
        )));
    }
    Ok((real, fake))
}

fn check_k(score: &str, k: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::Shape(format!(
            "{score}: the neighbourhood size k must be >= 1, got 0"
        )));
    }
    Ok(())
}

fn rows(t: &Tensor) -> usize {
    t.size()[0] as usize
}

/// `[start, len)` row ranges of a `[rows, cols]` matrix, about [`BLOCK_VALUES`] values each.
fn row_blocks(rows: i64, cols: i64) -> impl Iterator<Item = (i64, i64)> {
    let step = (BLOCK_VALUES / cols.max(1)).clamp(1, rows.max(1));
    (0..rows)
        .step_by(step as usize)
        .map(move |start| (start, step.min(rows - start)))
}

/// A float64 point set with its squared norms.
struct Points {
    x: Tensor,
    sq: Tensor,
    n: i64,
}

impl Points {
    fn new(x: Tensor) -> Self {
        let sq = x.square().sum_dim_intlist(1, false, Kind::Double);
        let n = x.size()[0];
        Self { x, sq, n }
    }

    /// Euclidean distances `[len, other.n]` from rows `start..start + len` to `other`:
    /// `sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0))`. (Allocation failures are errors.)
    fn distances_to(&self, start: i64, len: i64, other: &Points) -> Result<Tensor> {
        let mut d = self.x.narrow(0, start, len).f_mm(&other.x.tr())?;
        d *= -2.0;
        d += self.sq.narrow(0, start, len).unsqueeze(1);
        d += other.sq.unsqueeze(0);
        let _ = d.clamp_min_(0.0);
        Ok(d.sqrt_())
    }
}

/// Distance of every point to its `k`-th nearest neighbour in its own set: the `(k + 1)`-th
/// smallest distance of its row, its own zero distance counted (`n > k` is checked by the
/// callers).
fn knn_radii(p: &Points, k: usize) -> Result<Tensor> {
    Ok(knn_radii_multi(p, &[k])?.remove(0))
}

/// [`knn_radii`] for several `k` from one pass over the distances.
fn knn_radii_multi(p: &Points, ks: &[usize]) -> Result<Vec<Tensor>> {
    let mut parts: Vec<Vec<Tensor>> = ks.iter().map(|_| Vec::new()).collect();
    for (start, len) in row_blocks(p.n, p.n) {
        let d = p.distances_to(start, len, p)?;
        for (part, &k) in parts.iter_mut().zip(ks) {
            part.push(d.f_kthvalue(k as i64 + 1, 1, false)?.0);
        }
    }
    parts.iter().map(|p| Ok(Tensor::f_cat(p, 0)?)).collect()
}

/// stylegan2-ada's per-subset estimate `t / m` for `x` (fake) and `y` (real), both `[m, D]`.
fn unbiased_mmd2(x: &Tensor, y: &Tensor, d: f64) -> Result<f64> {
    let m = x.size()[0] as f64;
    let kernel = |a: &Tensor, b: &Tensor| -> Result<Tensor> {
        let mut k = a.f_mm(&b.tr())?;
        k /= d;
        k += 1.0;
        Ok(k.pow_(3))
    };
    let a = kernel(x, x)? + kernel(y, y)?;
    let b = kernel(x, y)?;
    let a_sum = a.sum(Kind::Double).f_double_value(&[])?;
    let a_diag = a.trace().f_double_value(&[])?;
    let b_sum = b.sum(Kind::Double).f_double_value(&[])?;
    let t = (a_sum - a_diag) / (m - 1.0) - b_sum * 2.0 / m;
    Ok(t / m)
}

/// SplitMix64 (Steele, Lea & Flood 2014): the whole state is one `u64`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound >= 1`), by rejection: no modulo bias.
    fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let r = self.next_u64();
            if r >= threshold {
                return r % bound;
            }
        }
    }
}

/// `m` distinct indices of `0..n` (`m <= n`): the first `m` of a partial Fisher-Yates shuffle
/// of the identity.
fn choose(rng: &mut SplitMix64, n: usize, m: usize) -> Vec<i64> {
    let mut perm: Vec<i64> = (0..n as i64).collect();
    for i in 0..m {
        let j = i + rng.below((n - i) as u64) as usize;
        perm.swap(i, j);
    }
    perm.truncate(m);
    perm
}

#[cfg(test)]
mod tests {
    /// The combined pass gives exactly the separate functions' values.
    #[test]
    fn neighbour_scores_equal_the_separate_scores() {
        use super::*;
        // Two overlapping pseudo-random clouds (the sin-hash; no ties).
        let cloud = |n: i64, a: f64, shift: f64| {
            let v: Vec<f64> = (0..3 * n)
                .map(|i| ((i as f64 * a).sin() * 43_758.545_3).fract().abs() + shift)
                .collect();
            Tensor::from_slice(&v).view([n, 3])
        };
        let real = cloud(40, 12.9898, 0.0);
        let fake = cloud(30, 78.233, 0.2);
        let n = neighbour_scores(&real, &fake, 3, 5).unwrap();
        assert_eq!(
            (n.precision, n.recall),
            precision_recall(&real, &fake, 3).unwrap()
        );
        assert_eq!(
            (n.density, n.coverage),
            density_coverage(&real, &fake, 5).unwrap()
        );
        assert!(
            n.precision > 0.0 && n.recall > 0.0 && n.coverage > 0.0,
            "{n:?}"
        );
        assert!(neighbour_scores(&real, &fake, 0, 5).is_err());
        assert!(neighbour_scores(&real.narrow(0, 0, 5), &fake, 3, 5).is_err());
    }

    use super::*;

    /// Standard normal `[n, d]` from SplitMix64 and Box-Muller: test data that does not
    /// depend on torch's process-global generator (tests run in parallel threads).
    fn gauss(seed: u64, n: i64, d: i64) -> Tensor {
        let mut rng = SplitMix64(seed);
        let mut uniform = || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v: Vec<f64> = (0..n * d)
            .map(|_| {
                let (u1, u2) = (uniform(), uniform());
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect();
        Tensor::from_slice(&v).view([n, d])
    }

    fn randn(n: i64, d: i64) -> Tensor {
        gauss(0, n, d)
    }

    /// Two independent samples of one distribution: KID near 0 (unbiased, either sign);
    /// shifted samples: clearly positive. The set against itself is slightly negative
    /// (the cross term keeps the diagonal the within terms drop).
    #[test]
    fn kid_same_distribution_near_zero_shift_positive() {
        let (x, y) = (gauss(1, 500, 16), gauss(2, 500, 16));
        let same = kid(&x, &y, KidOptions::default()).unwrap();
        assert_eq!(same.subset_size, 500);
        assert_eq!(same.std, 0.0);
        assert!(same.mean.abs() < 0.01, "{same:?}");
        let shifted = kid(&x, &(&y + 1.0), KidOptions::default()).unwrap();
        assert!(shifted.mean > 0.5, "{shifted:?}");
        let itself = kid(&x, &x, KidOptions::default()).unwrap();
        assert!(itself.mean <= 0.0 && itself.mean > -0.05, "{itself:?}");
    }

    /// Subsets: the estimate depends on the seed only (not on torch's generator), uses
    /// m = min(n_real, n_fake, max_subset_size), and, given the data, is unbiased for the
    /// U-statistic of the whole sets: within-set kernel means over distinct pairs minus twice
    /// the cross-kernel mean.
    #[test]
    fn kid_subsets_are_seeded_and_unbiased_for_the_full_sets() {
        let x = gauss(3, 400, 8);
        let y = gauss(4, 300, 8) * 1.3 + 0.2;
        let opts = KidOptions {
            num_subsets: 400,
            max_subset_size: 100,
            seed: 9,
        };
        let a = kid(&x, &y, opts).unwrap();
        tch::manual_seed(123);
        let b = kid(&x, &y, opts).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.subset_size, a.num_subsets), (100, 400));
        let c = kid(&x, &y, KidOptions { seed: 10, ..opts }).unwrap();
        assert_ne!(a.mean, c.mean);
        let kern = |p: &Tensor, q: &Tensor| (p.mm(&q.tr()) / 8.0 + 1.0).pow_tensor_scalar(3);
        let off_mean = |p: &Tensor| {
            let k = kern(p, p);
            let n = p.size()[0] as f64;
            (k.sum(Kind::Double) - k.trace()).double_value(&[]) / (n * (n - 1.0))
        };
        let full =
            off_mean(&x) + off_mean(&y) - 2.0 * kern(&x, &y).mean(Kind::Double).double_value(&[]);
        // Independent subsets given the data: 5 standard errors.
        let se = a.std / (a.num_subsets as f64).sqrt();
        assert!(
            a.std > 0.0 && (a.mean - full).abs() < 5.0 * se,
            "{a:?} vs {full}"
        );
    }

    #[test]
    fn subset_sampler_draws_distinct_indices_in_range() {
        let mut rng = SplitMix64(42);
        for (n, m) in [(10, 10), (10, 3), (1000, 999), (5, 1)] {
            let mut idx = choose(&mut rng, n, m);
            assert_eq!(idx.len(), m);
            idx.sort_unstable();
            idx.dedup();
            assert_eq!(idx.len(), m);
            assert!(idx.iter().all(|&i| (0..n as i64).contains(&i)));
        }
        // Every index of 0..4 appears in the first position over many draws.
        let mut seen = [0usize; 4];
        for _ in 0..400 {
            seen[choose(&mut rng, 4, 1)[0] as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }

    #[test]
    fn identical_sets_score_one() {
        let x = gauss(5, 120, 10);
        for k in [1, 3, 5] {
            assert_eq!(precision_recall(&x, &x, k).unwrap(), (1.0, 1.0));
            let (density, coverage) = density_coverage(&x, &x, k).unwrap();
            assert_eq!(coverage, 1.0);
            // Exactly 1 by the definition (see the docs); allow the k-th neighbour on the
            // boundary to fall inside by round-off.
            assert!(
                (1.0..=1.0 + 1.0 / k as f64).contains(&density),
                "k = {k}: {density}"
            );
        }
    }

    #[test]
    fn far_apart_sets_score_zero() {
        let x = gauss(6, 80, 6);
        let y = gauss(7, 60, 6) + 1000.0;
        assert_eq!(precision_recall(&x, &y, 3).unwrap(), (0.0, 0.0));
        assert_eq!(density_coverage(&x, &y, 5).unwrap(), (0.0, 0.0));
    }

    /// A tiny case by hand: real points 0, 1, 2, 10 on a line (k = 1 radii 1, 1, 1, 8),
    /// fake points 0.5 and 20.
    #[test]
    fn line_example_by_hand() {
        let real = Tensor::from_slice(&[0.0, 1.0, 2.0, 10.0]).view([4, 1]);
        let fake = Tensor::from_slice(&[0.5, 20.0, 2.5]).view([3, 1]);
        // fake radii (k = 1): 0.5 -> 2.5 is 2; 20 -> 2.5 is 17.5; 2.5 -> 0.5 is 2.
        // precision: 0.5 in ball(0, 1) yes; 20 no (ball(10, 8) reaches 18); 2.5 in ball(2, 1).
        // recall: 0, 1, 2 within 2 of 0.5 or 2.5; 10 within 17.5 of 20.
        assert_eq!(precision_recall(&real, &fake, 1).unwrap(), (2.0 / 3.0, 1.0));
        // density: 0.5 is inside balls of 0 and 1 (distance 0.5 < 1), and of 10 (9.5 >= 8 no):
        // 2; 20: 0; 2.5: ball of 2 (0.5 < 1) and ball of 10 (7.5 < 8): 2. (4 / 3) / 1.
        // coverage: 0 (0.5 < 1), 1 (0.5 < 1), 2 (0.5 < 1), 10 (7.5 < 8): 1.
        let (density, coverage) = density_coverage(&real, &fake, 1).unwrap();
        assert!((density - 4.0 / 3.0).abs() < 1e-15, "{density}");
        assert_eq!(coverage, 1.0);
    }

    /// `<=` for precision/recall, `<` for density/coverage: a fake point exactly on a radius.
    #[test]
    fn boundary_counts_for_precision_not_for_density() {
        let real = Tensor::from_slice(&[0.0, 2.0]).view([2, 1]); // k = 1 radii: 2, 2
        let fake = Tensor::from_slice(&[4.0, 100.0]).view([2, 1]); // 4 is on ball(2, 2)
        let (precision, _) = precision_recall(&real, &fake, 1).unwrap();
        assert_eq!(precision, 0.5);
        let (density, coverage) = density_coverage(&real, &fake, 1).unwrap();
        assert_eq!((density, coverage), (0.0, 0.0));
    }

    #[test]
    fn inception_score_closed_forms() {
        let c = 4i64;
        // One-hot predictions, every class equally often: IS = C, per split too.
        let onehot = Tensor::eye(c, (Kind::Double, Device::Cpu)).repeat([6, 1]);
        let (mean, std) = inception_score(&onehot, 1).unwrap();
        assert!((mean - c as f64).abs() < 1e-12, "{mean}");
        assert_eq!(std, 0.0);
        let (mean, std) = inception_score(&onehot, 3).unwrap();
        assert!(
            (mean - c as f64).abs() < 1e-12 && std < 1e-12,
            "{mean} {std}"
        );
        // Uniform predictions: IS = 1.
        let uniform = Tensor::full([10, c], 0.25, (Kind::Float, Device::Cpu));
        let (mean, std) = inception_score(&uniform, 2).unwrap();
        assert!((mean - 1.0).abs() < 1e-12 && std < 1e-12, "{mean} {std}");
        // Collapse on one class: 1.
        let collapsed = Tensor::eye(c, (Kind::Double, Device::Cpu))
            .narrow(0, 1, 1)
            .repeat([8, 1]);
        let (mean, _) = inception_score(&collapsed, 2).unwrap();
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        // Two classes in the first split only: scores 2 and 1, mean 1.5, std 0.5.
        let rows = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
        let p = Tensor::from_slice(&rows.concat()).view([4, 2]);
        let (mean, std) = inception_score(&p, 2).unwrap();
        assert!(
            (mean - 1.5).abs() < 1e-12 && (std - 0.5).abs() < 1e-12,
            "{mean} {std}"
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = randn(10, 4);
        let msg = |r: Result<(f64, f64)>| r.unwrap_err().to_string();
        // Shapes.
        assert!(msg(precision_recall(&randn(10, 4).view([40]), &x, 3)).contains("[N, D]"));
        assert!(msg(precision_recall(&x, &randn(10, 5), 3)).contains("dimension"));
        assert!(density_coverage(&x, &randn(10, 4).view([2, 5, 4]), 3).is_err());
        assert!(kid(&x, &randn(10, 3), KidOptions::default()).is_err());
        assert!(kid(&Tensor::new(), &x, KidOptions::default()).is_err());
        // k versus N.
        assert!(msg(precision_recall(&x, &x, 0)).contains("k must be >= 1"));
        assert!(msg(precision_recall(&x, &x, 10)).contains("at least 11 rows"));
        assert!(precision_recall(&x, &x, 9).is_ok());
        assert!(precision_recall(&x, &randn(3, 4), 3).is_err());
        assert!(density_coverage(&x, &randn(1, 4), 3).is_ok());
        assert!(density_coverage(&x, &randn(0, 4), 3).is_err());
        assert!(density_coverage(&x, &x, 10).is_err());
        // KID sizes and options.
        assert!(kid(&randn(1, 4), &x, KidOptions::default()).is_err());
        let zero = KidOptions {
            num_subsets: 0,
            ..Default::default()
        };
        assert!(kid(&x, &x, zero).is_err());
        let tiny = KidOptions {
            max_subset_size: 1,
            ..Default::default()
        };
        assert!(kid(&x, &x, tiny).is_err());
        // Non-finite features.
        let bad = randn(10, 4);
        let _ = bad.get(3).get(1).fill_(f64::NAN);
        assert!(msg(precision_recall(&bad, &x, 3)).contains("NaN"));
        // Inception Score: logits, splits, shapes.
        let logits = randn(10, 4);
        assert!(msg(inception_score(&logits, 1)).contains("softmax"));
        let p = logits.softmax(1, Kind::Double);
        assert!(inception_score(&p, 10).is_ok());
        assert!(inception_score(&p, 11).is_err());
        assert!(inception_score(&p, 0).is_err());
        assert!(inception_score(&(&p * 2.0), 1)
            .unwrap_err()
            .to_string()
            .contains("sum to 1"));
        assert!(inception_score(&p.view([40]), 1).is_err());
    }
}

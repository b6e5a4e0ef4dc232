//! gan-eval's feature-space scores against NumPy/SciPy transcriptions of their reference
//! implementations (pytorch-fid, stylegan2-ada-pytorch, clovaai/generative-evaluation-prdc,
//! the original Inception Score). Fixtures and expected values come from
//! `scripts/eval_fixtures.py`; every score must agree to 1e-6 relative.

use std::path::{Path, PathBuf};

use gan_eval::{
    density_coverage, feature_stats, frechet_distance, inception_score, kid, precision_recall,
    KidOptions,
};
use serde_json::Value;
use tch::Tensor;

const REL_TOL: f64 = 1e-6;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metrics")
}

/// A float64 (`<f8`), C-order `.npy` array as a tensor.
fn npy_f64(name: &str) -> Tensor {
    let path = dir().join(format!("{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (descr, shape, data) =
        gan_data::npy::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(descr, "<f8", "{}", path.display());
    let n: usize = shape.iter().product();
    assert_eq!(data.len(), 8 * n, "{}", path.display());
    let values: Vec<f64> = data
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&values).view(shape.as_slice())
}

fn expected() -> Value {
    let path = dir().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases<'a>(e: &'a Value, score: &str) -> &'a [Value] {
    e[score]["cases"].as_array().unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn int(v: &Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}")) as usize
}

/// Relative error (absolute below 1e-12 in magnitude, for reference values that are ~0).
fn rel_err(ours: f64, theirs: f64) -> f64 {
    (ours - theirs).abs() / theirs.abs().max(1e-12)
}

fn check(what: &str, ours: f64, theirs: f64) -> f64 {
    let err = rel_err(ours, theirs);
    assert!(
        err <= REL_TOL,
        "{what}: ours {ours} vs reference {theirs} (relative error {err:e})"
    );
    println!("{what}: {ours} vs {theirs}, relative error {err:.2e}");
    err
}

fn rows(t: &Tensor, n: usize) -> Tensor {
    t.narrow(0, 0, n as i64)
}

fn assert_exists(p: &Path) {
    assert!(
        p.exists(),
        "{} missing: run scripts/eval_fixtures.py",
        p.display()
    );
}

#[test]
fn fixtures_are_present() {
    for name in ["real", "fake", "fid_real", "fid_fake", "probs"] {
        assert_exists(&dir().join(format!("{name}.npy")));
    }
    assert_exists(&dir().join("expected.json"));
}

/// pytorch-fid: full-rank covariances (400 x 256) and rank-deficient ones (100 x 256, rank 99).
#[test]
fn frechet_distance_matches_pytorch_fid() {
    let e = expected();
    let (real, fake) = (npy_f64("fid_real"), npy_f64("fid_fake"));
    for c in cases(&e, "fid") {
        let n = int(c, "rows");
        let (m1, s1) = feature_stats(&rows(&real, n)).unwrap();
        let (m2, s2) = feature_stats(&rows(&fake, n)).unwrap();
        let fd = frechet_distance(&m1, &s1, &m2, &s2).unwrap();
        check(&format!("FID rows {n}"), fd, num(c, "fid"));
    }
}

/// stylegan2-ada's KID: whole sets (m = n, exact full-set estimate) and 10 subsets of 50 drawn
/// by the same sampler as the script's.
#[test]
fn kid_matches_stylegan2_ada() {
    let e = expected();
    let (real, fake) = (npy_f64("real"), npy_f64("fake"));
    for c in cases(&e, "kid") {
        let opts = KidOptions {
            num_subsets: int(c, "num_subsets"),
            max_subset_size: int(c, "max_subset_size"),
            seed: c["seed"].as_u64().unwrap(),
        };
        let r = kid(&rows(&real, int(c, "real_rows")), &fake, opts).unwrap();
        assert_eq!(r.subset_size, int(c, "subset_size"));
        let what = format!("KID {opts:?}");
        check(&format!("{what} mean"), r.mean, num(c, "mean"));
        let std = num(c, "std");
        if std < 1e-12 * r.mean.abs() {
            // Whole sets: the reference's spread is summation round-off, ours is 0.
            assert_eq!(r.std, 0.0, "{what}");
        } else {
            check(&format!("{what} std"), r.std, std);
        }
    }
}

#[test]
fn precision_recall_matches_stylegan2_ada() {
    let e = expected();
    let (real, fake) = (npy_f64("real"), npy_f64("fake"));
    for c in cases(&e, "precision_recall") {
        let k = int(c, "k");
        let (p, r) = precision_recall(&real, &fake, k).unwrap();
        check(&format!("precision k={k}"), p, num(c, "precision"));
        check(&format!("recall k={k}"), r, num(c, "recall"));
    }
}

#[test]
fn density_coverage_matches_prdc() {
    let e = expected();
    let (real, fake) = (npy_f64("real"), npy_f64("fake"));
    for c in cases(&e, "density_coverage") {
        let k = int(c, "k");
        let (d, cov) = density_coverage(&real, &fake, k).unwrap();
        check(&format!("density k={k}"), d, num(c, "density"));
        check(&format!("coverage k={k}"), cov, num(c, "coverage"));
    }
}

#[test]
fn inception_score_matches_the_original() {
    let e = expected();
    let probs = npy_f64("probs");
    for c in cases(&e, "inception_score") {
        let (n, splits) = (int(c, "rows"), int(c, "splits"));
        let (mean, std) = inception_score(&rows(&probs, n), splits).unwrap();
        check(
            &format!("IS rows {n} splits {splits} mean"),
            mean,
            num(c, "mean"),
        );
        let theirs = num(c, "std");
        if theirs == 0.0 {
            assert_eq!(std, 0.0);
        } else {
            check(&format!("IS rows {n} splits {splits} std"), std, theirs);
        }
    }
}

/// Timing of the FID-sized case (10k vs 10k x 2048): `cargo test --release -p gan-eval
/// --test metrics_reference -- --ignored --nocapture`. Prints, asserts nothing about time.
#[test]
#[ignore = "timing only: 10k x 10k x 2048 features"]
fn timing_fid_sized() {
    use std::time::Instant;
    use tch::{Device, Kind};
    tch::manual_seed(0);
    let real = Tensor::randn([10_000, 2048], (Kind::Float, Device::Cpu)).relu();
    let fake = Tensor::randn([10_000, 2048], (Kind::Float, Device::Cpu)).relu() * 1.1;
    println!("threads: {}", tch::get_num_threads());
    let t = Instant::now();
    let r = kid(&real, &fake, KidOptions::default()).unwrap();
    println!(
        "kid (100 x 1000): {r:?} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let pr = precision_recall(&real, &fake, 3).unwrap();
    println!(
        "precision_recall k=3: {pr:?} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let dc = density_coverage(&real, &fake, 5).unwrap();
    println!(
        "density_coverage k=5: {dc:?} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

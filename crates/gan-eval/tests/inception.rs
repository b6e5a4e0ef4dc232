//! The TorchScript extractor path on a tiny stand-in with the real extractor's contract
//! (`scripts/export_inception.py --write-test-fixture`): loading, `info()`, the uint8 ->
//! [0, 1] -> RGB conversion and batching agree with the same module run from Python.

use std::path::{Path, PathBuf};

use gan_data::npy;
use gan_eval::{Error, Evaluator, FeatureCache, Inception, Reference};
use tch::{Device, Kind, Tensor};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inception")
}

fn npy_f32(name: &str) -> Tensor {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    let (descr, shape, data) = npy::parse(&bytes).unwrap();
    assert_eq!(descr, "<f4");
    let vals: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&vals).view(shape.as_slice())
}

fn input() -> Tensor {
    let a = npy::read_u8(&dir().join("input.npy")).unwrap();
    let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&a.data).view(shape.as_slice())
}

#[test]
fn features_match_python_for_any_batching() {
    let m = Inception::load(&dir().join("tiny.pt"), Device::Cpu).unwrap();
    assert_eq!(m.info.name, "tiny test extractor");
    assert_eq!((m.info.features, m.info.logits), (16, 10));
    assert!(!m.info.fid_weights);
    assert!(m.info.preprocessing.contains("299"));
    assert_eq!(m.sha256.len(), 64);
    let (want_f, want_l) = (
        npy_f32("expected_features.npy"),
        npy_f32("expected_logits.npy"),
    );
    for batch in [1, 4, 6, 100] {
        let mut calls = Vec::new();
        let (f, l) = m
            .extract_u8(&input(), batch, &mut |d, t| calls.push((d, t)))
            .unwrap();
        let err_f = (&f - &want_f).abs().max().double_value(&[]);
        let err_l = (&l - &want_l).abs().max().double_value(&[]);
        assert!(
            err_f < 1e-5 && err_l < 1e-5,
            "batch {batch}: {err_f} {err_l}"
        );
        assert_eq!(calls.last(), Some(&(6, 6)));
    }
    // Bad input: float images, or 2 channels.
    assert!(m
        .extract_u8(&input().to_kind(Kind::Float), 2, &mut |_, _| {})
        .is_err());
    let two = Tensor::zeros([2, 2, 8, 8], (Kind::Uint8, Device::Cpu));
    assert!(m.extract_u8(&two, 2, &mut |_, _| {}).is_err());
}

#[test]
fn a_missing_or_broken_file_says_what_to_do() {
    let e = Inception::load(Path::new("/nonexistent/fid.pt"), Device::Cpu).unwrap_err();
    assert!(matches!(e, Error::MissingExtractor { .. }));
    let msg = e.to_string();
    assert!(msg.contains("cargo xtask fetch-inception") && msg.contains("/nonexistent/fid.pt"));
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.pt");
    std::fs::write(&junk, b"not a zip").unwrap();
    let msg = Inception::load(&junk, Device::Cpu).unwrap_err().to_string();
    assert!(
        msg.contains("junk.pt") && msg.contains("TorchScript"),
        "{msg}"
    );
}

/// The evaluator with the extractor: IS from its logits, Frechet distance against a
/// reference (zero-ish against itself), and a missing extractor reported, not fatal.
#[test]
fn evaluator_scores_with_the_extractor_and_reports_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = FeatureCache::new(tmp.path());
    let m = Inception::load(&dir().join("tiny.pt"), Device::Cpu).unwrap();
    tch::manual_seed(0);
    let imgs =
        Tensor::randint(256, [60, 1, 28, 28], (Kind::Int64, Device::Cpu)).to_kind(Kind::Uint8);
    let reference = Reference {
        name: "noise".into(),
        images: imgs.shallow_clone(),
    };
    let opts = gan_eval::ScoreOptions {
        kid_subset_size: 60,
        kid_subsets: 5,
        ..Default::default()
    };
    let ev = Evaluator::new(
        None,
        Some(Ok(m)),
        Some(&reference),
        &cache,
        opts.clone(),
        &mut |_, _, _| {},
    )
    .unwrap();
    let r = ev.evaluate(&imgs, None, &mut |_, _, _| {}).unwrap();
    let inc = r.inception.as_ref().unwrap();
    assert!(inc.inception_score >= 1.0 && inc.inception_score <= 10.0);
    let f = inc.features.as_ref().unwrap();
    assert!(f.frechet_distance.abs() < 1e-6, "{f:?}");
    assert!(f.kid.abs() < 1e-3);
    assert_eq!((f.precision, f.recall, f.coverage), (1.0, 1.0, 1.0));
    assert!(r.markdown("t").contains("FID"));
    let missing = Inception::load(Path::new("/nonexistent/fid.pt"), Device::Cpu);
    let ev = Evaluator::new(None, Some(missing), None, &cache, opts, &mut |_, _, _| {}).unwrap();
    let r = ev.evaluate(&imgs, None, &mut |_, _, _| {}).unwrap();
    assert!(r.inception.is_none());
    assert!(r.inception_missing.unwrap().contains("fetch-inception"));
}

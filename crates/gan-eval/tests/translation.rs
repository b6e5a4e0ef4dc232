//! gan-eval's image-to-image translation scores: closed forms (identical images, a constant
//! offset), the NumPy transcription of `scripts/translation_fixtures_eval.py` (which also
//! checks itself against `scripts/pix2pix_edges.py`'s PyTorch `scores`) to 1e-9 relative, and
//! bad inputs.

use std::path::{Path, PathBuf};

use gan_data::npy;
use gan_eval::{translation_scores, Error, TranslationScores};
use serde_json::Value;
use tch::{Device, Kind, Tensor};

const REL_TOL: f64 = 1e-9;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/translation")
}

/// A uint8 `.npy` array of the fixtures as a tensor.
fn npy_u8(name: &str) -> Tensor {
    let path = dir().join(name);
    let a = npy::read_u8(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/translation_fixtures_eval.py)",
            path.display()
        )
    });
    let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&a.data).view(shape.as_slice())
}

fn expected() -> Value {
    let path = dir().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/translation_fixtures_eval.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {}", v["id"]))
}

fn check(what: &str, ours: f64, theirs: f64) {
    let err = (ours - theirs).abs() / theirs.abs().max(1e-12);
    assert!(
        err <= REL_TOL,
        "{what}: ours {ours} vs reference {theirs} (relative error {err:e})"
    );
    println!("{what}: {ours} vs {theirs}, relative error {err:.2e}");
}

fn images(seed: i64, shape: [i64; 4], high: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randint(high, shape, (Kind::Uint8, Device::Cpu))
}

#[test]
fn scores_match_the_numpy_transcription() {
    let e = expected();
    let cases = e["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let output = npy_u8(&format!("{id}-output.npy"));
        let target = npy_u8(&format!("{id}-target.npy"));
        let shape: Vec<i64> = c["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .collect();
        assert_eq!(output.size(), shape, "{id}");
        let s = translation_scores(&output, &target).unwrap();
        assert_eq!(s.n as i64, shape[0], "{id}");
        check(&format!("{id} L1"), s.l1, num(c, "l1"));
        check(&format!("{id} PSNR"), s.psnr, num(c, "psnr"));
        check(&format!("{id} SSIM"), s.ssim, num(c, "ssim"));
        // Per image too: the mean over images is not hiding compensating errors.
        for (i, want) in c["ssim_per_image"].as_array().unwrap().iter().enumerate() {
            let one = translation_scores(
                &output.narrow(0, i as i64, 1),
                &target.narrow(0, i as i64, 1),
            )
            .unwrap();
            check(
                &format!("{id} SSIM of image {i}"),
                one.ssim,
                want.as_f64().unwrap(),
            );
        }
    }
}

#[test]
fn identical_images_score_perfectly() {
    for shape in [[3, 1, 32, 32], [2, 3, 17, 9], [1, 1, 1, 1]] {
        let x = images(7, shape, 256);
        let s = translation_scores(&x, &x.copy()).unwrap();
        assert_eq!(s.n, shape[0] as usize);
        assert_eq!(s.l1, 0.0, "{shape:?}");
        assert!((s.psnr - 100.0).abs() < 1e-12, "{shape:?}: {s:?}");
        assert!((s.ssim - 1.0).abs() < 1e-12, "{shape:?}: {s:?}");
    }
    // Constant images too (zero variance everywhere).
    let black = Tensor::zeros([2, 1, 32, 32], (Kind::Uint8, Device::Cpu));
    let s = translation_scores(&black, &black).unwrap();
    assert_eq!((s.l1, s.ssim), (0.0, 1.0));
}

/// `output = target + k`: every pixel off by k / 255, so L1 = k / 255, MSE = (k / 255)^2 and
/// PSNR = 20 log10(255 / k); SSIM's structure terms stay 1 and the luminance term is < 1.
#[test]
fn a_constant_offset_gives_the_closed_forms() {
    for (k, shape) in [
        (1i64, [4, 1, 32, 32]),
        (5, [2, 3, 16, 16]),
        (51, [3, 1, 11, 11]),
    ] {
        let target = images(k, shape, 256 - k);
        let output = &target + k;
        let s = translation_scores(&output, &target).unwrap();
        let want_l1 = k as f64 / 255.0;
        let want_psnr = 20.0 * (255.0 / k as f64).log10();
        assert!((s.l1 - want_l1).abs() < 1e-15, "k = {k}: {s:?}");
        assert!(
            (s.psnr - want_psnr).abs() < 1e-10,
            "k = {k}: {s:?} vs {want_psnr}"
        );
        assert!(s.ssim < 1.0 && s.ssim > 0.9, "k = {k}: {s:?}");
        // The offset the other way round gives the same numbers.
        let back = translation_scores(&target, &output).unwrap();
        assert!((back.psnr - s.psnr).abs() < 1e-12 && (back.ssim - s.ssim).abs() < 1e-15);
    }
}

#[test]
fn bad_inputs_are_errors() {
    let x = images(1, [2, 1, 32, 32], 256);
    let msg = |r: gan_eval::Result<TranslationScores>| match r {
        Err(e @ Error::Shape(_)) => e.to_string(),
        other => panic!("expected a shape error, got {other:?}"),
    };
    // Shapes differ: the message names both.
    let m = msg(translation_scores(&x, &images(1, [2, 1, 32, 16], 256)));
    assert!(
        m.contains("[2, 1, 32, 32]") && m.contains("[2, 1, 32, 16]"),
        "{m}"
    );
    let m = msg(translation_scores(&images(1, [3, 1, 32, 32], 256), &x));
    assert!(
        m.contains("[3, 1, 32, 32]") && m.contains("[2, 1, 32, 32]"),
        "{m}"
    );
    // Empty batch, empty images, wrong rank, wrong kind, undefined.
    let empty = images(1, [0, 1, 32, 32], 256);
    assert!(msg(translation_scores(&empty, &empty)).contains("empty batch"));
    let flat = images(1, [2, 1, 0, 32], 256);
    assert!(translation_scores(&flat, &flat).is_err());
    let m = msg(translation_scores(
        &x.view([2, 32, 32]),
        &x.view([2, 32, 32]),
    ));
    assert!(m.contains("[N, C, H, W]"), "{m}");
    let f = x.to_kind(Kind::Float) / 127.5 - 1.0;
    let m = msg(translation_scores(&f, &x));
    assert!(m.contains("uint8") && m.contains("Float"), "{m}");
    assert!(msg(translation_scores(&x, &f)).contains("target"));
    assert!(msg(translation_scores(&Tensor::new(), &x)).contains("undefined"));
}

/// Timing of a test-split-sized case (10,000 grey 32x32 pairs): `cargo test --release -p
/// gan-eval --test translation -- --ignored --nocapture`. Prints, asserts nothing about time.
#[test]
#[ignore = "timing only: 10,000 pairs of 1x32x32"]
fn timing_10k_grey_32() {
    use std::time::Instant;
    let target = images(0, [10_000, 1, 32, 32], 256);
    let noise = images(1, [10_000, 1, 32, 32], 64).to_kind(Kind::Int16) - 32;
    let output = (target.to_kind(Kind::Int16) + noise)
        .clamp(0, 255)
        .to_kind(Kind::Uint8);
    println!("threads: {}", tch::get_num_threads());
    for _ in 0..3 {
        let t = Instant::now();
        let s = translation_scores(&output, &target).unwrap();
        println!("{s:?} in {:.3} s", t.elapsed().as_secs_f64());
    }
}

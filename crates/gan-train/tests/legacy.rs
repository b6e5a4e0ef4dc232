//! Checkpoints written before the training engine was split into engine + model families
//! (commit 84d4b88) still load and sample identically, and the GAN family still trains to
//! the same tensors.
//!
//! `tests/fixtures/legacy-*/` are small run folders (`config.toml`, `data.json`, the step-10
//! checkpoint) that 84d4b88's code wrote, plus `expected.safetensors`: 16 samples of the
//! checkpoint's EMA generator (latent seed 0) as that code drew them. The ignored test at the
//! bottom wrote them; it is kept to document how, not to be re-run (a re-run with today's
//! code would make the comparison vacuous).
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gan_train::{checkpoint, TrainedGenerator, Trainer};
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const CASES: [&str; 4] = [
    "legacy-ring",
    "legacy-ring-r1",
    "legacy-images",
    "legacy-acgan",
];

/// Labels `0, 1, 2, 3, 0, ..` for the conditional fixture.
fn labels(g: &TrainedGenerator) -> Option<Tensor> {
    g.conditional()
        .then(|| Tensor::arange(16, (Kind::Int64, Device::Cpu)).remainder(4))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn legacy_checkpoints_load_and_sample_identically() {
    let _rng = common::torch_rng_lock();
    for case in CASES {
        let run = fixture(case);
        let g = TrainedGenerator::load(&run, Device::Cpu).unwrap();
        assert_eq!(g.step, 10, "{case}");
        let x = g.sample(16, 0, labels(&g).as_ref()).unwrap();
        let expected: BTreeMap<String, Tensor> =
            Tensor::read_safetensors(run.join("expected.safetensors"))
                .unwrap()
                .into_iter()
                .collect();
        let diff = max_abs_diff(&x, &expected["samples"]);
        println!(
            "{case}: samples max |diff| {diff:e} (bit-identical: {})",
            x.equal(&expected["samples"])
        );
        // Same weights, same ops: bit for bit on the machine that wrote the fixture; a CPU
        // with other vector kernels may differ in the last bits.
        assert!(diff <= 1e-6, "{case}: samples differ by {diff}");
    }
}

#[test]
fn the_gan_family_trains_to_the_legacy_tensors() {
    let _rng = common::torch_rng_lock();
    for case in CASES {
        let src = fixture(case);
        let cfg = gan_train::TrainConfig::from_toml_file(&src.join("config.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::create(cfg, dir.path()).unwrap();
        let init: BTreeMap<String, Tensor> = t
            .named_tensors()
            .into_iter()
            .map(|(n, x)| (n, x.copy()))
            .collect();
        common::run(&mut t, None);
        let ckpt = checkpoint::latest(&src.join("checkpoints"))
            .unwrap()
            .unwrap();
        let legacy = checkpoint::load(&ckpt.path).unwrap();
        let ours = t.named_tensors();
        assert_eq!(ours.len(), legacy.tensors.len(), "{case}");
        let mut worst = (0f64, String::new());
        let mut moved_most = 0f64;
        let mut identical = true;
        for (name, tensor) in &ours {
            let theirs = legacy
                .tensors
                .get(name)
                .unwrap_or_else(|| panic!("{case}: `{name}` not in the legacy checkpoint"));
            identical &= tensor.equal(theirs);
            if !tensor.is_floating_point() {
                assert!(tensor.equal(theirs), "{case}: `{name}` differs");
                continue;
            }
            let theirs = theirs.to_kind(Kind::Double);
            let diff = max_abs_diff(&tensor.to_kind(Kind::Double), &theirs);
            if diff > worst.0 {
                worst = (diff, name.clone());
            }
            let weight =
                (name.starts_with("g.") || name.starts_with("d.")) && !name.contains("running_");
            if weight {
                moved_most =
                    moved_most.max(max_abs_diff(&theirs, &init[name].to_kind(Kind::Double)));
            }
        }
        println!(
            "{case}: after 10 steps max |diff| {:e} (`{}`), {:.3}% of the largest weight \
             change in those steps (bit-identical: {identical})",
            worst.0,
            worst.1,
            100.0 * worst.0 / moved_most
        );
        // Bit for bit on the machine that wrote the fixtures. A CPU with other vector kernels
        // differs in the last bits, and Adam amplifies that where a gradient is pure rounding
        // noise (a linear layer's bias before batch norm): such differences stay a small
        // fraction of how far 10 steps move the weights (lr x steps), while a change in the
        // training computation moves them by a sizeable part of it.
        assert!(
            worst.0 <= 0.01 * moved_most,
            "{case}: `{}` differs by {:e}, more than 1% of the largest change ({moved_most:e})",
            worst.1,
            worst.0
        );
    }
}

/// Writes the fixtures. Run once, with the code the fixtures are meant to capture:
/// `cargo test -p gan-train --test legacy -- --ignored write_legacy_fixtures`.
#[test]
#[ignore = "writes the legacy fixtures; run only with the code they capture"]
fn write_legacy_fixtures() {
    let _rng = common::torch_rng_lock();
    let mut lazy_r1 = common::tiny(10);
    lazy_r1.loss.r1_gamma = 0.1;
    lazy_r1.loss.r1_every = 3;
    lazy_r1.train.n_critic = 2;
    for (case, cfg) in [
        ("legacy-ring", common::tiny(10)),
        ("legacy-ring-r1", lazy_r1),
        ("legacy-images", common::tiny_images(10, "projection")),
        (
            "legacy-acgan",
            common::tiny_images(10, "auxiliary-classifier"),
        ),
    ] {
        let mut cfg = cfg;
        cfg.train.eval_every = 0;
        let run = fixture(case);
        let _ = std::fs::remove_dir_all(&run);
        let mut t = Trainer::create(cfg, &run).unwrap();
        common::run(&mut t, None);
        drop(t);
        // Only what loading needs.
        for extra in ["samples", "plots", "metrics.jsonl"] {
            let p = run.join(extra);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else if p.exists() {
                std::fs::remove_file(&p).unwrap();
            }
        }
        let g = TrainedGenerator::load(&run, Device::Cpu).unwrap();
        let x = g.sample(16, 0, labels(&g).as_ref()).unwrap();
        Tensor::write_safetensors(&[("samples", x)], run.join("expected.safetensors")).unwrap();
    }
}

//! The cyclegan family on the engine: exact resume with the image pools in use, named
//! statistics per direction, both translators, and config checks that name the key.
mod common;

use std::path::Path;

use common::{assert_identical, run, tiny_cyclegan};
use gan_train::{
    ModelConfig, Outcome, TestMode, TrainConfig, TrainedTranslator, Trainer, Way, WhichCheckpoint,
};
use tch::{Device, Kind, Tensor};

fn records(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

#[test]
fn cyclegan_resumes_bit_identically_with_its_pools_and_reports_both_directions() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut full = Trainer::create(tiny_cyclegan(&data, 20), dir.path().join("full")).unwrap();
    assert_eq!(
        full.phases().iter().map(|p| p.name).collect::<Vec<_>>(),
        ["g", "d"]
    );
    assert_eq!(run(&mut full, None), Outcome::Finished { step: 20 });

    // Stop at step 7: the pools (6 images, 2 fakes a step) are full and have been swapping
    // for several steps, so the resumed run must restore their contents to match.
    let mut part = Trainer::create(tiny_cyclegan(&data, 20), dir.path().join("part")).unwrap();
    assert_eq!(run(&mut part, Some(7)), Outcome::Stopped { step: 7 });
    drop(part);
    let mut resumed = Trainer::resume(dir.path().join("part"), None).unwrap();
    assert_eq!(resumed.step(), 7);
    assert_eq!(run(&mut resumed, None), Outcome::Finished { step: 20 });
    assert_identical(&full.named_tensors(), &resumed.named_tensors());

    let tensors = full.named_tensors();
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    for prefix in ["g.a.", "g.b.", "d.a.", "d.b.", "opt_g.", "opt_d."] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{prefix}");
    }
    let count = |pool: &str| {
        tensors
            .iter()
            .find(|(n, _)| n == &format!("{pool}.count"))
            .unwrap()
            .1
            .int64_value(&[0])
    };
    assert_eq!((count("pool_a"), count("pool_b")), (6, 6));
    let images = &tensors
        .iter()
        .find(|(n, _)| n == "pool_b.images")
        .unwrap()
        .1;
    assert_eq!(images.size(), [6, 3, 16, 16]);

    let run_dir = dir.path().join("full");
    let train = records(&run_dir, "train");
    for key in ["g_a", "g_b", "cycle_a", "cycle_b", "g_loss", "d_a", "d_b"] {
        assert!(train[0][key].is_f64(), "{key} missing in {}", train[0]);
    }
    // No identity statistics when the identity loss is off.
    assert!(train[0].get("idt_a").is_none());
    let evals = records(&run_dir, "eval");
    assert_eq!(evals.len(), 2, "{evals:?}");
    let dirs = evals[1]["directions"].as_array().unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(dirs[0]["direction"], "a-to-b");
    assert_eq!(dirs[1]["direction"], "b-to-a");
    for d in dirs {
        assert_eq!(d["n"], 4);
        let l1 = d["cycle"]["l1"].as_f64().unwrap();
        assert!(l1.is_finite() && l1 > 0.0, "{d}");
        // Unpaired folders have no known mapping.
        assert!(d.get("exact").is_none(), "{d}");
    }
    assert!(run_dir.join("samples/step-000000020.png").is_file());
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        saved.contains("family = \"cyclegan\"") && !saved.contains("[generator]"),
        "{saved}"
    );
    let back = TrainConfig::from_toml_str(&saved, Path::new("config.toml")).unwrap();
    assert_eq!(&back, full.config());

    // Both translators load and translate their own domain's images; their held-out images
    // are the test folders of each side.
    for (way, (cin, cout)) in [(Way::AToB, (1, 3)), (Way::BToA, (3, 1))] {
        let t =
            TrainedTranslator::load_direction(&run_dir, &WhichCheckpoint::Latest, way, Device::Cpu)
                .unwrap();
        assert_eq!(t.step, 20);
        assert_eq!(t.input_shape(), [cin, 16, 16]);
        let (x, other, _) = t.held_out().unwrap();
        assert_eq!(x.size(), [4, cin, 16, 16]);
        assert_eq!(other.size(), [4, cout, 16, 16]);
        assert!(!t.exact_targets());
        let y = t.translate(&x, TestMode::Eval, 0).unwrap();
        assert_eq!((y.size(), y.kind()), (vec![4, cout, 16, 16], Kind::Uint8));
        // A wrong channel count is refused, naming what was expected.
        let bad = Tensor::zeros([1, cout + cin - 1, 16, 16], (Kind::Uint8, Device::Cpu));
        if cout + cin - 1 != cin {
            let err = t
                .translate(&bad, TestMode::Eval, 0)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("[N, {cin}, H, W]")), "{err}");
        }
    }
}

#[test]
fn cyclegan_cross_checks_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ok = tiny_cyclegan(dir.path(), 10);
    ok.validate().unwrap();
    let check = |edit: &dyn Fn(&mut TrainConfig), key: &str, words: &[&str]| {
        let mut c = ok.clone();
        edit(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
        for w in words {
            assert!(err.contains(w), "{w}: {err}");
        }
    };
    fn model(c: &mut TrainConfig) -> &mut gan_train::CycleganConfig {
        match &mut c.model {
            ModelConfig::Cyclegan(m) => m,
            other => panic!("not a cyclegan config: {other:?}"),
        }
    }
    check(
        &|c| model(c).lambda_identity = 0.5,
        "model.lambda_identity",
        &["same channels", "1 and 3"],
    );
    check(&|c| model(c).lambda_a = -1.0, "model.lambda_a", &["-1"]);
    check(
        &|c| model(c).pool_size = 1_000_000,
        "model.pool_size",
        &["1000000"],
    );
    check(
        &|c| c.eval.classifier_scores = true,
        "eval.classifier_scores",
        &["hot"],
    );
    check(&|c| c.train.n_critic = 2, "train.n_critic", &["2"]);
    check(
        &|c| c.data = gan_train::DataConfig::Ring,
        "data.kind",
        &["ring", "unpaired"],
    );
    // A GAN on unpaired data points at cyclegan.
    check(&|c| c.model = ModelConfig::Gan, "data.kind", &["cyclegan"]);
}

#[test]
fn missing_domain_folders_are_errors_naming_the_folder() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_cyclegan(dir.path(), 4);
    std::fs::remove_dir_all(dir.path().join("trainB")).unwrap();
    let err = Trainer::create(cfg, dir.path().join("run"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("trainB"), "{err}");
}

//! The pix2pix family on the engine: exact resume with jitter, named statistics, translation
//! scores, and config checks that name the key.
mod common;

use std::path::Path;

use common::{assert_identical, run, tiny_pix2pix};
use gan_train::{DataConfig, ModelConfig, Outcome, TrainConfig, Trainer};

fn records(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

#[test]
fn pix2pix_resumes_bit_identically_and_reports_its_statistics_by_name() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut full = Trainer::create(tiny_pix2pix(&data, 40), dir.path().join("full")).unwrap();
    assert_eq!(
        full.phases().iter().map(|p| p.name).collect::<Vec<_>>(),
        ["d", "g"]
    );
    assert_eq!(run(&mut full, None), Outcome::Finished { step: 40 });

    let mut part = Trainer::create(tiny_pix2pix(&data, 40), dir.path().join("part")).unwrap();
    assert_eq!(run(&mut part, Some(17)), Outcome::Stopped { step: 17 });
    drop(part);
    let mut resumed = Trainer::resume(dir.path().join("part"), None).unwrap();
    assert_eq!(resumed.step(), 17);
    assert_eq!(run(&mut resumed, None), Outcome::Finished { step: 40 });
    assert_identical(&full.named_tensors(), &resumed.named_tensors());

    let names: Vec<String> = full.named_tensors().into_iter().map(|(n, _)| n).collect();
    for prefix in ["g.", "d.", "opt_g.", "opt_d."] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{prefix}");
    }
    assert!(!names.iter().any(|n| n.starts_with("g_ema.")));

    let run_dir = dir.path().join("full");
    let train = records(&run_dir, "train");
    for key in ["d_loss", "d_real", "d_fake", "g_gan", "g_l1", "g_loss"] {
        assert!(train[0][key].is_f64(), "{key} missing in {}", train[0]);
    }
    let evals = records(&run_dir, "eval");
    assert_eq!(evals.len(), 2, "{evals:?}");
    let last = &evals[1];
    assert_eq!(last["translation"]["n"], 8);
    assert_eq!(last["translation"]["test_mode"], "stochastic");
    let psnr = last["translation"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite() && psnr > 0.0, "{last}");
    assert!(run_dir.join("samples/step-000000040.png").is_file());
    assert!(run_dir.join("plots/losses.png").is_file());
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        saved.contains("family = \"pix2pix\"") && !saved.contains("[generator]"),
        "{saved}"
    );
    // The saved config reads back as the same config.
    let back = TrainConfig::from_toml_str(&saved, Path::new("config.toml")).unwrap();
    assert_eq!(&back, full.config());
}

#[test]
fn family_cross_checks_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ok = tiny_pix2pix(dir.path(), 10);
    let check = |c: &TrainConfig, key: &str| {
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(key), "expected `{key}` in: {err}");
    };
    // pix2pix on unpaired data; a GAN on paired data.
    let mut c = ok.clone();
    c.data = DataConfig::Ring;
    check(&c, "data.kind");
    let mut c = ok.clone();
    c.model = ModelConfig::Gan;
    check(&c, "data.kind");
    // The GAN family's sections are refused, naming the section.
    let mut c = ok.clone();
    c.generator = toml::from_str("arch = \"dcgan\"").unwrap();
    check(&c, "`generator`");
    let mut c = ok.clone();
    c.train.n_critic = 2;
    check(&c, "train.n_critic");
    let mut c = ok.clone();
    if let DataConfig::Aligned { jitter, .. } = &mut c.data {
        jitter.crop = Some((40, 40));
    }
    check(&c, "data.jitter");
    let text = ok.to_toml().replace("n_layers = 2", "n_layers = 0");
    let err = TrainConfig::from_toml_str(&text, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.discriminator.n_layers"), "{err}");
}

//! Periodic image scores (`[eval]`): scores in `metrics.jsonl`, the best checkpoint kept in
//! `best/`, and training that is unchanged by scoring (exact resume still holds).
mod common;

use std::path::Path;

use common::{assert_identical, run};
use gan_data::ImageDataset;
use gan_eval::{Classifier, ClassifierConfig};
use gan_train::{BestMetric, BestRecord, Outcome, TrainedGenerator, Trainer, WhichCheckpoint};
use tch::Device;

/// A classifier for the tiny synthetic image data (the band position gives the class).
fn classifier(dir: &Path) {
    let train = ImageDataset::synthetic(200, [1, 16, 16], 4, 0).unwrap();
    let test = ImageDataset::synthetic(50, [1, 16, 16], 4, 1).unwrap();
    let cfg = ClassifierConfig {
        width: 4,
        feature_dim: 16,
        epochs: 3,
        batch_size: 25,
        ..Default::default()
    };
    let mut c = Classifier::train(&cfg, &train, &test, Device::Cpu, &mut |_| {}).unwrap();
    c.save(dir).unwrap();
}

fn scored(steps: u64, clf: &Path) -> gan_train::TrainConfig {
    let mut c = common::tiny_images(steps, "projection");
    c.train.eval_every = 10;
    c.train.eval_samples = 40;
    c.eval.classifier_scores = true;
    c.eval.classifier = Some(clf.to_path_buf());
    c.eval.reference_images = 0;
    c.eval.best = BestMetric::Fcd;
    c
}

fn evals(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "eval")
        .collect()
}

/// Reference features are cached in the toolkit cache: this binary keeps its own, set once
/// (under the RNG lock, which every test here holds) and kept for the whole process.
fn private_cache() {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = CACHE.get_or_init(|| tempfile::tempdir().unwrap());
    if std::env::var_os("GAN_TOOLKIT_CACHE").as_deref() != Some(dir.path().as_os_str()) {
        std::env::set_var("GAN_TOOLKIT_CACHE", dir.path());
    }
}

#[test]
fn scores_are_logged_and_the_best_checkpoint_is_kept_and_resume_is_unchanged() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    private_cache();
    let clf = dir.path().join("clf");
    classifier(&clf);

    let full_dir = dir.path().join("full");
    let mut full = Trainer::create(scored(40, &clf), &full_dir).unwrap();
    assert_eq!(run(&mut full, None), Outcome::Finished { step: 40 });
    let ev = evals(&full_dir);
    assert_eq!(
        ev.iter()
            .map(|v| v["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    let fcd: Vec<f64> = ev
        .iter()
        .map(|v| {
            let c = &v["scores"]["classifier"];
            assert_eq!(c["scores"]["n_samples"], 40);
            assert_eq!(c["reference"]["n"], 50);
            let p = c["features"]["precision"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
            c["features"]["frechet_distance"].as_f64().unwrap()
        })
        .collect();
    assert!(fcd.iter().all(|f| f.is_finite() && *f > 0.0), "{fcd:?}");
    // The best record is the minimum so far after every evaluation, and on disk.
    let mut best_so_far = f64::INFINITY;
    for (v, f) in ev.iter().zip(&fcd) {
        best_so_far = best_so_far.min(*f);
        assert_eq!(v["best"]["value"].as_f64().unwrap(), best_so_far);
    }
    let best = BestRecord::read(&full_dir.join("best")).unwrap().unwrap();
    assert_eq!(best.metric, "fcd");
    assert_eq!(best.value, best_so_far);
    let kept: Vec<_> = std::fs::read_dir(full_dir.join("best"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("step-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(full_dir.join("plots/fcd.png").exists());
    let g = TrainedGenerator::load_which(&full_dir, &WhichCheckpoint::Best, Device::Cpu).unwrap();
    assert_eq!(g.step, best.step);
    assert_eq!(
        ev[0]["scores"]["classifier"]["reference"]["cache_hit"],
        false
    );

    // Scoring draws no training randomness: stop at 23, resume, and the result is the same,
    // scores and best record included.
    let part_dir = dir.path().join("part");
    let mut part = Trainer::create(scored(40, &clf), &part_dir).unwrap();
    assert_eq!(run(&mut part, Some(23)), Outcome::Stopped { step: 23 });
    drop(part);
    let mut resumed = Trainer::resume(&part_dir, None).unwrap();
    run(&mut resumed, None);
    assert_identical(&full.named_tensors(), &resumed.named_tensors());
    let ev2 = evals(&part_dir);
    assert_eq!(ev2.len(), ev.len());
    // The second run's reference features come from the cache.
    assert_eq!(
        ev2[0]["scores"]["classifier"]["reference"]["cache_hit"],
        true
    );
    for (a, b) in ev.iter().zip(&ev2) {
        assert_eq!(
            a["scores"]["classifier"]["features"],
            b["scores"]["classifier"]["features"]
        );
    }
    let best2 = BestRecord::read(&part_dir.join("best")).unwrap().unwrap();
    assert_eq!((best2.value, best2.step), (best.value, best.step));
}

#[test]
fn eval_settings_that_cannot_work_are_refused_naming_the_key() {
    // It builds a trainer: torch's RNG and the environment are process-global.
    let _rng = common::torch_rng_lock();
    private_cache();
    let dir = tempfile::tempdir().unwrap();
    let clf = dir.path().join("none");
    let mut c = scored(10, &clf);
    c.eval.best = BestMetric::Fid;
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("eval.best") && e.contains("eval.inception"),
        "{e}"
    );
    c.eval.best = BestMetric::HighQuality;
    assert!(c.validate().unwrap_err().to_string().contains("2D"));
    c.eval.best = BestMetric::StackedModes;
    assert!(c.validate().unwrap_err().to_string().contains("stacked"));
    let mut ring = common::tiny(10);
    ring.eval.best = BestMetric::Fcd;
    assert!(ring.validate().is_err());
    ring.eval.best = BestMetric::HighQuality;
    ring.validate().unwrap();
    // A classifier that is not there: the run does not start, and says where it looked.
    let c = scored(10, &clf);
    let e = Trainer::create(c, dir.path().join("run")).unwrap_err();
    let msg = format!("{e}");
    assert!(msg.contains("classifier") && msg.contains("none"), "{msg}");
}

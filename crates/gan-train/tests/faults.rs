//! Bad resumes and diverging runs fail clearly and keep what was saved.
mod common;

use common::{run, tiny};
use gan_models::{GeneratorConfig, MlpConfig};
use gan_train::{checkpoint, Error, TrainedGenerator, Trainer};

#[test]
fn resuming_a_different_model_lists_the_differences() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(tiny(10), dir.path()).unwrap();
    run(&mut t, None);
    drop(t);
    let mut other = tiny(20);
    other.generator = GeneratorConfig::Mlp {
        latent_dim: 2,
        mlp: MlpConfig {
            depth: 3,
            width: 48,
            batch_norm: false,
            ..Default::default()
        },
    };
    // Given as a new config, the change is refused before any tensor is read, naming the keys.
    let err = Trainer::resume(dir.path(), Some(other.clone())).unwrap_err();
    let Error::ResumeConfigChanged { differences, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        differences.contains(&"generator.mlp.width: trained with 32, now 48".to_string()),
        "{differences:?}"
    );
    assert!(
        differences.contains(&"generator.mlp.depth: trained with 2, now 3".to_string()),
        "{differences:?}"
    );
    // The saved config edited by hand: the checkpoint's layout check lists every tensor.
    std::fs::write(dir.path().join("config.toml"), other.to_toml()).unwrap();
    let err = Trainer::resume(dir.path(), None).unwrap_err();
    let Error::IncompatibleCheckpoint { differences, .. } = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    assert!(
        text.contains("`g.fc0.weight`: checkpoint shape [32, 2], model shape [48, 2]"),
        "{text}"
    );
    assert!(text.contains("missing tensor `g.fc2.weight`"), "{text}");
    assert!(
        text.contains("unexpected tensor `g.bn0.running_mean`"),
        "{text}"
    );
    assert!(differences.len() > 5);

    let mut reseeded = tiny(20);
    reseeded.seed = 99;
    std::fs::write(dir.path().join("config.toml"), reseeded.to_toml()).unwrap();
    let err = Trainer::resume(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("seed: checkpoint 7, config 99"), "{err}");
    let err = Trainer::resume(dir.path(), Some(tiny(30)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("seed: trained with 99, now 7"), "{err}");
}

#[test]
fn a_new_run_refuses_a_folder_that_holds_one() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(tiny(10), dir.path()).unwrap();
    run(&mut t, None);
    let err = Trainer::create(tiny(10), dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_the_last_checkpoint() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut good = tiny(5);
    good.train.checkpoint_every = 5;
    let mut t = Trainer::create(good, dir.path()).unwrap();
    run(&mut t, None);
    drop(t);
    // Resumed with an absurd learning rate: Adam moves every weight by ~lr on its first
    // update, so the generator loss of step 5 (after the discriminator update) overflows.
    let mut cfg = tiny(50);
    cfg.optim.lr_d = 1e30;
    cfg.train.log_every = 1;
    // With the guard off the run stops at the first non-finite value (the guard's rollback
    // is tested below).
    cfg.guard.enabled = false;
    let mut t = Trainer::resume(dir.path(), Some(cfg)).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let err = t.run(&stop, &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    let Error::NonFinite {
        step,
        ref last_checkpoint,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(step, 5, "{msg}");
    assert!(
        msg.contains("at step 5") && msg.contains("step-000000005"),
        "{msg}"
    );
    let newest = checkpoint::latest(&dir.path().join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(Some(&newest.path), last_checkpoint.as_ref());
    assert_eq!(newest.step, 5);
    let g = TrainedGenerator::load(dir.path(), tch::Device::Cpu).unwrap();
    assert_eq!(g.step, 5);
    let x = g.sample(10, 0, None).unwrap();
    assert!(bool::try_from(x.isfinite().all()).unwrap());
}

/// Step-5 checkpoint of the tiny ring run, then a resume whose discriminator learning rate
/// (1e30) makes the generator loss of step 5 overflow.
fn diverging(dir: &std::path::Path, lr_factor: f64, max_rollbacks: u32) -> gan_train::TrainConfig {
    let mut good = tiny(5);
    good.train.checkpoint_every = 5;
    let mut t = Trainer::create(good, dir).unwrap();
    run(&mut t, None);
    let mut cfg = tiny(30);
    cfg.optim.lr_d = 1e30;
    cfg.train.log_every = 1;
    // Every step would be saved: the guard must never save the diverged state.
    cfg.train.checkpoint_every = 1;
    cfg.guard.lr_factor = lr_factor;
    cfg.guard.max_rollbacks = max_rollbacks;
    cfg
}

fn records(dir: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

fn all_finite(path: &std::path::Path) -> bool {
    checkpoint::load(path)
        .unwrap()
        .tensors
        .values()
        .all(|t| !t.is_floating_point() || bool::try_from(t.isfinite().all()).unwrap())
}

#[test]
fn the_divergence_guard_rolls_back_lowers_the_learning_rate_and_continues() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    // After one rollback lr_d = 1e30 * 1e-31 = 0.1, which trains.
    let cfg = diverging(dir.path(), 1e-31, 3);
    let mut t = Trainer::resume(dir.path(), Some(cfg.clone())).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut saved = Vec::new();
    let mut rollbacks = Vec::new();
    let outcome = t
        .run(&stop, &mut |e| match e {
            gan_train::Event::Checkpoint(p) => saved.push(p.to_path_buf()),
            gan_train::Event::Rollback(r) => {
                // The good checkpoint is still there, intact, when the run goes back to it.
                let ck = r.checkpoint.clone().unwrap();
                assert!(ck.ends_with("step-000000005") && all_finite(&ck), "{r:?}");
                rollbacks.push(r.clone());
            }
            _ => {}
        })
        .unwrap();
    assert_eq!(outcome, gan_train::Outcome::Finished { step: 30 });
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    let r = &rollbacks[0];
    assert_eq!((r.step, r.detected_at, r.rollbacks), (5, 5, 1), "{r:?}");
    assert!(r.reason.contains("not finite"), "{}", r.reason);
    assert!((t.lr_scale() - 1e-31).abs() < 1e-40);
    // The diverged step 6 was never saved: checkpoints resume at 6 only after the rollback.
    assert_eq!(
        saved.first().map(|p| p.ends_with("step-000000006")),
        Some(true)
    );
    assert_eq!(saved.len(), 25, "{saved:?}");
    for c in checkpoint::list(&dir.path().join("checkpoints")).unwrap() {
        assert!(
            all_finite(&c.path),
            "{} holds a non-finite value",
            c.path.display()
        );
    }
    // metrics.jsonl: the event, and no training record from the diverged stretch twice.
    let rb = records(dir.path(), "rollback");
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0]["detected_at"], 5);
    let steps: Vec<u64> = records(dir.path(), "train")
        .iter()
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");

    // The reduced learning rate is part of the checkpoint: stopping after the rollback and
    // resuming gives the same tensors as the uninterrupted run.
    let dir2 = tempfile::tempdir().unwrap();
    let cfg2 = diverging(dir2.path(), 1e-31, 3);
    let mut a = Trainer::resume(dir2.path(), Some(cfg2.clone())).unwrap();
    common::run(&mut a, Some(17));
    drop(a);
    let mut b = Trainer::resume(dir2.path(), Some(cfg2)).unwrap();
    assert!((b.lr_scale() - 1e-31).abs() < 1e-40);
    common::run(&mut b, None);
    common::assert_identical(&t.named_tensors(), &b.named_tensors());
}

#[test]
fn the_divergence_guard_stops_after_its_rollbacks_naming_the_step_and_the_checkpoint_kept() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    // lr_factor 1: every retry diverges the same way.
    let cfg = diverging(dir.path(), 1.0, 2);
    let mut t = Trainer::resume(dir.path(), Some(cfg)).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let err = t.run(&stop, &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    let Error::Diverged {
        step,
        rollbacks,
        ref checkpoint,
        ..
    } = err
    else {
        panic!("{msg}")
    };
    assert_eq!((step, rollbacks), (5, 2), "{msg}");
    assert!(
        msg.contains("step-000000005") && msg.contains("guard.max_rollbacks"),
        "{msg}"
    );
    let kept = checkpoint.clone().unwrap();
    assert!(all_finite(&kept));
    assert_eq!(records(dir.path(), "rollback").len(), 2);
    let newest = checkpoint::latest(&dir.path().join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(newest.path, kept);
}

#[test]
fn a_divergence_before_any_checkpoint_restarts_from_the_initial_weights() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(20);
    cfg.optim.lr_d = 1e30;
    cfg.train.log_every = 1;
    cfg.train.checkpoint_every = 100;
    cfg.guard.lr_factor = 1e-31;
    let mut t = Trainer::create(cfg, dir.path()).unwrap();
    assert_eq!(run(&mut t, None), gan_train::Outcome::Finished { step: 20 });
    let rb = records(dir.path(), "rollback");
    assert_eq!(rb.len(), 1, "{rb:?}");
    assert_eq!(rb[0]["step"], 0);
    assert!(rb[0]["checkpoint"].is_null());
    let newest = checkpoint::latest(&dir.path().join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(newest.step, 20);
    assert!(all_finite(&newest.path));
}

/// A WGAN critic without a penalty at learning rate 1: the losses climb past 1e8 while staying
/// finite. The guard (with `loss_multiple` off, the default) does not roll back, but the run
/// says so: `warning` records in metrics.jsonl, one per power of ten reached.
#[test]
fn huge_finite_losses_are_warned_about() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(200);
    cfg.loss.kind = gan_losses::GanLoss::Wasserstein;
    cfg.optim.lr_g = 1.0;
    cfg.optim.lr_d = 1.0;
    cfg.optim.beta1 = 0.0;
    let mut t = Trainer::create(cfg, dir.path()).unwrap();
    let mut seen = Vec::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    t.run(&stop, &mut |e| {
        if let gan_train::Event::Warning(w) = e {
            seen.push(w.clone());
        }
    })
    .unwrap();
    let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let written: Vec<gan_train::WarningRecord> = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"warning\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!written.is_empty(), "no warning in {text}");
    assert_eq!(written, seen, "every warning is both an event and a record");
    for w in &written {
        assert!(w.value.is_finite() && w.value.abs() >= 1e6, "{w:?}");
        assert!(
            w.message.contains(&w.stat) && w.message.contains("diverging"),
            "{w:?}"
        );
    }
    // Once per power of ten and statistic, not at every step.
    let mut keys: Vec<(String, i32)> = written
        .iter()
        .map(|w| (w.stat.clone(), w.value.abs().log10().floor() as i32))
        .collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "{written:?}");
}

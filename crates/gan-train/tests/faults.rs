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
    let err = Trainer::resume(dir.path(), Some(other)).unwrap_err();
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
    let err = Trainer::resume(dir.path(), Some(reseeded))
        .unwrap_err()
        .to_string();
    assert!(err.contains("seed: checkpoint 7, config 99"), "{err}");
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

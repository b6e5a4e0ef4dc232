//! Exact resume: N steps + resume + M steps == N + M steps, bit for bit, on the CPU.
mod common;

use common::{assert_identical, run, tiny};
use gan_losses::GanLoss;
use gan_train::{Outcome, Trainer};

fn check(cfg_for: impl Fn(u64) -> gan_train::TrainConfig) {
    let dir = tempfile::tempdir().unwrap();
    let mut full = Trainer::create(cfg_for(40), dir.path().join("full")).unwrap();
    assert_eq!(run(&mut full, None), Outcome::Finished { step: 40 });

    // Stopped by the flag mid-interval (not on a checkpoint boundary), then resumed.
    let mut part = Trainer::create(cfg_for(40), dir.path().join("part")).unwrap();
    assert_eq!(run(&mut part, Some(23)), Outcome::Stopped { step: 23 });
    drop(part);
    let mut resumed = Trainer::resume(dir.path().join("part"), None).unwrap();
    assert_eq!(resumed.step(), 23);
    assert_eq!(run(&mut resumed, None), Outcome::Finished { step: 40 });
    assert_identical(&full.named_tensors(), &resumed.named_tensors());

    // Trained to 20, then extended to 40 with a new config (more steps).
    let mut short = Trainer::create(cfg_for(20), dir.path().join("short")).unwrap();
    run(&mut short, None);
    drop(short);
    let mut extended = Trainer::resume(dir.path().join("short"), Some(cfg_for(40))).unwrap();
    run(&mut extended, None);
    assert_identical(&full.named_tensors(), &extended.named_tensors());

    // The resumed run's metrics are the uninterrupted run's metrics (no duplicates).
    let steps = |p: &std::path::Path| -> Vec<(String, u64)> {
        std::fs::read_to_string(p.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["kind"].as_str().unwrap().to_string(),
                    v["step"].as_u64().unwrap(),
                )
            })
            .filter(|(k, _)| k == "train")
            .collect()
    };
    // The stop writes one extra record for its partial interval (step 23).
    let (full, part) = (
        steps(&dir.path().join("full")),
        steps(&dir.path().join("part")),
    );
    assert!(part.windows(2).all(|w| w[0].1 < w[1].1), "{part:?}");
    assert!(
        full.iter().all(|s| part.contains(s)),
        "{full:?} vs {part:?}"
    );
    assert_eq!(part.len(), full.len() + 1);
}

#[test]
fn resume_is_bit_identical() {
    let _rng = common::torch_rng_lock();
    check(common::tiny);
}

#[test]
fn resume_is_bit_identical_with_critic_steps_and_penalties() {
    let _rng = common::torch_rng_lock();
    check(|steps| {
        let mut c = tiny(steps);
        c.loss.kind = GanLoss::Wasserstein;
        c.loss.gp_weight = 10.0;
        c.loss.r1_gamma = 1.0;
        c.loss.r1_every = 3;
        c.train.n_critic = 2;
        c
    });
    check(|steps| {
        let mut c = tiny(steps);
        c.loss.kind = GanLoss::RelativisticAverage;
        c
    });
}

#[test]
fn different_seeds_train_differently() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut a = Trainer::create(tiny(10), dir.path().join("a")).unwrap();
    run(&mut a, None);
    let mut cfg = tiny(10);
    cfg.seed += 1;
    let mut b = Trainer::create(cfg, dir.path().join("b")).unwrap();
    run(&mut b, None);
    let (ta, tb) = (a.named_tensors(), b.named_tensors());
    assert!(ta.iter().zip(&tb).any(|((_, x), (_, y))| !x.equal(y)));
}

#[test]
fn two_identical_runs_agree() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut a = Trainer::create(tiny(12), dir.path().join("a")).unwrap();
    run(&mut a, None);
    let mut b = Trainer::create(tiny(12), dir.path().join("b")).unwrap();
    run(&mut b, None);
    assert_identical(&a.named_tensors(), &b.named_tensors());
}

#[test]
fn a_resumed_trainer_holds_exactly_the_saved_state() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut a = Trainer::create(tiny(40), dir.path()).unwrap();
    run(&mut a, Some(13));
    let before: Vec<(String, tch::Tensor)> = a
        .named_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    drop(a);
    let b = Trainer::resume(dir.path(), None).unwrap();
    assert_identical(&before, &b.named_tensors());
}

/// Image data: the shuffled batch order resumes at the right position (the run crosses
/// epochs), and conditional networks, spectral norm and the auxiliary classifier resume too.
#[test]
fn resume_is_bit_identical_on_images() {
    let _rng = common::torch_rng_lock();
    check(|steps| common::tiny_images(steps, "projection"));
    check(|steps| {
        let mut c = common::tiny_images(steps, "auxiliary-classifier");
        c.train.n_critic = 2;
        c.loss.kind = GanLoss::Hinge;
        c
    });
    // WGAN-GP and R1 through a conditional (projection) discriminator on images.
    check(|steps| {
        let mut c = common::tiny_images(steps, "projection");
        c.loss.kind = GanLoss::Wasserstein;
        c.loss.gp_weight = 10.0;
        c.loss.r1_gamma = 1.0;
        c.loss.r1_every = 2;
        c
    });
}

#[test]
fn init_from_with_freeze_d_keeps_the_first_dcgan_blocks() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut src =
        Trainer::create(common::tiny_images(4, "projection"), dir.path().join("src")).unwrap();
    assert_eq!(common::run(&mut src, None), Outcome::Finished { step: 4 });
    drop(src);

    // 16x16 DCGAN discriminator: conv0 (main.0), conv1 (main.2 + its batch norm main.3),
    // out (main.5). FreezeD 2 freezes both convolution blocks and leaves the output layer.
    let mut cfg = common::tiny_images(3, "projection");
    cfg.finetune = toml::from_str("freeze_d = 2").unwrap();
    let mut t = Trainer::create(cfg.clone(), dir.path().join("ft")).unwrap();
    t.init_from(&dir.path().join("src"), &gan_train::WhichCheckpoint::Latest)
        .unwrap();
    let copy = |v: Vec<(String, tch::Tensor)>| -> Vec<(String, tch::Tensor)> {
        v.into_iter().map(|(n, v)| (n, v.copy())).collect()
    };
    let start = copy(t.named_tensors());
    assert_eq!(common::run(&mut t, None), Outcome::Finished { step: 3 });
    let end = t.named_tensors();
    let changed = |name: &str| {
        let get = |v: &[(String, tch::Tensor)]| {
            v.iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no `{name}`"))
                .1
                .shallow_clone()
        };
        !get(&end).equal(&get(&start))
    };
    for frozen in [
        "d.main.0.weight",
        "d.main.2.weight",
        "d.main.3.weight",
        "d.main.3.bias",
    ] {
        assert!(!changed(frozen), "{frozen} trained");
    }
    for trained in ["d.main.5.weight", "d.embed.weight", "g.main.0.weight"] {
        assert!(changed(trained), "{trained} frozen");
    }

    // Beyond the blocks there are, or a generator without a mapping network: errors that
    // name the key (and the blocks).
    cfg.finetune.freeze_d = 4;
    let err = Trainer::create(cfg.clone(), dir.path().join("bad"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("finetune.freeze_d") && err.contains("conv0, conv1, out"),
        "{err}"
    );
    cfg.finetune = toml::from_str("freeze_g_mapping = true").unwrap();
    let err = Trainer::create(cfg, dir.path().join("bad2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("finetune.freeze_g_mapping"), "{err}");
}

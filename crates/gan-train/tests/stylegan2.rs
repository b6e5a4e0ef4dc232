//! The stylegan2 family on the engine: its phase schedule, exact resume (with `pl_mean`,
//! `w_avg` and the EMA's copied buffers), named statistics, the lazy-regularisation
//! optimiser corrections, truncated sampling from the trained generator, and config checks
//! that name the key.
mod common;

use common::{assert_identical, run, tiny_stylegan2};
use gan_train::{ModelConfig, Outcome, TrainConfig, TrainedGenerator, Trainer};
use tch::{Device, Kind, Tensor};

fn tensor<'a>(tensors: &'a [(String, Tensor)], name: &str) -> &'a Tensor {
    &tensors
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
        .1
}

#[test]
fn stylegan2_resumes_bit_identically_with_pl_mean_and_w_avg() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut full = Trainer::create(tiny_stylegan2(20), dir.path().join("full")).unwrap();
    let phases: Vec<(&str, u64)> = full.phases().iter().map(|p| (p.name, p.every)).collect();
    assert_eq!(phases, [("g", 1), ("g_pl", 2), ("d", 1), ("d_r1", 3)]);
    assert_eq!(run(&mut full, None), Outcome::Finished { step: 20 });

    // Stop at 7: an odd step, between R1 steps, with pl_mean and w_avg well away from zero.
    let mut part = Trainer::create(tiny_stylegan2(20), dir.path().join("part")).unwrap();
    assert_eq!(run(&mut part, Some(7)), Outcome::Stopped { step: 7 });
    drop(part);
    let mut resumed = Trainer::resume(dir.path().join("part"), None).unwrap();
    assert_eq!(resumed.step(), 7);
    assert_eq!(run(&mut resumed, None), Outcome::Finished { step: 20 });
    let a = full.named_tensors();
    assert_identical(&a, &resumed.named_tensors());

    // The state the issue names is there and has moved.
    let pl_mean = tensor(&a, "pl_mean").double_value(&[]);
    assert!(pl_mean > 0.0, "pl_mean {pl_mean}");
    let w_avg = tensor(&a, "g.mapping.w_avg");
    assert!(w_avg.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    // The EMA copies buffers: its w_avg is the generator's.
    assert!(tensor(&a, "g_ema.mapping.w_avg").equal(w_avg));
    assert!(tensor(&a, "g_ema.synthesis.b8.conv0.noise_const")
        .equal(tensor(&a, "g.synthesis.b8.conv0.noise_const")));
    // ... and averages the weights.
    assert!(!tensor(&a, "g_ema.synthesis.b8.conv0.weight")
        .equal(tensor(&a, "g.synthesis.b8.conv0.weight")));

    // Every statistic is logged; g_pl and d_r1 at their own intervals.
    let metrics = std::fs::read_to_string(dir.path().join("full/metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for key in [
        "g_loss", "g_pl", "pl_mean", "d_loss", "d_real", "d_fake", "d_r1",
    ] {
        assert!(
            first[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {first}"
        );
    }
}

#[test]
fn lazy_regularisation_corrects_the_optimisers() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    // With R1 every 3 steps the discriminator's Adam runs at lr * 3/4 and betas^(3/4); with
    // the path-length penalty every 2, the generator's at lr * 2/3. Off: no correction.
    let t = Trainer::create(tiny_stylegan2(1), dir.path().join("on")).unwrap();
    let lr = t.learning_rates();
    assert!((lr["opt_d"] - 0.0025 * 0.75).abs() < 1e-12, "{lr:?}");
    assert!((lr["opt_g"] - 0.0025 * 2.0 / 3.0).abs() < 1e-12, "{lr:?}");
    let mut c = tiny_stylegan2(1);
    if let ModelConfig::Stylegan2(m) = &mut c.model {
        m.r1_gamma = 0.0;
        m.pl_weight = 0.0;
    }
    let t = Trainer::create(c, dir.path().join("off")).unwrap();
    assert_eq!(
        t.phases().iter().map(|p| p.name).collect::<Vec<_>>(),
        ["g", "d"]
    );
    let lr = t.learning_rates();
    assert_eq!((lr["opt_g"], lr["opt_d"]), (0.0025, 0.0025));
}

#[test]
fn a_trained_stylegan2_samples_with_truncation() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(tiny_stylegan2(4), dir.path().join("run")).unwrap();
    assert_eq!(run(&mut t, None), Outcome::Finished { step: 4 });
    drop(t);
    let mut g = TrainedGenerator::load(&dir.path().join("run"), Device::Cpu).unwrap();
    assert!(g.conditional());
    let y = Tensor::from_slice(&[0i64, 1, 2, 0]);
    let plain = g.sample(4, 11, Some(&y)).unwrap();
    assert_eq!(plain.size(), vec![4, 1, 16, 16]);
    // Same seed: same images (latents and noise from the seeded generator).
    assert!(plain.equal(&g.sample(4, 11, Some(&y)).unwrap()));
    g.set_truncation(0.0).unwrap();
    let zero = g.sample(4, 11, Some(&y)).unwrap();
    // psi = 0 maps every latent to w_avg: samples of one class differ only by noise.
    let d_trunc = (zero.get(0) - zero.get(3))
        .abs()
        .mean(Kind::Float)
        .double_value(&[]);
    let d_plain = (plain.get(0) - plain.get(3))
        .abs()
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(d_trunc < d_plain, "{d_trunc} vs {d_plain}");
    g.set_truncation(0.7).unwrap();
    assert!(!g.sample(4, 11, Some(&y)).unwrap().equal(&plain));
}

#[test]
fn stylegan2_cross_checks_name_the_key() {
    let check = |edit: &dyn Fn(&mut TrainConfig), key: &str, words: &[&str]| {
        let mut c = tiny_stylegan2(10);
        edit(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
        for w in words {
            assert!(err.contains(w), "{w}: {err}");
        }
    };
    fn model(c: &mut TrainConfig) -> &mut gan_train::Stylegan2Config {
        match &mut c.model {
            ModelConfig::Stylegan2(m) => m,
            _ => unreachable!(),
        }
    }
    check(
        &|c| c.generator = toml::from_str("arch = 'dcgan'").unwrap(),
        "generator.arch",
        &["stylegan2"],
    );
    check(
        &|c| model(c).pl_batch_shrink = 3,
        "model.pl_batch_shrink",
        &["8"],
    );
    check(&|c| model(c).style_mixing = 1.5, "model.style_mixing", &[]);
    check(&|c| model(c).r1_every = 0, "model.r1_every", &[]);
    check(
        &|c| c.train.batch_size = 6,
        "discriminator.mbstd_group",
        &["6"],
    );
    check(&|c| c.loss.r1_gamma = 1.0, "loss", &["model.r1_gamma"]);
    check(
        &|c| c.data = toml::from_str("kind = 'ring'").unwrap(),
        "data.kind",
        &["images"],
    );
}

#[test]
fn augmented_runs_resume_bit_identically_and_ada_moves_p() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    // StyleGAN2 with ADA (a fast p: 0 to 1 in 100 images, so 0.32 per adjustment) and the GAN family (DCGAN,
    // conditional) with DiffAugment: N + resume + M == N + M, p and its statistics included.
    let mut ada = tiny_stylegan2(16);
    ada.augment = toml::from_str("kind = 'ada'\nkimg = 0.1\np = 0.5").unwrap();
    let mut diff = common::tiny_images(16, "projection");
    diff.augment = toml::from_str("kind = 'diffaugment'").unwrap();
    for (name, cfg) in [("ada", ada), ("diffaugment", diff)] {
        let mut full =
            Trainer::create(cfg.clone(), dir.path().join(format!("{name}-full"))).unwrap();
        assert_eq!(run(&mut full, None), Outcome::Finished { step: 16 });
        let mut part = Trainer::create(cfg, dir.path().join(format!("{name}-part"))).unwrap();
        assert_eq!(run(&mut part, Some(6)), Outcome::Stopped { step: 6 });
        drop(part);
        let mut resumed = Trainer::resume(dir.path().join(format!("{name}-part")), None).unwrap();
        assert_eq!(run(&mut resumed, None), Outcome::Finished { step: 16 });
        let a = full.named_tensors();
        assert_identical(&a, &resumed.named_tensors());
        if name == "ada" {
            // p started at 0.5 and moves by 0.32 every 4 steps (never below 0).
            let p = tensor(&a, "augment.p").double_value(&[]);
            assert!(p != 0.5, "p = {p}");
            let metrics =
                std::fs::read_to_string(dir.path().join("ada-full/metrics.jsonl")).unwrap();
            assert!(metrics.contains("\"ada_p\""), "{metrics}");
        } else {
            assert!(a.iter().all(|(n, _)| !n.starts_with("augment.")));
        }
    }
}

#[test]
fn augmentation_is_refused_where_no_discriminator_sees_images() {
    let mut c = common::tiny(10);
    c.augment = toml::from_str("kind = 'diffaugment'").unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("augment.kind") && err.contains("ring"),
        "{err}"
    );
}

#[test]
fn init_from_copies_the_networks_and_freeze_d_keeps_the_first_blocks() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut src = Trainer::create(tiny_stylegan2(4), dir.path().join("src")).unwrap();
    assert_eq!(run(&mut src, None), Outcome::Finished { step: 4 });
    let source = src.named_tensors();
    drop(src);

    let mut cfg = tiny_stylegan2(3);
    cfg.seed = 99;
    cfg.finetune = toml::from_str("freeze_d = 1\nfreeze_g_mapping = true").unwrap();
    let mut t = Trainer::create(cfg.clone(), dir.path().join("ft")).unwrap();
    let rec = t
        .init_from(&dir.path().join("src"), &gan_train::WhichCheckpoint::Latest)
        .unwrap();
    assert_eq!(rec.step, 4);
    assert!(dir.path().join("ft/init.json").is_file());
    // Deep copies: named_tensors() shares storage with the live variables.
    let start: Vec<(String, Tensor)> = t
        .named_tensors()
        .into_iter()
        .map(|(n, v)| (n, v.copy()))
        .collect();
    for (name, v) in &start {
        let copied = ["g.", "d.", "g_ema."].iter().any(|p| name.starts_with(p));
        if copied {
            assert!(v.equal(tensor(&source, name)), "{name} not copied");
        } else if name.starts_with("opt_") && name.contains(".m.") {
            // Fresh optimisers.
            assert_eq!(v.abs().sum(Kind::Float).double_value(&[]), 0.0, "{name}");
        }
    }
    assert_eq!(run(&mut t, None), Outcome::Finished { step: 3 });
    let end = t.named_tensors();
    let changed = |name: &str| !tensor(&end, name).equal(tensor(&start, name));
    // The first discriminator block from the input (16x16) and the mapping are frozen.
    assert!(!changed("d.b16.conv0.weight") && !changed("d.b16.fromrgb.bias"));
    assert!(!changed("g.mapping.fc0.weight") && !changed("g.mapping.embed.weight"));
    assert!(changed("d.b8.conv0.weight") && changed("d.b4.out.weight"));
    assert!(changed("g.synthesis.b16.conv1.weight"));

    // Another architecture is refused, naming the tensors.
    let mut other = tiny_stylegan2(3);
    if let gan_models::GeneratorConfig::Stylegan2(g) = &mut other.generator {
        g.channel_max = 4;
    }
    let mut t = Trainer::create(other, dir.path().join("bad")).unwrap();
    let err = t
        .init_from(&dir.path().join("src"), &gan_train::WhichCheckpoint::Latest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("g.synthesis.b4.const"), "{err}");
    // FreezeD beyond the blocks there are is an error naming the key.
    cfg.finetune.freeze_d = 9;
    let err = Trainer::create(cfg, dir.path().join("bad2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("finetune.freeze_d"), "{err}");
}

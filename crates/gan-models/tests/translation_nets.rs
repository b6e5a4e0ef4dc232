//! Parameter counts, shapes, forward modes and errors of the pix2pix networks.

use gan_models::{
    Error, ForwardMode, NormKind, PatchConfig, PatchDiscriminator, PatchDiscriminatorConfig,
    ResnetConfig, ResnetTranslator, TranslationDiscriminator, TranslationSpec, Translator,
    TranslatorConfig, UnetConfig, UnetGenerator,
};
use tch::{nn, Device, Kind, Tensor};

fn count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

fn images(b: i64, c: i64, h: i64, w: i64) -> Tensor {
    Tensor::randn([b, c, h, w], (Kind::Float, Device::Cpu))
}

fn running(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(k, _)| k.contains("running"))
        .map(|(k, t)| (k, t.copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn same(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size() && a.equal(b)
}

fn unchanged(before: &[(String, Tensor)], vs: &nn::VarStore) -> bool {
    let after = running(vs);
    assert_eq!(before.len(), after.len());
    before.iter().zip(&after).all(|(a, b)| same(&a.1, &b.1))
}

/// pix2pix's `unet_256` (3 -> 3, ngf 64, batch norm): 54,413,955 parameters, 8 levels, and a
/// 256x256 image comes back 256x256 in [-1, 1]. One build (about 220 MB).
#[test]
fn unet_256_parameter_count_and_output() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg: TranslatorConfig = toml::from_str("arch = 'unet'").unwrap();
    let g = Translator::new(&vs.root(), &cfg, &TranslationSpec::new(3, 3, 256, 256)).unwrap();
    assert_eq!(count(&vs), 54_413_955);
    let Translator::Unet(unet) = &g else {
        panic!("arch = 'unet' builds a U-Net")
    };
    assert_eq!(unet.num_downs(), 8);
    assert!(unet.has_dropout());
    let y = tch::no_grad(|| g.forward(&images(1, 3, 256, 256), ForwardMode::Stochastic)).unwrap();
    assert_eq!(y.size(), vec![1, 3, 256, 256]);
    assert!(y.abs().max().double_value(&[]) <= 1.0);
}

#[test]
fn unet_128_parameter_count() {
    let vs = nn::VarStore::new(Device::Cpu);
    let g = UnetGenerator::new(
        &vs.root(),
        &UnetConfig::default(),
        &TranslationSpec::new(3, 3, 128, 128),
    )
    .unwrap();
    assert_eq!(g.num_downs(), 7);
    assert_eq!(count(&vs), 41_828_995);
    // Running statistics are variables, but not trainable ones.
    assert!(vs.variables().len() > vs.trainable_variables().len());
}

/// The 70x70 PatchGAN (`basic`, n_layers 3): 2,768,705 parameters for pix2pix's 6-channel
/// cat(A, B) with batch norm, 2,764,737 for CycleGAN's 3 channels with instance norm.
#[test]
fn patchgan_parameter_counts() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg: PatchDiscriminatorConfig = toml::from_str("arch = 'patch'").unwrap();
    let spec = TranslationSpec::new(3, 3, 256, 256);
    let d =
        TranslationDiscriminator::new(&vs.root(), &cfg, spec.pair_channels(), 256, 256).unwrap();
    assert_eq!(count(&vs), 2_768_705);
    assert!(!d.batch_independent());
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = PatchConfig {
        norm: NormKind::Instance,
        ..Default::default()
    };
    let d = PatchDiscriminator::new(&vs.root(), &cfg, 3, 256, 256).unwrap();
    assert_eq!(count(&vs), 2_764_737);
    assert!(d.batch_independent());
    assert_eq!(d.output_size(256, 256), Some((30, 30)));
}

#[test]
fn unet_shapes_for_channels_and_sizes() {
    for (cin, cout, h, w) in [
        (1, 1, 32, 32),
        (1, 3, 32, 32),
        (3, 1, 32, 64),
        (2, 3, 96, 64),
    ] {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = UnetConfig {
            ngf: 4,
            ..Default::default()
        };
        let g =
            UnetGenerator::new(&vs.root(), &cfg, &TranslationSpec::new(cin, cout, h, w)).unwrap();
        assert_eq!(g.num_downs(), 5);
        for mode in [
            ForwardMode::Train,
            ForwardMode::Eval,
            ForwardMode::Stochastic,
        ] {
            let y = g.forward(&images(2, cin, h, w), mode).unwrap();
            assert_eq!(y.size(), vec![2, cout, h, w], "{cin}->{cout} {h}x{w}");
        }
        // Fully convolutional: other multiples of 2^num_downs work too, batch 1 included.
        let y = g
            .forward(&images(1, cin, 64, 32), ForwardMode::Train)
            .unwrap();
        assert_eq!(y.size(), vec![1, cout, 64, 32]);
    }
}

#[test]
fn patchgan_gives_a_logit_map() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg: PatchDiscriminatorConfig =
        toml::from_str("arch = 'patch'\nndf = 8\nn_layers = 2").unwrap();
    let d = TranslationDiscriminator::new(&vs.root(), &cfg, 4, 32, 32).unwrap();
    assert_eq!(d.in_channels(), 4);
    let logits = d
        .forward(&images(3, 4, 32, 32), ForwardMode::Train)
        .unwrap();
    assert_eq!(logits.size(), vec![3, 1, 6, 6]);
    // Non-square: 32x64 -> 6x14.
    let logits = d.forward(&images(2, 4, 32, 64), ForwardMode::Eval).unwrap();
    assert_eq!(logits.size(), vec![2, 1, 6, 14]);
    // The default three layers leave 2x2 at 32x32.
    let d3 =
        PatchDiscriminator::new(&(vs.root() / "d3"), &PatchConfig::default(), 4, 32, 32).unwrap();
    assert_eq!(d3.output_size(32, 32), Some((2, 2)));
    let pixel: PatchDiscriminatorConfig = toml::from_str("arch = 'pixel'\nndf = 8").unwrap();
    let d = TranslationDiscriminator::new(&(vs.root() / "px"), &pixel, 2, 32, 32).unwrap();
    let logits = d
        .forward(&images(2, 2, 20, 12), ForwardMode::Train)
        .unwrap();
    assert_eq!(logits.size(), vec![2, 1, 20, 12]);
}

#[test]
fn bad_sizes_and_inputs_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let cfg = UnetConfig {
        ngf: 4,
        ..Default::default()
    };
    // 48x48: the largest power of two dividing it is 16, fewer than 5 down-samplings.
    let err = UnetGenerator::new(&root, &cfg, &TranslationSpec::new(1, 1, 48, 48)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("generator.num_downs") && msg.contains("48x48"),
        "{msg}"
    );
    let six = UnetConfig {
        num_downs: Some(6),
        ..cfg.clone()
    };
    let msg = UnetGenerator::new(&root, &six, &TranslationSpec::new(1, 1, 32, 64))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("generator.num_downs") && msg.contains("32x64") && msg.contains("64"),
        "{msg}"
    );
    let four = UnetConfig {
        num_downs: Some(4),
        ..cfg.clone()
    };
    let msg = UnetGenerator::new(&root, &four, &TranslationSpec::new(1, 1, 32, 32))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("generator.num_downs"), "{msg}");
    let zero = UnetConfig {
        ngf: 0,
        ..cfg.clone()
    };
    let msg = UnetGenerator::new(&root, &zero, &TranslationSpec::new(1, 1, 32, 32))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("generator.ngf"), "{msg}");
    assert!(matches!(
        UnetGenerator::new(&root, &cfg, &TranslationSpec::new(0, 1, 32, 32)),
        Err(Error::Shape { .. })
    ));

    let g = UnetGenerator::new(&(&root / "g"), &cfg, &TranslationSpec::new(1, 3, 32, 32)).unwrap();
    for x in [
        images(2, 3, 32, 32),                                   // channels of B, not A
        images(2, 1, 32, 48),                                   // 48 is no multiple of 32
        images(0, 1, 32, 32),                                   // empty batch
        Tensor::randn([1, 32, 32], (Kind::Float, Device::Cpu)), // no batch dimension
    ] {
        let err = g.forward(&x, ForwardMode::Eval).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(err.to_string().contains("U-Net"), "{err}");
    }
    // A libtorch error (here: a double input for float weights) is an error, not a panic.
    let double = images(1, 1, 32, 32).to_kind(Kind::Double);
    assert!(matches!(
        g.forward(&double, ForwardMode::Eval),
        Err(Error::Torch(_))
    ));

    // n_layers 3 at 16x16 leaves no logit map.
    let msg = PatchDiscriminator::new(&root, &PatchConfig::default(), 4, 16, 16)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("discriminator.n_layers") && msg.contains("16x16"),
        "{msg}"
    );
    let d = PatchDiscriminator::new(&(&root / "d"), &PatchConfig::default(), 4, 32, 32).unwrap();
    for x in [images(2, 3, 32, 32), images(2, 4, 16, 32)] {
        assert!(matches!(
            d.forward(&x, ForwardMode::Train),
            Err(Error::Shape { .. })
        ));
    }
    let cfg: PatchDiscriminatorConfig = toml::from_str("arch = 'patch'\nn_layers = 0").unwrap();
    let msg = TranslationDiscriminator::new(&root, &cfg, 4, 32, 32)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("discriminator.n_layers"), "{msg}");
}

/// Train updates the running statistics; Stochastic (batch statistics, dropout) and Eval
/// leave them alone; Eval is deterministic, Stochastic with dropout is not.
#[test]
fn forward_modes() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    // 64x64 with six down-samplings: one middle level with dropout.
    let cfg = UnetConfig {
        ngf: 4,
        ..Default::default()
    };
    let g = UnetGenerator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 64, 64)).unwrap();
    assert_eq!(g.num_downs(), 6);
    assert!(g.has_dropout());
    let x = images(4, 1, 64, 64);

    let before = running(&vs);
    let s1 = g.forward(&x, ForwardMode::Stochastic).unwrap();
    let s2 = g.forward(&x, ForwardMode::Stochastic).unwrap();
    assert!(
        unchanged(&before, &vs),
        "stochastic mode changed running stats"
    );
    assert!(
        !same(&s1, &s2),
        "dropout should make stochastic outputs differ"
    );

    let e1 = g.forward(&x, ForwardMode::Eval).unwrap();
    let e2 = g.forward(&x, ForwardMode::Eval).unwrap();
    assert!(same(&e1, &e2), "eval mode is deterministic");
    assert!(unchanged(&before, &vs), "eval mode changed running stats");

    let _ = g.forward(&x, ForwardMode::Train).unwrap();
    assert!(!unchanged(&before, &vs), "train mode updates running stats");
    let e3 = g.forward(&x, ForwardMode::Eval).unwrap();
    assert!(!same(&e1, &e3), "eval mode reads the running stats");

    // Without dropout, stochastic is train mode minus the statistics update.
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = UnetConfig {
        dropout: false,
        ..cfg
    };
    let g = UnetGenerator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 64, 64)).unwrap();
    assert!(!g.has_dropout());
    let before = running(&vs);
    let s = g.forward(&x, ForwardMode::Stochastic).unwrap();
    assert!(unchanged(&before, &vs));
    let t = g.forward(&x, ForwardMode::Train).unwrap();
    assert!(same(&s, &t));
    assert!(!unchanged(&before, &vs));

    // Instance norm without dropout: every mode is the same network.
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = UnetConfig {
        ngf: 4,
        norm: NormKind::Instance,
        dropout: false,
        num_downs: None,
    };
    let g = UnetGenerator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 32, 32)).unwrap();
    assert!(running(&vs).is_empty());
    let x = images(2, 1, 32, 32);
    let e = g.forward(&x, ForwardMode::Eval).unwrap();
    assert!(same(&e, &g.forward(&x, ForwardMode::Train).unwrap()));
    assert!(same(&e, &g.forward(&x, ForwardMode::Stochastic).unwrap()));

    // The discriminator's batch norm follows the same rules.
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = PatchConfig {
        ndf: 4,
        n_layers: 2,
        norm: NormKind::Batch,
    };
    let d = PatchDiscriminator::new(&vs.root(), &cfg, 4, 32, 32).unwrap();
    let x = images(3, 4, 32, 32);
    let before = running(&vs);
    let s = d.forward(&x, ForwardMode::Stochastic).unwrap();
    assert!(unchanged(&before, &vs));
    assert!(same(&s, &d.forward(&x, ForwardMode::Train).unwrap()));
    assert!(!unchanged(&before, &vs));
}

/// Gradients reach every trainable variable of both networks (pix2pix's G and D steps).
#[test]
fn gradients_reach_every_parameter() {
    let vs = nn::VarStore::new(Device::Cpu);
    let spec = TranslationSpec::new(1, 3, 32, 32);
    let cfg: TranslatorConfig = toml::from_str("arch = 'unet'\nngf = 4").unwrap();
    let g = Translator::new(&(vs.root() / "g"), &cfg, &spec).unwrap();
    let d_cfg: PatchDiscriminatorConfig =
        toml::from_str("arch = 'patch'\nndf = 4\nn_layers = 2").unwrap();
    let d = TranslationDiscriminator::new(&(vs.root() / "d"), &d_cfg, spec.pair_channels(), 32, 32)
        .unwrap();
    let a = images(2, 1, 32, 32);
    let fake = g.forward(&a, ForwardMode::Train).unwrap();
    let logits = d
        .forward(&Tensor::cat(&[&a, &fake], 1), ForwardMode::Train)
        .unwrap();
    logits.sum(Kind::Float).backward();
    for (name, var) in vs.variables() {
        if var.requires_grad() {
            let grad = var.grad();
            assert!(grad.defined(), "{name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{name}"
            );
        }
    }
}

/// CycleGAN's `resnet_9blocks` (3 -> 3, ngf 64, instance norm, the `arch = 'resnet'`
/// defaults): 11,378,179 parameters, upstream's variable names, and a 256x256 image comes back
/// 256x256 in [-1, 1]; `resnet_6blocks`: 7,837,699.
#[test]
fn resnet_parameter_counts_and_names() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg: TranslatorConfig = toml::from_str("arch = 'resnet'").unwrap();
    let g = Translator::new(&vs.root(), &cfg, &TranslationSpec::new(3, 3, 256, 256)).unwrap();
    assert_eq!(count(&vs), 11_378_179);
    assert_eq!(g.size_multiple(), 4);
    assert!(!g.has_dropout());
    let Translator::Resnet(resnet) = &g else {
        panic!("arch = 'resnet' builds a ResNet generator")
    };
    assert_eq!(resnet.n_blocks(), 9);
    // Instance norm has no variables, and every convolution has a bias.
    let vars = vs.variables();
    assert_eq!(vars.len(), vs.trainable_variables().len());
    let mut want = vec![1, 4, 7, 19, 22, 26]
        .into_iter()
        .flat_map(|n| [format!("model.{n}.weight"), format!("model.{n}.bias")])
        .collect::<Vec<_>>();
    for i in 10..19 {
        for j in [1, 5] {
            want.push(format!("model.{i}.conv_block.{j}.weight"));
            want.push(format!("model.{i}.conv_block.{j}.bias"));
        }
    }
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    want.sort();
    assert_eq!(names, want.iter().collect::<Vec<_>>());
    assert_eq!(vars["model.19.weight"].size(), vec![256, 128, 3, 3]);
    assert_eq!(vars["model.26.weight"].size(), vec![3, 64, 7, 7]);
    let y = tch::no_grad(|| g.forward(&images(1, 3, 256, 256), ForwardMode::Eval)).unwrap();
    assert_eq!(y.size(), vec![1, 3, 256, 256]);
    assert!(y.abs().max().double_value(&[]) <= 1.0);

    let vs = nn::VarStore::new(Device::Cpu);
    let six = ResnetConfig {
        n_blocks: 6,
        ..Default::default()
    };
    ResnetTranslator::new(&vs.root(), &six, &TranslationSpec::new(3, 3, 128, 128)).unwrap();
    assert_eq!(count(&vs), 7_837_699);
    // Batch norm: no convolution biases before the norms, scales and shifts instead, and
    // running statistics (upstream's `model.2.running_mean`, ...).
    let vs = nn::VarStore::new(Device::Cpu);
    let batch = ResnetConfig {
        norm: NormKind::Batch,
        dropout: true,
        ..six
    };
    ResnetTranslator::new(&vs.root(), &batch, &TranslationSpec::new(3, 3, 128, 128)).unwrap();
    let vars = vs.variables();
    assert!(!vars.contains_key("model.1.bias") && vars.contains_key("model.2.running_mean"));
    // With dropout at `conv_block.4`, the second convolution is `conv_block.6`.
    assert!(vars.contains_key("model.10.conv_block.6.weight"));
    assert!(vars.contains_key("model.15.conv_block.7.running_var"));
    assert!(vars.contains_key("model.23.bias"));
}

#[test]
fn resnet_shapes_for_channels_and_sizes() {
    for (cin, cout, h, w) in [
        (3, 3, 32, 32),
        (3, 3, 32, 64),
        (1, 3, 32, 32),
        (1, 3, 32, 64),
    ] {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ResnetConfig {
            ngf: 4,
            n_blocks: 2,
            ..Default::default()
        };
        let g = ResnetTranslator::new(&vs.root(), &cfg, &TranslationSpec::new(cin, cout, h, w))
            .unwrap();
        assert_eq!((g.in_channels(), g.out_channels()), (cin, cout));
        for mode in [
            ForwardMode::Train,
            ForwardMode::Eval,
            ForwardMode::Stochastic,
        ] {
            let y = g.forward(&images(2, cin, h, w), mode).unwrap();
            assert_eq!(y.size(), vec![2, cout, h, w], "{cin}->{cout} {h}x{w}");
            assert!(y.abs().max().double_value(&[]) <= 1.0);
        }
        // Fully convolutional: other multiples of 4 work too, batch 1 included.
        let y = g
            .forward(&images(1, cin, 12, 20), ForwardMode::Train)
            .unwrap();
        assert_eq!(y.size(), vec![1, cout, 12, 20]);
    }
}

#[test]
fn resnet_bad_sizes_and_inputs_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let cfg = ResnetConfig {
        ngf: 4,
        n_blocks: 2,
        ..Default::default()
    };
    // 30x30 is no multiple of 4.
    let err = ResnetTranslator::new(&root, &cfg, &TranslationSpec::new(3, 3, 30, 30)).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("ResNet") && msg.contains("multiples of 4") && msg.contains("[30, 30]"),
        "{msg}"
    );
    // Too small for the residual blocks' reflection padding.
    assert!(matches!(
        ResnetTranslator::new(&root, &cfg, &TranslationSpec::new(3, 3, 4, 32)),
        Err(Error::Shape { .. })
    ));
    let zero = ResnetConfig {
        n_blocks: 0,
        ..cfg.clone()
    };
    let msg = ResnetTranslator::new(&root, &zero, &TranslationSpec::new(3, 3, 32, 32))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("generator.n_blocks"), "{msg}");
    let cfg_t: TranslatorConfig = toml::from_str("arch = 'resnet'\nngf = 0").unwrap();
    let msg = Translator::new(&root, &cfg_t, &TranslationSpec::new(3, 3, 32, 32))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("generator.ngf"), "{msg}");

    let g =
        ResnetTranslator::new(&(&root / "g"), &cfg, &TranslationSpec::new(1, 3, 32, 32)).unwrap();
    for x in [
        images(2, 1, 30, 30),                                   // 30 is no multiple of 4
        images(2, 1, 32, 30),                                   // nor on one side
        images(2, 3, 32, 32),                                   // channels of B, not A
        images(0, 1, 32, 32),                                   // empty batch
        Tensor::randn([1, 32, 32], (Kind::Float, Device::Cpu)), // no batch dimension
    ] {
        let err = g.forward(&x, ForwardMode::Eval).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(err.to_string().contains("ResNet"), "{err}");
    }
    let msg = g
        .forward(&images(1, 1, 30, 30), ForwardMode::Eval)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("multiples of 4") && msg.contains("30, 30]"),
        "{msg}"
    );
    let double = images(1, 1, 32, 32).to_kind(Kind::Double);
    assert!(matches!(
        g.forward(&double, ForwardMode::Eval),
        Err(Error::Torch(_))
    ));
}

/// Dropout in the residual blocks follows the forward mode: on in Train and Stochastic, off
/// in Eval; batch norm's running statistics as for the U-Net; instance norm without dropout
/// is the same in every mode.
#[test]
fn resnet_forward_modes() {
    tch::manual_seed(0);
    let spec = TranslationSpec::new(1, 3, 32, 32);
    let x = images(3, 1, 32, 32);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = ResnetConfig {
        ngf: 4,
        n_blocks: 2,
        norm: NormKind::Batch,
        dropout: true,
    };
    let g = ResnetTranslator::new(&vs.root(), &cfg, &spec).unwrap();
    assert!(g.has_dropout());
    let before = running(&vs);
    let s1 = g.forward(&x, ForwardMode::Stochastic).unwrap();
    let s2 = g.forward(&x, ForwardMode::Stochastic).unwrap();
    assert!(
        unchanged(&before, &vs),
        "stochastic mode changed running stats"
    );
    assert!(
        !same(&s1, &s2),
        "dropout should make stochastic outputs differ"
    );
    let e1 = g.forward(&x, ForwardMode::Eval).unwrap();
    assert!(same(&e1, &g.forward(&x, ForwardMode::Eval).unwrap()));
    assert!(unchanged(&before, &vs), "eval mode changed running stats");
    let t1 = g.forward(&x, ForwardMode::Train).unwrap();
    assert!(!unchanged(&before, &vs), "train mode updates running stats");
    assert!(!same(&t1, &g.forward(&x, ForwardMode::Train).unwrap()));

    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = ResnetConfig {
        ngf: 4,
        n_blocks: 2,
        ..Default::default()
    };
    let g = ResnetTranslator::new(&vs.root(), &cfg, &spec).unwrap();
    assert!(running(&vs).is_empty());
    let e = g.forward(&x, ForwardMode::Eval).unwrap();
    assert!(same(&e, &g.forward(&x, ForwardMode::Train).unwrap()));
    assert!(same(&e, &g.forward(&x, ForwardMode::Stochastic).unwrap()));
    // Instance norm: each image's output depends on that image alone.
    let one = g.forward(&x.narrow(0, 1, 1), ForwardMode::Eval).unwrap();
    assert!(one.allclose(&e.narrow(0, 1, 1), 1e-5, 1e-6, false));
}

/// Gradients reach every trainable variable of the ResNet generator.
#[test]
fn resnet_gradients_reach_every_parameter() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg: TranslatorConfig =
        toml::from_str("arch = 'resnet'\nngf = 4\nn_blocks = 2\nnorm = 'batch'").unwrap();
    let g = Translator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 16, 16)).unwrap();
    let y = g
        .forward(&images(2, 1, 16, 16), ForwardMode::Train)
        .unwrap();
    (&y * &images(2, 3, 16, 16)).sum(Kind::Float).backward();
    let mut n = 0;
    for (name, var) in vs.variables() {
        if var.requires_grad() {
            let grad = var.grad();
            assert!(grad.defined(), "{name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{name}"
            );
            n += 1;
        }
    }
    assert_eq!(n, vs.trainable_variables().len());
}

//! The pix2pix networks against PyTorch: a transcription of pytorch-CycleGAN-and-pix2pix's
//! U-Net, n-layer PatchGAN and pixel discriminator (at small widths) with identical weights
//! gives the same outputs and running statistics, and every variable has a PyTorch
//! counterpart of the same shape. Fixtures come from `scripts/translation_fixtures.py`, and
//! for CycleGAN's ResNet generator (loaded by upstream's state-dict names) from
//! `scripts/cyclegan_fixtures.py`.

mod common;

use std::collections::BTreeMap;

use common::{assert_close, fixture, load};
use gan_models::{
    ForwardMode, NormKind, PatchConfig, PatchDiscriminator, PixelConfig, PixelDiscriminator,
    ResnetConfig, ResnetTranslator, TranslationSpec, UnetConfig, UnetGenerator,
};
use tch::{nn, Device, Tensor};

/// The running statistics of `vs` against the fixture's `prefix.*` values.
fn check_running(vs: &nn::VarStore, t: &BTreeMap<String, Tensor>, prefix: &str) -> f64 {
    let mut worst = 0f64;
    let mut n = 0;
    for (name, var) in vs.variables() {
        if name.contains("running") {
            let key = format!("{prefix}{name}");
            worst = worst.max(assert_close(&var, &t[&key], &key));
            n += 1;
        }
    }
    assert_eq!(
        n,
        t.keys()
            .filter(|k| k.starts_with(prefix) && k.contains("running"))
            .count(),
        "{prefix}"
    );
    worst
}

/// Copies the fixture's `prefix.*` running statistics into `vs`.
fn set_running(vs: &nn::VarStore, t: &BTreeMap<String, Tensor>, prefix: &str) {
    tch::no_grad(|| {
        for (name, var) in vs.variables() {
            if name.contains("running") {
                var.shallow_clone().copy_(&t[&format!("{prefix}{name}")]);
            }
        }
    });
}

fn unet_case(
    t: &BTreeMap<String, Tensor>,
    case: &str,
    cfg: &UnetConfig,
    spec: TranslationSpec,
) -> f64 {
    let w = format!("{case}.w.");
    let x = &t[&format!("{case}.x")];
    // Train mode, compared on a twin without dropout (its mask cannot be reproduced).
    let vs = nn::VarStore::new(Device::Cpu);
    let twin_cfg = UnetConfig {
        dropout: false,
        ..cfg.clone()
    };
    let twin = UnetGenerator::new(&vs.root(), &twin_cfg, &spec).unwrap();
    load(&vs, t, &w);
    let out = twin.forward(x, ForwardMode::Train).unwrap();
    let mut worst = assert_close(&out, &t[&format!("{case}.train_out")], case);
    worst = worst.max(check_running(&vs, t, &format!("{case}.after.")));
    // Eval mode with dropout configured (off in eval) from the updated statistics.
    let vs = nn::VarStore::new(Device::Cpu);
    let g = UnetGenerator::new(&vs.root(), cfg, &spec).unwrap();
    load(&vs, t, &w);
    set_running(&vs, t, &format!("{case}.after."));
    let out = g.forward(x, ForwardMode::Eval).unwrap();
    worst = worst.max(assert_close(&out, &t[&format!("{case}.eval_out")], case));
    eprintln!("U-Net {case}: max |diff| = {worst:.3e}");
    worst
}

#[test]
fn unet_matches_pytorch() {
    let t = fixture("unet_small.safetensors");
    let spec = TranslationSpec::new(1, 3, 32, 32);
    let batch = UnetConfig {
        ngf: 4,
        num_downs: Some(5),
        ..Default::default()
    };
    unet_case(&t, "batch", &batch, spec);
    let instance = UnetConfig {
        ngf: 2,
        norm: NormKind::Instance,
        // Chosen from the size: 5.
        num_downs: None,
        ..Default::default()
    };
    unet_case(&t, "instance", &instance, spec);
}

/// Six down-samplings (one middle level with dropout), 2 -> 1 channels, 64x128.
#[test]
fn deep_unet_matches_pytorch() {
    let t = fixture("unet_deep.safetensors");
    let cfg = UnetConfig {
        ngf: 2,
        num_downs: Some(6),
        ..Default::default()
    };
    unet_case(&t, "deep", &cfg, TranslationSpec::new(2, 1, 64, 128));
}

/// Train mode on a twin without dropout (and the running statistics it leaves), the
/// stochastic mode (the same output, statistics untouched), then eval mode with the
/// configured dropout from the updated statistics. Weights load by upstream's names.
fn resnet_case(
    t: &BTreeMap<String, Tensor>,
    case: &str,
    cfg: &ResnetConfig,
    spec: TranslationSpec,
) -> f64 {
    let x = &t[&format!("{case}.x")];
    let train_out = &t[&format!("{case}.train_out")];
    let vs = nn::VarStore::new(Device::Cpu);
    let twin_cfg = ResnetConfig {
        dropout: false,
        ..cfg.clone()
    };
    let twin = ResnetTranslator::new(&vs.root(), &twin_cfg, &spec).unwrap();
    // The twin has no Dropout layers, so the second convolution of each block moves from
    // upstream's `conv_block.6` to `conv_block.5` (and its norm from 7 to 6).
    let renamed = |k: &str| {
        if cfg.dropout {
            k.replace(".conv_block.6.", ".conv_block.5.")
                .replace(".conv_block.7.", ".conv_block.6.")
        } else {
            k.to_string()
        }
    };
    let twin_t: BTreeMap<String, Tensor> = t
        .iter()
        .map(|(k, v)| (renamed(k), v.shallow_clone()))
        .collect();
    load(&vs, &twin_t, &format!("{case}.w."));
    let mut worst = assert_close(
        &twin.forward(x, ForwardMode::Stochastic).unwrap(),
        train_out,
        case,
    );
    worst = worst.max(check_running(&vs, &twin_t, &format!("{case}.w.")));
    worst = worst.max(assert_close(
        &twin.forward(x, ForwardMode::Train).unwrap(),
        train_out,
        case,
    ));
    worst = worst.max(check_running(&vs, &twin_t, &format!("{case}.after.")));
    let vs = nn::VarStore::new(Device::Cpu);
    let g = ResnetTranslator::new(&vs.root(), cfg, &spec).unwrap();
    load(&vs, t, &format!("{case}.w."));
    set_running(&vs, t, &format!("{case}.after."));
    let out = g.forward(x, ForwardMode::Eval).unwrap();
    worst = worst.max(assert_close(&out, &t[&format!("{case}.eval_out")], case));
    assert!(worst <= 1e-5, "{case}: max |diff| = {worst:.3e}");
    eprintln!("ResNet {case}: max |diff| = {worst:.3e}");
    worst
}

/// CycleGAN's ResNet generator: instance norm 3 -> 3 on 24x32 (ngf 8, 2 blocks), grey -> RGB,
/// batch norm with its running statistics, and nine blocks with batch norm and dropout
/// (upstream's `conv_block.6` / `.7` names), all loaded from upstream's state-dict names.
#[test]
fn resnet_generator_matches_pytorch() {
    let t = fixture("resnet_small.safetensors");
    let small = |ngf, norm| ResnetConfig {
        ngf,
        n_blocks: 2,
        norm,
        dropout: false,
    };
    let mut worst = resnet_case(
        &t,
        "instance",
        &small(8, NormKind::Instance),
        TranslationSpec::new(3, 3, 24, 32),
    );
    worst = worst.max(resnet_case(
        &t,
        "grey",
        &small(4, NormKind::Instance),
        TranslationSpec::new(1, 3, 16, 16),
    ));
    worst = worst.max(resnet_case(
        &t,
        "batch",
        &small(4, NormKind::Batch),
        TranslationSpec::new(3, 3, 16, 16),
    ));
    let nine = ResnetConfig {
        ngf: 1,
        n_blocks: 9,
        norm: NormKind::Batch,
        dropout: true,
    };
    worst = worst.max(resnet_case(
        &t,
        "nine",
        &nine,
        TranslationSpec::new(2, 1, 16, 24),
    ));
    eprintln!("ResNet generator vs PyTorch: max |diff| = {worst:.3e}");
}

enum Disc {
    Patch(PatchDiscriminator),
    Pixel(PixelDiscriminator),
}

impl Disc {
    fn forward(&self, x: &Tensor, mode: ForwardMode) -> Tensor {
        match self {
            Disc::Patch(d) => d.forward(x, mode),
            Disc::Pixel(d) => d.forward(x, mode),
        }
        .unwrap()
    }
}

/// Train mode (and the running statistics it leaves), then eval mode; the stochastic mode
/// gives the train-mode logits without touching the statistics.
fn d_case(t: &BTreeMap<String, Tensor>, case: &str, build: impl Fn(&nn::Path) -> Disc) {
    let vs = nn::VarStore::new(Device::Cpu);
    let d = build(&vs.root());
    load(&vs, t, &format!("{case}.w."));
    let x = &t[&format!("{case}.x")];
    let train_out = &t[&format!("{case}.train_out")];
    let mut worst = assert_close(&d.forward(x, ForwardMode::Stochastic), train_out, case);
    worst = worst.max(check_running(&vs, t, &format!("{case}.w.")));
    worst = worst.max(assert_close(
        &d.forward(x, ForwardMode::Train),
        train_out,
        case,
    ));
    worst = worst.max(check_running(&vs, t, &format!("{case}.after.")));
    let eval_out = &t[&format!("{case}.eval_out")];
    worst = worst.max(assert_close(
        &d.forward(x, ForwardMode::Eval),
        eval_out,
        case,
    ));
    eprintln!("{case}: max |diff| = {worst:.3e}");
}

#[test]
fn patch_discriminators_match_pytorch() {
    let t = fixture("patch_small.safetensors");
    for (case, norm) in [
        ("patch_batch", NormKind::Batch),
        ("patch_instance", NormKind::Instance),
    ] {
        let cfg = PatchConfig {
            ndf: 4,
            n_layers: 2,
            norm,
        };
        d_case(&t, case, |p| {
            Disc::Patch(PatchDiscriminator::new(p, &cfg, 4, 32, 32).unwrap())
        });
    }
    // n_layers 4: the channel multiplier stops at 8; non-square 64x48.
    let cfg = PatchConfig {
        ndf: 2,
        n_layers: 4,
        norm: NormKind::Batch,
    };
    d_case(&t, "patch_deep", |p| {
        Disc::Patch(PatchDiscriminator::new(p, &cfg, 2, 64, 48).unwrap())
    });
    for (case, norm) in [
        ("pixel_batch", NormKind::Batch),
        ("pixel_instance", NormKind::Instance),
    ] {
        let cfg = PixelConfig { ndf: 4, norm };
        d_case(&t, case, |p| {
            Disc::Pixel(PixelDiscriminator::new(p, &cfg, 4).unwrap())
        });
    }
}

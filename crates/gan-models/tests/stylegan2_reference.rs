//! StyleGAN2 against PyTorch: `scripts/stylegan2_fixtures.py` transcribes the equations of
//! stylegan2-ada-pytorch's `training/networks.py` (mapping, modulated convolutions, FIR
//! resampling, the skip generator, the resnet discriminator) at small widths, with every
//! parameter and buffer randomised; with the same weights our networks give the same `ws`,
//! images (fused and non-fused, constant and no noise), `w_avg` update, path-length
//! gradient, logits and R1 gradient, and every variable has a counterpart of the same name
//! and shape.

mod common;

use std::collections::BTreeMap;

use common::{assert_close, fixture, load};
use gan_models::{
    DConditioning, DataSpec, GConditioning, NoiseMode, StyleGan2Discriminator,
    StyleGan2DiscriminatorConfig, StyleGan2Generator, StyleGan2GeneratorConfig,
};
use tch::{nn, Device, Kind, Tensor};

fn g_config(conditioning: GConditioning) -> StyleGan2GeneratorConfig {
    StyleGan2GeneratorConfig {
        latent_dim: 8,
        w_dim: 8,
        mapping_layers: 2,
        channel_base: 64,
        channel_max: 16,
        conv_clamp: 256.0,
        conditioning,
        ..Default::default()
    }
}

fn d_config(conditioning: DConditioning, group: i64) -> StyleGan2DiscriminatorConfig {
    StyleGan2DiscriminatorConfig {
        channel_base: 64,
        channel_max: 16,
        mbstd_group: group,
        mbstd_channels: 1,
        conv_clamp: 256.0,
        conditioning,
        mapping_layers: 2,
        ..Default::default()
    }
}

fn generator(
    t: &BTreeMap<String, Tensor>,
    prefix: &str,
    cond: GConditioning,
) -> (nn::VarStore, StyleGan2Generator) {
    let vs = nn::VarStore::new(Device::Cpu);
    let classes = if cond == GConditioning::Mapping { 3 } else { 0 };
    let g = StyleGan2Generator::new(
        &vs.root(),
        &g_config(cond),
        &DataSpec::images(3, 16, 16, classes),
    )
    .unwrap();
    load(&vs, t, &format!("{prefix}.w."));
    (vs, g)
}

#[test]
fn conditional_generator_matches_the_pytorch_transcription() {
    let t = fixture("stylegan2_small.safetensors");
    let (_vs, g) = generator(&t, "g", GConditioning::Mapping);
    let (z, c) = (&t["g.z"], &t["g.c"]);
    let mut worst = 0f64;
    let ws = g.ws(z, Some(c), 1.0, false).unwrap();
    worst = worst.max(assert_close(&ws, &t["g.ws"], "ws"));
    let ws_trunc = g.ws(z, Some(c), 0.7, false).unwrap();
    worst = worst.max(assert_close(&ws_trunc, &t["g.ws_trunc"], "ws (psi 0.7)"));
    let ws = t["g.ws"].shallow_clone();
    let synth = g.synthesis();
    for (name, noise, fused) in [
        ("g.img_fused_const", NoiseMode::Const, true),
        ("g.img_nonfused_const", NoiseMode::Const, false),
        ("g.img_fused_none", NoiseMode::None, true),
    ] {
        let img = synth.forward(&ws, noise, fused).unwrap();
        worst = worst.max(assert_close(&img, &t[name], name));
    }
    // The path-length gradient: d (img * noise).sum() / d ws, non-fused (training).
    let leaf = ws.detach().set_requires_grad(true);
    let img = synth.forward(&leaf, NoiseMode::Const, false).unwrap();
    let out = (&img * &t["g.pl_noise"]).sum(Kind::Float);
    let grad = Tensor::run_backward(&[out], &[&leaf], false, false);
    worst = worst.max(assert_close(&grad[0], &t["g.pl_grad"], "pl_grad"));
    // One training-mode mapping call moves w_avg.
    let _ = g.mapping().forward(Some(z), Some(c), true).unwrap();
    worst = worst.max(assert_close(
        g.mapping().w_avg().unwrap(),
        &t["g.w_avg_after"],
        "w_avg",
    ));
    eprintln!("StyleGAN2 conditional generator: max |diff| = {worst:.3e}");
}

#[test]
fn unconditional_generator_matches_the_pytorch_transcription() {
    let t = fixture("stylegan2_small.safetensors");
    let (_vs, g) = generator(&t, "gu", GConditioning::None);
    let ws = g.ws(&t["gu.z"], None, 1.0, false).unwrap();
    let a = assert_close(&ws, &t["gu.ws"], "gu ws");
    let img = g.synthesis().forward(&ws, NoiseMode::Const, true).unwrap();
    let b = assert_close(&img, &t["gu.img_fused_const"], "gu img");
    eprintln!(
        "StyleGAN2 unconditional generator: max |diff| = {:.3e}",
        a.max(b)
    );
}

#[test]
fn discriminators_match_the_pytorch_transcription() {
    let t = fixture("stylegan2_small.safetensors");
    let data = DataSpec::images(3, 16, 16, 3);
    let vs = nn::VarStore::new(Device::Cpu);
    let d = StyleGan2Discriminator::new(&vs.root(), &d_config(DConditioning::Projection, 2), &data)
        .unwrap();
    load(&vs, &t, "d.w.");
    let img = t["d.img"].detach().set_requires_grad(true);
    let logits = d.forward(&img, Some(&t["d.c"])).unwrap();
    let mut worst = assert_close(&logits, &t["d.logits"].reshape([-1]), "d logits");
    let grad = Tensor::run_backward(&[logits.sum(Kind::Float)], &[&img], false, false);
    worst = worst.max(assert_close(&grad[0], &t["d.grad_img"], "d grad_img"));
    let vs = nn::VarStore::new(Device::Cpu);
    let du = StyleGan2Discriminator::new(
        &vs.root(),
        &d_config(DConditioning::None, 4),
        &DataSpec::images(3, 16, 16, 0),
    )
    .unwrap();
    load(&vs, &t, "du.w.");
    let logits = du.forward(&t["du.img"], None).unwrap();
    worst = worst.max(assert_close(
        &logits,
        &t["du.logits"].reshape([-1]),
        "du logits",
    ));
    eprintln!("StyleGAN2 discriminators: max |diff| = {worst:.3e}");
}

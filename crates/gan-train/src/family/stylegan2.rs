//! The StyleGAN2 family (Karras et al. 2020), trained as NVlabs' stylegan2-ada-pytorch
//! trains it (`training/loss.py` `StyleGAN2Loss`, `training/training_loop.py`).
//!
//! Phases, in upstream's order: `g` (non-saturating logistic loss `softplus(-D(G(z)))`),
//! `g_pl` every `pl_every` steps (path-length regularisation), `d`
//! (`softplus(D(G(z))) + softplus(-D(x))`) and `d_r1` every `r1_every` steps (R1). A
//! regularisation phase's loss is multiplied by its interval `I`; its network's one Adam has
//! the learning rate times `c = I / (I + 1)` and betas `beta^c` (lazy regularisation), for
//! the main phase too. Generated batches mix two latents' styles with probability
//! `style_mixing` (one random cut-off layer per batch). The mapping network's `w_avg`
//! follows every generated batch of the training phases. The generator EMA averages the
//! weights and copies the buffers (`w_avg`, the constant noise).
//!
//! `[augment]` (DiffAugment, ADA) transforms every image the discriminator sees, in all four
//! phases (R1 differentiates through it).
//!
//! Statistics: `g_loss`, `g_pl` (the penalty), `pl_mean`, `d_loss`, `d_real`, `d_fake`
//! (mean logits), `d_r1`, and with ADA `ada_p` and `ada_rt`. Checkpoint tensors: `g.*`,
//! `d.*`, `g_ema.*`, `opt_g.*`, `opt_d.*`, `pl_mean` and with ADA `augment.*`.
use std::collections::BTreeMap;

use gan_models::{
    Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, NoiseMode,
    StyleGan2Discriminator, StyleGan2Generator,
};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::gan::{apply_finetune, evaluate_images, Networks};
use super::{load_stores_state, stores_state, EvalCtx, Family, Phase, PhaseCtx, Stats, StepEnd};
use crate::adam::Adam;
use crate::augment::Augment;
use crate::config::{LossConfig, Stylegan2Config, TrainConfig};
use crate::data::{DataInfo, Source};
use crate::ema::{Buffers, Ema};
use crate::error::{config_err, Result};
use crate::plan::{DataPlan, Stylegan2Plan};
use crate::records::EvalRecord;

/// The StyleGAN2 family's cross-checks, run when a config is read. Each names the key.
pub(crate) fn validate(cfg: &TrainConfig, c: &Stylegan2Config) -> Result<()> {
    if cfg.data.is_translation() || cfg.data.mixture_kind().is_some() {
        return Err(config_err(
            "data.kind",
            format!(
                "`{}`: StyleGAN2 generates images (fashion-mnist with pad = 2, cifar10, a \
                 folder of square images, ...)",
                cfg.data.name()
            ),
        ));
    }
    if !matches!(cfg.generator, GeneratorConfig::Stylegan2(_)) {
        return Err(config_err(
            "generator.arch",
            "the stylegan2 family trains StyleGAN2's networks: set [generator] arch = \
             \"stylegan2\" (or train other networks with [model] family = \"gan\")",
        ));
    }
    let DiscriminatorConfig::Stylegan2(d) = &cfg.discriminator else {
        return Err(config_err(
            "discriminator.arch",
            "the stylegan2 family trains StyleGAN2's networks: set [discriminator] arch = \
             \"stylegan2\"",
        ));
    };
    // `[loss]` belongs to the gan family (StyleGAN2's loss and penalties are in [model]).
    if cfg.loss != LossConfig::default() {
        return Err(config_err(
            "loss",
            "[loss] belongs to the gan family; StyleGAN2's loss is the non-saturating \
             logistic loss and its penalties are model.r1_gamma and model.pl_weight",
        ));
    }
    let g_cond = cfg.generator.conditioning() != gan_models::GConditioning::None;
    let d_cond = cfg.discriminator.conditioning() != gan_models::DConditioning::None;
    if g_cond != d_cond {
        return Err(config_err(
            if g_cond {
                "discriminator.conditioning"
            } else {
                "generator.conditioning"
            },
            "a class-conditional StyleGAN2 needs generator.conditioning = \"mapping\" and \
             discriminator.conditioning = \"projection\" together",
        ));
    }
    if cfg.train.n_critic != 1 {
        return Err(config_err(
            "train.n_critic",
            format!(
                "{}: StyleGAN2 makes one generator and one discriminator update per step",
                cfg.train.n_critic
            ),
        ));
    }
    let nonneg = |key: &str, v: f64| -> Result<()> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(config_err(key, format!("{v} must be a number >= 0")))
        }
    };
    nonneg("model.r1_gamma", c.r1_gamma)?;
    nonneg("model.pl_weight", c.pl_weight)?;
    if !(0.0..=1.0).contains(&c.style_mixing) {
        return Err(config_err(
            "model.style_mixing",
            format!("{} is not a probability in [0, 1]", c.style_mixing),
        ));
    }
    if !(c.pl_decay > 0.0 && c.pl_decay <= 1.0) {
        return Err(config_err(
            "model.pl_decay",
            format!("{} is not in (0, 1]", c.pl_decay),
        ));
    }
    for (key, v) in [
        ("model.r1_every", c.r1_every),
        ("model.pl_every", c.pl_every),
    ] {
        if !(1..=1_000_000).contains(&v) {
            return Err(config_err(key, format!("{v} is not in 1..=1000000")));
        }
    }
    let b = cfg.train.batch_size;
    if !(1..=b.max(1)).contains(&c.pl_batch_shrink) || b % c.pl_batch_shrink != 0 {
        return Err(config_err(
            "model.pl_batch_shrink",
            format!(
                "{}: must divide train.batch_size ({b}), so the path-length phase runs on \
                 batch_size / pl_batch_shrink samples",
                c.pl_batch_shrink
            ),
        ));
    }
    if d.mbstd_channels > 0 {
        for (what, n) in [
            ("train.batch_size", b),
            ("the path-length batch", b / c.pl_batch_shrink),
        ] {
            let g = d.mbstd_group.min(n);
            if n % g != 0 {
                return Err(config_err(
                    "discriminator.mbstd_group",
                    format!(
                        "{}: {what} ({n}) is not divisible by min(mbstd_group, {n}) = {g}; \
                         the minibatch standard-deviation layer splits batches into groups",
                        d.mbstd_group
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The lazy-regularisation correction `c = I / (I + 1)` of a network regularised every `I`
/// steps (1 when it is not regularised).
fn lazy_ratio(enabled: bool, every: u64) -> f64 {
    if enabled {
        every as f64 / (every as f64 + 1.0)
    } else {
        1.0
    }
}

/// Networks, optimisers, EMA, `pl_mean` and data of a StyleGAN2 run.
pub struct Stylegan2Family {
    plan: Stylegan2Plan,
    phases: Vec<Phase>,
    source: Source,
    info: DataInfo,
    vs_g: VarStore,
    vs_d: VarStore,
    vs_ema: VarStore,
    g: Generator,
    d: Discriminator,
    g_ema: Generator,
    opt_g: Adam,
    opt_d: Adam,
    ema: Ema,
    /// The running mean of path lengths (upstream's `pl_mean` buffer), `[]` on the device.
    pl_mean: Tensor,
    /// What the discriminator's inputs go through (`[augment]`).
    augment: Augment,
    /// Learning-rate corrections of the lazy regularisation.
    c_g: f64,
    c_d: f64,
    device: Device,
}

impl std::fmt::Debug for Stylegan2Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stylegan2Family")
            .field("phases", &self.phases)
            .field("data", &self.info.name)
            .finish()
    }
}

impl Stylegan2Family {
    /// Loads the data and builds the networks (weights from `step_seed(seed, Init, 0)`).
    pub fn new(plan: &Stylegan2Plan, data: &DataPlan, device: Device) -> Result<Self> {
        let Networks {
            source,
            info,
            vs_g,
            vs_d,
            vs_ema,
            g,
            d,
            g_ema,
        } = Networks::build(&plan.generator, &plan.discriminator, data, device)?;
        let c = &plan.config;
        let c_g = lazy_ratio(c.pl_weight > 0.0, c.pl_every);
        let c_d = lazy_ratio(c.r1_gamma > 0.0, c.r1_every);
        let o = &plan.optim;
        let mut opt_g = Adam::new(
            &vs_g,
            o.lr_g * c_g,
            o.beta1.powf(c_g),
            o.beta2.powf(c_g),
            o.eps,
        )?;
        let mut opt_d = Adam::new(
            &vs_d,
            o.lr_d * c_d,
            o.beta1.powf(c_d),
            o.beta2.powf(c_d),
            o.eps,
        )?;
        apply_finetune(&plan.finetune, &g, &d, &mut opt_g, &mut opt_d)?;
        let ema = Ema::with_buffers(&vs_g, &opt_g, &vs_ema, Buffers::Copy)?;
        let mut phases = vec![Phase::new("g", "opt_g")];
        if c.pl_weight > 0.0 {
            phases.push(Phase {
                every: c.pl_every,
                ..Phase::new("g_pl", "opt_g")
            });
        }
        phases.push(Phase::new("d", "opt_d"));
        if c.r1_gamma > 0.0 {
            phases.push(Phase {
                every: c.r1_every,
                ..Phase::new("d_r1", "opt_d")
            });
        }
        let pl_mean = Tensor::f_zeros([], (Kind::Float, device))?;
        let augment = Augment::new(&plan.augment, plan.batch_size, device)?;
        Ok(Stylegan2Family {
            augment,
            plan: plan.clone(),
            phases,
            source,
            info,
            vs_g,
            vs_d,
            vs_ema,
            g,
            d,
            g_ema,
            opt_g,
            opt_d,
            ema,
            pl_mean,
            c_g,
            c_d,
            device,
        })
    }

    fn sg(&self) -> &StyleGan2Generator {
        self.g
            .as_stylegan2()
            .expect("validate() admits only StyleGAN2 generators")
    }

    fn sd(&self) -> &StyleGan2Discriminator {
        self.d
            .as_stylegan2()
            .expect("validate() admits only StyleGAN2 discriminators")
    }

    /// Latents and (conditional models) uniformly drawn labels for `b` fakes.
    fn latents(&self, b: i64) -> Result<(Tensor, Option<Tensor>)> {
        let z = Tensor::f_randn([b, self.sg().latent_dim()], (Kind::Float, self.device))?;
        let y = if self.sg().conditional() {
            Some(Tensor::f_randint(
                self.info.class_names.len() as i64,
                [b],
                (Kind::Int64, self.device),
            )?)
        } else {
            None
        };
        Ok((z, y))
    }

    /// Upstream's `run_G`: `ws` from the mapping (updating `w_avg`), with probability
    /// `style_mixing` the layers from a random cut-off taken from a second latent's `w`
    /// (which leaves `w_avg` alone); then the images (non-fused, random noise).
    fn run_g(&self, z: &Tensor, y: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let g = self.sg();
        let mut ws = g.ws(z, y, 1.0, true)?;
        let p = self.plan.config.style_mixing;
        if p > 0.0 {
            let num_ws = g.num_ws();
            let cutoff = Tensor::f_randint_low(1, num_ws, [], (Kind::Int64, self.device))?;
            let mix = Tensor::f_rand([], (Kind::Float, self.device))?.f_lt(p)?;
            let cutoff = cutoff.f_where_scalarother(&mix, num_ws)?;
            let other = g.ws(&z.f_randn_like()?, y, 1.0, false)?;
            let layer = Tensor::f_arange(num_ws, (Kind::Int64, self.device))?;
            let take_other = layer.f_ge_tensor(&cutoff)?.f_reshape([1, num_ws, 1])?;
            ws = other.f_where_self(&take_other, &ws)?;
        }
        let img = g.synthesize(&ws, NoiseMode::Random, true)?;
        Ok((img, ws))
    }

    /// The discriminator's logits for images, through the augmentation (upstream's
    /// `run_D`).
    fn run_d(&self, img: &Tensor, y: Option<&Tensor>) -> Result<Tensor> {
        Ok(self.sd().forward(&self.augment.apply(img)?, y)?)
    }

    fn g_phase(&mut self, stats: &mut Stats) -> Result<()> {
        let b = self.plan.batch_size;
        // The discriminator is frozen while the generator's graph is recorded, so the
        // generator step computes no discriminator gradients.
        self.vs_d.freeze();
        let loss = (|| -> Result<Tensor> {
            let (z, y) = self.latents(b)?;
            let (img, _) = self.run_g(&z, y.as_ref())?;
            let logits = self.run_d(&img, y.as_ref())?;
            Ok(logits.f_neg()?.f_softplus()?.f_mean(Kind::Float)?)
        })();
        self.vs_d.unfreeze();
        let loss = loss?;
        self.opt_g.backward_step(&loss)?;
        stats.loss("g_loss", &loss);
        stats.grads_finite("g_grads", self.opt_g.grads_finite());
        Ok(())
    }

    /// Path-length regularisation: `pl_weight * (|J_w^T y| - pl_mean)^2` on
    /// `batch / pl_batch_shrink` samples, `y` Gaussian noise over `sqrt(H * W)`, times
    /// `pl_every`.
    fn g_pl_phase(&mut self, stats: &mut Stats) -> Result<()> {
        let c = &self.plan.config;
        let b = self.plan.batch_size / c.pl_batch_shrink;
        let (weight, decay, gain) = (c.pl_weight, c.pl_decay, c.pl_every as f64);
        let (z, y) = self.latents(b)?;
        let (img, ws) = self.run_g(&z, y.as_ref())?;
        let s = img.size();
        let noise = img
            .f_randn_like()?
            .f_div_scalar(((s[2] * s[3]) as f64).sqrt())?;
        let out = img.f_mul(&noise)?.f_sum(Kind::Float)?;
        let grads = Tensor::f_run_backward(&[out], &[&ws], true, true)?;
        let lengths = grads[0]
            .f_square()?
            .f_sum_dim_intlist(&[2i64][..], false, Kind::Float)?
            .f_mean_dim(&[1i64][..], false, Kind::Float)?
            .f_sqrt()?;
        let mean = self.pl_mean.f_lerp(&lengths.f_mean(Kind::Float)?, decay)?;
        tch::no_grad(|| self.pl_mean.f_copy_(&mean.f_detach()?))?;
        let penalty = lengths.f_sub(&mean)?.f_square()?;
        let loss = penalty.f_mul_scalar(weight)?.f_mean(Kind::Float)?;
        self.opt_g.backward_step(&loss.f_mul_scalar(gain)?)?;
        stats.loss("g_pl", &loss);
        stats.value("pl_mean", &self.pl_mean);
        stats.grads_finite("g_pl_grads", self.opt_g.grads_finite());
        Ok(())
    }

    fn d_phase(&mut self, step: u64, stats: &mut Stats) -> Result<()> {
        let b = self.plan.batch_size;
        let (z, y_fake) = self.latents(b)?;
        let fake = tch::no_grad(|| self.run_g(&z, y_fake.as_ref()))?.0;
        let (real, y_real) = self.real(b, step);
        let l_fake = self.run_d(&fake, y_fake.as_ref())?;
        let l_real = self.run_d(&real, y_real.as_ref())?;
        let loss = l_fake
            .f_softplus()?
            .f_mean(Kind::Float)?
            .f_add(&l_real.f_neg()?.f_softplus()?.f_mean(Kind::Float)?)?;
        self.opt_d.backward_step(&loss)?;
        self.augment.observe_real(&l_real)?;
        if let Some((p, rt)) = self.augment.stats() {
            stats.value("ada_p", &p);
            stats.value("ada_rt", &rt);
        }
        stats.loss("d_loss", &loss);
        stats.value("d_real", &l_real.detach().mean(Kind::Float));
        stats.value("d_fake", &l_fake.detach().mean(Kind::Float));
        stats.grads_finite("d_grads", self.opt_d.grads_finite());
        Ok(())
    }

    /// R1: `r1_gamma / 2 * |grad_x D(x)|^2` on the step's real batch, times `r1_every`.
    fn d_r1_phase(&mut self, step: u64, stats: &mut Stats) -> Result<()> {
        let c = &self.plan.config;
        let (gamma, gain) = (c.r1_gamma, c.r1_every as f64);
        let b = self.plan.batch_size;
        let (real, y) = self.real(b, step);
        let x = real.f_detach()?.set_requires_grad(true);
        let logits = self.run_d(&x, y.as_ref())?;
        let grads = Tensor::f_run_backward(&[logits.f_sum(Kind::Float)?], &[&x], true, true)?;
        let penalty =
            grads[0]
                .f_square()?
                .f_sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Float)?;
        let loss = penalty.f_mul_scalar(gamma / 2.0)?.f_mean(Kind::Float)?;
        self.opt_d.backward_step(&loss.f_mul_scalar(gain)?)?;
        stats.loss("d_r1", &loss);
        stats.grads_finite("d_r1_grads", self.opt_d.grads_finite());
        Ok(())
    }

    /// The real batch of step `step` (the same for `d` and `d_r1`).
    fn real(&mut self, b: i64, step: u64) -> (Tensor, Option<Tensor>) {
        let (x, y) = self.source.real(b, step);
        (x, y.filter(|_| self.d.conditional()))
    }
}

impl Family for Stylegan2Family {
    fn name(&self) -> &'static str {
        "stylegan2"
    }

    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn learning_rates(&self) -> Vec<(&'static str, f64)> {
        vec![("opt_g", self.opt_g.lr), ("opt_d", self.opt_d.lr)]
    }

    fn set_lr_factor(&mut self, factor: f64) {
        self.opt_g.lr = self.plan.optim.lr_g * self.c_g * factor;
        self.opt_d.lr = self.plan.optim.lr_d * self.c_d * factor;
    }

    fn run_phase(&mut self, ctx: &PhaseCtx, stats: &mut Stats) -> Result<()> {
        match ctx.phase.name {
            "g" => self.g_phase(stats),
            "g_pl" => self.g_pl_phase(stats),
            "d" => self.d_phase(ctx.step, stats),
            _ => self.d_r1_phase(ctx.step, stats),
        }
    }

    fn end_step(&mut self, end: &StepEnd) -> Result<()> {
        self.ema.update(end.ema_beta);
        self.augment.end_step(end.step)
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut v = stores_state(
            &[
                ("g", &self.vs_g),
                ("d", &self.vs_d),
                ("g_ema", &self.vs_ema),
            ],
            &[("opt_g", &self.opt_g), ("opt_d", &self.opt_d)],
        );
        v.push(("pl_mean".into(), self.pl_mean.shallow_clone()));
        v.extend(self.augment.state());
        v
    }

    fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        load_stores_state(
            &[
                ("g", &self.vs_g),
                ("d", &self.vs_d),
                ("g_ema", &self.vs_ema),
            ],
            &mut [("opt_g", &mut self.opt_g), ("opt_d", &mut self.opt_d)],
            tensors,
        )?;
        let src = tensors
            .get("pl_mean")
            .ok_or_else(|| crate::Error::IncompatibleCheckpoint {
                path: "<state>".into(),
                differences: vec!["missing tensor `pl_mean`".into()],
            })?;
        tch::no_grad(|| self.pl_mean.f_copy_(src))?;
        self.augment.load_state(tensors)
    }

    /// A sample grid from the EMA generator and the `[eval]` scores, as the GAN family.
    fn evaluate(&mut self, ctx: &EvalCtx) -> Result<EvalRecord> {
        evaluate_images(&self.g_ema, &self.info, ctx, self.device)
    }

    fn data_info(&self) -> &DataInfo {
        &self.info
    }
}

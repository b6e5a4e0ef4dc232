//! The GAN family: a generator of latents (and class labels, for conditional models)
//! against a discriminator. Unconditional, class-conditional (conditional batch norm,
//! projection) and AC-GAN training, PacGAN packing, every [`gan_losses::GanLoss`], WGAN-GP,
//! R1/R2 (lazy: a schedule term), `n_critic` (the discriminator phase's repeat count) and a
//! generator EMA.
//!
//! Phases: `d` (repeated `n_critic` times; lazy terms `r1`/`r2` every `loss.r1_every` steps)
//! then `g`. Statistics: `d_loss`, `d_real`, `d_fake` (mean logits), `g_loss`. Checkpoint
//! tensors: `g.*`, `d.*`, `g_ema.*`, `opt_g.*`, `opt_d.*`.
use std::collections::BTreeMap;
use std::path::Path;

use gan_data::{points, Mixture2d};
use gan_losses::{grad_norm_sq, gradient_penalty};
use gan_models::{
    DConditioning, Discriminator, DiscriminatorConfig, GConditioning, Generator, GeneratorConfig,
};
use gan_tensor::{seed_all, step_seed, Stream};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::{
    copy_file, load_stores_state, stores_state, EvalCtx, Family, Phase, PhaseCtx, Stats, StepEnd,
};
use crate::adam::Adam;
use crate::augment::Augment;
use crate::config::{FinetuneConfig, LossConfig, TrainConfig};
use crate::data::{DataInfo, Source};
use crate::ema::Ema;
use crate::error::{build_err, config_err, Error, Result};
use crate::plan::{DataPlan, GanPlan};
use crate::plot;
use crate::records::EvalRecord;
use crate::scoring;

/// The GAN family's cross-checks, run when a config is read. Each names the key to change.
pub(crate) fn validate(cfg: &TrainConfig) -> Result<()> {
    if cfg.data.is_translation() {
        let family = if cfg.data.is_paired() {
            "pix2pix"
        } else {
            "cyclegan"
        };
        return Err(config_err(
            "data.kind",
            format!(
                "`{}` is {} data for image-to-image translation; train it with \
                 [model] family = \"{family}\"",
                cfg.data.name(),
                if cfg.data.is_paired() {
                    "paired"
                } else {
                    "unpaired"
                },
            ),
        ));
    }
    let g_cond = cfg.generator.conditioning() != GConditioning::None;
    let d_cond = cfg.discriminator.conditioning() != DConditioning::None;
    if g_cond && !d_cond {
        return Err(config_err(
            "discriminator.conditioning",
            "the generator is class-conditional (generator.conditioning = \"batch-norm\") but \
             the discriminator is not, so nothing teaches the generator to respect its labels; \
             set discriminator.conditioning = \"projection\" or \"auxiliary-classifier\", or \
             generator.conditioning = \"none\"",
        ));
    }
    if d_cond && !g_cond {
        return Err(config_err(
            "generator.conditioning",
            "the discriminator is class-conditional but the generator is not, so its fakes \
             carry no labels to judge; set generator.conditioning = \"batch-norm\" or \
             discriminator.conditioning = \"none\"",
        ));
    }
    let pack = cfg.discriminator.pack();
    if pack > 1 && d_cond {
        return Err(config_err(
            "discriminator.pack",
            format!(
                "{pack}: a packed discriminator judges {pack} samples with one label, so a \
                 class-conditional one would ignore all but the first label of each pack; use \
                 pack = 1 with conditioning"
            ),
        ));
    }
    Ok(())
}

/// The data and the three networks of a family that generates from latents (gan,
/// stylegan2): the generator, the discriminator and the generator's EMA copy (starting equal
/// to the generator, frozen), with weights drawn from `step_seed(seed, Init, 0)`.
pub(crate) struct Networks {
    pub(crate) source: Source,
    pub(crate) info: DataInfo,
    pub(crate) vs_g: VarStore,
    pub(crate) vs_d: VarStore,
    pub(crate) vs_ema: VarStore,
    pub(crate) g: Generator,
    pub(crate) d: Discriminator,
    pub(crate) g_ema: Generator,
}

impl Networks {
    /// Loads the data and builds the networks for it.
    pub(crate) fn build(
        generator: &GeneratorConfig,
        discriminator: &DiscriminatorConfig,
        data: &DataPlan,
        device: Device,
    ) -> Result<Self> {
        let (source, info) = Source::load(data, device)?;
        let spec = info.spec();
        seed_all(step_seed(data.seed, Stream::Init, 0));
        let vs_g = VarStore::new(device);
        let vs_d = VarStore::new(device);
        let mut vs_ema = VarStore::new(device);
        let g = Generator::new(&vs_g.root(), generator, &spec).map_err(build_err("generator"))?;
        let d = Discriminator::new(&vs_d.root(), discriminator, &spec)
            .map_err(build_err("discriminator"))?;
        let g_ema = Generator::new(&vs_ema.root(), generator, &spec)
            .map_err(build_err("generator's EMA copy"))?;
        vs_ema.copy(&vs_g)?;
        vs_ema.freeze();
        Ok(Networks {
            source,
            info,
            vs_g,
            vs_d,
            vs_ema,
            g,
            d,
            g_ema,
        })
    }
}

/// Fine-tuning (`[finetune]`): FreezeD over the discriminator's first blocks from the input,
/// and the generator's mapping network (StyleGAN2 generators). Errors name the key when the
/// networks have no such blocks.
pub(crate) fn apply_finetune(
    ft: &FinetuneConfig,
    g: &Generator,
    d: &Discriminator,
    opt_g: &mut Adam,
    opt_d: &mut Adam,
) -> Result<()> {
    if ft.freeze_g_mapping {
        if g.as_stylegan2().is_none() {
            return Err(config_err(
                "finetune.freeze_g_mapping",
                "the generator has no mapping network (it needs `arch = \"stylegan2\"`)",
            ));
        }
        opt_g.freeze(&|n| n.starts_with("mapping."))?;
    }
    if ft.freeze_d > 0 {
        let blocks = d.freeze_blocks();
        if ft.freeze_d > blocks.len() {
            let names: Vec<&str> = blocks.iter().map(|(b, _)| b.as_str()).collect();
            return Err(config_err(
                "finetune.freeze_d",
                if blocks.is_empty() {
                    format!(
                        "{}: FreezeD needs a dcgan or stylegan2 discriminator",
                        ft.freeze_d
                    )
                } else {
                    format!(
                        "{}: the discriminator has {} blocks ({})",
                        ft.freeze_d,
                        blocks.len(),
                        names.join(", ")
                    )
                },
            ));
        }
        let frozen: Vec<String> = blocks[..ft.freeze_d]
            .iter()
            .flat_map(|(_, prefixes)| prefixes.iter().cloned())
            .collect();
        opt_d.freeze(&|n| frozen.iter().any(|p| n.starts_with(p.as_str())))?;
    }
    Ok(())
}

/// Networks, optimisers, EMA and data of a GAN run.
pub struct GanFamily {
    plan: GanPlan,
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
    /// What the discriminator's image inputs go through (`[augment]`).
    augment: Augment,
    device: Device,
    /// The last real batch of the `d` phase, for losses whose generator side needs real
    /// logits (relativistic).
    last_real: Option<(Tensor, Option<Tensor>)>,
}

impl std::fmt::Debug for GanFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GanFamily")
            .field("phases", &self.phases)
            .field("data", &self.info.name)
            .finish()
    }
}

impl GanFamily {
    /// Loads the data and builds the networks (weights from `step_seed(seed, Init, 0)`).
    pub fn new(plan: &GanPlan, data: &DataPlan, device: Device) -> Result<Self> {
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
        let o = &plan.optim;
        let mut opt_g = Adam::new(&vs_g, o.lr_g, o.beta1, o.beta2, o.eps)?;
        let mut opt_d = Adam::new(&vs_d, o.lr_d, o.beta1, o.beta2, o.eps)?;
        apply_finetune(&plan.finetune, &g, &d, &mut opt_g, &mut opt_d)?;
        let ema = Ema::new(&vs_g, &opt_g, &vs_ema)?;
        let l = &plan.loss;
        let mut d_phase = Phase::new("d", "opt_d");
        d_phase.repeat = plan.n_critic;
        if l.r1_gamma > 0.0 {
            d_phase.lazy_terms.push(("r1", l.r1_every));
        }
        if l.r2_gamma > 0.0 {
            d_phase.lazy_terms.push(("r2", l.r1_every));
        }
        let phases = vec![d_phase, Phase::new("g", "opt_g")];
        let augment = Augment::new(&plan.augment, plan.batch_size, device)?;
        Ok(GanFamily {
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
            device,
            last_real: None,
        })
    }

    /// Latents and (for a conditional generator) uniformly drawn class labels for `b` fakes.
    fn latents(&self, b: i64) -> (Tensor, Option<Tensor>) {
        let z = Tensor::randn([b, self.g.latent_dim()], (Kind::Float, self.device));
        let y = self.g.conditional().then(|| {
            Tensor::randint(
                self.info.class_names.len() as i64,
                [b],
                (Kind::Int64, self.device),
            )
        });
        (z, y)
    }

    /// One discriminator update (one repetition of the `d` phase).
    fn d_phase(&mut self, ctx: &PhaseCtx, stats: &mut Stats) -> Result<()> {
        let b = self.plan.batch_size;
        let lc: &LossConfig = &self.plan.loss;
        let n_critic = ctx.phase.repeat as u64;
        // Penalties see a pack (the discriminator's unit of judgement) as one sample:
        // inputs are viewed as [B / pack, pack * sample size] and one gradient norm is taken
        // per pack. `full` restores the discriminator's input shape [B, sample shape...].
        let pack = self.d.pack();
        let mut full_shape = vec![-1i64];
        full_shape.extend(&self.info.shape);
        let augment = &self.augment;
        // The discriminator sees images through `[augment]`; penalties differentiate
        // through it (with respect to the un-augmented inputs, as stylegan2-ada does).
        let full = |t: &Tensor| augment.apply(&t.reshape(full_shape.as_slice()));
        let as_packs = |t: &Tensor| t.reshape([b / pack, -1]);
        // The label of a pack is its first sample's (auxiliary-classifier targets); packing
        // with labels is refused by `validate`, so packs of conditional runs are samples.
        let pack_labels = |y: &Tensor| y.view([b / pack, pack]).select(1, 0);
        let lazy = lc.r1_every as f64;
        let r1 = if ctx.term_due("r1") {
            lc.r1_gamma * lazy
        } else {
            0.0
        };
        let r2 = if ctx.term_due("r2") {
            lc.r2_gamma * lazy
        } else {
            0.0
        };
        let (real, y_real) = self.source.real(b, ctx.step * n_critic + ctx.index as u64);
        // The gradient penalty judges interpolates of real and fake pairs, so with a
        // conditional discriminator both sides of a pair carry the same (real) label.
        let (z, y_fake) = if lc.gp_weight > 0.0 && self.d.conditional() {
            let z = Tensor::randn([b, self.g.latent_dim()], (Kind::Float, self.device));
            (z, y_real.as_ref().map(|y| y.shallow_clone()))
        } else {
            self.latents(b)
        };
        let fake = tch::no_grad(|| self.g.forward_t(&z, y_fake.as_ref(), true))?;
        let real_in = if r1 > 0.0 {
            as_packs(&real).detach().set_requires_grad(true)
        } else {
            as_packs(&real)
        };
        let fake_in = if r2 > 0.0 {
            as_packs(&fake).detach().set_requires_grad(true)
        } else {
            as_packs(&fake)
        };
        let (l_real, l_fake, aux_real, aux_fake) = if self.d.batch_independent() {
            // One pass over real and fake together: half the operations, same logits.
            let both = Tensor::cat(&[full(&real_in)?, full(&fake_in)?], 0);
            let y_both = match (&y_real, &y_fake) {
                (Some(yr), Some(yf)) => Some(Tensor::cat(&[yr, yf], 0)),
                _ => None,
            };
            let (l, aux) = self.d.forward_full(&both, y_both.as_ref(), true)?;
            let n = b / pack;
            let split = |t: &Tensor| (t.narrow(0, 0, n), t.narrow(0, n, n));
            let (lr, lf) = split(&l);
            let (ar, af) = match aux.as_ref().map(split) {
                Some((ar, af)) => (Some(ar), Some(af)),
                None => (None, None),
            };
            (lr, lf, ar, af)
        } else {
            let (lr, ar) = self
                .d
                .forward_full(&full(&real_in)?, y_real.as_ref(), true)?;
            let (lf, af) = self
                .d
                .forward_full(&full(&fake_in)?, y_fake.as_ref(), true)?;
            (lr, lf, ar, af)
        };
        let mut loss = lc.kind.discriminator(&l_real, &l_fake)?;
        if lc.gp_weight > 0.0 {
            let d = &self.d;
            let y = y_real.as_ref();
            let critic =
                |x: &Tensor| -> gan_models::Result<Tensor> { d.forward_t(&full(x)?, y, true) };
            loss += gradient_penalty_checked(critic, &as_packs(&real), &as_packs(&fake), lc)?
                * lc.gp_weight;
        }
        if r1 > 0.0 {
            loss += grad_norm_sq(&l_real, &real_in)?.mean(Kind::Float) * (r1 / 2.0);
        }
        if r2 > 0.0 {
            loss += grad_norm_sq(&l_fake, &fake_in)?.mean(Kind::Float) * (r2 / 2.0);
        }
        if let (Some(a), Some(y)) = (&aux_real, &y_real) {
            loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
        }
        if let (Some(a), Some(y)) = (&aux_fake, &y_fake) {
            loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
        }
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
        self.last_real = Some((real, y_real));
        Ok(())
    }

    /// One generator update.
    fn g_phase(&mut self, stats: &mut Stats) -> Result<()> {
        let b = self.plan.batch_size;
        let lc = &self.plan.loss;
        let pack = self.d.pack();
        let pack_labels = |y: &Tensor| y.view([b / pack, pack]).select(1, 0);
        // The discriminator is frozen while the generator's graph is recorded (autograd
        // decides at record time), so the generator step computes no discriminator gradients.
        self.vs_d.freeze();
        let g_loss = (|| -> Result<Tensor> {
            let (z, y_fake) = self.latents(b);
            let fake = self.g.forward_t(&z, y_fake.as_ref(), true)?;
            let fake = self.augment.apply(&fake)?;
            let (l_fake, aux_fake) = self.d.forward_full(&fake, y_fake.as_ref(), true)?;
            let l_real = match &self.last_real {
                Some((real, y_real)) if lc.kind.needs_real_for_generator() => {
                    self.d.forward_t(real, y_real.as_ref(), true)?.detach()
                }
                _ => l_fake.detach(),
            };
            let mut loss = lc.kind.generator(&l_real, &l_fake)?;
            if let (Some(a), Some(y)) = (&aux_fake, &y_fake) {
                loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
            }
            Ok(loss)
        })();
        self.vs_d.unfreeze();
        let g_loss = g_loss?;
        self.opt_g.backward_step(&g_loss)?;
        stats.loss("g_loss", &g_loss);
        stats.grads_finite("g_grads", self.opt_g.grads_finite());
        Ok(())
    }

    /// `n` samples from the EMA generator with latents seeded by `seed` (eval mode: no
    /// statistics change); `labels` (`[n]`) for a conditional generator.
    fn sample_ema(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        sample_generator(&self.g_ema, n, seed, labels, 1.0, self.device)
    }
}

/// WGAN-GP through a discriminator whose forward pass can fail (it was already run on these
/// shapes, so it does not; an error still surfaces as an error, not a panic).
fn gradient_penalty_checked(
    critic: impl Fn(&Tensor) -> gan_models::Result<Tensor>,
    real: &Tensor,
    fake: &Tensor,
    lc: &LossConfig,
) -> Result<Tensor> {
    let failure = std::cell::RefCell::new(None);
    let penalty = gradient_penalty(
        |x| match critic(x) {
            Ok(t) => t,
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                x.sum_dim_intlist(&[1i64][..], false, Kind::Float)
            }
        },
        real,
        fake,
        lc.gp_target,
    )?;
    match failure.into_inner() {
        Some(e) => Err(e.into()),
        None => Ok(penalty),
    }
}

impl Family for GanFamily {
    fn name(&self) -> &'static str {
        "gan"
    }

    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn learning_rates(&self) -> Vec<(&'static str, f64)> {
        vec![("opt_g", self.opt_g.lr), ("opt_d", self.opt_d.lr)]
    }

    fn set_lr_factor(&mut self, factor: f64) {
        self.opt_g.lr = self.plan.optim.lr_g * factor;
        self.opt_d.lr = self.plan.optim.lr_d * factor;
    }

    fn run_phase(&mut self, ctx: &PhaseCtx, stats: &mut Stats) -> Result<()> {
        match ctx.phase.name {
            "d" => self.d_phase(ctx, stats),
            _ => self.g_phase(stats),
        }
    }

    fn end_step(&mut self, end: &StepEnd) -> Result<()> {
        // EMA of every generator tensor (weights and batch-norm statistics).
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
        self.last_real = None;
        self.augment.load_state(tensors)
    }

    /// 2D data: mode metrics, a samples CSV and a scatter plot; images: a sample grid from a
    /// fixed latent batch (one row per class for conditional models) and the `[eval]` scores.
    fn evaluate(&mut self, ctx: &EvalCtx) -> Result<EvalRecord> {
        let seed = step_seed(ctx.seed, Stream::Eval, 0);
        let step = ctx.step;
        if let Some(mixture) = self.source.mixture() {
            let x = self.sample_ema(ctx.samples, seed, None)?;
            let pts = points(&x)?;
            let modes = mixture.evaluate(&pts)?;
            let csv = ctx.run.samples().join(format!("step-{step:09}.csv"));
            write_csv(&csv, &pts)?;
            let png = ctx.run.plots().join(format!("samples-step-{step:09}.png"));
            let title = format!(
                "samples at step {step}: {}/{} modes, {:.1}% high quality",
                modes.modes_captured,
                modes.n_modes,
                100.0 * modes.high_quality_fraction
            );
            scatter(mixture, &png, &title, &pts)?;
            copy_file(&png, &ctx.run.plots().join("samples-latest.png"))?;
            return Ok(EvalRecord {
                modes: Some(modes),
                ..EvalRecord::new(step)
            });
        }
        evaluate_images(&self.g_ema, &self.info, ctx, self.device)
    }

    fn data_info(&self) -> &DataInfo {
        &self.info
    }
}

/// An evaluation of a generator of images: a sample grid from a fixed latent batch (one row
/// per class for conditional models) into `samples/` and `plots/samples-latest.png`, and the
/// `[eval]` scores of `ctx.samples` samples (labels cycling over the classes).
pub(crate) fn evaluate_images(
    g_ema: &Generator,
    info: &DataInfo,
    ctx: &EvalCtx,
    device: Device,
) -> Result<EvalRecord> {
    let seed = step_seed(ctx.seed, Stream::Eval, 0);
    let step = ctx.step;
    let (labels, columns) = grid_layout(info, g_ema.conditional(), device);
    let n = labels.as_ref().map_or(64, |l| l.size()[0]);
    let x = sample_generator(g_ema, n, seed, labels.as_ref(), 1.0, device)?;
    let png = ctx.run.samples().join(format!("step-{step:09}.png"));
    plot::image_grid(&png, &x, columns)?;
    copy_file(&png, &ctx.run.plots().join("samples-latest.png"))?;
    let scores = match ctx.evaluator {
        Some(ev) => {
            let n = ctx.samples;
            let labels = g_ema
                .conditional()
                .then(|| scoring::cycle_labels(n, info.class_names.len() as i64));
            let seed = step_seed(ctx.seed, Stream::Eval, 1);
            let x = scoring::generate_chunked(g_ema, n, seed, labels.as_ref(), 1.0, device)?;
            let labels: Option<Vec<i64>> = labels.as_ref().map(Vec::<i64>::try_from).transpose()?;
            let report = ev
                .evaluate(&plot::to_u8(&x), labels.as_deref(), &mut |_, _, _| {})
                .map_err(|source| Error::Eval {
                    what: format!("scoring samples at step {step}"),
                    source,
                })?;
            Some(report)
        }
        None => None,
    };
    Ok(EvalRecord {
        grid: Some(png),
        scores,
        ..EvalRecord::new(step)
    })
}

/// `n` samples of `g` (eval mode, truncation `psi`) from latents seeded by `seed`, drawn on
/// `device`.
pub(crate) fn sample_generator(
    g: &Generator,
    n: i64,
    seed: i64,
    labels: Option<&Tensor>,
    psi: f64,
    device: Device,
) -> Result<Tensor> {
    seed_all(seed);
    let z = Tensor::f_randn([n, g.latent_dim()], (Kind::Float, device))?;
    let labels = labels.map(|l| l.to_device(device));
    Ok(tch::no_grad(|| {
        g.forward_truncated(&z, labels.as_ref(), psi)
    })?)
}

/// Labels and column count of an evaluation grid: 10 columns per class row for a conditional
/// generator (`None` labels and 8 columns of 64 samples otherwise).
fn grid_layout(info: &DataInfo, conditional: bool, device: Device) -> (Option<Tensor>, usize) {
    if conditional {
        let k = info.class_names.len() as i64;
        let labels =
            Tensor::arange(k, (Kind::Int64, device)).repeat_interleave_self_int(10, 0, None);
        (Some(labels), 10)
    } else {
        (None, 8)
    }
}

/// Writes `x,y` lines, no header (atomically).
pub fn write_csv(path: &Path, pts: &[[f32; 2]]) -> Result<()> {
    let mut s = String::with_capacity(pts.len() * 24);
    for [x, y] in pts {
        s.push_str(&format!("{x},{y}\n"));
    }
    Ok(gan_tensor::write_atomic(path, s.as_bytes())?)
}

fn scatter(data: &Mixture2d, path: &Path, title: &str, pts: &[[f32; 2]]) -> Result<()> {
    let extent = data
        .means()
        .iter()
        .flatten()
        .fold(0f64, |a, &b| a.max(b.abs()))
        * 1.375;
    plot::scatter_2d(path, title, pts, data.means(), 3.0 * data.std(), extent)
}

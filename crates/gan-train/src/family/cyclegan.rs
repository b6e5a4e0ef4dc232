//! The CycleGAN family (Zhu et al. 2017): unpaired image-to-image translation.
//!
//! As junyanz/pytorch-CycleGAN-and-pix2pix's `cycle_gan_model.py`: translators
//! `G_A: A -> B` and `G_B: B -> A` (CycleGAN's ResNet generator by default), discriminators
//! `D_A` judging domain B and `D_B` judging domain A (PatchGANs), one Adam over both
//! generators and one over both discriminators. Each step:
//! - phase `g` (discriminators frozen): `fake_B = G_A(A)`, `rec_A = G_B(fake_B)`,
//!   `fake_A = G_B(B)`, `rec_B = G_A(fake_A)`; the loss is
//!   `loss(D_A(fake_B)) + loss(D_B(fake_A)) + lambda_A |rec_A - A| + lambda_B |rec_B - B|`
//!   plus, when `lambda_identity > 0`, `lambda_B lambda_identity |G_A(B) - B| +
//!   lambda_A lambda_identity |G_B(A) - A|`;
//! - phase `d`: each discriminator sees the real images of its domain and a draw from its
//!   pool of 50 past fakes ([`ImagePool`]), `0.5 (loss(D(real), real) + loss(D(pool), fake))`.
//!
//! `loss` is upstream's `GANLoss`: for least-squares a plain `MSE(D(x), target)`, twice
//! gan-losses' `0.5 mean((l - 1)^2)` ([`gan_losses::GanLoss::translation_scale`]), so the
//! adversarial terms weigh against the cycle terms as upstream's do.
//!
//! Statistics (upstream's names): `g_a`, `g_b` (the generators' adversarial losses),
//! `cycle_a`, `cycle_b`, `idt_a`, `idt_b` (weighted, as they enter the loss), `g_loss`,
//! `d_a`, `d_b`. Checkpoint tensors: `g.a.*`, `g.b.*`, `d.a.*`, `d.b.*`, `opt_g.*`, `opt_d.*`,
//! and the pools `pool_a.*` (fakes of domain A, for `D_B`) and `pool_b.*`.
//!
//! The two domains are batched independently: each has its own epoch order and its own
//! crop/flip stream, all functions of `(seed, step)`.
use std::collections::BTreeMap;

use gan_data::{DeviceUnpaired, Jitter, Split, UnpairedBatcher};
use gan_eval::{Evaluator, FeatureCache, Reference, TranslationScores};
use gan_losses::{cycle_loss, identity_loss};
use gan_models::{ForwardMode, TranslationDiscriminator, TranslationSpec, Translator};
use gan_tensor::{seed_all, step_seed, Stream};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::pix2pix::{center_crop, model_key, triptych_with_channels};
use super::{
    copy_file, load_stores_state, stores_state, EvalCtx, Family, Phase, PhaseCtx, Stats, StepEnd,
};
use crate::adam::Adam;
use crate::config::{gan_section_set, CycleganConfig, DataConfig, EvalConfig, OptimConfig};
use crate::config::{TestMode, TrainConfig};
use crate::data::{load_unpaired, DataInfo};
use crate::error::{config_err, Error, Result};
use crate::plan::DataPlan;
use crate::plot;
use crate::pool::ImagePool;
use crate::records::EvalRecord;

/// The CycleGAN family's cross-checks, run when a config is read. Each names the key.
pub(crate) fn validate(cfg: &TrainConfig, c: &CycleganConfig) -> Result<()> {
    if !cfg.data.is_unpaired() {
        return Err(config_err(
            "data.kind",
            format!(
                "`{}` is not unpaired data; cyclegan translates between two domains (hot, \
                 unpaired)",
                cfg.data.name()
            ),
        ));
    }
    if let Some(key) = gan_section_set(cfg) {
        return Err(config_err(
            key,
            format!(
                "[{key}] belongs to the gan family; cyclegan's networks are \
                 [model.generator] and [model.discriminator], its loss `model.gan_loss`"
            ),
        ));
    }
    if cfg.train.n_critic != 1 {
        return Err(config_err(
            "train.n_critic",
            format!(
                "{}: cyclegan makes one generator and one discriminator update per step",
                cfg.train.n_critic
            ),
        ));
    }
    if matches!(
        c.gan_loss,
        gan_losses::GanLoss::RelativisticAverage | gan_losses::GanLoss::Wasserstein
    ) {
        return Err(config_err(
            "model.gan_loss",
            format!(
                "`{}` is not one of cyclegan's losses; use least-squares (lsgan), \
                 non-saturating (vanilla) or hinge",
                c.gan_loss
            ),
        ));
    }
    for (key, w) in [
        ("model.lambda_a", c.lambda_a),
        ("model.lambda_b", c.lambda_b),
        ("model.lambda_identity", c.lambda_identity),
    ] {
        if !(w >= 0.0 && w.is_finite()) {
            return Err(config_err(key, format!("{w} must be >= 0 and finite")));
        }
    }
    if c.pool_size > 10_000 {
        return Err(config_err(
            "model.pool_size",
            format!("{} is not in 0..=10000", c.pool_size),
        ));
    }
    if !(1..=4096).contains(&c.test_batch) {
        return Err(config_err(
            "model.test_batch",
            format!("{} is not in 1..=4096", c.test_batch),
        ));
    }
    c.generator.validate().map_err(model_key)?;
    c.discriminator.validate().map_err(model_key)?;
    let (ca, cb, size) = match &cfg.data {
        DataConfig::Unpaired {
            height,
            width,
            channels_a,
            channels_b,
            ..
        } => {
            if !(1..=4096).contains(height) || !(1..=4096).contains(width) {
                return Err(config_err(
                    "data.height",
                    format!("{height}x{width} is not in 1..=4096 a side"),
                ));
            }
            for (key, ch) in [
                ("data.channels_a", channels_a),
                ("data.channels_b", channels_b),
            ] {
                if ![1, 3].contains(ch) {
                    return Err(config_err(key, format!("{ch} must be 1 or 3")));
                }
            }
            (*channels_a, *channels_b, (*height, *width))
        }
        _ => (1, 3, (32, 32)),
    };
    if ca != cb && c.lambda_identity > 0.0 {
        return Err(config_err(
            "model.lambda_identity",
            format!(
                "{}: the identity loss feeds domain B's images to G_A: A -> B, which needs \
                 both domains to have the same channels (here {ca} and {cb}); set it to 0",
                c.lambda_identity
            ),
        ));
    }
    cfg.data
        .jitter()
        .validate(size)
        .map_err(|e| config_err("data.jitter", format!("{e}")))?;
    if cfg.eval.classifier_scores && !matches!(cfg.data, DataConfig::Hot { .. }) {
        return Err(config_err(
            "eval.classifier_scores",
            "cyclegan scores label preservation and FCD only on the built-in hot task \
             (one Fashion-MNIST classifier serves both domains there)",
        ));
    }
    if cfg.eval.inception {
        return Err(config_err(
            "eval.inception",
            "Inception scores of cyclegan runs are not supported yet",
        ));
    }
    Ok(())
}

/// Which way a translator goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Way {
    /// `G_A: A -> B`.
    AToB,
    /// `G_B: B -> A`.
    BToA,
}

impl Way {
    /// `a-to-b` or `b-to-a`.
    pub fn name(self) -> &'static str {
        match self {
            Way::AToB => "a-to-b",
            Way::BToA => "b-to-a",
        }
    }
}

/// One direction of a cyclegan evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionRecord {
    /// `a-to-b` or `b-to-a`.
    pub direction: Way,
    /// Test images translated.
    pub n: i64,
    /// L1/PSNR/SSIM against the exact mapping (tasks with a known one: `hot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<TranslationScores>,
    /// L1/PSNR/SSIM of the cycle reconstruction (`G_B(G_A(a))` against `a`).
    pub cycle: TranslationScores,
    /// Classifier scores of the translations against the real target domain: FCD/KID, and
    /// label preservation as the conditional accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<gan_eval::ImageReport>,
}

/// The grey view of a `hot` image the Fashion-MNIST classifier judges: `(R + G + B) / 3`
/// rounded, the exact inverse of the hot colour map (its three channels sum to `3p`).
/// Grey images pass through.
pub fn classifier_view(x: &Tensor) -> Tensor {
    if x.size()[1] == 1 {
        return x.shallow_clone();
    }
    (x.to_kind(Kind::Float)
        .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
        / 3.0)
        .round()
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
}

/// Both domains' test-time view of an unpaired data set: `u8` A and B tensors on the CPU
/// (centre-cropped to the training crop) and each side's labels.
pub(crate) type DomainTensors = (Tensor, Tensor, Option<Vec<i64>>, Option<Vec<i64>>);

/// [`DomainTensors`] of `ds`, as a run with `jitter` sees them at test time.
pub(crate) fn domain_tensors(ds: &gan_data::UnpairedDataset, jitter: &Jitter) -> DomainTensors {
    let crop = jitter.output_size(ds.size());
    let (a, b) = ds.to_tensors();
    (
        center_crop(&a, crop),
        center_crop(&b, crop),
        ds.labels_a().map(<[i64]>::to_vec),
        ds.labels_b().map(<[i64]>::to_vec),
    )
}

/// The held-out images, `u8` on the CPU, centre-cropped to the training crop.
struct TestSet {
    a: Tensor,
    b: Tensor,
    labels_a: Option<Vec<i64>>,
    labels_b: Option<Vec<i64>>,
    /// `b[i]` is the exact translation of `a[i]` (the `hot` task).
    paired: bool,
}

/// What `(A, B)` of the step the `g` phase leaves for the `d` phase.
struct Current {
    real_a: Tensor,
    real_b: Tensor,
    fake_a: Tensor,
    fake_b: Tensor,
}

/// Networks, optimisers, pools and data of a CycleGAN run.
pub struct CycleganFamily {
    cfg: CycleganConfig,
    optim: OptimConfig,
    eval: EvalConfig,
    phases: Vec<Phase>,
    info: DataInfo,
    train: DeviceUnpaired,
    batcher: UnpairedBatcher,
    jitter: Jitter,
    size: (usize, usize),
    test: Option<TestSet>,
    vs_g: VarStore,
    vs_d: VarStore,
    g_a: Translator,
    g_b: Translator,
    d_a: TranslationDiscriminator,
    d_b: TranslationDiscriminator,
    opt_g: Adam,
    opt_d: Adam,
    pool_a: ImagePool,
    pool_b: ImagePool,
    device: Device,
    current: Option<Current>,
    /// Built at the first evaluation that needs them: one per direction.
    evaluators: Option<[Evaluator; 2]>,
}

impl std::fmt::Debug for CycleganFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleganFamily")
            .field("data", &self.info.source)
            .finish()
    }
}

impl CycleganFamily {
    /// Loads both domains (and the held-out split, if any) and builds the networks.
    pub fn new(
        cfg: &CycleganConfig,
        optim: &OptimConfig,
        eval: &EvalConfig,
        data: &DataPlan,
        device: Device,
    ) -> Result<Self> {
        let ds = load_unpaired(&data.config)?;
        let jitter = data.config.jitter();
        let size = ds.size();
        jitter
            .validate(size)
            .map_err(|e| config_err("data.jitter", format!("{e}")))?;
        let crop = jitter.output_size(size);
        let batch = data.batch_size as usize;
        for (side, len) in [("A", ds.len_a()), ("B", ds.len_b())] {
            if batch > len {
                return Err(config_err(
                    "train.batch_size",
                    format!(
                        "{batch} is larger than domain {side} ({len} images in {})",
                        ds.source
                    ),
                ));
            }
        }
        let test = match data.config.with_split(Split::Test) {
            Ok(test_cfg) if test_cfg != data.config => {
                let (a, b, labels_a, labels_b) =
                    domain_tensors(&load_unpaired(&test_cfg)?, &jitter);
                Some(TestSet {
                    a,
                    b,
                    labels_a,
                    labels_b,
                    paired: matches!(data.config, DataConfig::Hot { .. }),
                })
            }
            _ => None,
        };
        let (ca, cb) = (ds.channels_a() as i64, ds.channels_b() as i64);
        let info = DataInfo {
            name: data.config.name().into(),
            source: ds.source.clone(),
            shape: vec![cb, crop.0 as i64, crop.1 as i64],
            class_names: ds.class_names(),
            n_samples: ds.len_a() + ds.len_b(),
            bytes: ds.bytes(),
            skipped: 0,
            input_shape: Some(vec![ca, crop.0 as i64, crop.1 as i64]),
        };
        let batcher = UnpairedBatcher::new(ds.len_a(), ds.len_b(), batch, data.seed, jitter, size)?;
        let train = ds.to_device(device);
        drop(ds);
        seed_all(step_seed(data.seed, Stream::Init, 0));
        let (h, w) = (crop.0 as i64, crop.1 as i64);
        let vs_g = VarStore::new(device);
        let vs_d = VarStore::new(device);
        let g_a = Translator::new(
            &(vs_g.root() / "a"),
            &cfg.generator,
            &TranslationSpec::new(ca, cb, h, w),
        )
        .map_err(model_key)?;
        let g_b = Translator::new(
            &(vs_g.root() / "b"),
            &cfg.generator,
            &TranslationSpec::new(cb, ca, h, w),
        )
        .map_err(model_key)?;
        let d_a = TranslationDiscriminator::new(&(vs_d.root() / "a"), &cfg.discriminator, cb, h, w)
            .map_err(model_key)?;
        let d_b = TranslationDiscriminator::new(&(vs_d.root() / "b"), &cfg.discriminator, ca, h, w)
            .map_err(model_key)?;
        let o = optim;
        let opt_g = Adam::new(&vs_g, o.lr_g, o.beta1, o.beta2, o.eps)?;
        let opt_d = Adam::new(&vs_d, o.lr_d, o.beta1, o.beta2, o.eps)?;
        let pool_a = ImagePool::new(cfg.pool_size, [ca, h, w], device)?;
        let pool_b = ImagePool::new(cfg.pool_size, [cb, h, w], device)?;
        Ok(CycleganFamily {
            cfg: cfg.clone(),
            optim: optim.clone(),
            eval: eval.clone(),
            phases: vec![Phase::new("g", "opt_g"), Phase::new("d", "opt_d")],
            info,
            train,
            batcher,
            jitter,
            size,
            test,
            vs_g,
            vs_d,
            g_a,
            g_b,
            d_a,
            d_b,
            opt_g,
            opt_d,
            pool_a,
            pool_b,
            device,
            current: None,
            evaluators: None,
        })
    }

    fn g_phase(&mut self, step: u64, stats: &mut Stats) -> Result<()> {
        let (real_a, real_b) = self.train.batches(&self.batcher.step(step)?);
        let c = &self.cfg;
        self.vs_d.freeze();
        let result = (|| -> Result<_> {
            let m = ForwardMode::Train;
            let fake_b = self.g_a.forward(&real_a, m)?;
            let rec_a = self.g_b.forward(&fake_b, m)?;
            let fake_a = self.g_b.forward(&real_b, m)?;
            let rec_b = self.g_a.forward(&fake_a, m)?;
            let lb = self.d_a.forward(&fake_b, m)?.reshape([-1]);
            let la = self.d_b.forward(&fake_a, m)?.reshape([-1]);
            // Upstream's GANLoss scale (a plain MSE for lsgan), against the cycle terms.
            let s = c.gan_loss.translation_scale();
            let g_a = c.gan_loss.generator(&lb.detach(), &lb)? * s;
            let g_b = c.gan_loss.generator(&la.detach(), &la)? * s;
            let cyc_a = cycle_loss(&rec_a, &real_a, c.lambda_a)?;
            let cyc_b = cycle_loss(&rec_b, &real_b, c.lambda_b)?;
            let mut total = &g_a + &g_b + &cyc_a + &cyc_b;
            let idt = if c.lambda_identity > 0.0 {
                let idt_a = identity_loss(
                    &self.g_a.forward(&real_b, m)?,
                    &real_b,
                    c.lambda_b,
                    c.lambda_identity,
                )?;
                let idt_b = identity_loss(
                    &self.g_b.forward(&real_a, m)?,
                    &real_a,
                    c.lambda_a,
                    c.lambda_identity,
                )?;
                total = total + &idt_a + &idt_b;
                Some((idt_a, idt_b))
            } else {
                None
            };
            Ok((fake_a, fake_b, [g_a, g_b, cyc_a, cyc_b], idt, total))
        })();
        self.vs_d.unfreeze();
        let (fake_a, fake_b, [g_a, g_b, cyc_a, cyc_b], idt, total) = result?;
        self.opt_g.backward_step(&total)?;
        stats.loss("g_a", &g_a);
        stats.loss("g_b", &g_b);
        stats.loss("cycle_a", &cyc_a);
        stats.loss("cycle_b", &cyc_b);
        if let Some((idt_a, idt_b)) = idt {
            stats.loss("idt_a", &idt_a);
            stats.loss("idt_b", &idt_b);
        }
        stats.loss("g_loss", &total);
        stats.grads_finite("g_grads", self.opt_g.grads_finite());
        self.current = Some(Current {
            real_a,
            real_b,
            fake_a: fake_a.detach(),
            fake_b: fake_b.detach(),
        });
        Ok(())
    }

    fn d_phase(&mut self, stats: &mut Stats) -> Result<()> {
        let Some(cur) = self.current.take() else {
            return Err(config_err(
                "model",
                "the d phase of cyclegan needs the g phase of the same step",
            ));
        };
        let m = ForwardMode::Train;
        let loss = &self.cfg.gan_loss;
        let d_scale = 0.5 * loss.translation_scale();
        // D_A judges domain B: real B against pooled fakes of B.
        let fake_b = self.pool_b.query(&cur.fake_b)?;
        let real = self.d_a.forward(&cur.real_b, m)?.reshape([-1]);
        let fake = self.d_a.forward(&fake_b, m)?.reshape([-1]);
        let d_a = loss.discriminator(&real, &fake)? * d_scale;
        let fake_a = self.pool_a.query(&cur.fake_a)?;
        let real = self.d_b.forward(&cur.real_a, m)?.reshape([-1]);
        let fake = self.d_b.forward(&fake_a, m)?.reshape([-1]);
        let d_b = loss.discriminator(&real, &fake)? * d_scale;
        self.opt_d.backward_step(&(&d_a + &d_b))?;
        stats.loss("d_a", &d_a);
        stats.loss("d_b", &d_b);
        stats.grads_finite("d_grads", self.opt_d.grads_finite());
        Ok(())
    }

    /// The translator of `way`.
    fn translator(&self, way: Way) -> &Translator {
        match way {
            Way::AToB => &self.g_a,
            Way::BToA => &self.g_b,
        }
    }

    /// Up to `n` held-out images of each domain (else training images), `u8` on the CPU.
    fn eval_images(&self, n: i64) -> TestSet {
        match &self.test {
            Some(t) => {
                let na = n.min(t.a.size()[0]);
                let nb = n.min(t.b.size()[0]);
                TestSet {
                    a: t.a.narrow(0, 0, na),
                    b: t.b.narrow(0, 0, nb),
                    labels_a: t.labels_a.as_ref().map(|y| y[..na as usize].to_vec()),
                    labels_b: t.labels_b.as_ref().map(|y| y[..nb as usize].to_vec()),
                    paired: t.paired,
                }
            }
            None => {
                let crop = self.jitter.output_size(self.size);
                let take = |x: &Tensor| {
                    let k = n.min(x.size()[0]);
                    center_crop(&x.narrow(0, 0, k).to_device(Device::Cpu), crop)
                };
                TestSet {
                    a: take(&self.train.a),
                    b: take(&self.train.b),
                    labels_a: None,
                    labels_b: None,
                    paired: false,
                }
            }
        }
    }

    /// The two evaluators of the hot task (references: the real test images of each target
    /// domain, through [`classifier_view`]), built once.
    fn evaluators(&mut self) -> Result<Option<&[Evaluator; 2]>> {
        if !self.eval.classifier_scores {
            return Ok(None);
        }
        if self.evaluators.is_none() {
            let dir = self.eval.classifier.clone().unwrap_or_else(|| {
                crate::scoring::default_classifier_dir(&self.info.name, &self.info.shape)
            });
            let n = match self.eval.reference_images {
                0 => i64::MAX,
                r => r as i64,
            };
            let build = |images: &Tensor, what: &str| -> Result<Evaluator> {
                let c = gan_eval::Classifier::load(&dir, self.device).map_err(|source| {
                    Error::Eval {
                        what: format!(
                            "eval.classifier_scores: cannot load the classifier in {} (train \
                             one with `gan classifier train --data fashion-mnist --pad 2`, or \
                             set eval.classifier)",
                            dir.display()
                        ),
                        source,
                    }
                })?;
                let k = n.min(images.size()[0]);
                let reference = Reference {
                    name: format!("{} test images of domain {what}", k),
                    images: classifier_view(&images.narrow(0, 0, k)),
                };
                Evaluator::new(
                    Some((c, dir.clone())),
                    None,
                    Some(&reference),
                    &FeatureCache::default(),
                    Default::default(),
                    &mut |_, _, _| {},
                )
                .map_err(|source| Error::Eval {
                    what: format!("reference features of domain {what}"),
                    source,
                })
            };
            let full = self.eval_images(i64::MAX);
            self.evaluators = Some([build(&full.b, "B")?, build(&full.a, "A")?]);
        }
        Ok(self.evaluators.as_ref())
    }
}

/// Translates `u8` images `[N, C, H, W]` with `g`, `batch` at a time on `device`, into `u8`
/// images on the CPU.
pub(crate) fn translate(g: &Translator, x: &Tensor, batch: i64, device: Device) -> Result<Tensor> {
    super::pix2pix::translate(g, x, TestMode::Eval, batch, device)
}

impl Family for CycleganFamily {
    fn name(&self) -> &'static str {
        "cyclegan"
    }

    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn learning_rates(&self) -> Vec<(&'static str, f64)> {
        vec![("opt_g", self.opt_g.lr), ("opt_d", self.opt_d.lr)]
    }

    fn set_lr_factor(&mut self, factor: f64) {
        self.opt_g.lr = self.optim.lr_g * factor;
        self.opt_d.lr = self.optim.lr_d * factor;
    }

    fn run_phase(&mut self, ctx: &PhaseCtx, stats: &mut Stats) -> Result<()> {
        match ctx.phase.name {
            "g" => self.g_phase(ctx.step, stats),
            _ => self.d_phase(stats),
        }
    }

    fn end_step(&mut self, _end: &StepEnd) -> Result<()> {
        self.current = None;
        Ok(())
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = stores_state(
            &[("g", &self.vs_g), ("d", &self.vs_d)],
            &[("opt_g", &self.opt_g), ("opt_d", &self.opt_d)],
        );
        out.extend(self.pool_a.state("pool_a"));
        out.extend(self.pool_b.state("pool_b"));
        out
    }

    fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        load_stores_state(
            &[("g", &self.vs_g), ("d", &self.vs_d)],
            &mut [("opt_g", &mut self.opt_g), ("opt_d", &mut self.opt_d)],
            tensors,
        )?;
        self.pool_a.load_state("pool_a", tensors)?;
        self.pool_b.load_state("pool_b", tensors)?;
        self.current = None;
        Ok(())
    }

    /// A grid of `A | G_A(A) | G_B(G_A(A))` rows for 4 held-out A images and
    /// `B | G_B(B) | G_A(G_B(B))` rows for 4 B images; for each direction on `eval_samples`
    /// images, the cycle error, the error against the exact mapping (hot task) and the
    /// classifier scores (hot task, `eval.classifier_scores`).
    fn evaluate(&mut self, ctx: &EvalCtx) -> Result<EvalRecord> {
        let step = ctx.step;
        let tb = self.cfg.test_batch;
        let test = self.eval_images(ctx.samples.max(4));
        seed_all(step_seed(ctx.seed, Stream::Eval, 2));
        let mut rows = Vec::new();
        let mut directions = Vec::new();
        let mut translated = Vec::new();
        let c = self.info.shape[0].max(self.info.input_shape.as_ref().map_or(1, |s| s[0]));
        for way in [Way::AToB, Way::BToA] {
            let (x, y_true) = match way {
                Way::AToB => (&test.a, &test.b),
                Way::BToA => (&test.b, &test.a),
            };
            let back = match way {
                Way::AToB => Way::BToA,
                Way::BToA => Way::AToB,
            };
            let y = translate(self.translator(way), x, tb, self.device)?;
            let rec = translate(self.translator(back), &y, tb, self.device)?;
            let k = 4.min(x.size()[0]);
            // Rows `x | G(x) | F(G(x))`.
            rows.push(triptych_with_channels(
                &x.narrow(0, 0, k),
                &y.narrow(0, 0, k),
                &rec.narrow(0, 0, k),
                c,
            ));
            let n = ctx.samples.min(x.size()[0]);
            let (x, y, rec) = (x.narrow(0, 0, n), y.narrow(0, 0, n), rec.narrow(0, 0, n));
            let score_err = |source| Error::Eval {
                what: format!("{} scores at step {step}", way.name()),
                source,
            };
            let cycle = gan_eval::translation_scores(&rec, &x).map_err(score_err)?;
            let exact = if test.paired {
                Some(gan_eval::translation_scores(&y, &y_true.narrow(0, 0, n)).map_err(score_err)?)
            } else {
                None
            };
            directions.push(DirectionRecord {
                direction: way,
                n,
                exact,
                cycle,
                scores: None,
            });
            translated.push(y);
        }
        if let Some(evs) = self.evaluators()? {
            for (i, (rec, y)) in directions.iter_mut().zip(&translated).enumerate() {
                let labels = match rec.direction {
                    Way::AToB => &test.labels_a,
                    Way::BToA => &test.labels_b,
                };
                let n = rec.n;
                let labels = labels.as_ref().map(|l| l[..n as usize].to_vec());
                rec.scores = Some(
                    evs[i]
                        .evaluate(&classifier_view(y), labels.as_deref(), &mut |_, _, _| {})
                        .map_err(|source| Error::Eval {
                            what: format!("scoring {} translations", rec.direction.name()),
                            source,
                        })?,
                );
            }
        }
        let png = ctx.run.samples().join(format!("step-{step:09}.png"));
        plot::image_grid(&png, &Tensor::cat(&rows, 0), 3)?;
        copy_file(&png, &ctx.run.plots().join("samples-latest.png"))?;
        Ok(EvalRecord {
            grid: Some(png),
            directions,
            ..EvalRecord::new(step)
        })
    }

    fn data_info(&self) -> &DataInfo {
        &self.info
    }
}

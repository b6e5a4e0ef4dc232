//! The pix2pix family (Isola et al. 2017): paired image-to-image translation.
//!
//! A translator `G: A -> B` (pix2pix's U-Net) against a conditional discriminator judging
//! `cat(A, B)` (a PatchGAN), as junyanz/pytorch-CycleGAN-and-pix2pix's `pix2pix_model.py`:
//! `fake = G(A)` once per step; phase `d` minimises
//! `0.5 * (loss(D(A, fake), fake) + loss(D(A, B), real))`; phase `g` then minimises
//! `loss_G(D(A, fake)) + l1_weight * |fake - B|` with the discriminator frozen. No EMA.
//! `loss` is upstream's `GANLoss` (for least-squares a plain MSE: gan-losses' form times
//! [`GanLoss::translation_scale`]).
//!
//! Statistics: `d_loss`, `d_real`, `d_fake` (mean patch logits), `g_gan`, `g_l1` (the
//! unweighted mean absolute error in `[-1, 1]` units), `g_loss`. Checkpoint tensors: `g.*`,
//! `d.*`, `opt_g.*`, `opt_d.*`.
use std::collections::BTreeMap;

use gan_data::{DevicePairs, EpochBatcher, Jitter, PairedDataset, Split};
use gan_losses::GanLoss;
use gan_models::{ForwardMode, TranslationDiscriminator, TranslationSpec, Translator};
use gan_tensor::{seed_all, step_seed, Stream};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::{
    copy_file, load_stores_state, stores_state, EvalCtx, Family, Phase, PhaseCtx, Stats, StepEnd,
};
use crate::adam::Adam;
use crate::config::{
    gan_section_set, DataConfig, OptimConfig, Pix2pixConfig, TestMode, TrainConfig,
};
use crate::data::{load_pairs, DataInfo};
use crate::error::{config_err, Error, Result};
use crate::plan::DataPlan;
use crate::plot;
use crate::records::EvalRecord;

/// The pix2pix family's cross-checks, run when a config is read. Each names the key.
pub(crate) fn validate(cfg: &TrainConfig, p: &Pix2pixConfig) -> Result<()> {
    if !cfg.data.is_paired() {
        return Err(config_err(
            "data.kind",
            format!(
                "`{}` is not paired data; pix2pix translates pairs (edges, aligned, \
                 paired-folders)",
                cfg.data.name()
            ),
        ));
    }
    if let Some(key) = gan_section_set(cfg) {
        return Err(config_err(
            key,
            format!(
                "[{key}] belongs to the gan family; pix2pix's networks are \
                 [model.generator] and [model.discriminator], its loss `model.gan_loss`"
            ),
        ));
    }
    if cfg.train.n_critic != 1 {
        return Err(config_err(
            "train.n_critic",
            format!(
                "{}: pix2pix makes one discriminator and one generator update per step",
                cfg.train.n_critic
            ),
        ));
    }
    if matches!(
        p.gan_loss,
        GanLoss::RelativisticAverage | GanLoss::Wasserstein
    ) {
        return Err(config_err(
            "model.gan_loss",
            format!(
                "`{}` is not one of pix2pix's losses; use non-saturating (vanilla), \
                 least-squares (lsgan) or hinge",
                p.gan_loss
            ),
        ));
    }
    if !(p.l1_weight >= 0.0 && p.l1_weight.is_finite()) {
        return Err(config_err(
            "model.l1_weight",
            format!("{} must be >= 0 and finite", p.l1_weight),
        ));
    }
    if !(1..=4096).contains(&p.test_batch) {
        return Err(config_err(
            "model.test_batch",
            format!("{} is not in 1..=4096", p.test_batch),
        ));
    }
    p.generator.validate().map_err(model_key)?;
    p.discriminator.validate().map_err(model_key)?;
    if let DataConfig::Aligned {
        height,
        width,
        channels_a,
        channels_b,
        ..
    }
    | DataConfig::PairedFolders {
        height,
        width,
        channels_a,
        channels_b,
        ..
    }
    | DataConfig::SyntheticPairs {
        height,
        width,
        channels_a,
        channels_b,
        ..
    } = &cfg.data
    {
        if !(1..=4096).contains(height) || !(1..=4096).contains(width) {
            return Err(config_err(
                "data.height",
                format!("{height}x{width} is not in 1..=4096 a side"),
            ));
        }
        for (key, c) in [
            ("data.channels_a", channels_a),
            ("data.channels_b", channels_b),
        ] {
            if ![1, 3].contains(c) {
                return Err(config_err(key, format!("{c} must be 1 or 3")));
            }
        }
    }
    let size = match &cfg.data {
        DataConfig::Aligned { height, width, .. }
        | DataConfig::PairedFolders { height, width, .. }
        | DataConfig::SyntheticPairs { height, width, .. } => (*height, *width),
        _ => (32, 32),
    };
    cfg.data
        .jitter()
        .validate(size)
        .map_err(|e| config_err("data.jitter", format!("{e}")))?;
    Ok(())
}

/// Re-keys a network config error under `model.` (the pix2pix networks live there).
pub(crate) fn model_key(e: gan_models::Error) -> Error {
    match e {
        gan_models::Error::Config { key, message } => config_err(&format!("model.{key}"), message),
        other => crate::error::build_err("translation networks")(other),
    }
}

/// `stochastic` / `eval` as the networks' forward mode.
pub(crate) fn forward_mode(mode: TestMode) -> ForwardMode {
    match mode {
        TestMode::Stochastic => ForwardMode::Stochastic,
        TestMode::Eval => ForwardMode::Eval,
    }
}

/// Translates `u8` images `[N, Ca, H, W]` (any device) with `g`, `batch` at a time on
/// `device`, into `u8` images `[N, Cb, H, W]` on the CPU.
pub(crate) fn translate(
    g: &Translator,
    a: &Tensor,
    mode: TestMode,
    batch: i64,
    device: Device,
) -> Result<Tensor> {
    let n = a.size().first().copied().unwrap_or(0);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let x = a
            .narrow(0, start, len)
            .to_device(device)
            .to_kind(Kind::Float)
            / 127.5
            - 1.0;
        let y = tch::no_grad(|| g.forward(&x, forward_mode(mode)))?;
        parts.push(plot::to_u8(&y));
        start += len;
    }
    if parts.is_empty() {
        return Err(config_err("input", "no images to translate"));
    }
    Ok(Tensor::cat(&parts, 0))
}

/// The centre `size` window of `u8` images `[N, C, H, W]` (the test-time view of a run that
/// trains on random crops).
pub(crate) fn center_crop(x: &Tensor, size: (usize, usize)) -> Tensor {
    let s = x.size();
    let (h, w) = (s[2], s[3]);
    let (ch, cw) = (size.0 as i64, size.1 as i64);
    x.narrow(2, (h - ch) / 2, ch).narrow(3, (w - cw) / 2, cw)
}

/// The translator's test-time view of a paired data set: `u8` A and B tensors (centre-cropped
/// to the training crop) and labels.
pub(crate) fn pair_tensors(
    pairs: &PairedDataset,
    jitter: &Jitter,
) -> (Tensor, Tensor, Option<Vec<i64>>) {
    let (n, h, w) = (pairs.len() as i64, pairs.height as i64, pairs.width as i64);
    let a = Tensor::from_slice(&pairs.a).view([n, pairs.channels_a as i64, h, w]);
    let b = Tensor::from_slice(&pairs.b).view([n, pairs.channels_b as i64, h, w]);
    let crop = jitter.output_size(pairs.size());
    (
        center_crop(&a, crop),
        center_crop(&b, crop),
        pairs.labels.clone(),
    )
}

/// What a translation evaluation records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationRecord {
    /// L1, PSNR and SSIM of the translations against the true B of held-out pairs.
    #[serde(flatten)]
    pub scores: gan_eval::TranslationScores,
    /// How the translator ran (`stochastic` or `eval`).
    pub test_mode: TestMode,
    /// Images per forward pass.
    pub test_batch: i64,
}

/// Networks, optimisers and pairs of a pix2pix run.
pub struct Pix2pixFamily {
    cfg: Pix2pixConfig,
    optim: OptimConfig,
    seed: u64,
    phases: Vec<Phase>,
    info: DataInfo,
    train: DevicePairs,
    batcher: EpochBatcher,
    jitter: Jitter,
    size: (usize, usize),
    /// Held-out pairs (`u8`, CPU, centre-cropped), if the data has a test split.
    test: Option<(Tensor, Tensor, Option<Vec<i64>>)>,
    vs_g: VarStore,
    vs_d: VarStore,
    g: Translator,
    d: TranslationDiscriminator,
    opt_g: Adam,
    opt_d: Adam,
    device: Device,
    /// `(A, B, G(A))` of the step, from the `d` phase to the `g` phase.
    current: Option<(Tensor, Tensor, Tensor)>,
}

impl std::fmt::Debug for Pix2pixFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pix2pixFamily")
            .field("data", &self.info.source)
            .finish()
    }
}

impl Pix2pixFamily {
    /// Loads the pairs (and the held-out split, if any) and builds the networks.
    pub fn new(
        cfg: &Pix2pixConfig,
        optim: &OptimConfig,
        data: &DataPlan,
        device: Device,
    ) -> Result<Self> {
        let pairs = load_pairs(&data.config)?;
        let jitter = data.config.jitter();
        let size = pairs.size();
        jitter
            .validate(size)
            .map_err(|e| config_err("data.jitter", format!("{e}")))?;
        let crop = jitter.output_size(size);
        let batch = data.batch_size;
        if batch as usize > pairs.len() {
            return Err(config_err(
                "train.batch_size",
                format!(
                    "{batch} is larger than the data set ({} pairs in {})",
                    pairs.len(),
                    pairs.source
                ),
            ));
        }
        let test = match data.config.with_split(Split::Test) {
            Ok(test_cfg) if test_cfg != data.config => {
                Some(pair_tensors(&load_pairs(&test_cfg)?, &jitter))
            }
            _ => None,
        };
        let (ca, cb) = (pairs.channels_a as i64, pairs.channels_b as i64);
        let info = DataInfo {
            name: data.config.name().into(),
            source: pairs.source.clone(),
            shape: vec![cb, crop.0 as i64, crop.1 as i64],
            class_names: pairs.class_names.clone(),
            n_samples: pairs.len(),
            bytes: pairs.bytes(),
            skipped: 0,
            input_shape: Some(vec![ca, crop.0 as i64, crop.1 as i64]),
        };
        let batcher = EpochBatcher::new(pairs.len(), batch as usize, data.seed)?;
        let train = pairs.to_device(device);
        drop(pairs);
        seed_all(step_seed(data.seed, Stream::Init, 0));
        let spec = TranslationSpec::new(ca, cb, crop.0 as i64, crop.1 as i64);
        let vs_g = VarStore::new(device);
        let vs_d = VarStore::new(device);
        let g = Translator::new(&vs_g.root(), &cfg.generator, &spec).map_err(model_key)?;
        let d = TranslationDiscriminator::new(
            &vs_d.root(),
            &cfg.discriminator,
            spec.pair_channels(),
            crop.0 as i64,
            crop.1 as i64,
        )
        .map_err(model_key)?;
        let o = optim;
        let opt_g = Adam::new(&vs_g, o.lr_g, o.beta1, o.beta2, o.eps)?;
        let opt_d = Adam::new(&vs_d, o.lr_d, o.beta1, o.beta2, o.eps)?;
        Ok(Pix2pixFamily {
            cfg: cfg.clone(),
            optim: optim.clone(),
            seed: data.seed,
            phases: vec![Phase::new("d", "opt_d"), Phase::new("g", "opt_g")],
            info,
            train,
            batcher,
            jitter,
            size,
            test,
            vs_g,
            vs_d,
            g,
            d,
            opt_g,
            opt_d,
            device,
            current: None,
        })
    }

    fn d_phase(&mut self, step: u64, stats: &mut Stats) -> Result<()> {
        let idx = self.batcher.indices(step);
        let jp = self.jitter.params(self.seed, step, idx.len(), self.size)?;
        let (a, b, _) = self.train.batch(&idx, &jp);
        let fake = self.g.forward(&a, ForwardMode::Train)?;
        // Fake pair first, then the real one, in separate passes (batch statistics per pass).
        let l_fake = self
            .d
            .forward(&Tensor::cat(&[&a, &fake.detach()], 1), ForwardMode::Train)?
            .reshape([-1]);
        let l_real = self
            .d
            .forward(&Tensor::cat(&[&a, &b], 1), ForwardMode::Train)?
            .reshape([-1]);
        let scale = 0.5 * self.cfg.gan_loss.translation_scale();
        let loss = self.cfg.gan_loss.discriminator(&l_real, &l_fake)? * scale;
        self.opt_d.backward_step(&loss)?;
        stats.loss("d_loss", &loss);
        stats.value("d_real", &l_real.detach().mean(Kind::Float));
        stats.value("d_fake", &l_fake.detach().mean(Kind::Float));
        stats.grads_finite("d_grads", self.opt_d.grads_finite());
        self.current = Some((a, b, fake));
        Ok(())
    }

    fn g_phase(&mut self, stats: &mut Stats) -> Result<()> {
        let Some((a, b, fake)) = self.current.take() else {
            return Err(config_err(
                "model",
                "the g phase of pix2pix needs the d phase of the same step",
            ));
        };
        self.vs_d.freeze();
        let result = (|| -> Result<(Tensor, Tensor, Tensor)> {
            let l_fake = self
                .d
                .forward(&Tensor::cat(&[&a, &fake], 1), ForwardMode::Train)?
                .reshape([-1]);
            let gan = self.cfg.gan_loss.generator(&l_fake.detach(), &l_fake)?
                * self.cfg.gan_loss.translation_scale();
            let l1 = gan_losses::l1(&fake, &b)?;
            let total = &gan + &l1 * self.cfg.l1_weight;
            Ok((gan, l1, total))
        })();
        self.vs_d.unfreeze();
        let (gan, l1, total) = result?;
        self.opt_g.backward_step(&total)?;
        stats.loss("g_gan", &gan);
        stats.loss("g_l1", &l1);
        stats.loss("g_loss", &total);
        stats.grads_finite("g_grads", self.opt_g.grads_finite());
        Ok(())
    }

    /// Up to `n` held-out pairs (else training pairs), `u8` on the CPU.
    fn eval_pairs(&self, n: i64) -> (Tensor, Tensor, Option<Vec<i64>>) {
        match &self.test {
            Some((a, b, y)) => {
                let n = n.min(a.size()[0]);
                (
                    a.narrow(0, 0, n),
                    b.narrow(0, 0, n),
                    y.as_ref().map(|y| y[..n as usize].to_vec()),
                )
            }
            None => {
                let n = n.min(self.train.len() as i64);
                let a = self.train.a.narrow(0, 0, n).to_device(Device::Cpu);
                let b = self.train.b.narrow(0, 0, n).to_device(Device::Cpu);
                let crop = self.jitter.output_size(self.size);
                let y = self.train.labels.as_ref().and_then(|y| {
                    Vec::<i64>::try_from(y.narrow(0, 0, n).to_device(Device::Cpu)).ok()
                });
                (center_crop(&a, crop), center_crop(&b, crop), y)
            }
        }
    }
}

/// Rows of `input | output | target` as one image batch (grey sides shown as RGB when the
/// other side is RGB), for [`plot::image_grid`] with 3 columns.
pub(crate) fn triptych(a: &Tensor, out: &Tensor, b: &Tensor) -> Tensor {
    triptych_with_channels(a, out, b, a.size()[1].max(b.size()[1]))
}

/// [`triptych`] with every column shown with `c` channels (grey repeated to RGB).
pub(crate) fn triptych_with_channels(a: &Tensor, out: &Tensor, b: &Tensor, c: i64) -> Tensor {
    let rgb = |t: &Tensor| {
        let t = t.to_kind(Kind::Float) / 127.5 - 1.0;
        if t.size()[1] < c {
            t.repeat([1, c, 1, 1])
        } else {
            t
        }
    };
    let (a, out, b) = (rgb(a), rgb(out), rgb(b));
    let (n, h, w) = (a.size()[0], a.size()[2], a.size()[3]);
    Tensor::stack(&[a, out, b], 1).reshape([3 * n, c, h, w])
}

impl Family for Pix2pixFamily {
    fn name(&self) -> &'static str {
        "pix2pix"
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
            "d" => self.d_phase(ctx.step, stats),
            _ => self.g_phase(stats),
        }
    }

    fn end_step(&mut self, _end: &StepEnd) -> Result<()> {
        self.current = None;
        Ok(())
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        stores_state(
            &[("g", &self.vs_g), ("d", &self.vs_d)],
            &[("opt_g", &self.opt_g), ("opt_d", &self.opt_d)],
        )
    }

    fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        load_stores_state(
            &[("g", &self.vs_g), ("d", &self.vs_d)],
            &mut [("opt_g", &mut self.opt_g), ("opt_d", &mut self.opt_d)],
            tensors,
        )?;
        self.current = None;
        Ok(())
    }

    /// A grid of `input | output | target` rows for 8 held-out pairs, and L1/PSNR/SSIM (plus
    /// the `[eval]` scores of the translations: FCD/KID against the real B side, label
    /// preservation as the classifier's conditional accuracy) on `eval_samples` of them.
    fn evaluate(&mut self, ctx: &EvalCtx) -> Result<EvalRecord> {
        let step = ctx.step;
        let (mode, tb) = (self.cfg.test_mode, self.cfg.test_batch);
        let (a, b, labels) = self.eval_pairs(ctx.samples.max(8));
        // Dropout draws come from the evaluation stream, never the training one.
        seed_all(step_seed(ctx.seed, Stream::Eval, 2));
        let out = translate(&self.g, &a, mode, tb, self.device)?;
        let k = 8.min(a.size()[0]);
        let png = ctx.run.samples().join(format!("step-{step:09}.png"));
        plot::image_grid(
            &png,
            &triptych(&a.narrow(0, 0, k), &out.narrow(0, 0, k), &b.narrow(0, 0, k)),
            3,
        )?;
        let latest = ctx.run.plots().join("samples-latest.png");
        copy_file(&png, &latest)?;
        let n = ctx.samples.min(a.size()[0]);
        let (out, b) = (out.narrow(0, 0, n), b.narrow(0, 0, n));
        let labels = labels.map(|l| l[..n as usize].to_vec());
        let scores = gan_eval::translation_scores(&out, &b).map_err(|source| Error::Eval {
            what: format!("translation scores at step {step}"),
            source,
        })?;
        let report = match ctx.evaluator {
            Some(ev) => Some(
                ev.evaluate(&out, labels.as_deref(), &mut |_, _, _| {})
                    .map_err(|source| Error::Eval {
                        what: format!("scoring translations at step {step}"),
                        source,
                    })?,
            ),
            None => None,
        };
        Ok(EvalRecord {
            grid: Some(png),
            scores: report,
            translation: Some(TranslationRecord {
                scores,
                test_mode: mode,
                test_batch: tb,
            }),
            ..EvalRecord::new(step)
        })
    }

    fn data_info(&self) -> &DataInfo {
        &self.info
    }
}

//! The config resolved once into the typed parts each component needs: the data source gets
//! a [`DataPlan`], the model family its own plan ([`ModelPlan`]), the evaluation an
//! [`EvalPlan`], the engine the schedule and the guard. Nothing below the engine sees the
//! whole [`TrainConfig`].
use gan_data::Split;
use gan_models::{DiscriminatorConfig, GeneratorConfig};
use gan_tensor::DeviceSpec;

use crate::augment::AugmentConfig;
use crate::config::{
    CycleganConfig, DataConfig, EvalConfig, GuardConfig, LossConfig, ModelConfig, OptimConfig,
    Pix2pixConfig, Stylegan2Config, TrainConfig,
};
use crate::error::Result;

/// What the data source needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    /// The data set.
    pub config: DataConfig,
    /// Samples per batch.
    pub batch_size: i64,
    /// The run seed (shuffles and weights derive from it).
    pub seed: u64,
}

/// What the GAN family needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GanPlan {
    /// The generator.
    pub generator: GeneratorConfig,
    /// The discriminator.
    pub discriminator: DiscriminatorConfig,
    /// Losses and penalties.
    pub loss: LossConfig,
    /// Optimiser settings (base learning rates; the engine supplies the factor).
    pub optim: OptimConfig,
    /// Discriminator steps per generator step (the `d` phase's repeat count).
    pub n_critic: u32,
    /// What fine-tuning freezes.
    pub finetune: crate::config::FinetuneConfig,
    /// Augmentation of the discriminator's inputs.
    pub augment: AugmentConfig,
    /// Samples per batch.
    pub batch_size: i64,
}

/// What the StyleGAN2 family needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Stylegan2Plan {
    /// The generator (`arch = "stylegan2"`).
    pub generator: GeneratorConfig,
    /// The discriminator (`arch = "stylegan2"`).
    pub discriminator: DiscriminatorConfig,
    /// `[model]`: regularisation and style mixing.
    pub config: Stylegan2Config,
    /// What fine-tuning freezes.
    pub finetune: crate::config::FinetuneConfig,
    /// Augmentation of the discriminator's inputs.
    pub augment: AugmentConfig,
    /// Optimiser settings (base learning rates; the engine supplies the factor).
    pub optim: OptimConfig,
    /// Samples per batch.
    pub batch_size: i64,
}

/// The model family and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelPlan {
    /// The GAN family.
    Gan(GanPlan),
    /// The pix2pix family: its section and the optimiser settings.
    Pix2pix {
        /// `[model]`.
        config: Pix2pixConfig,
        /// `[optim]`.
        optim: OptimConfig,
    },
    /// The CycleGAN family: its section and the optimiser settings (it builds its own
    /// evaluators, one per direction, from `[eval]`).
    Cyclegan {
        /// `[model]`.
        config: CycleganConfig,
        /// `[optim]`.
        optim: OptimConfig,
    },
    /// The StyleGAN2 family.
    Stylegan2(Stylegan2Plan),
}

/// What periodic evaluation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalPlan {
    /// The `[eval]` section.
    pub config: EvalConfig,
    /// Samples drawn for scores.
    pub samples: i64,
    /// The real images scores compare with (the data set's test split), when `[eval]` asks
    /// for image scores.
    pub reference: Option<DataConfig>,
    /// Evaluate every this many steps (0: only at the end).
    pub every: u64,
    /// Paired data trained on random crops: the crop's `(height, width)`; reference images
    /// are compared through their centre window of that size.
    pub crop: Option<(usize, usize)>,
}

/// The engine's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulePlan {
    /// Steps in total.
    pub steps: u64,
    /// Write a training record every this many steps.
    pub log_every: u64,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// EMA decay (the engine applies its warm-up).
    pub ema_decay: f64,
    /// Learning-rate schedule (a function of the step and `steps`).
    pub optim: OptimConfig,
}

/// A validated config, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The run seed.
    pub seed: u64,
    /// Where to train.
    pub device: DeviceSpec,
    /// libtorch CPU threads (0: libtorch's default).
    pub threads: i32,
    /// The data.
    pub data: DataPlan,
    /// The family.
    pub model: ModelPlan,
    /// The schedule.
    pub schedule: SchedulePlan,
    /// Evaluation.
    pub eval: EvalPlan,
    /// The divergence guard.
    pub guard: GuardConfig,
}

impl Plan {
    /// Validates `cfg` and splits it into its parts.
    pub fn resolve(cfg: &TrainConfig) -> Result<Plan> {
        cfg.validate()?;
        let t = &cfg.train;
        let model = match &cfg.model {
            ModelConfig::Gan => ModelPlan::Gan(GanPlan {
                generator: cfg.generator.clone(),
                discriminator: cfg.discriminator.clone(),
                loss: cfg.loss.clone(),
                optim: cfg.optim.clone(),
                n_critic: t.n_critic,
                finetune: cfg.finetune.clone(),
                augment: cfg.augment.clone(),
                batch_size: t.batch_size,
            }),
            ModelConfig::Pix2pix(p) => ModelPlan::Pix2pix {
                config: p.clone(),
                optim: cfg.optim.clone(),
            },
            ModelConfig::Cyclegan(c) => ModelPlan::Cyclegan {
                config: c.clone(),
                optim: cfg.optim.clone(),
            },
            ModelConfig::Stylegan2(c) => ModelPlan::Stylegan2(Stylegan2Plan {
                generator: cfg.generator.clone(),
                discriminator: cfg.discriminator.clone(),
                config: c.clone(),
                finetune: cfg.finetune.clone(),
                augment: cfg.augment.clone(),
                optim: cfg.optim.clone(),
                batch_size: t.batch_size,
            }),
        };
        let e = &cfg.eval;
        let images = cfg.data.mixture_kind().is_none();
        // The cyclegan family scores each direction against its own domain itself.
        let reference = if images
            && (e.classifier_scores || e.inception)
            && !matches!(cfg.model, ModelConfig::Cyclegan(_))
        {
            Some(cfg.data.with_split(Split::Test)?)
        } else {
            None
        };
        Ok(Plan {
            seed: cfg.seed,
            device: cfg.device,
            threads: t.threads,
            data: DataPlan {
                config: cfg.data.clone(),
                batch_size: t.batch_size,
                seed: cfg.seed,
            },
            model,
            schedule: SchedulePlan {
                steps: t.steps,
                log_every: t.log_every,
                checkpoint_every: t.checkpoint_every,
                keep_checkpoints: t.keep_checkpoints,
                ema_decay: t.ema_decay,
                optim: cfg.optim.clone(),
            },
            eval: EvalPlan {
                config: e.clone(),
                samples: t.eval_samples,
                reference,
                every: t.eval_every,
                crop: cfg.data.jitter().crop,
            },
            guard: cfg.guard.clone(),
        })
    }
}

//! The run configuration: typed, `deny_unknown_fields`, validated, saved into the run folder.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gan_data::{Direction, Jitter, MixtureKind, Split};
use gan_losses::GanLoss;
use gan_models::{
    DiscriminatorConfig, GeneratorConfig, PatchDiscriminatorConfig, TranslatorConfig,
};
use gan_tensor::DeviceSpec;
use serde::{Deserialize, Serialize};

use crate::augment::AugmentConfig;
use crate::error::{config_err, Error, Result};

/// Everything a run needs; the TOML file form of `configs/*.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// A short name, used for the default run folder.
    #[serde(default = "default_name")]
    pub name: String,
    /// The run seed: weights, data and latents all derive from it.
    #[serde(default)]
    pub seed: u64,
    /// Where to train.
    #[serde(default)]
    pub device: DeviceSpec,
    /// The data.
    pub data: DataConfig,
    /// The model family (`[model] family = "gan"`; a config without `[model]` is a GAN).
    #[serde(default)]
    pub model: ModelConfig,
    /// The generator (GAN family).
    #[serde(default)]
    pub generator: GeneratorConfig,
    /// The discriminator (GAN family).
    #[serde(default)]
    pub discriminator: DiscriminatorConfig,
    /// Loss and regularisers (GAN family).
    #[serde(default)]
    pub loss: LossConfig,
    /// Differentiable augmentation of the discriminator's inputs (gan and stylegan2
    /// families on images): DiffAugment or ADA.
    #[serde(default)]
    pub augment: AugmentConfig,
    /// What fine-tuning keeps fixed (with `gan train --init-from`).
    #[serde(default)]
    pub finetune: FinetuneConfig,
    /// Optimiser settings.
    #[serde(default)]
    pub optim: OptimConfig,
    /// The schedule.
    #[serde(default)]
    pub train: ScheduleConfig,
    /// Scores computed at each evaluation, and which one picks the best checkpoint.
    #[serde(default)]
    pub eval: EvalConfig,
    /// The divergence guard: rollback to the last good checkpoint on NaN, Inf or spikes.
    #[serde(default)]
    pub guard: GuardConfig,
    /// What is logged besides `metrics.jsonl`.
    #[serde(default)]
    pub log: LogConfig,
}

/// Fine-tuning (`[finetune]`), for runs started from another run's weights (`gan train
/// --init-from RUN`); gan and stylegan2 families.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// FreezeD (Mo et al. 2020): the discriminator's first `k` blocks from the input (the
    /// highest resolutions) are not trained: dcgan `conv0`, `conv1`, ..., `out`; stylegan2
    /// `b32`, `b16`, ..., the 4x4 epilogue `b4`.
    pub freeze_d: usize,
    /// Keep the generator's mapping network fixed.
    pub freeze_g_mapping: bool,
}

impl FinetuneConfig {
    /// Whether anything is frozen.
    pub fn is_on(&self) -> bool {
        *self != FinetuneConfig::default()
    }
}

/// Logging besides `metrics.jsonl` (`[log]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Write TensorBoard event files into `RUN/tensorboard/`: every number of every record
    /// (training statistics at each log, scores at each evaluation) and the sample grid at
    /// each evaluation. `tensorboard --logdir runs` shows the runs live.
    pub tensorboard: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { tensorboard: true }
    }
}

/// Which model family trains (`[model] family = "gan"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "family", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A generator of latents (and labels) against a discriminator: `[generator]`,
    /// `[discriminator]` and `[loss]` describe it.
    #[default]
    Gan,
    /// Paired image-to-image translation (Isola et al. 2017): a U-Net translator `G: A -> B`
    /// against a conditional PatchGAN judging `cat(A, B)`, trained with a GAN loss plus
    /// `l1_weight * |G(A) - B|`.
    Pix2pix(Pix2pixConfig),
    /// Unpaired image-to-image translation (Zhu et al. 2017): translators `G_A: A -> B` and
    /// `G_B: B -> A` against PatchGANs `D_A` (judging domain B) and `D_B` (domain A), trained
    /// with LSGAN, cycle consistency and identity losses and pools of past fakes.
    Cyclegan(CycleganConfig),
    /// StyleGAN2 (Karras et al. 2020) as stylegan2-ada-pytorch trains it: `[generator]` and
    /// `[discriminator]` with `arch = "stylegan2"`, the non-saturating logistic loss, style
    /// mixing, lazy R1 and path-length regularisation as phases of their own.
    Stylegan2(Stylegan2Config),
}

impl ModelConfig {
    /// The family's name (`gan`, `pix2pix`), as checkpoints record it.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Gan => "gan",
            ModelConfig::Pix2pix(_) => "pix2pix",
            ModelConfig::Cyclegan(_) => "cyclegan",
            ModelConfig::Stylegan2(_) => "stylegan2",
        }
    }

    /// Whether the family trains a generator of latents described by `[generator]` (what
    /// `gan sample`, `gan eval` and `gan export` load): `gan` and `stylegan2`.
    pub fn generates_from_latents(&self) -> bool {
        matches!(self, ModelConfig::Gan | ModelConfig::Stylegan2(_))
    }
}

/// StyleGAN2's training (`[model] family = "stylegan2"`), after stylegan2-ada-pytorch's
/// `training/loss.py` and `training/training_loop.py`. Each step runs the phases `g` (the
/// non-saturating loss `softplus(-D(G(z)))`), `g_pl` every `pl_every` steps (the path-length
/// penalty), `d` (`softplus(D(G(z))) + softplus(-D(x))`) and `d_r1` every `r1_every` steps
/// (R1 = `r1_gamma / 2 * |grad D(x)|^2`). A regularisation phase's loss is multiplied by its
/// interval `I`, and its network's optimiser runs with the learning rate times
/// `c = I / (I + 1)` and betas to the power `c` (lazy regularisation). `[optim]` sets the
/// base rates and betas (upstream: 0.0025 and (0, 0.99)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Stylegan2Config {
    /// R1 weight gamma (upstream: 10 at FFHQ 1024, 0.01 for CIFAR-10; 0 = off).
    pub r1_gamma: f64,
    /// Run the R1 phase every this many steps (16).
    pub r1_every: u64,
    /// Path-length penalty weight (2; 0 = off).
    pub pl_weight: f64,
    /// Run the path-length phase every this many steps (4).
    pub pl_every: u64,
    /// Decay of the running mean path length `pl_mean` (0.01).
    pub pl_decay: f64,
    /// The path-length phase uses `batch_size / pl_batch_shrink` samples (2).
    pub pl_batch_shrink: i64,
    /// Probability that a generated batch mixes two latents' styles at a random layer (0.9).
    pub style_mixing: f64,
}

impl Default for Stylegan2Config {
    fn default() -> Self {
        Stylegan2Config {
            r1_gamma: 10.0,
            r1_every: 16,
            pl_weight: 2.0,
            pl_every: 4,
            pl_decay: 0.01,
            pl_batch_shrink: 2,
            style_mixing: 0.9,
        }
    }
}

/// The first of the GAN family's top-level sections (`[generator]`, `[discriminator]`,
/// `[loss]`) set to anything but its default, for families that have their own.
pub(crate) fn gan_section_set(c: &TrainConfig) -> Option<&'static str> {
    if c.generator != GeneratorConfig::default() {
        Some("generator")
    } else if c.discriminator != DiscriminatorConfig::default() {
        Some("discriminator")
    } else if c.loss != LossConfig::default() {
        Some("loss")
    } else {
        None
    }
}

/// How a translator runs at test time (`gan translate`, evaluation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TestMode {
    /// pix2pix's default: dropout on and batch statistics (of `test_batch` images at a time),
    /// without changing the saved running statistics.
    #[default]
    Stochastic,
    /// Dropout off, running statistics (pix2pix's `--eval`).
    Eval,
}

impl TestMode {
    /// `stochastic` or `eval`.
    pub fn name(self) -> &'static str {
        match self {
            TestMode::Stochastic => "stochastic",
            TestMode::Eval => "eval",
        }
    }
}

/// The pix2pix family (`[model] family = "pix2pix"`, networks in `[model.generator]` and
/// `[model.discriminator]`). Learning rates, betas, batch and steps come from `[optim]` and
/// `[train]`; pix2pix keeps no EMA (`train.ema_decay` is unused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pix2pixConfig {
    /// The translator (`arch = "unet"`).
    #[serde(default)]
    pub generator: TranslatorConfig,
    /// The discriminator of `cat(A, B)` (`arch = "patch"` or `"pixel"`).
    #[serde(default)]
    pub discriminator: PatchDiscriminatorConfig,
    /// The adversarial loss (`non-saturating` = pix2pix's `vanilla` BCE; `least-squares` =
    /// `lsgan`). The discriminator's loss is halved, as in pix2pix.
    #[serde(default = "default_translation_loss")]
    pub gan_loss: GanLoss,
    /// Weight of the L1 term (pix2pix's `lambda_L1`).
    #[serde(default = "default_l1_weight")]
    pub l1_weight: f64,
    /// How samples and evaluations translate.
    #[serde(default)]
    pub test_mode: TestMode,
    /// Images per forward pass at test time (pix2pix tests one at a time; with `stochastic`
    /// the batch statistics depend on it).
    #[serde(default = "default_test_batch")]
    pub test_batch: i64,
}

fn default_translation_loss() -> GanLoss {
    GanLoss::NonSaturating
}

fn default_l1_weight() -> f64 {
    100.0
}

fn default_test_batch() -> i64 {
    1
}

impl Default for Pix2pixConfig {
    fn default() -> Self {
        Pix2pixConfig {
            generator: TranslatorConfig::default(),
            discriminator: PatchDiscriminatorConfig::default(),
            gan_loss: default_translation_loss(),
            l1_weight: default_l1_weight(),
            test_mode: TestMode::default(),
            test_batch: default_test_batch(),
        }
    }
}

/// The CycleGAN family (`[model] family = "cyclegan"`, networks in `[model.generator]` and
/// `[model.discriminator]`, the same architecture for both directions), as
/// junyanz/pytorch-CycleGAN-and-pix2pix's `cycle_gan_model.py`. Learning rates, betas, batch
/// and steps come from `[optim]` and `[train]` (CycleGAN: 2e-4, (0.5, 0.999), batch 1, and
/// `schedule = "linear-decay"` with `decay_start = 0.5`: constant, then linear to zero over
/// the second half); there is no EMA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleganConfig {
    /// The translators (`arch = "resnet"`, CycleGAN's `resnet_9blocks`, by default).
    #[serde(default = "default_cyclegan_generator")]
    pub generator: TranslatorConfig,
    /// The discriminators (CycleGAN's 70x70 PatchGAN with instance norm by default).
    #[serde(default = "default_cyclegan_discriminator")]
    pub discriminator: PatchDiscriminatorConfig,
    /// The adversarial loss (CycleGAN: `least-squares`, LSGAN). The discriminators' losses
    /// are halved.
    #[serde(default = "default_cyclegan_loss")]
    pub gan_loss: GanLoss,
    /// Weight of the cycle loss A -> B -> A (`lambda_A`).
    #[serde(default = "default_cycle_weight")]
    pub lambda_a: f64,
    /// Weight of the cycle loss B -> A -> B (`lambda_B`).
    #[serde(default = "default_cycle_weight")]
    pub lambda_b: f64,
    /// Identity loss weight relative to the cycle weights (`lambda_identity`; 0 = off). Only
    /// possible when both domains have the same channels; with 1 <-> 3 channels it must be 0.
    #[serde(default = "default_lambda_identity")]
    pub lambda_identity: f64,
    /// Past generated images each discriminator may see instead of the newest (0 = none).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Images per forward pass at test time.
    #[serde(default = "default_cyclegan_test_batch")]
    pub test_batch: i64,
}

fn default_cyclegan_generator() -> TranslatorConfig {
    TranslatorConfig::Resnet(gan_models::ResnetConfig::default())
}

fn default_cyclegan_discriminator() -> PatchDiscriminatorConfig {
    PatchDiscriminatorConfig::Patch(gan_models::PatchConfig {
        norm: gan_models::NormKind::Instance,
        ..Default::default()
    })
}

fn default_cyclegan_loss() -> GanLoss {
    GanLoss::LeastSquares
}

fn default_cycle_weight() -> f64 {
    10.0
}

fn default_lambda_identity() -> f64 {
    0.5
}

fn default_pool_size() -> usize {
    50
}

fn default_cyclegan_test_batch() -> i64 {
    50
}

impl Default for CycleganConfig {
    fn default() -> Self {
        CycleganConfig {
            generator: default_cyclegan_generator(),
            discriminator: default_cyclegan_discriminator(),
            gan_loss: default_cyclegan_loss(),
            lambda_a: default_cycle_weight(),
            lambda_b: default_cycle_weight(),
            lambda_identity: default_lambda_identity(),
            pool_size: default_pool_size(),
            test_batch: default_cyclegan_test_batch(),
        }
    }
}

/// The divergence guard (`[guard]`). At each log it checks every statistic of the steps since
/// the last one: a non-finite loss or value, a non-finite gradient, or (with
/// `loss_multiple > 0`) a loss above `loss_multiple` times the median of its last `window`
/// values. Then it rolls the run back to the newest checkpoint whose tensors are all finite
/// (or to the initial weights when there is none), multiplies the learning rates by
/// `lr_factor`, records the event in `metrics.jsonl`, and continues; after `max_rollbacks`
/// rollbacks it stops naming the step and the checkpoint kept. A checkpoint is never written
/// from a state holding a non-finite value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Roll back and continue (false: stop at the first non-finite value).
    pub enabled: bool,
    /// A loss above this multiple of its running median is a divergence (0 = off: GAN losses
    /// can rise tenfold legitimately, so choose it per recipe, e.g. 1000).
    pub loss_multiple: f64,
    /// Values in the running median (a spike is judged once the window is full).
    pub window: usize,
    /// Learning rates are multiplied by this at each rollback.
    pub lr_factor: f64,
    /// Rollbacks allowed before the run stops.
    pub max_rollbacks: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            enabled: true,
            loss_multiple: 0.0,
            window: 100,
            lr_factor: 0.5,
            max_rollbacks: 3,
        }
    }
}

/// The score that picks the best checkpoint (`best = "fid"` etc. in `[eval]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BestMetric {
    /// Keep no best checkpoint.
    #[default]
    None,
    /// FID (Inception features; lower is better).
    Fid,
    /// KID with Inception features (lower).
    Kid,
    /// Frechet distance in the domain classifier's features (lower).
    Fcd,
    /// KID with the classifier's features (lower).
    ClassifierKid,
    /// Inception Score (higher).
    InceptionScore,
    /// Classifier score, IS computed with the domain classifier (higher).
    ClassifierScore,
    /// Stacked data: modes covered (higher).
    StackedModes,
    /// 2D data: fraction of high-quality samples (higher).
    HighQuality,
    /// 2D data: KL of the mode histogram to uniform (lower).
    ReverseKl,
    /// Translation: mean absolute error against the true targets of held-out pairs (lower).
    L1,
    /// Translation: PSNR against the true targets (higher).
    Psnr,
    /// Translation: SSIM against the true targets (higher).
    Ssim,
}

impl BestMetric {
    /// Every score (not `None`), in the order plots are drawn.
    pub const ALL: [BestMetric; 12] = [
        BestMetric::Fid,
        BestMetric::Kid,
        BestMetric::Fcd,
        BestMetric::ClassifierKid,
        BestMetric::InceptionScore,
        BestMetric::ClassifierScore,
        BestMetric::StackedModes,
        BestMetric::HighQuality,
        BestMetric::ReverseKl,
        BestMetric::L1,
        BestMetric::Psnr,
        BestMetric::Ssim,
    ];

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            BestMetric::InceptionScore
                | BestMetric::ClassifierScore
                | BestMetric::StackedModes
                | BestMetric::HighQuality
                | BestMetric::Psnr
                | BestMetric::Ssim
        )
    }

    /// The name used in TOML and in `best.json`.
    pub fn name(self) -> &'static str {
        match self {
            BestMetric::None => "none",
            BestMetric::Fid => "fid",
            BestMetric::Kid => "kid",
            BestMetric::Fcd => "fcd",
            BestMetric::ClassifierKid => "classifier-kid",
            BestMetric::InceptionScore => "inception-score",
            BestMetric::ClassifierScore => "classifier-score",
            BestMetric::StackedModes => "stacked-modes",
            BestMetric::HighQuality => "high-quality",
            BestMetric::ReverseKl => "reverse-kl",
            BestMetric::L1 => "l1",
            BestMetric::Psnr => "psnr",
            BestMetric::Ssim => "ssim",
        }
    }
}

/// Scores at each evaluation of an image run (`[eval]`). 2D runs always get their mode
/// metrics. Images are scored with `train.eval_samples` samples from the EMA generator
/// against `reference_images` images of the data set's test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Score images with a domain classifier (classifier score, class histogram, FCD, ...).
    pub classifier_scores: bool,
    /// The classifier folder (default: `classifiers/<data>-<H>x<W>`, what
    /// `gan classifier train` writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<PathBuf>,
    /// Score images with InceptionV3 (FID, KID, IS, ...): needs the TorchScript file of
    /// `cargo xtask fetch-inception`, and is slow on a CPU.
    pub inception: bool,
    /// The extractor file (default: `$GAN_INCEPTION`, else the cache's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inception_file: Option<PathBuf>,
    /// Test-split images used as the reference (0 = all).
    pub reference_images: usize,
    /// The score that picks the checkpoint kept in `best/`.
    pub best: BestMetric,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            classifier_scores: false,
            classifier: None,
            inception: false,
            inception_file: None,
            reference_images: 10_000,
            best: BestMetric::None,
        }
    }
}

fn default_name() -> String {
    "run".into()
}

/// The training data, `kind = ...` in TOML: the 2D mixtures `"ring"`, `"grid"`; the image
/// sets `"fashion-mnist"`, `"stacked-fashion-mnist"`, `"mnist"`, `"cifar10"`, `"folder"`,
/// `"synthetic"`; the paired translation data `"edges"` (built in), `"aligned"`,
/// `"paired-folders"`, `"synthetic-pairs"`; the unpaired `"hot"` (built in), `"unpaired"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataConfig {
    /// 8 Gaussians on the unit circle, std 0.01.
    Ring,
    /// 25 Gaussians on a 5x5 grid, std 0.05.
    Grid,
    /// Fashion-MNIST (IDX files; 28x28 grey, 10 classes).
    FashionMnist {
        /// Folder of the four IDX files (default: searched, see [`DataConfig::search_dirs`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split to train on.
        #[serde(default)]
        split: Split,
        /// Black pixels added on every side (2 makes the 32x32 images DCGAN-32 expects).
        #[serde(default)]
        pad: usize,
        /// Keep only these classes, relabelled 0.. in this order (e.g. `[5, 8]`: sandals
        /// and bags); the test split the scores compare with is restricted the same way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<i64>>,
        /// Train on a class-balanced subset of this many images (limited-data experiments);
        /// scores still compare with the whole test split (of the selected classes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subset: Option<usize>,
        /// Seed of the subset's draw (the same subset whatever the run's seed).
        #[serde(default, skip_serializing_if = "is_zero")]
        subset_seed: u64,
    },
    /// Stacked Fashion-MNIST (as Stacked MNIST in PacGAN/VEEGAN): RGB images whose three
    /// channels are three random Fashion-MNIST images, 1000 modes (label `100 a + 10 b + c`).
    StackedFashionMnist {
        /// Folder of the four IDX files (default: searched as for `fashion-mnist`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split the channel images come from.
        #[serde(default)]
        split: Split,
        /// Black pixels added on every side.
        #[serde(default)]
        pad: usize,
        /// Stacked images drawn.
        #[serde(default = "default_stacked_images")]
        images: usize,
        /// Seed of the draw.
        #[serde(default)]
        seed: u64,
    },
    /// MNIST (IDX files; 28x28 grey, 10 classes).
    Mnist {
        /// Folder of the four IDX files (default: searched).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split to train on.
        #[serde(default)]
        split: Split,
        /// Black pixels added on every side.
        #[serde(default)]
        pad: usize,
        /// Keep only these classes, relabelled 0.. in this order (e.g. `[5, 8]`: sandals
        /// and bags); the test split the scores compare with is restricted the same way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<i64>>,
        /// Train on a class-balanced subset of this many images (limited-data experiments);
        /// scores still compare with the whole test split (of the selected classes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subset: Option<usize>,
        /// Seed of the subset's draw (the same subset whatever the run's seed).
        #[serde(default, skip_serializing_if = "is_zero")]
        subset_seed: u64,
    },
    /// CIFAR-10 (binary batches; 32x32 RGB, 10 classes).
    Cifar10 {
        /// Folder of `data_batch_*.bin` and `test_batch.bin` (default: searched).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split to train on.
        #[serde(default)]
        split: Split,
        /// Keep only these classes, relabelled 0.. in this order (e.g. `[5, 8]`: sandals
        /// and bags); the test split the scores compare with is restricted the same way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<i64>>,
        /// Train on a class-balanced subset of this many images (limited-data experiments);
        /// scores still compare with the whole test split (of the selected classes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subset: Option<usize>,
        /// Seed of the subset's draw (the same subset whatever the run's seed).
        #[serde(default, skip_serializing_if = "is_zero")]
        subset_seed: u64,
    },
    /// Generated images (dim noise with a bright band whose row gives the class): for tests
    /// and benchmarks, no files needed.
    Synthetic {
        /// Number of images.
        images: usize,
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
        /// Classes (0 or 1: unlabelled).
        #[serde(default)]
        classes: usize,
        /// Seed of the pixels (a different seed is a different "split").
        #[serde(default)]
        seed: u64,
    },
    /// The built-in paired task (image-to-image translation, no download): A = the Sobel
    /// edge magnitude of a Fashion-MNIST image padded to 32x32, B = the image (1 -> 1
    /// channel, 10 classes). See [`gan_data::PairedDataset::edges`] for the exact definition.
    Edges {
        /// Folder of the Fashion-MNIST IDX files (default: searched as for `fashion-mnist`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split to train on (evaluation uses the other one's test split).
        #[serde(default)]
        split: Split,
        /// Random crop and flip, the same for both halves of a pair.
        #[serde(default)]
        jitter: Jitter,
    },
    /// The built-in unpaired task (CycleGAN, no download): domain A = Fashion-MNIST images
    /// padded to 32x32 (grey), domain B = their "hot" colour map (RGB), A from train images
    /// 0-29,999 and B from 30,000-59,999 so that no pair is ever seen; the test split pairs
    /// each test image with its map, so both directions are scored against the exact mapping.
    /// See [`gan_data::UnpairedDataset::hot`] for the exact definition.
    Hot {
        /// Folder of the Fashion-MNIST IDX files (default: searched as for `fashion-mnist`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// Which split to train on.
        #[serde(default)]
        split: Split,
        /// Random crop and flip, drawn independently for each domain.
        #[serde(default)]
        jitter: Jitter,
    },
    /// Unpaired images in CycleGAN's layout: `path/trainA`, `path/trainB` (and `testA`,
    /// `testB` for evaluation), each image stretched to `height x width`.
    Unpaired {
        /// The folder holding `trainA/`, `trainB/`, `testA/`, `testB/`.
        path: PathBuf,
        /// Which split to train on (`train`: `trainA` + `trainB`).
        #[serde(default)]
        split: Split,
        /// Height every image is resized to (CycleGAN's `load_size`).
        height: usize,
        /// Width every image is resized to.
        width: usize,
        /// Channels of domain A: 3 (RGB) or 1 (grey).
        #[serde(default = "default_channels")]
        channels_a: usize,
        /// Channels of domain B.
        #[serde(default = "default_channels")]
        channels_b: usize,
        /// Random crop (CycleGAN: 286 -> 256) and flip, drawn independently for each domain.
        #[serde(default)]
        jitter: Jitter,
    },
    /// Generated pairs for tests and benchmarks (no files needed): A = `synthetic` images,
    /// B = their negative (`255 - A`, repeated to `channels_b`).
    SyntheticPairs {
        /// Number of pairs.
        images: usize,
        /// Channels of A (1 or 3).
        channels_a: usize,
        /// Channels of B (1 or 3).
        channels_b: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
        /// Seed of the pixels (a different seed is a different "split").
        #[serde(default)]
        seed: u64,
    },
    /// Paired images side by side in one file, A on the left and B on the right (pix2pix's
    /// aligned format: `facades/train/*.jpg`), each half stretched to `height x width`.
    Aligned {
        /// The folder of training pairs.
        path: PathBuf,
        /// The folder of held-out pairs (evaluation; `facades/test`), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_path: Option<PathBuf>,
        /// Height each half is resized to (pix2pix's `load_size`).
        height: usize,
        /// Width each half is resized to.
        width: usize,
        /// Channels of A: 3 (RGB) or 1 (grey).
        #[serde(default = "default_channels")]
        channels_a: usize,
        /// Channels of B.
        #[serde(default = "default_channels")]
        channels_b: usize,
        /// `b-to-a` swaps the halves.
        #[serde(default)]
        direction: Direction,
        /// Random crop (pix2pix: 286 -> 256) and flip, the same for both halves.
        #[serde(default)]
        jitter: Jitter,
    },
    /// Two folders of images paired by file name (`a/x.png` with `b/x.png` or `b/x.jpg`).
    PairedFolders {
        /// The A images.
        a: PathBuf,
        /// The B images.
        b: PathBuf,
        /// Held-out A images (evaluation), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_a: Option<PathBuf>,
        /// Held-out B images, paired with `test_a` by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_b: Option<PathBuf>,
        /// Height both sides are resized to.
        height: usize,
        /// Width both sides are resized to.
        width: usize,
        /// Channels of A: 3 or 1.
        #[serde(default = "default_channels")]
        channels_a: usize,
        /// Channels of B.
        #[serde(default = "default_channels")]
        channels_b: usize,
        /// Random crop and flip, the same for both sides of a pair.
        #[serde(default)]
        jitter: Jitter,
    },
    /// A folder of PNG/JPEG images; classes from first-level sub-folder names.
    Folder {
        /// The root folder.
        path: PathBuf,
        /// Output height after resizing and center-cropping.
        height: usize,
        /// Output width.
        width: usize,
        /// 3 (RGB) or 1 (grey).
        #[serde(default = "default_channels")]
        channels: usize,
        /// Skip (and count) files that do not decode instead of failing.
        #[serde(default)]
        skip_bad: bool,
    },
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn default_stacked_images() -> usize {
    60_000
}

fn default_channels() -> usize {
    3
}

impl DataConfig {
    /// The 2D mixture this names, if it names one.
    pub fn mixture_kind(&self) -> Option<MixtureKind> {
        match self {
            DataConfig::Ring => Some(MixtureKind::Ring),
            DataConfig::Grid => Some(MixtureKind::Grid),
            _ => None,
        }
    }

    /// Whether this is paired data (A -> B translation) rather than samples.
    pub fn is_paired(&self) -> bool {
        matches!(
            self,
            DataConfig::Edges { .. }
                | DataConfig::Aligned { .. }
                | DataConfig::PairedFolders { .. }
                | DataConfig::SyntheticPairs { .. }
        )
    }

    /// Whether this is unpaired data of two domains (CycleGAN).
    pub fn is_unpaired(&self) -> bool {
        matches!(self, DataConfig::Hot { .. } | DataConfig::Unpaired { .. })
    }

    /// Whether this is translation data, paired or not.
    pub fn is_translation(&self) -> bool {
        self.is_paired() || self.is_unpaired()
    }

    /// The random crop and flip of translation data (none for other data).
    pub fn jitter(&self) -> Jitter {
        match self {
            DataConfig::Hot { jitter, .. }
            | DataConfig::Unpaired { jitter, .. }
            | DataConfig::Edges { jitter, .. }
            | DataConfig::Aligned { jitter, .. }
            | DataConfig::PairedFolders { jitter, .. } => *jitter,
            _ => Jitter::default(),
        }
    }

    /// The data set's name: the folder it is looked for under (`fashion-mnist`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            DataConfig::Ring => "ring",
            DataConfig::Grid => "grid",
            // Stacked images are made from the Fashion-MNIST files, and scored per channel
            // by the Fashion-MNIST classifier.
            DataConfig::FashionMnist { .. } | DataConfig::StackedFashionMnist { .. } => {
                "fashion-mnist"
            }
            DataConfig::Mnist { .. } => "mnist",
            DataConfig::Cifar10 { .. } => "cifar10",
            DataConfig::Synthetic { .. } => "synthetic",
            DataConfig::Folder { .. } => "folder",
            // The edges task derives from (and is scored against) the Fashion-MNIST files.
            DataConfig::Edges { .. } | DataConfig::Hot { .. } => "fashion-mnist",
            DataConfig::Unpaired { .. } => "unpaired",
            DataConfig::Aligned { .. } => "aligned",
            DataConfig::SyntheticPairs { .. } => "synthetic-pairs",
            DataConfig::PairedFolders { .. } => "paired-folders",
        }
    }

    /// The same data set's `split` (the 2D mixtures and folders have none: an error naming
    /// the data). Synthetic data's test split is the same recipe with the next seed; stacked
    /// data's draws its channels from that split with the next seed.
    pub fn with_split(&self, split: Split) -> Result<DataConfig> {
        let mut data = self.clone();
        if split == Split::Test {
            // Scores compare with the whole held-out split (of the selected classes).
            if let DataConfig::FashionMnist { subset, .. }
            | DataConfig::Mnist { subset, .. }
            | DataConfig::Cifar10 { subset, .. } = &mut data
            {
                *subset = None;
            }
        }
        match &mut data {
            DataConfig::FashionMnist { split: s, .. }
            | DataConfig::Edges { split: s, .. }
            | DataConfig::Hot { split: s, .. }
            | DataConfig::Unpaired { split: s, .. }
            | DataConfig::Mnist { split: s, .. }
            | DataConfig::Cifar10 { split: s, .. } => *s = split,
            DataConfig::StackedFashionMnist { split: s, seed, .. } => {
                if *s != split {
                    *s = split;
                    *seed += 1;
                }
            }
            DataConfig::Synthetic { seed, .. } | DataConfig::SyntheticPairs { seed, .. } => {
                if split == Split::Test {
                    *seed += 1;
                }
            }
            DataConfig::Aligned {
                path, test_path, ..
            } if split == Split::Test => match test_path.take() {
                Some(t) => *path = t,
                None => {
                    return Err(config_err(
                        "data.test_path",
                        "is not set, so these pairs have no held-out split",
                    ))
                }
            },
            DataConfig::PairedFolders {
                a,
                b,
                test_a,
                test_b,
                ..
            } if split == Split::Test => {
                match (test_a.take(), test_b.take()) {
                    (Some(ta), Some(tb)) => {
                        *a = ta;
                        *b = tb;
                    }
                    _ => return Err(config_err(
                        "data.test_a",
                        "test_a and test_b are not both set, so these pairs have no held-out split",
                    )),
                }
            }
            DataConfig::Aligned { .. } | DataConfig::PairedFolders { .. } => {}
            other => {
                return Err(Error::Config {
                    key: "data.kind".into(),
                    message: format!(
                        "`{}` has no test split (use fashion-mnist, mnist, cifar10, \
                         stacked-fashion-mnist or synthetic)",
                        other.name()
                    ),
                })
            }
        }
        Ok(data)
    }

    /// Where a data set without an explicit `dir` is looked for, in order:
    /// `$GAN_DATA_DIR/<name>`, `data/<name>` (what `cargo xtask data <name>` fills), and for
    /// Fashion-MNIST the Debian package's `/usr/share/datasets/fashion-mnist`.
    pub fn search_dirs(&self) -> Vec<PathBuf> {
        let name = self.name();
        let mut dirs = Vec::new();
        if let Some(root) = std::env::var_os("GAN_DATA_DIR") {
            dirs.push(PathBuf::from(root).join(name));
        }
        dirs.push(PathBuf::from("data").join(name));
        if matches!(
            self,
            DataConfig::FashionMnist { .. }
                | DataConfig::StackedFashionMnist { .. }
                | DataConfig::Edges { .. }
                | DataConfig::Hot { .. }
        ) {
            dirs.push(PathBuf::from("/usr/share/datasets/fashion-mnist"));
        }
        dirs
    }
}

/// Adversarial loss and gradient regularisers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// The adversarial loss.
    pub kind: GanLoss,
    /// WGAN-GP weight (lambda; 0 = off).
    pub gp_weight: f64,
    /// WGAN-GP target gradient norm.
    pub gp_target: f64,
    /// R1 weight gamma (penalty gamma/2 * E||grad D(real)||^2; 0 = off).
    pub r1_gamma: f64,
    /// R2 weight gamma (the same at fake samples; 0 = off).
    pub r2_gamma: f64,
    /// Lazy regularisation (StyleGAN2): R1/R2 only on every this-many-th step, with gamma
    /// scaled by it so the penalty's average strength is unchanged (1 = every step).
    pub r1_every: u64,
    /// Weight of the auxiliary classifier's cross-entropy (AC-GAN discriminators), added to
    /// both networks' losses.
    pub aux_weight: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            kind: GanLoss::NonSaturating,
            gp_weight: 0.0,
            gp_target: 1.0,
            r1_gamma: 0.0,
            r2_gamma: 0.0,
            r1_every: 1,
            aux_weight: 1.0,
        }
    }
}

/// The largest `train.batch_size` accepted (memory is checked as well, before training).
pub const MAX_BATCH: i64 = 1 << 20;

/// How the learning rates change over the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// Constant learning rates.
    #[default]
    Constant,
    /// Constant until `decay_start` (a fraction of `train.steps`), then linear to zero at the end.
    LinearDecay,
}

impl LrSchedule {
    /// Whether the rates depend on `train.steps` (so a resume that changes it changes them).
    pub fn depends_on_total(self) -> bool {
        matches!(self, LrSchedule::LinearDecay)
    }
}

/// Adam settings (shared betas, separate learning rates: two time-scale updates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Generator learning rate.
    pub lr_g: f64,
    /// Discriminator learning rate.
    pub lr_d: f64,
    /// Adam beta1.
    pub beta1: f64,
    /// Adam beta2.
    pub beta2: f64,
    /// Adam epsilon.
    pub eps: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// With `linear-decay`: the fraction of `train.steps` after which the rates decay.
    pub decay_start: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr_g: 1e-4,
            lr_d: 1e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            schedule: LrSchedule::Constant,
            decay_start: 0.5,
        }
    }
}

impl OptimConfig {
    /// The factor applied to both learning rates at `step` of a `total`-step run.
    pub fn lr_factor(&self, step: u64, total: u64) -> f64 {
        match self.schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::LinearDecay => {
                let start = self.decay_start * total as f64;
                let s = step as f64;
                if s < start {
                    1.0
                } else {
                    ((total as f64 - s) / (total as f64 - start).max(1.0)).clamp(0.0, 1.0)
                }
            }
        }
    }
}

/// Steps, batch, and how often to log, evaluate and checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Generator steps in total.
    pub steps: u64,
    /// Samples per batch (real and fake each).
    pub batch_size: i64,
    /// Discriminator steps per generator step.
    pub n_critic: u32,
    /// Generator EMA decay per step (0 = no EMA: sampling uses the raw generator).
    pub ema_decay: f64,
    /// Write a `metrics.jsonl` line every this many steps.
    pub log_every: u64,
    /// Evaluate (mode metrics, scatter plot, samples) every this many steps (0 = only at the end).
    pub eval_every: u64,
    /// Samples drawn for an evaluation.
    pub eval_samples: i64,
    /// Write a checkpoint every this many steps (and always at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept on disk (at least 2).
    pub keep_checkpoints: usize,
    /// CPU threads for libtorch's intra-op pool, at most [`MAX_THREADS`] (0 = libtorch's
    /// default: one per physical core).
    pub threads: i32,
}

/// The most CPU threads a config may ask for (more only oversubscribes any machine, and
/// libtorch then spends its time starting threads).
pub const MAX_THREADS: i32 = 256;

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            steps: 10_000,
            batch_size: 100,
            n_critic: 1,
            ema_decay: 0.999,
            log_every: 100,
            eval_every: 0,
            eval_samples: 2500,
            checkpoint_every: 5_000,
            keep_checkpoints: 2,
            threads: 0,
        }
    }
}

impl TrainConfig {
    /// A config with defaults for everything but the data.
    pub fn new(data: DataConfig) -> Self {
        TrainConfig {
            name: default_name(),
            seed: 0,
            device: DeviceSpec::Auto,
            data,
            generator: GeneratorConfig::default(),
            discriminator: DiscriminatorConfig::default(),
            loss: LossConfig::default(),
            augment: AugmentConfig::default(),
            finetune: FinetuneConfig::default(),
            optim: OptimConfig::default(),
            train: ScheduleConfig::default(),
            eval: EvalConfig::default(),
            model: ModelConfig::default(),
            guard: GuardConfig::default(),
            log: LogConfig::default(),
        }
    }

    /// Parses TOML text; `origin` names the source in errors. A parse error names the dotted
    /// key and its own line and column (see `toml_diag`); a validation error gets the file and
    /// the key's line and column added ([`Error::ConfigValue`]).
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| {
            let (key, place) = crate::toml_diag::diagnose::<TrainConfig>(text, &e)
                .unwrap_or((None, crate::toml_diag::Place::at(text, 0)));
            let place = match e.span() {
                // Syntax errors: toml's own position is exact.
                Some(s) if key.is_none() => crate::toml_diag::Place::at(text, s.start),
                _ => place,
            };
            Error::ConfigParse {
                path: origin.to_path_buf(),
                key,
                line: place.line,
                column: place.column,
                message: e.message().trim_end().to_string(),
                snippet: place.snippet(),
                toml: Box::new(e),
            }
        })?;
        cfg.validate().map_err(|e| {
            let key = match &e {
                Error::Config { key, .. } => key.clone(),
                Error::Model(gan_models::Error::Config { key, .. }) => key.clone(),
                _ => return e,
            };
            let place = crate::toml_diag::locate(text, &key).map(|p| (p.line, p.column));
            Error::ConfigValue {
                path: origin.to_path_buf(),
                key,
                place,
                source: Box::new(e),
            }
        })?;
        Ok(cfg)
    }

    /// Reads, parses and validates a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// The settings that may change when a run is resumed: how long it trains, how often it
    /// logs, checkpoints and evaluates, where and on how many threads, the two learning rates
    /// (lowering them on resume is common practice), `[eval]` and `[guard]`.
    /// Everything else shapes the model, its losses, data or optimiser, which the checkpoint's
    /// tensor layout cannot always reveal (an activation, a loss, a data transform).
    pub const RESUMABLE_KEYS: &'static [&'static str] = &[
        "name",
        "device",
        "train.steps",
        "train.log_every",
        "train.eval_every",
        "train.eval_samples",
        "train.checkpoint_every",
        "train.keep_checkpoints",
        "train.threads",
        "optim.lr_g",
        "optim.lr_d",
        "eval",
        "guard",
        "log",
    ];

    /// Every dotted key whose resolved value differs between `self` (what a run was trained
    /// with) and `new`, outside [`Self::RESUMABLE_KEYS`]: one line `key: trained with X, now Y`.
    pub fn resume_differences(&self, new: &TrainConfig) -> Vec<String> {
        fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        flatten(&key, v, out);
                    }
                }
                other => {
                    out.insert(prefix.to_string(), other.to_string());
                }
            }
        }
        let table = |c: &TrainConfig| {
            let mut out = BTreeMap::new();
            if let Ok(v) = toml::from_str::<toml::Value>(&c.to_toml()) {
                flatten("", &v, &mut out);
            }
            out
        };
        let (old, now) = (table(self), table(new));
        let allowed = |key: &str| {
            Self::RESUMABLE_KEYS
                .iter()
                .any(|a| key == *a || key.starts_with(&format!("{a}.")))
        };
        let mut keys: Vec<&String> = old.keys().chain(now.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| !allowed(k) && old.get(*k) != now.get(*k))
            .map(|k| {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(not set)".into());
                format!(
                    "{k}: trained with {}, now {}",
                    show(old.get(k)),
                    show(now.get(k))
                )
            })
            .collect()
    }

    /// The resolved config as TOML (what goes into the run folder).
    pub fn to_toml(&self) -> String {
        /// The same fields in the same order, without the GAN family's sections when another
        /// family trains.
        #[derive(Serialize)]
        struct Saved<'a> {
            name: &'a str,
            seed: u64,
            device: &'a DeviceSpec,
            data: &'a DataConfig,
            model: &'a ModelConfig,
            #[serde(skip_serializing_if = "Option::is_none")]
            generator: Option<&'a GeneratorConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            discriminator: Option<&'a DiscriminatorConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            loss: Option<&'a LossConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            augment: Option<&'a AugmentConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            finetune: Option<&'a FinetuneConfig>,
            optim: &'a OptimConfig,
            train: &'a ScheduleConfig,
            eval: &'a EvalConfig,
            guard: &'a GuardConfig,
        }
        let gan = self.model.generates_from_latents();
        let loss = self.model == ModelConfig::Gan;
        let saved = Saved {
            name: &self.name,
            seed: self.seed,
            device: &self.device,
            data: &self.data,
            model: &self.model,
            generator: gan.then_some(&self.generator),
            discriminator: gan.then_some(&self.discriminator),
            loss: loss.then_some(&self.loss),
            augment: self.augment.is_on().then_some(&self.augment),
            finetune: self.finetune.is_on().then_some(&self.finetune),
            optim: &self.optim,
            train: &self.train,
            eval: &self.eval,
            guard: &self.guard,
        };
        toml::to_string_pretty(&saved).expect("a TrainConfig always serialises")
    }

    /// Checks every range and the model family's cross-checks; errors name the key.
    pub fn validate(&self) -> Result<()> {
        self.validate_ranges()?;
        self.validate_guard()?;
        self.augment.validate()?;
        if self.finetune.is_on()
            && !matches!(self.model, ModelConfig::Gan | ModelConfig::Stylegan2(_))
        {
            return Err(config_err(
                "finetune",
                format!(
                    "freezing layers is implemented for the gan and stylegan2 families; this \
                     is `{}`",
                    self.model.name()
                ),
            ));
        }
        if self.augment.is_on()
            && (!self.model.generates_from_latents() || self.data.mixture_kind().is_some())
        {
            return Err(config_err(
                "augment.kind",
                format!(
                    "augmentation is for the discriminator of an image GAN (families gan and \
                     stylegan2 on images); this is `{}` on `{}`",
                    self.model.name(),
                    self.data.name()
                ),
            ));
        }
        match &self.model {
            ModelConfig::Gan => crate::family::gan::validate(self),
            ModelConfig::Pix2pix(p) => crate::family::pix2pix::validate(self, p),
            ModelConfig::Cyclegan(c) => crate::family::cyclegan::validate(self, c),
            ModelConfig::Stylegan2(c) => crate::family::stylegan2::validate(self, c),
        }
    }

    fn validate_guard(&self) -> Result<()> {
        let g = &self.guard;
        if !(g.loss_multiple == 0.0 || (g.loss_multiple > 1.0 && g.loss_multiple.is_finite())) {
            return Err(config_err(
                "guard.loss_multiple",
                format!("{} must be 0 (off) or a finite number > 1", g.loss_multiple),
            ));
        }
        if !(1..=100_000).contains(&g.window) {
            return Err(config_err(
                "guard.window",
                format!("{} is not in 1..=100000", g.window),
            ));
        }
        if !(g.lr_factor > 0.0 && g.lr_factor <= 1.0) {
            return Err(config_err(
                "guard.lr_factor",
                format!("{} is not in (0, 1]", g.lr_factor),
            ));
        }
        if g.max_rollbacks > 1000 {
            return Err(config_err(
                "guard.max_rollbacks",
                format!("{} is not in 0..=1000", g.max_rollbacks),
            ));
        }
        Ok(())
    }

    fn validate_ranges(&self) -> Result<()> {
        self.generator.validate()?;
        self.discriminator.validate()?;
        let t = &self.train;
        let pos = |key: &str, v: f64| -> Result<()> {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(config_err(key, format!("{v} must be positive and finite")))
            }
        };
        let nonneg = |key: &str, v: f64| -> Result<()> {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(config_err(key, format!("{v} must be >= 0 and finite")))
            }
        };
        let unit = |key: &str, v: f64| -> Result<()> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(config_err(key, format!("{v} is not in [0, 1)")))
            }
        };
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            return Err(config_err(
                "name",
                format!(
                    "{:?} must be non-empty and contain no path separator",
                    self.name
                ),
            ));
        }
        pos("optim.lr_g", self.optim.lr_g)?;
        pos("optim.lr_d", self.optim.lr_d)?;
        unit("optim.beta1", self.optim.beta1)?;
        unit("optim.beta2", self.optim.beta2)?;
        unit("optim.decay_start", self.optim.decay_start)?;
        pos("optim.eps", self.optim.eps)?;
        nonneg("loss.gp_weight", self.loss.gp_weight)?;
        nonneg("loss.gp_target", self.loss.gp_target)?;
        nonneg("loss.r1_gamma", self.loss.r1_gamma)?;
        nonneg("loss.r2_gamma", self.loss.r2_gamma)?;
        nonneg("loss.aux_weight", self.loss.aux_weight)?;
        if !(1..=1000).contains(&self.loss.r1_every) {
            return Err(config_err(
                "loss.r1_every",
                format!("{} is not in 1..=1000", self.loss.r1_every),
            ));
        }
        unit("train.ema_decay", t.ema_decay)?;
        if t.steps == 0 {
            return Err(config_err("train.steps", "must be at least 1"));
        }
        let pack = self.discriminator.pack();
        if t.batch_size < 1 || t.batch_size % pack != 0 {
            return Err(config_err(
                "train.batch_size",
                format!(
                    "{} must be a positive multiple of discriminator.pack = {pack}",
                    t.batch_size
                ),
            ));
        }
        if t.n_critic == 0 || t.n_critic > 100 {
            return Err(config_err(
                "train.n_critic",
                format!("{} is not in 1..=100", t.n_critic),
            ));
        }
        if t.log_every == 0 {
            return Err(config_err("train.log_every", "must be at least 1"));
        }
        if t.checkpoint_every == 0 {
            return Err(config_err("train.checkpoint_every", "must be at least 1"));
        }
        if t.keep_checkpoints < 2 {
            return Err(config_err(
                "train.keep_checkpoints",
                format!(
                    "{} must be at least 2 (a crash mid-write must leave one loadable)",
                    t.keep_checkpoints
                ),
            ));
        }
        if let DataConfig::Folder {
            height,
            width,
            channels,
            ..
        } = &self.data
        {
            if !(1..=4096).contains(height) || !(1..=4096).contains(width) {
                return Err(config_err(
                    "data.height",
                    format!("{height}x{width} is not in 1..=4096 a side"),
                ));
            }
            if ![1, 3].contains(channels) {
                return Err(config_err(
                    "data.channels",
                    format!("{channels} must be 1 or 3"),
                ));
            }
        }
        if t.eval_samples < 1 {
            return Err(config_err("train.eval_samples", "must be at least 1"));
        }
        if !(0..=MAX_THREADS).contains(&t.threads) {
            return Err(config_err(
                "train.threads",
                format!(
                    "{} is not in 0..={MAX_THREADS} (0 = libtorch's default: one thread per \
                     physical core)",
                    t.threads
                ),
            ));
        }
        if t.batch_size > MAX_BATCH {
            return Err(config_err(
                "train.batch_size",
                format!("{} is more than {MAX_BATCH}", t.batch_size),
            ));
        }
        if !(0..=MAX_BATCH * 16).contains(&t.eval_samples) {
            return Err(config_err(
                "train.eval_samples",
                format!("{} is not in 0..={}", t.eval_samples, MAX_BATCH * 16),
            ));
        }
        self.validate_eval()
    }

    /// `[eval]` against the data: the best-checkpoint score must be one the run computes.
    fn validate_eval(&self) -> Result<()> {
        let e = &self.eval;
        let is_2d = self.data.mixture_kind().is_some();
        let stacked = matches!(self.data, DataConfig::StackedFashionMnist { .. });
        let needs_reference = matches!(
            e.best,
            BestMetric::Fid | BestMetric::Kid | BestMetric::Fcd | BestMetric::ClassifierKid
        );
        let problem = match e.best {
            BestMetric::None => None,
            BestMetric::HighQuality | BestMetric::ReverseKl if !is_2d => {
                Some("scores 2D mixtures only".to_string())
            }
            BestMetric::HighQuality | BestMetric::ReverseKl => None,
            BestMetric::L1 | BestMetric::Psnr | BestMetric::Ssim
                if !self.data.is_paired() && !matches!(self.data, DataConfig::Hot { .. }) =>
            {
                Some(
                    "scores translations against their true targets; it needs paired data \
                     (or the built-in hot task, whose mapping is known)"
                        .into(),
                )
            }
            BestMetric::L1 | BestMetric::Psnr | BestMetric::Ssim
                if self.data.with_split(Split::Test).is_err() =>
            {
                Some("compares with held-out pairs, and this data has no test split".into())
            }
            BestMetric::L1 | BestMetric::Psnr | BestMetric::Ssim => None,
            _ if is_2d => {
                Some("is an image score; 2D runs pick by high-quality or reverse-kl".into())
            }
            BestMetric::Fid | BestMetric::Kid | BestMetric::InceptionScore if !e.inception => {
                Some("needs eval.inception = true".into())
            }
            BestMetric::Fcd
            | BestMetric::ClassifierKid
            | BestMetric::ClassifierScore
            | BestMetric::StackedModes
                if !e.classifier_scores =>
            {
                Some("needs eval.classifier_scores = true".into())
            }
            BestMetric::StackedModes if !stacked => {
                Some("needs data.kind = \"stacked-fashion-mnist\"".into())
            }
            _ => None,
        };
        if let Some(p) = problem {
            return Err(config_err(
                "eval.best",
                format!("\"{}\" {p}", e.best.name()),
            ));
        }
        if needs_reference && self.data.with_split(Split::Test).is_err() {
            return Err(config_err(
                "eval.best",
                format!(
                    "\"{}\" compares with the test split, and data `{}` has none",
                    e.best.name(),
                    self.data.name()
                ),
            ));
        }
        if (e.classifier_scores || e.inception) && is_2d {
            return Err(config_err(
                "eval.classifier_scores",
                "classifier and Inception scores are for images; 2D runs get mode metrics",
            ));
        }
        if (e.classifier_scores || e.inception) && self.train.eval_samples < 2 {
            return Err(config_err(
                "train.eval_samples",
                "image scores need at least 2 samples",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: &str = r#"
name = "t"
[data]
kind = "ring"
[train]
steps = 10
"#;

    #[test]
    fn minimal_config_gets_defaults_and_round_trips() {
        let c = TrainConfig::from_toml_str(RING, Path::new("x.toml")).unwrap();
        assert_eq!(c.train.steps, 10);
        assert_eq!(c.train.batch_size, 100);
        let back = TrainConfig::from_toml_str(&c.to_toml(), Path::new("y.toml")).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_name_key_line_and_file() {
        let bad = RING.replace("steps = 10", "steps = 10\nbatch_sise = 4");
        let err = TrainConfig::from_toml_str(&bad, Path::new("configs/bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("configs/bad.toml")
                && err.contains("batch_sise")
                && err.contains("line 7"),
            "{err}"
        );
        let bad = RING.replace("kind = \"ring\"", "kind = \"spiral\"");
        let err = TrainConfig::from_toml_str(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spiral"), "{err}");
        let bad = RING.replace("[train]", "[model]\nx = 1\n[train]");
        let err = TrainConfig::from_toml_str(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("model"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        for (patch, key) in [
            ("steps = 0", "train.steps"),
            ("steps = 10\nkeep_checkpoints = 1", "train.keep_checkpoints"),
            ("steps = 10\nbatch_size = 0", "train.batch_size"),
            ("steps = 10\nema_decay = 1.5", "train.ema_decay"),
        ] {
            let err =
                TrainConfig::from_toml_str(&RING.replace("steps = 10", patch), Path::new("c.toml"))
                    .unwrap_err();
            assert!(err.to_string().contains(key), "{patch}: {err}");
        }
        let packed = format!("{RING}batch_size = 10\n[discriminator]\narch = \"mlp\"\npack = 4\n");
        let err = TrainConfig::from_toml_str(&packed, Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("discriminator.pack = 4"), "{err}");
    }

    /// The shipped ring preset, whose `[generator.mlp]` is nested in a tagged table.
    const PRESET: &str = include_str!("../../../configs/ring.toml");

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l == needle).unwrap() + 1
    }

    #[test]
    fn the_data_kinds_doc_lists_every_kind() {
        let err = TrainConfig::from_toml_str("[data]\nkind = \"?\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        let kinds: Vec<&str> = err
            .split("expected one of")
            .nth(1)
            .unwrap()
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        assert!(kinds.len() >= 14, "{err}");
        let src = include_str!("config.rs");
        let doc_start = src.find("/// The training data, `kind = ...`").unwrap();
        let doc =
            &src[doc_start..src[doc_start..].find("pub enum DataConfig").unwrap() + doc_start];
        for k in kinds {
            assert!(
                doc.contains(&format!("`\"{k}\"`")),
                "the DataConfig doc lacks {k}"
            );
        }
    }

    #[test]
    fn errors_in_nested_tables_name_the_file_the_key_and_its_own_line() {
        let first = PRESET.find("width = 256").unwrap();
        let bad = format!(
            "{}width = \"wide\"{}",
            &PRESET[..first],
            &PRESET[first + "width = 256".len()..]
        );
        let line = line_of(&bad, "width = \"wide\"");
        let err = TrainConfig::from_toml_str(&bad, Path::new("configs/ring.toml")).unwrap_err();
        let Error::ConfigParse {
            key,
            line: at,
            column,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(key.as_deref(), Some("generator.mlp.width"), "{err}");
        assert_eq!((*at, *column), (line, 9), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("configs/ring.toml")
                && text.contains(&format!("line {line}, column 9"))
                && text.contains("`generator.mlp.width`")
                && text.contains("expected usize"),
            "{text}"
        );
        // The discriminator's table, further down, gets its own line.
        let bad = PRESET.replace("leaky_slope = 0.2", "leaky_slop = 0.2");
        let text = TrainConfig::from_toml_str(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        let line = line_of(&bad, "leaky_slop = 0.2");
        assert!(
            text.contains(&format!("line {line}, column 1"))
                && text.contains("`discriminator.mlp.leaky_slop`"),
            "{text}"
        );
    }

    #[test]
    fn range_errors_name_the_file_and_the_line_or_the_default() {
        let bad = PRESET.replace("batch_size = 100\n", "batch_size = 100000000000\n");
        let line = line_of(&bad, "batch_size = 100000000000");
        let text = TrainConfig::from_toml_str(&bad, Path::new("configs/ring.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(&format!("configs/ring.toml, line {line}, column 14"))
                && text.contains("`train.batch_size`")
                && text.contains("100000000000 is more than 1048576"),
            "{text}"
        );
        let bad = PRESET.replace(
            "width = 256\nactivation = \"relu\"",
            "width = 0\nactivation = \"relu\"",
        );
        let text = TrainConfig::from_toml_str(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        let line = line_of(&bad, "width = 0");
        assert!(
            text.contains(&format!("c.toml, line {line}, column 9"))
                && text.contains("`generator.mlp.width`"),
            "{text}"
        );
        // A cross-key rule about a key that the file leaves at its default says so.
        let bad = RING.replace("steps = 10", "steps = 10\nema_decay = 1.5");
        let text = TrainConfig::from_toml_str(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("c.toml, line 7, column 13"), "{text}");
        let text = TrainConfig::from_toml_str(
            &RING.replace(
                "steps = 10",
                "steps = 10\nbatch_size = 10\nkeep_checkpoints = 1",
            ),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(text.contains("c.toml, line 8"), "{text}");
    }

    const IMAGES: &str = r#"
[data]
kind = "synthetic"
images = 10
channels = 1
height = 16
width = 16
classes = 4
[generator]
arch = "dcgan"
conditioning = "G"
[discriminator]
arch = "dcgan"
conditioning = "D"
"#;

    fn images(g: &str, d: &str) -> String {
        IMAGES
            .replace("\"G\"", &format!("\"{g}\""))
            .replace("\"D\"", &format!("\"{d}\""))
    }

    #[test]
    fn the_gan_family_refuses_conditioning_that_would_train_silently_wrong() {
        let parse = |t: &str| TrainConfig::from_toml_str(t, Path::new("c.toml"));
        assert!(parse(&images("batch-norm", "projection")).is_ok());
        assert!(parse(&images("none", "none")).is_ok());
        let err = parse(&images("batch-norm", "none"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`discriminator.conditioning`"), "{err}");
        let err = parse(&images("none", "auxiliary-classifier"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`generator.conditioning`"), "{err}");
        let packed = images("batch-norm", "projection").replace(
            "conditioning = \"projection\"",
            "conditioning = \"projection\"\npack = 2",
        );
        let err = parse(&packed).unwrap_err().to_string();
        assert!(
            err.contains("`discriminator.pack`") && err.contains("first label"),
            "{err}"
        );
        // The family is named in [model]; a config without it is a GAN.
        let named = format!("[model]\nfamily = \"gan\"\n{}", images("none", "none"));
        assert_eq!(parse(&named).unwrap().model, ModelConfig::Gan);
        let err = parse(&format!(
            "[model]\nfamily = \"vae\"\n{}",
            images("none", "none")
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("vae"), "{err}");
    }

    #[test]
    fn guard_settings_are_checked() {
        for (patch, key) in [
            ("[guard]\nlr_factor = 0", "guard.lr_factor"),
            ("[guard]\nloss_multiple = 0.5", "guard.loss_multiple"),
            ("[guard]\nwindow = 0", "guard.window"),
        ] {
            let err = TrainConfig::from_toml_str(&format!("{RING}{patch}\n"), Path::new("c.toml"))
                .unwrap_err();
            assert!(err.to_string().contains(key), "{patch}: {err}");
        }
    }

    #[test]
    fn threads_are_bounded_and_zero_is_the_default() {
        let ok = TrainConfig::from_toml_str(&format!("{RING}threads = 0\n"), Path::new("c.toml"))
            .unwrap();
        assert_eq!(ok.train.threads, 0);
        for bad in [-1, 100_000] {
            let err = TrainConfig::from_toml_str(
                &format!("{RING}threads = {bad}\n"),
                Path::new("c.toml"),
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("train.threads") && err.contains("0..=256"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn linear_decay_reaches_zero_at_the_end() {
        let o = OptimConfig {
            schedule: LrSchedule::LinearDecay,
            decay_start: 0.5,
            ..Default::default()
        };
        assert_eq!(o.lr_factor(0, 100), 1.0);
        assert_eq!(o.lr_factor(50, 100), 1.0);
        assert!((o.lr_factor(75, 100) - 0.5).abs() < 1e-12);
        assert_eq!(o.lr_factor(100, 100), 0.0);
        assert_eq!(OptimConfig::default().lr_factor(99, 100), 1.0);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = TrainConfig::from_toml_file(Path::new("/no/such/config.toml")).unwrap_err();
        assert!(err.to_string().contains("/no/such/config.toml"));
    }
}

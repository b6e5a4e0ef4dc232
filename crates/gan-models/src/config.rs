use serde::{Deserialize, Serialize};

use crate::error::{config_err, Result};

/// Hidden-layer nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(x, 0).
    #[default]
    Relu,
    /// max(x, slope * x) with the config's `leaky_slope`.
    LeakyRelu,
    /// tanh.
    Tanh,
    /// ELU (alpha 1).
    Elu,
    /// x * sigmoid(x).
    Silu,
    /// No nonlinearity (useful with maxout, which is its own nonlinearity).
    Identity,
}

/// Weight initialisation of linear layers (biases start at zero, except `torch`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WeightInit {
    /// N(0, init_std^2), as DCGAN and PacGAN.
    #[default]
    Normal,
    /// Xavier/Glorot uniform.
    Xavier,
    /// libtorch's default (Kaiming uniform, a = sqrt 5) with its default bias.
    Torch,
}

/// The body of an MLP, shared by generators and discriminators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Number of hidden layers.
    pub depth: usize,
    /// Units per hidden layer (after maxout).
    pub width: usize,
    /// Nonlinearity after each hidden layer (applied after maxout, if any).
    pub activation: Activation,
    /// Negative slope of `leaky-relu`.
    pub leaky_slope: f64,
    /// Batch normalisation after each hidden linear layer.
    pub batch_norm: bool,
    /// Maxout pieces per unit (1 = no maxout; PacGAN's discriminator uses 5).
    pub maxout: usize,
    /// Weight initialisation.
    pub init: WeightInit,
    /// Standard deviation of `normal` initialisation.
    pub init_std: f64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            depth: 3,
            width: 128,
            activation: Activation::Relu,
            leaky_slope: 0.2,
            batch_norm: false,
            maxout: 1,
            init: WeightInit::Normal,
            init_std: 0.02,
        }
    }
}

impl MlpConfig {
    fn validate(&self, prefix: &str) -> Result<()> {
        if self.depth == 0 || self.depth > 64 {
            return Err(config_err(
                &format!("{prefix}.depth"),
                format!("{} is not in 1..=64", self.depth),
            ));
        }
        if self.width == 0 || self.width > 1 << 16 {
            return Err(config_err(
                &format!("{prefix}.width"),
                format!("{} is not in 1..=65536", self.width),
            ));
        }
        if self.maxout == 0 || self.maxout > 64 {
            return Err(config_err(
                &format!("{prefix}.maxout"),
                format!("{} is not in 1..=64", self.maxout),
            ));
        }
        if !(self.init_std > 0.0 && self.init_std.is_finite()) {
            return Err(config_err(
                &format!("{prefix}.init_std"),
                format!("{} must be positive", self.init_std),
            ));
        }
        if !(0.0..1.0).contains(&self.leaky_slope) {
            return Err(config_err(
                &format!("{prefix}.leaky_slope"),
                format!("{} is not in [0, 1)", self.leaky_slope),
            ));
        }
        Ok(())
    }
}

/// How the generator is told the class (class-conditional models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GConditioning {
    /// Unconditional.
    #[default]
    None,
    /// Conditional batch norm: one scale and shift per class (Miyato & Koyama 2018).
    BatchNorm,
    /// StyleGAN2's: an embedding of the class, concatenated with `z` at the input of the
    /// mapping network (`arch = "stylegan2"` only).
    Mapping,
}

/// How the discriminator uses the class (class-conditional models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DConditioning {
    /// Unconditional.
    #[default]
    None,
    /// Projection discriminator: adds `embed(y) . phi(x)` to the logit (Miyato & Koyama 2018).
    Projection,
    /// AC-GAN: an auxiliary head predicts the class (Odena et al. 2017); the training loop
    /// adds its cross-entropy to both losses.
    AuxiliaryClassifier,
}

/// Which generator to build (`arch = "mlp" | "dcgan" | "resnet" | "stylegan2"` in TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GeneratorConfig {
    /// An MLP mapping a Gaussian latent to data space.
    Mlp {
        /// Size of the latent vector z ~ N(0, I).
        #[serde(default = "default_latent")]
        latent_dim: i64,
        /// The hidden layers.
        #[serde(default)]
        mlp: MlpConfig,
    },
    /// DCGAN (Radford et al. 2016): transposed convolutions, batch norm, ReLU, tanh.
    Dcgan {
        /// Size of the latent vector (pytorch/examples: 100).
        #[serde(default = "default_dcgan_latent")]
        latent_dim: i64,
        /// Channels of the last hidden layer, doubled towards the input (ngf; 64).
        #[serde(default = "default_dcgan_width")]
        width: i64,
        /// Class conditioning.
        #[serde(default)]
        conditioning: GConditioning,
    },
    /// SNGAN's ResNet generator (Miyato et al. 2018).
    Resnet {
        /// Size of the latent vector (128).
        #[serde(default = "default_resnet_latent")]
        latent_dim: i64,
        /// Channels of every residual block (256).
        #[serde(default = "default_resnet_g_width")]
        width: i64,
        /// Class conditioning.
        #[serde(default)]
        conditioning: GConditioning,
    },
    /// StyleGAN2's generator (Karras et al. 2020): mapping network, modulated convolutions,
    /// noise inputs, the `skip` architecture.
    Stylegan2(StyleGan2GeneratorConfig),
}

/// StyleGAN2's generator (`arch = "stylegan2"`). The defaults are the paper's (and
/// stylegan2-ada-pytorch's) at 256x256 and above; its `cifar` config uses 2 mapping layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StyleGan2GeneratorConfig {
    /// Size of `z` (512).
    pub latent_dim: i64,
    /// Size of `w` (512).
    pub w_dim: i64,
    /// Layers of the mapping network (8; 2 in upstream's `cifar` config).
    pub mapping_layers: i64,
    /// Learning-rate multiplier of the mapping layers (0.01).
    pub mapping_lr_mul: f64,
    /// Decay of the tracked average of `w` (0.995), which truncation pulls towards.
    pub w_avg_beta: f64,
    /// Channels at resolution `r` are `min(channel_base / r, channel_max)` (32768).
    pub channel_base: i64,
    /// The most channels of any layer (512).
    pub channel_max: i64,
    /// Clamp every convolution's output to +-this (256, as upstream trains; 0 = off).
    pub conv_clamp: f64,
    /// Class conditioning: `"mapping"` (a class embedding concatenated with `z`) or `"none"`.
    pub conditioning: GConditioning,
}

impl Default for StyleGan2GeneratorConfig {
    fn default() -> Self {
        StyleGan2GeneratorConfig {
            latent_dim: 512,
            w_dim: 512,
            mapping_layers: 8,
            mapping_lr_mul: 0.01,
            w_avg_beta: 0.995,
            channel_base: 32768,
            channel_max: 512,
            conv_clamp: 256.0,
            conditioning: GConditioning::None,
        }
    }
}

impl StyleGan2GeneratorConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        check_range("generator.latent_dim", self.latent_dim, 1, 1 << 16)?;
        check_range("generator.w_dim", self.w_dim, 1, 1 << 16)?;
        check_range("generator.mapping_layers", self.mapping_layers, 1, 64)?;
        check_range("generator.channel_base", self.channel_base, 1, 1 << 24)?;
        check_range("generator.channel_max", self.channel_max, 1, 1 << 16)?;
        check_positive("generator.mapping_lr_mul", self.mapping_lr_mul)?;
        check_unit("generator.w_avg_beta", self.w_avg_beta)?;
        check_non_negative("generator.conv_clamp", self.conv_clamp)?;
        if self.conditioning == GConditioning::BatchNorm {
            return Err(config_err(
                "generator.conditioning",
                "StyleGAN2 takes the class through its mapping network: use conditioning = \
                 \"mapping\" (or \"none\")",
            ));
        }
        Ok(())
    }
}

/// StyleGAN2's discriminator (`arch = "stylegan2"`): the `resnet` architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StyleGan2DiscriminatorConfig {
    /// Channels at resolution `r` are `min(channel_base / r, channel_max)` (32768).
    pub channel_base: i64,
    /// The most channels of any layer (512).
    pub channel_max: i64,
    /// Group size of the minibatch standard-deviation layer (4; 32 in upstream's `cifar`
    /// config); batches must divide by `min(mbstd_group, batch)`.
    pub mbstd_group: i64,
    /// Features of the minibatch standard-deviation layer (1; 0 = no such layer).
    pub mbstd_channels: i64,
    /// Clamp every convolution's output to +-this (256; 0 = off).
    pub conv_clamp: f64,
    /// Class conditioning: `"projection"` onto a mapped class embedding, or `"none"`.
    pub conditioning: DConditioning,
    /// Layers of the class mapping network of a conditional discriminator (8).
    pub mapping_layers: i64,
    /// Its learning-rate multiplier (0.01).
    pub mapping_lr_mul: f64,
}

impl Default for StyleGan2DiscriminatorConfig {
    fn default() -> Self {
        StyleGan2DiscriminatorConfig {
            channel_base: 32768,
            channel_max: 512,
            mbstd_group: 4,
            mbstd_channels: 1,
            conv_clamp: 256.0,
            conditioning: DConditioning::None,
            mapping_layers: 8,
            mapping_lr_mul: 0.01,
        }
    }
}

impl StyleGan2DiscriminatorConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        check_range("discriminator.channel_base", self.channel_base, 1, 1 << 24)?;
        check_range("discriminator.channel_max", self.channel_max, 1, 1 << 16)?;
        check_range("discriminator.mbstd_group", self.mbstd_group, 1, 1 << 16)?;
        check_range(
            "discriminator.mbstd_channels",
            self.mbstd_channels,
            0,
            1 << 10,
        )?;
        check_range("discriminator.mapping_layers", self.mapping_layers, 1, 64)?;
        check_positive("discriminator.mapping_lr_mul", self.mapping_lr_mul)?;
        check_non_negative("discriminator.conv_clamp", self.conv_clamp)?;
        if self.mbstd_channels > 0 {
            let c4 = (self.channel_base / 4).clamp(1, self.channel_max);
            if c4 % self.mbstd_channels != 0 {
                return Err(config_err(
                    "discriminator.mbstd_channels",
                    format!(
                        "{} does not divide the {c4} channels at 4x4 (min(channel_base / 4, \
                         channel_max))",
                        self.mbstd_channels
                    ),
                ));
            }
        }
        if self.conditioning == DConditioning::AuxiliaryClassifier {
            return Err(config_err(
                "discriminator.conditioning",
                "StyleGAN2's discriminator conditions by projection onto a mapped class \
                 embedding: use conditioning = \"projection\" (or \"none\")",
            ));
        }
        Ok(())
    }
}

fn check_positive(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(config_err(key, format!("{v} must be a positive number")))
    }
}

fn check_non_negative(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(config_err(key, format!("{v} must be a number >= 0")))
    }
}

fn check_unit(key: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(config_err(key, format!("{v} is not in [0, 1)")))
    }
}

fn default_latent() -> i64 {
    2
}

fn default_dcgan_latent() -> i64 {
    100
}

fn default_dcgan_width() -> i64 {
    64
}

fn default_resnet_latent() -> i64 {
    128
}

fn default_resnet_g_width() -> i64 {
    256
}

fn default_resnet_d_width() -> i64 {
    128
}

fn default_pack() -> i64 {
    1
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig::Mlp {
            latent_dim: 2,
            mlp: MlpConfig::default(),
        }
    }
}

fn check_range(key: &str, v: i64, lo: i64, hi: i64) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(config_err(key, format!("{v} is not in {lo}..={hi}")))
    }
}

impl GeneratorConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match self {
            GeneratorConfig::Mlp { latent_dim, mlp } => {
                check_range("generator.latent_dim", *latent_dim, 1, 1 << 16)?;
                mlp.validate("generator.mlp")
            }
            GeneratorConfig::Dcgan {
                latent_dim, width, ..
            }
            | GeneratorConfig::Resnet {
                latent_dim, width, ..
            } => {
                check_range("generator.latent_dim", *latent_dim, 1, 1 << 16)?;
                check_range("generator.width", *width, 1, 4096)?;
                if self.conditioning() == GConditioning::Mapping {
                    return Err(config_err(
                        "generator.conditioning",
                        "\"mapping\" is StyleGAN2's (arch = \"stylegan2\"); use \"batch-norm\" \
                         or \"none\"",
                    ));
                }
                Ok(())
            }
            GeneratorConfig::Stylegan2(c) => c.validate(),
        }
    }

    /// The architecture's name (`mlp`, `dcgan`, `resnet`, `stylegan2`), as in TOML.
    pub fn arch(&self) -> &'static str {
        match self {
            GeneratorConfig::Mlp { .. } => "mlp",
            GeneratorConfig::Dcgan { .. } => "dcgan",
            GeneratorConfig::Resnet { .. } => "resnet",
            GeneratorConfig::Stylegan2(_) => "stylegan2",
        }
    }

    /// The class conditioning asked for.
    pub fn conditioning(&self) -> GConditioning {
        match self {
            GeneratorConfig::Mlp { .. } => GConditioning::None,
            GeneratorConfig::Dcgan { conditioning, .. }
            | GeneratorConfig::Resnet { conditioning, .. } => *conditioning,
            GeneratorConfig::Stylegan2(c) => c.conditioning,
        }
    }
}

/// Which discriminator to build (`arch = "mlp" | "dcgan" | "resnet" | "stylegan2"` in TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DiscriminatorConfig {
    /// An MLP judging `pack` samples at once.
    Mlp {
        /// PacGAN packing degree (1 = an ordinary discriminator).
        #[serde(default = "default_pack")]
        pack: i64,
        /// The hidden layers.
        #[serde(default)]
        mlp: MlpConfig,
    },
    /// DCGAN: strided convolutions, batch norm (not on the first layer), leaky ReLU 0.2.
    Dcgan {
        /// Channels of the first layer, doubled at each down-sampling (ndf; 64).
        #[serde(default = "default_dcgan_width")]
        width: i64,
        /// PacGAN packing degree: packs are concatenated along channels (PacDCGAN).
        #[serde(default = "default_pack")]
        pack: i64,
        /// Spectral normalisation of every layer (then without batch norm).
        #[serde(default)]
        spectral_norm: bool,
        /// Class conditioning.
        #[serde(default)]
        conditioning: DConditioning,
    },
    /// SNGAN's ResNet discriminator, spectrally normalised (Miyato et al. 2018).
    Resnet {
        /// Channels of every residual block (128).
        #[serde(default = "default_resnet_d_width")]
        width: i64,
        /// Class conditioning.
        #[serde(default)]
        conditioning: DConditioning,
    },
    /// StyleGAN2's discriminator (Karras et al. 2020): residual blocks, minibatch
    /// standard deviation, projection conditioning.
    Stylegan2(StyleGan2DiscriminatorConfig),
}

impl Default for DiscriminatorConfig {
    fn default() -> Self {
        DiscriminatorConfig::Mlp {
            pack: 1,
            mlp: MlpConfig::default(),
        }
    }
}

impl DiscriminatorConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match self {
            DiscriminatorConfig::Mlp { pack, mlp } => {
                check_range("discriminator.pack", *pack, 1, 64)?;
                mlp.validate("discriminator.mlp")
            }
            DiscriminatorConfig::Dcgan { width, pack, .. } => {
                check_range("discriminator.pack", *pack, 1, 64)?;
                check_range("discriminator.width", *width, 1, 4096)
            }
            DiscriminatorConfig::Resnet { width, .. } => {
                check_range("discriminator.width", *width, 1, 4096)
            }
            DiscriminatorConfig::Stylegan2(c) => c.validate(),
        }
    }

    /// PacGAN packing degree.
    pub fn pack(&self) -> i64 {
        match self {
            DiscriminatorConfig::Mlp { pack, .. } | DiscriminatorConfig::Dcgan { pack, .. } => {
                *pack
            }
            DiscriminatorConfig::Resnet { .. } | DiscriminatorConfig::Stylegan2(_) => 1,
        }
    }

    /// The class conditioning asked for.
    pub fn conditioning(&self) -> DConditioning {
        match self {
            DiscriminatorConfig::Mlp { .. } => DConditioning::None,
            DiscriminatorConfig::Dcgan { conditioning, .. }
            | DiscriminatorConfig::Resnet { conditioning, .. } => *conditioning,
            DiscriminatorConfig::Stylegan2(c) => c.conditioning,
        }
    }
}

/// Normalisation layer of the image-to-image networks (pix2pix's `--norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NormKind {
    /// `BatchNorm2d` with an affine transform (scale N(1, 0.02), shift 0) and running
    /// statistics; the convolutions before it have no bias (pix2pix's default).
    #[default]
    Batch,
    /// `InstanceNorm2d` without an affine transform or running statistics (the same in every
    /// forward mode); the convolutions before it have a bias (CycleGAN's default).
    Instance,
}

impl NormKind {
    /// Whether a convolution followed by this norm has a bias (upstream's `use_bias`).
    pub fn conv_bias(self) -> bool {
        self == NormKind::Instance
    }
}

/// pix2pix's U-Net generator (`unet_256` = the defaults at 256x256, `unet_128` at 128x128).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnetConfig {
    /// Channels of the outermost level, doubled per level up to `8 * ngf` (64).
    pub ngf: i64,
    /// Normalisation layer.
    pub norm: NormKind,
    /// Dropout 0.5 in the `num_downs - 5` middle levels of `8 * ngf` channels (pix2pix: on).
    pub dropout: bool,
    /// Number of down-samplings, at least 5; height and width must be multiples of
    /// `2^num_downs`. Unset: the largest `k` such that `2^k` divides both, which is `log2(H)`
    /// for square power-of-two images (32 -> 5, 128 -> 7, 256 -> 8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_downs: Option<usize>,
}

impl Default for UnetConfig {
    fn default() -> Self {
        UnetConfig {
            ngf: 64,
            norm: NormKind::Batch,
            dropout: true,
            num_downs: None,
        }
    }
}

/// The fewest down-samplings of the U-Net (its four outer levels plus the innermost).
pub(crate) const UNET_MIN_DOWNS: usize = 5;
/// The most down-samplings of the U-Net (sides of 65,536 pixels).
pub(crate) const UNET_MAX_DOWNS: usize = 16;

impl UnetConfig {
    /// Checks ranges; errors name the key (`generator.ngf`, `generator.num_downs`).
    pub fn validate(&self) -> Result<()> {
        check_range("generator.ngf", self.ngf, 1, 4096)?;
        if let Some(k) = self.num_downs {
            if !(UNET_MIN_DOWNS..=UNET_MAX_DOWNS).contains(&k) {
                return Err(config_err(
                    "generator.num_downs",
                    format!("{k} is not in {UNET_MIN_DOWNS}..={UNET_MAX_DOWNS}"),
                ));
            }
        }
        Ok(())
    }
}

/// CycleGAN's ResNet generator (`resnet_9blocks` = the defaults, `resnet_6blocks` with
/// `n_blocks = 6`): two down-samplings, residual blocks, two up-samplings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResnetConfig {
    /// Channels of the first convolution, doubled by each of the two down-samplings: the
    /// residual blocks have `4 * ngf` (64).
    pub ngf: i64,
    /// Number of residual blocks (9; CycleGAN uses 6 for 128x128 images).
    pub n_blocks: usize,
    /// Normalisation layer (CycleGAN: instance).
    pub norm: NormKind,
    /// Dropout 0.5 between the two convolutions of every residual block (CycleGAN: off).
    pub dropout: bool,
}

impl Default for ResnetConfig {
    fn default() -> Self {
        ResnetConfig {
            ngf: 64,
            n_blocks: 9,
            norm: NormKind::Instance,
            dropout: false,
        }
    }
}

/// The most residual blocks of the ResNet generator.
pub(crate) const RESNET_MAX_BLOCKS: usize = 64;

impl ResnetConfig {
    /// Checks ranges; errors name the key (`generator.ngf`, `generator.n_blocks`).
    pub fn validate(&self) -> Result<()> {
        check_range("generator.ngf", self.ngf, 1, 4096)?;
        if !(1..=RESNET_MAX_BLOCKS).contains(&self.n_blocks) {
            return Err(config_err(
                "generator.n_blocks",
                format!("{} is not in 1..={RESNET_MAX_BLOCKS}", self.n_blocks),
            ));
        }
        Ok(())
    }
}

/// Which image-to-image generator to build (`arch = "unet" | "resnet"` in TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TranslatorConfig {
    /// pix2pix's U-Net.
    Unet(UnetConfig),
    /// CycleGAN's ResNet generator.
    Resnet(ResnetConfig),
}

impl Default for TranslatorConfig {
    fn default() -> Self {
        TranslatorConfig::Unet(UnetConfig::default())
    }
}

impl TranslatorConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match self {
            TranslatorConfig::Unet(cfg) => cfg.validate(),
            TranslatorConfig::Resnet(cfg) => cfg.validate(),
        }
    }

    /// The normalisation layer asked for.
    pub fn norm(&self) -> NormKind {
        match self {
            TranslatorConfig::Unet(cfg) => cfg.norm,
            TranslatorConfig::Resnet(cfg) => cfg.norm,
        }
    }
}

/// pix2pix's n-layer PatchGAN discriminator (`basic` = `n_layers = 3`: 70x70 patches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatchConfig {
    /// Channels of the first layer, doubled per stride-2 layer up to `8 * ndf` (64).
    pub ndf: i64,
    /// Number of stride-2 convolutions (3; use 2 for 32x32 images).
    pub n_layers: usize,
    /// Normalisation layer.
    pub norm: NormKind,
}

impl Default for PatchConfig {
    fn default() -> Self {
        PatchConfig {
            ndf: 64,
            n_layers: 3,
            norm: NormKind::Batch,
        }
    }
}

/// pix2pix's 1x1 PatchGAN ("pixel") discriminator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PixelConfig {
    /// Channels of the first layer; the second has `2 * ndf` (64).
    pub ndf: i64,
    /// Normalisation layer.
    pub norm: NormKind,
}

impl Default for PixelConfig {
    fn default() -> Self {
        PixelConfig {
            ndf: 64,
            norm: NormKind::Batch,
        }
    }
}

/// Which image-to-image discriminator to build (`arch = "patch" | "pixel"` in TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PatchDiscriminatorConfig {
    /// The n-layer PatchGAN: one logit per overlapping patch.
    Patch(PatchConfig),
    /// The 1x1 PatchGAN: one logit per pixel.
    Pixel(PixelConfig),
}

impl Default for PatchDiscriminatorConfig {
    fn default() -> Self {
        PatchDiscriminatorConfig::Patch(PatchConfig::default())
    }
}

impl PatchDiscriminatorConfig {
    /// Checks ranges; errors name the key (`discriminator.ndf`, `discriminator.n_layers`).
    pub fn validate(&self) -> Result<()> {
        match self {
            PatchDiscriminatorConfig::Patch(cfg) => {
                check_range("discriminator.ndf", cfg.ndf, 1, 4096)?;
                if !(1..=16).contains(&cfg.n_layers) {
                    return Err(config_err(
                        "discriminator.n_layers",
                        format!("{} is not in 1..=16", cfg.n_layers),
                    ));
                }
                Ok(())
            }
            PatchDiscriminatorConfig::Pixel(cfg) => {
                check_range("discriminator.ndf", cfg.ndf, 1, 4096)
            }
        }
    }

    /// The normalisation layer asked for.
    pub fn norm(&self) -> NormKind {
        match self {
            PatchDiscriminatorConfig::Patch(cfg) => cfg.norm,
            PatchDiscriminatorConfig::Pixel(cfg) => cfg.norm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let src = r#"
arch = "mlp"
pack = 2
[mlp]
depth = 3
width = 200
maxout = 5
activation = "identity"
"#;
        let d: DiscriminatorConfig = toml::from_str(src).unwrap();
        assert_eq!(d.pack(), 2);
        d.validate().unwrap();
        let back: DiscriminatorConfig = toml::from_str(&toml::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);

        let err = toml::from_str::<DiscriminatorConfig>("arch = \"mlp\"\n[mlp]\nwidht = 3\n")
            .unwrap_err();
        assert!(err.to_string().contains("widht"), "{err}");
        let err = toml::from_str::<GeneratorConfig>("arch = \"stylegan\"\n").unwrap_err();
        assert!(err.to_string().contains("stylegan"), "{err}");
        let g: GeneratorConfig =
            toml::from_str("arch = \"dcgan\"\nconditioning = \"batch-norm\"\n").unwrap();
        assert_eq!(
            g,
            GeneratorConfig::Dcgan {
                latent_dim: 100,
                width: 64,
                conditioning: GConditioning::BatchNorm
            }
        );
        let err = toml::from_str::<DiscriminatorConfig>(
            "arch = \"dcgan\"\nconditioning = \"projecton\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("projecton"), "{err}");
    }

    #[test]
    fn translation_configs_from_toml() {
        let g: TranslatorConfig = toml::from_str("arch = 'unet'").unwrap();
        assert_eq!(g, TranslatorConfig::default());
        let g: TranslatorConfig = toml::from_str(
            "arch = 'unet'\nngf = 32\nnorm = 'instance'\ndropout = false\nnum_downs = 7\n",
        )
        .unwrap();
        let want = UnetConfig {
            ngf: 32,
            norm: NormKind::Instance,
            dropout: false,
            num_downs: Some(7),
        };
        assert_eq!(g, TranslatorConfig::Unet(want));
        let back: TranslatorConfig = toml::from_str(&toml::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
        let default_back: TranslatorConfig =
            toml::from_str(&toml::to_string(&TranslatorConfig::default()).unwrap()).unwrap();
        assert_eq!(default_back, TranslatorConfig::default());
        let err = toml::from_str::<TranslatorConfig>("arch = 'unet'\nnum_down = 7\n").unwrap_err();
        assert!(err.to_string().contains("num_down"), "{err}");
        let err =
            toml::from_str::<TranslatorConfig>("arch = 'unet'\nnorm = 'layer'\n").unwrap_err();
        assert!(err.to_string().contains("layer"), "{err}");

        // CycleGAN's ResNet generator: instance norm and 9 blocks by default.
        let g: TranslatorConfig = toml::from_str("arch = 'resnet'").unwrap();
        assert_eq!(g, TranslatorConfig::Resnet(ResnetConfig::default()));
        assert_eq!(g.norm(), NormKind::Instance);
        let g: TranslatorConfig = toml::from_str(
            "arch = 'resnet'\nngf = 32\nn_blocks = 6\nnorm = 'batch'\ndropout = true\n",
        )
        .unwrap();
        let want = ResnetConfig {
            ngf: 32,
            n_blocks: 6,
            norm: NormKind::Batch,
            dropout: true,
        };
        assert_eq!(g, TranslatorConfig::Resnet(want));
        let back: TranslatorConfig = toml::from_str(&toml::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
        // The U-Net's depth is no ResNet key, nor the other way round.
        let err =
            toml::from_str::<TranslatorConfig>("arch = 'resnet'\nnum_downs = 7\n").unwrap_err();
        assert!(err.to_string().contains("num_downs"), "{err}");
        let err = toml::from_str::<TranslatorConfig>("arch = 'unet'\nn_blocks = 6\n").unwrap_err();
        assert!(err.to_string().contains("n_blocks"), "{err}");

        let d: PatchDiscriminatorConfig =
            toml::from_str("arch = 'patch'\nn_layers = 2\nnorm = 'instance'\n").unwrap();
        assert_eq!(
            d,
            PatchDiscriminatorConfig::Patch(PatchConfig {
                ndf: 64,
                n_layers: 2,
                norm: NormKind::Instance
            })
        );
        let back: PatchDiscriminatorConfig = toml::from_str(&toml::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let d: PatchDiscriminatorConfig = toml::from_str("arch = 'pixel'\nndf = 16").unwrap();
        assert_eq!(
            d,
            PatchDiscriminatorConfig::Pixel(PixelConfig {
                ndf: 16,
                norm: NormKind::Batch
            })
        );
        // The pixel discriminator has no layers to count.
        let err =
            toml::from_str::<PatchDiscriminatorConfig>("arch = 'pixel'\nn_layers = 2").unwrap_err();
        assert!(err.to_string().contains("n_layers"), "{err}");
    }

    #[test]
    fn translation_ranges_are_checked_with_the_key() {
        let bad = TranslatorConfig::Unet(UnetConfig {
            num_downs: Some(17),
            ..Default::default()
        });
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("generator.num_downs"), "{err}");
        let bad = PatchDiscriminatorConfig::Pixel(PixelConfig {
            ndf: 0,
            ..Default::default()
        });
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("discriminator.ndf"), "{err}");
        assert!(PatchDiscriminatorConfig::default().validate().is_ok());
        assert!(TranslatorConfig::default().validate().is_ok());
        for (bad, key) in [
            (
                ResnetConfig {
                    n_blocks: 0,
                    ..Default::default()
                },
                "generator.n_blocks",
            ),
            (
                ResnetConfig {
                    n_blocks: 65,
                    ..Default::default()
                },
                "generator.n_blocks",
            ),
            (
                ResnetConfig {
                    ngf: 0,
                    ..Default::default()
                },
                "generator.ngf",
            ),
        ] {
            let err = TranslatorConfig::Resnet(bad)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
        assert!(TranslatorConfig::Resnet(ResnetConfig::default())
            .validate()
            .is_ok());
    }

    #[test]
    fn ranges_are_checked_with_the_key() {
        let cfg = DiscriminatorConfig::Mlp {
            pack: 0,
            mlp: MlpConfig::default(),
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("discriminator.pack"));
        let cfg = GeneratorConfig::Mlp {
            latent_dim: 2,
            mlp: MlpConfig {
                maxout: 0,
                ..Default::default()
            },
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("generator.mlp.maxout"));
    }
}

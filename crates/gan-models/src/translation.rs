//! pix2pix's and CycleGAN's image-to-image networks (Isola et al. 2017, Zhu et al. 2017),
//! layer for layer as junyanz/pytorch-CycleGAN-and-pix2pix `models/networks.py`: the U-Net
//! generator ([`UnetGenerator`]), CycleGAN's ResNet generator ([`ResnetTranslator`]), the
//! n-layer PatchGAN ([`PatchDiscriminator`]) and the 1x1 PatchGAN ([`PixelDiscriminator`]),
//! with batch or instance norm ([`NormKind`]) and upstream's initialisation (convolution
//! weights N(0, 0.02), biases 0, batch-norm scales N(1, 0.02)).
//!
//! The U-Net is a chain of levels, 0 the outermost. Level `i` goes down with
//! LeakyReLU(0.2) -> conv 4/2/1 -> norm, hands the result to level `i + 1`, and comes back up
//! with ReLU -> transposed conv 4/2/1 -> norm (-> dropout 0.5), then concatenates its input
//! and that result along channels (the skip connection). The outermost level has no down
//! activation and no norm, and ends with a biased transposed conv to the output channels and
//! tanh; the innermost has no down norm (its output is 1x1 at `2^num_downs`-pixel sides).
//! Channels: level `i` has `ngf * min(2^i, 8)` inside. Upstream's LeakyReLU is in place, so
//! its skip carries LeakyReLU(x) rather than x; the parent's ReLU reads the concatenation
//! first and relu(lrelu(x)) = relu(x), so concatenating x is the same network.
//!
//! The ResNet generator (upstream's `ResnetGenerator`, from Johnson et al.'s fast style
//! transfer) is reflection pad 3 -> conv 7 to `ngf` -> norm -> ReLU; two down-samplings, conv
//! 3/2/1 -> norm -> ReLU, to `2 * ngf` and `4 * ngf`; `n_blocks` residual blocks on `4 * ngf`
//! channels, each `x + [reflection pad 1, conv 3, norm, ReLU, (dropout 0.5), reflection pad
//! 1, conv 3, norm](x)`; two up-samplings, transposed conv 3/2/1 with output padding 1 ->
//! norm -> ReLU, back to `2 * ngf` and `ngf`; reflection pad 3 -> biased conv 7 to the output
//! channels -> tanh. Heights and widths must be multiples of 4 (and at least 8).
//!
//! Variables: the U-Net's are `down.{i}.conv`, `down.{i}.norm`, `up.{i}.conv`, `up.{i}.norm`
//! (`weight`, `bias`, `running_mean`, `running_var`); the ResNet generator and the
//! discriminators keep upstream's names (`model.N.*`, the residual blocks'
//! `model.N.conv_block.M.*`, `net.N.*`), so its generator and discriminator state dicts load
//! name for name. `scripts/translation_fixtures.py` maps upstream's nested U-Net names to
//! these; `scripts/cyclegan_fixtures.py` checks the ResNet generator's names and outputs.
//!
//! Every forward pass takes a [`ForwardMode`]: `Train`, `Eval`, or `Stochastic`, pix2pix's
//! test-time default (dropout and batch statistics, as upstream's `test.py` without `--eval`),
//! which here leaves the running statistics alone, so sampling never changes the model.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::Tensor;

use crate::config::{
    NormKind, PatchConfig, PatchDiscriminatorConfig, PixelConfig, ResnetConfig, TranslatorConfig,
    UnetConfig, UNET_MAX_DOWNS, UNET_MIN_DOWNS,
};
use crate::error::config_err;
use crate::layers::{self, leaky_relu, Conv2d, ConvOpts, ConvTranspose2d, WInit};
use crate::{Error, Result};

/// pix2pix's initialisation (`init_type = normal`, `init_gain = 0.02`).
const INIT_STD: f64 = 0.02;
/// Negative slope of every LeakyReLU.
const LEAKY_SLOPE: f64 = 0.2;
/// Dropout probability of the U-Net's middle levels and the ResNet's residual blocks.
const DROPOUT: f64 = 0.5;
/// Stride-2 down-samplings (and up-samplings) of the ResNet generator (upstream's
/// `n_downsampling`).
const RESNET_DOWNS: usize = 2;
/// The smallest side of the ResNet generator's images: the residual blocks' reflection
/// padding of 1 needs 2 pixels at a quarter of the size.
const RESNET_MIN_SIDE: i64 = 8;
/// PyTorch's defaults for `BatchNorm2d` and `InstanceNorm2d`.
const NORM_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// How a forward pass treats dropout and batch norm. Instance norm always uses the statistics
/// of each image, so it is the same in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardMode {
    /// Training: dropout on, batch statistics, running statistics updated.
    Train,
    /// Inference: dropout off, running statistics (pix2pix's `--eval`).
    Eval,
    /// pix2pix's default test-time behaviour: dropout on and batch statistics, as in
    /// training, but the running statistics are not updated (upstream's are), so testing never
    /// changes the model's state.
    Stochastic,
}

impl ForwardMode {
    fn dropout(self) -> bool {
        self != ForwardMode::Eval
    }
}

/// What a translation network is built for: image A `[in_channels, H, W]` to image B
/// `[out_channels, H, W]` (e.g. grey to RGB: 1 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranslationSpec {
    /// Channels of the input image A.
    pub in_channels: i64,
    /// Channels of the output image B.
    pub out_channels: i64,
    /// Image height.
    pub height: i64,
    /// Image width.
    pub width: i64,
}

impl TranslationSpec {
    /// `in_channels -> out_channels` images of `height x width`.
    pub fn new(in_channels: i64, out_channels: i64, height: i64, width: i64) -> Self {
        TranslationSpec {
            in_channels,
            out_channels,
            height,
            width,
        }
    }

    /// Channels of `cat(A, B)`, the input of pix2pix's conditional discriminator.
    pub fn pair_channels(&self) -> i64 {
        self.in_channels + self.out_channels
    }

    fn check(&self) -> Result<()> {
        let dims = [self.in_channels, self.out_channels, self.height, self.width];
        if dims.iter().all(|&d| (1..=1 << 16).contains(&d)) {
            Ok(())
        } else {
            Err(Error::Shape {
                what: "translation spec [in_channels, out_channels, height, width]",
                expected: "values in 1..=65536".into(),
                got: dims.to_vec(),
            })
        }
    }
}

fn check_dims(what: &'static str, channels: i64, height: i64, width: i64) -> Result<()> {
    let dims = [channels, height, width];
    if dims.iter().all(|&d| (1..=1 << 16).contains(&d)) {
        Ok(())
    } else {
        Err(Error::Shape {
            what,
            expected: "[channels, height, width] in 1..=65536".into(),
            got: dims.to_vec(),
        })
    }
}

/// The normalisation after a convolution: batch norm (`weight`, `bias`, `running_mean`,
/// `running_var`, as PyTorch) or parameter-free instance norm.
#[derive(Debug)]
enum Norm {
    Batch {
        weight: Tensor,
        bias: Tensor,
        running_mean: Tensor,
        running_var: Tensor,
    },
    Instance,
}

impl Norm {
    fn new(p: nn::Path, kind: NormKind, channels: i64) -> Result<Self> {
        Ok(match kind {
            NormKind::Batch => Norm::Batch {
                weight: layers::var(
                    &p,
                    "weight",
                    &[channels],
                    Init::Randn {
                        mean: 1.0,
                        stdev: INIT_STD,
                    },
                )?,
                bias: layers::zeros(&p, "bias", &[channels])?,
                running_mean: layers::zeros_no_train(&p, "running_mean", &[channels])?,
                running_var: layers::ones_no_train(&p, "running_var", &[channels])?,
            },
            NormKind::Instance => Norm::Instance,
        })
    }

    fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let cudnn = true;
        Ok(match self {
            Norm::Batch {
                weight,
                bias,
                running_mean,
                running_var,
            } => {
                let (running_mean, running_var) = match mode {
                    ForwardMode::Train | ForwardMode::Eval => {
                        (Some(running_mean), Some(running_var))
                    }
                    // Batch statistics with nothing to update.
                    ForwardMode::Stochastic => (None, None),
                };
                x.f_batch_norm(
                    Some(weight),
                    Some(bias),
                    running_mean,
                    running_var,
                    mode != ForwardMode::Eval,
                    BN_MOMENTUM,
                    NORM_EPS,
                    cudnn,
                )?
            }
            Norm::Instance => x.f_instance_norm(
                None::<&Tensor>,
                None,
                None,
                None,
                true,
                BN_MOMENTUM,
                NORM_EPS,
                cudnn,
            )?,
        })
    }
}

fn conv_opts(stride: i64, padding: i64, bias: bool) -> ConvOpts {
    ConvOpts {
        stride,
        padding,
        bias,
        spectral_norm: false,
        init: WInit::Normal(INIT_STD),
    }
}

/// The NCHW size of `x`, if it is `[B >= 1, channels, H, W]`.
fn nchw(x: &Tensor, channels: i64) -> Option<[i64; 4]> {
    match x.size()[..] {
        [b, c, h, w] if b >= 1 && c == channels => Some([b, c, h, w]),
        _ => None,
    }
}

/// One U-Net level (upstream's `UnetSkipConnectionBlock` without its submodule).
#[derive(Debug)]
struct UnetLevel {
    down: Conv2d,
    down_norm: Option<Norm>,
    up: ConvTranspose2d,
    up_norm: Option<Norm>,
    dropout: bool,
}

/// pix2pix's U-Net generator: images `[B, in_channels, H, W]` to `[B, out_channels, H, W]` in
/// [-1, 1] (tanh), for any `H` and `W` that are multiples of `2^num_downs`.
///
/// ```
/// use gan_models::{ForwardMode, TranslationSpec, UnetConfig, UnetGenerator};
/// use tch::{nn, Device, Kind, Tensor};
/// let vs = nn::VarStore::new(Device::Cpu);
/// let cfg = UnetConfig { ngf: 8, ..Default::default() };
/// // Grey to RGB at 32x32: five down-samplings, chosen from the size.
/// let g = UnetGenerator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 32, 32))?;
/// assert_eq!(g.num_downs(), 5);
/// let a = Tensor::randn([2, 1, 32, 32], (Kind::Float, Device::Cpu));
/// assert_eq!(g.forward(&a, ForwardMode::Stochastic)?.size(), vec![2, 3, 32, 32]);
/// # Ok::<(), gan_models::Error>(())
/// ```
#[derive(Debug)]
pub struct UnetGenerator {
    /// Level 0 is the outermost.
    levels: Vec<UnetLevel>,
    in_channels: i64,
    out_channels: i64,
}

/// The number of down-samplings for `cfg` at `height x width`, or an error naming
/// `generator.num_downs` and the sizes.
fn unet_downs(cfg: &UnetConfig, height: i64, width: i64) -> Result<usize> {
    let key = "generator.num_downs";
    match cfg.num_downs {
        Some(k) => {
            let m = 1i64 << k;
            if height % m == 0 && width % m == 0 {
                Ok(k)
            } else {
                Err(config_err(
                    key,
                    format!(
                        "the image size {height}x{width} is not a multiple of 2^{k} = {m} on \
                         both sides; a U-Net with {k} down-samplings needs that"
                    ),
                ))
            }
        }
        None => {
            let k =
                (height.trailing_zeros().min(width.trailing_zeros()) as usize).min(UNET_MAX_DOWNS);
            if k >= UNET_MIN_DOWNS {
                Ok(k)
            } else {
                let m = 1i64 << UNET_MIN_DOWNS;
                Err(config_err(
                    key,
                    format!(
                        "unset, so chosen from the image size {height}x{width}: the largest \
                         power of two dividing both sides is 2^{k}, but the U-Net needs at \
                         least {UNET_MIN_DOWNS} down-samplings (sides that are multiples of \
                         {m}); resize or crop the images"
                    ),
                ))
            }
        }
    }
}

impl UnetGenerator {
    /// Builds the network under `p` for `spec`; `num_downs` comes from the config or from the
    /// image size (see [`UnetConfig::num_downs`]).
    pub fn new(p: &nn::Path, cfg: &UnetConfig, spec: &TranslationSpec) -> Result<Self> {
        cfg.validate()?;
        spec.check()?;
        let k = unet_downs(cfg, spec.height, spec.width)?;
        let bias = cfg.norm.conv_bias();
        // Channels inside level i, and at its outside (its up-path output).
        let inner = |i: usize| cfg.ngf * (1i64 << i.min(3));
        let outer = |i: usize| {
            if i == 0 {
                spec.out_channels
            } else {
                inner(i - 1)
            }
        };
        let mut levels = Vec::with_capacity(k);
        for i in 0..k {
            let outermost = i == 0;
            let innermost = i == k - 1;
            let cin = if outermost {
                spec.in_channels
            } else {
                outer(i)
            };
            let down = Conv2d::new(
                p / "down" / i / "conv",
                cin,
                inner(i),
                [4, 4],
                conv_opts(2, 1, bias),
            )?;
            let down_norm = (!outermost && !innermost)
                .then(|| Norm::new(p / "down" / i / "norm", cfg.norm, inner(i)))
                .transpose()?;
            // The innermost level's up path reads its own down path; the others read a
            // concatenation of two halves of `inner(i)` channels.
            let up_in = if innermost { inner(i) } else { 2 * inner(i) };
            let up = ConvTranspose2d::new(
                p / "up" / i / "conv",
                up_in,
                outer(i),
                [4, 4],
                conv_opts(2, 1, outermost || bias),
            )?;
            let up_norm = (!outermost)
                .then(|| Norm::new(p / "up" / i / "norm", cfg.norm, outer(i)))
                .transpose()?;
            // Upstream's `num_downs - 5` middle blocks of 8 * ngf channels.
            let dropout = cfg.dropout && i >= UNET_MIN_DOWNS - 1 && !innermost;
            levels.push(UnetLevel {
                down,
                down_norm,
                up,
                up_norm,
                dropout,
            });
        }
        Ok(UnetGenerator {
            levels,
            in_channels: spec.in_channels,
            out_channels: spec.out_channels,
        })
    }

    /// Number of down-samplings (levels).
    pub fn num_downs(&self) -> usize {
        self.levels.len()
    }

    /// Height and width of inputs must be multiples of this (`2^num_downs`).
    pub fn size_multiple(&self) -> i64 {
        1 << self.levels.len()
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }

    /// Channels of the output images.
    pub fn out_channels(&self) -> i64 {
        self.out_channels
    }

    /// Whether the levels with dropout exist and dropout is on (pix2pix's noise).
    pub fn has_dropout(&self) -> bool {
        self.levels.iter().any(|l| l.dropout)
    }

    /// Translates images `[B, in_channels, H, W]` (`H`, `W` multiples of
    /// [`size_multiple`](Self::size_multiple)) to `[B, out_channels, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let m = self.size_multiple();
        match nchw(x, self.in_channels) {
            Some([_, _, h, w]) if h % m == 0 && w % m == 0 => {}
            _ => {
                return Err(Error::Shape {
                    what: "U-Net generator input",
                    expected: format!(
                        "[B, {}, H, W] with H and W multiples of 2^{} = {m}",
                        self.in_channels,
                        self.levels.len()
                    ),
                    got: x.size(),
                })
            }
        }
        // Down: each level's input is kept for its skip connection.
        let mut skips = Vec::with_capacity(self.levels.len());
        let mut h = x.shallow_clone();
        for (i, level) in self.levels.iter().enumerate() {
            let a = if i == 0 {
                h.shallow_clone()
            } else {
                leaky_relu(&h, LEAKY_SLOPE, 1.0)?
            };
            skips.push(h);
            h = level.down.f_forward_t(&a, false)?;
            if let Some(norm) = &level.down_norm {
                h = norm.forward(&h, mode)?;
            }
        }
        // Up: ReLU, transposed conv, norm, dropout, then [skip, result] (tanh at the top).
        for (i, (level, skip)) in self.levels.iter().zip(&skips).enumerate().rev() {
            let mut u = level.up.f_forward(&h.f_relu()?)?;
            if let Some(norm) = &level.up_norm {
                u = norm.forward(&u, mode)?;
            }
            if level.dropout {
                u = u.f_dropout(DROPOUT, mode.dropout())?;
            }
            h = if i == 0 {
                u.f_tanh()?
            } else {
                Tensor::f_cat(&[skip, &u], 1)?
            };
        }
        Ok(h)
    }
}

/// Whether `height x width` images fit the ResNet generator: both sides multiples of
/// `2^RESNET_DOWNS` = 4 and at least [`RESNET_MIN_SIDE`].
fn resnet_size_ok(height: i64, width: i64) -> bool {
    let m = 1i64 << RESNET_DOWNS;
    [height, width]
        .iter()
        .all(|&side| side >= RESNET_MIN_SIDE && side % m == 0)
}

/// Reflection padding of `pad` pixels on every side (upstream's `ReflectionPad2d(pad)`).
fn reflect(x: &Tensor, pad: i64) -> Result<Tensor> {
    Ok(x.f_reflection_pad2d([pad, pad, pad, pad])?)
}

/// One residual block of the ResNet generator (upstream's `ResnetBlock` with reflection
/// padding): `x + [pad 1, conv 3, norm, ReLU, (dropout), pad 1, conv 3, norm](x)`.
#[derive(Debug)]
struct ResidualBlock {
    conv1: Conv2d,
    norm1: Norm,
    conv2: Conv2d,
    norm2: Norm,
    dropout: bool,
}

impl ResidualBlock {
    /// The block under `p` (upstream's `model.N`) on `dim` channels.
    fn new(p: nn::Path, dim: i64, norm: NormKind, dropout: bool) -> Result<Self> {
        let bias = norm.conv_bias();
        // Upstream's `conv_block` indices: pad 0, conv 1, norm 2, ReLU 3, (dropout 4), then
        // pad, conv, norm.
        let second = if dropout { 6 } else { 5 };
        let block = &p / "conv_block";
        Ok(ResidualBlock {
            conv1: Conv2d::new(&block / 1, dim, dim, [3, 3], conv_opts(1, 0, bias))?,
            norm1: Norm::new(&block / 2, norm, dim)?,
            conv2: Conv2d::new(&block / second, dim, dim, [3, 3], conv_opts(1, 0, bias))?,
            norm2: Norm::new(&block / (second + 1), norm, dim)?,
            dropout,
        })
    }

    fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let h = self.conv1.f_forward_t(&reflect(x, 1)?, false)?;
        let mut h = self.norm1.forward(&h, mode)?.f_relu()?;
        if self.dropout {
            h = h.f_dropout(DROPOUT, mode.dropout())?;
        }
        let h = self.conv2.f_forward_t(&reflect(&h, 1)?, false)?;
        Ok(x.f_add(&self.norm2.forward(&h, mode)?)?)
    }
}

/// CycleGAN's ResNet generator (upstream's `ResnetGenerator`; `resnet_9blocks` with the
/// default [`ResnetConfig`], `resnet_6blocks` with `n_blocks = 6`): images
/// `[B, in_channels, H, W]` to `[B, out_channels, H, W]` in [-1, 1] (tanh), for any `H` and
/// `W` that are multiples of 4 (at least 8). Variables: upstream's `model.N.*`, so an upstream
/// generator state dict loads name for name.
///
/// ```
/// use gan_models::{ForwardMode, ResnetConfig, ResnetTranslator, TranslationSpec};
/// use tch::{nn, Device, Kind, Tensor};
/// let vs = nn::VarStore::new(Device::Cpu);
/// let cfg = ResnetConfig { ngf: 8, n_blocks: 2, ..Default::default() };
/// // Grey to RGB at 32x64: sides must be multiples of 4.
/// let g = ResnetTranslator::new(&vs.root(), &cfg, &TranslationSpec::new(1, 3, 32, 64))?;
/// assert_eq!(g.n_blocks(), 2);
/// let a = Tensor::randn([2, 1, 32, 64], (Kind::Float, Device::Cpu));
/// assert_eq!(g.forward(&a, ForwardMode::Eval)?.size(), vec![2, 3, 32, 64]);
/// // Upstream's names: the first convolution of the second residual block.
/// assert!(vs.variables().contains_key("model.11.conv_block.1.weight"));
/// # Ok::<(), gan_models::Error>(())
/// ```
#[derive(Debug)]
pub struct ResnetTranslator {
    first: Conv2d,
    first_norm: Norm,
    down: Vec<(Conv2d, Norm)>,
    blocks: Vec<ResidualBlock>,
    up: Vec<(ConvTranspose2d, Norm)>,
    last: Conv2d,
    in_channels: i64,
    out_channels: i64,
    dropout: bool,
}

impl ResnetTranslator {
    /// Builds the network under `p` for `spec`, whose height and width must be multiples of 4
    /// (at least 8).
    pub fn new(p: &nn::Path, cfg: &ResnetConfig, spec: &TranslationSpec) -> Result<Self> {
        cfg.validate()?;
        spec.check()?;
        if !resnet_size_ok(spec.height, spec.width) {
            return Err(Error::Shape {
                what: "ResNet generator image size [height, width]",
                expected: format!(
                    "multiples of {} (two stride-2 down-samplings and back), at least \
                     {RESNET_MIN_SIDE}; resize or crop the images",
                    1 << RESNET_DOWNS
                ),
                got: vec![spec.height, spec.width],
            });
        }
        let bias = cfg.norm.conv_bias();
        let model = p / "model";
        let n = cfg.n_blocks;
        // Upstream's Sequential: pad 0, conv 1, norm 2, ReLU 3; conv, norm, ReLU per
        // down-sampling (4..=9); the blocks (10..10 + n); convT, norm, ReLU per up-sampling;
        // pad, conv, tanh.
        let first = Conv2d::new(
            &model / 1,
            spec.in_channels,
            cfg.ngf,
            [7, 7],
            conv_opts(1, 0, bias),
        )?;
        let first_norm = Norm::new(&model / 2, cfg.norm, cfg.ngf)?;
        let down = (0..RESNET_DOWNS)
            .map(|i| {
                let cin = cfg.ngf << i;
                let conv = Conv2d::new(
                    &model / (4 + 3 * i),
                    cin,
                    2 * cin,
                    [3, 3],
                    conv_opts(2, 1, bias),
                )?;
                Ok((conv, Norm::new(&model / (5 + 3 * i), cfg.norm, 2 * cin)?))
            })
            .collect::<Result<_>>()?;
        let dim = cfg.ngf << RESNET_DOWNS;
        let blocks = (0..n)
            .map(|i| {
                ResidualBlock::new(
                    &model / (4 + 3 * RESNET_DOWNS + i),
                    dim,
                    cfg.norm,
                    cfg.dropout,
                )
            })
            .collect::<Result<_>>()?;
        let first_up = 4 + 3 * RESNET_DOWNS + n;
        let up = (0..RESNET_DOWNS)
            .map(|j| {
                let cin = dim >> j;
                let conv = ConvTranspose2d::new(
                    &model / (first_up + 3 * j),
                    cin,
                    cin / 2,
                    [3, 3],
                    conv_opts(2, 1, bias),
                )?
                .with_output_padding(1);
                Ok((
                    conv,
                    Norm::new(&model / (first_up + 3 * j + 1), cfg.norm, cin / 2)?,
                ))
            })
            .collect::<Result<_>>()?;
        let last = Conv2d::new(
            &model / (first_up + 3 * RESNET_DOWNS + 1),
            cfg.ngf,
            spec.out_channels,
            [7, 7],
            conv_opts(1, 0, true),
        )?;
        Ok(ResnetTranslator {
            first,
            first_norm,
            down,
            blocks,
            up,
            last,
            in_channels: spec.in_channels,
            out_channels: spec.out_channels,
            dropout: cfg.dropout,
        })
    }

    /// Number of residual blocks.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Height and width of inputs must be multiples of this (4; and at least 8).
    pub fn size_multiple(&self) -> i64 {
        1 << RESNET_DOWNS
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }

    /// Channels of the output images.
    pub fn out_channels(&self) -> i64 {
        self.out_channels
    }

    /// Whether the residual blocks have dropout (off in CycleGAN).
    pub fn has_dropout(&self) -> bool {
        self.dropout
    }

    /// Translates images `[B, in_channels, H, W]` (`H`, `W` multiples of 4, at least 8) to
    /// `[B, out_channels, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match nchw(x, self.in_channels) {
            Some([_, _, h, w]) if resnet_size_ok(h, w) => {}
            _ => {
                return Err(Error::Shape {
                    what: "ResNet generator input",
                    expected: format!(
                        "[B, {}, H, W] with H and W multiples of {}, at least {RESNET_MIN_SIDE}",
                        self.in_channels,
                        self.size_multiple()
                    ),
                    got: x.size(),
                })
            }
        }
        let h = self.first.f_forward_t(&reflect(x, 3)?, false)?;
        let mut h = self.first_norm.forward(&h, mode)?.f_relu()?;
        for (conv, norm) in &self.down {
            h = norm
                .forward(&conv.f_forward_t(&h, false)?, mode)?
                .f_relu()?;
        }
        for block in &self.blocks {
            h = block.forward(&h, mode)?;
        }
        for (conv, norm) in &self.up {
            h = norm.forward(&conv.f_forward(&h)?, mode)?.f_relu()?;
        }
        Ok(self.last.f_forward_t(&reflect(&h, 3)?, false)?.f_tanh()?)
    }
}

/// The side after a convolution with kernel 4 and padding 1, if there is one.
fn conv4_side(side: i64, stride: i64) -> Option<i64> {
    (side >= 2).then(|| (side + 2 - 4) / stride + 1)
}

/// The logit map's side for an input side through the n-layer PatchGAN.
fn patch_side(mut side: i64, n_layers: usize) -> Option<i64> {
    for _ in 0..n_layers {
        side = conv4_side(side, 2)?;
    }
    conv4_side(conv4_side(side, 1)?, 1)
}

/// pix2pix's n-layer PatchGAN (upstream's `NLayerDiscriminator`): conv 4/2/1 to `ndf`
/// (biased, no norm), LeakyReLU 0.2; `n_layers - 1` stride-2 convs to `ndf * min(2^n, 8)`
/// with norm and LeakyReLU; a stride-1 conv to `ndf * min(2^n_layers, 8)` with norm and
/// LeakyReLU; a stride-1 biased conv to one channel. Images `[B, C, H, W]` give a logit map
/// `[B, 1, H', W']` (no sigmoid): 30x30 at 256x256 with `n_layers = 3` (70x70 patches),
/// 6x6 at 32x32 with `n_layers = 2`. Variables: upstream's `model.N.*`.
#[derive(Debug)]
pub struct PatchDiscriminator {
    first: Conv2d,
    layers: Vec<(Conv2d, Norm)>,
    out: Conv2d,
    in_channels: i64,
    n_layers: usize,
    norm: NormKind,
}

impl PatchDiscriminator {
    /// Builds the network under `p` for images of `in_channels` (for pix2pix, those of A plus
    /// those of B: see [`TranslationSpec::pair_channels`]); `height x width` must leave a logit
    /// map of at least 1x1.
    pub fn new(
        p: &nn::Path,
        cfg: &PatchConfig,
        in_channels: i64,
        height: i64,
        width: i64,
    ) -> Result<Self> {
        PatchDiscriminatorConfig::Patch(cfg.clone()).validate()?;
        check_dims("PatchGAN discriminator input", in_channels, height, width)?;
        if patch_side(height, cfg.n_layers).is_none() || patch_side(width, cfg.n_layers).is_none() {
            return Err(config_err(
                "discriminator.n_layers",
                format!(
                    "{} layers leave no logit map for {height}x{width} images (each layer \
                     halves the size, then two stride-1 convolutions remove a pixel each); \
                     use fewer layers",
                    cfg.n_layers
                ),
            ));
        }
        let bias = cfg.norm.conv_bias();
        let model = p / "model";
        let first = Conv2d::new(
            &model / 0,
            in_channels,
            cfg.ndf,
            [4, 4],
            conv_opts(2, 1, true),
        )?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        let mut mult = 1;
        for n in 1..=cfg.n_layers {
            let prev = mult;
            mult = 1i64 << n.min(3);
            let stride = if n < cfg.n_layers { 2 } else { 1 };
            // Upstream's indices: conv, norm, LeakyReLU per layer after conv 0 and its LeakyReLU.
            let conv = Conv2d::new(
                &model / (3 * n - 1),
                cfg.ndf * prev,
                cfg.ndf * mult,
                [4, 4],
                conv_opts(stride, 1, bias),
            )?;
            let norm = Norm::new(&model / (3 * n), cfg.norm, cfg.ndf * mult)?;
            layers.push((conv, norm));
        }
        let out = Conv2d::new(
            &model / (3 * cfg.n_layers + 2),
            cfg.ndf * mult,
            1,
            [4, 4],
            conv_opts(1, 1, true),
        )?;
        Ok(PatchDiscriminator {
            first,
            layers,
            out,
            in_channels,
            n_layers: cfg.n_layers,
            norm: cfg.norm,
        })
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }

    /// The logit map's `(height, width)` for `height x width` inputs (`None`: too small).
    pub fn output_size(&self, height: i64, width: i64) -> Option<(i64, i64)> {
        Some((
            patch_side(height, self.n_layers)?,
            patch_side(width, self.n_layers)?,
        ))
    }

    /// Whether each image's logits depend on that image alone (instance norm).
    pub fn batch_independent(&self) -> bool {
        self.norm == NormKind::Instance
    }

    /// Logit maps `[B, 1, H', W']` for images `[B, in_channels, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match nchw(x, self.in_channels) {
            Some([_, _, h, w]) if self.output_size(h, w).is_some() => {}
            _ => {
                return Err(Error::Shape {
                    what: "PatchGAN discriminator input",
                    expected: format!(
                        "[B, {}, H, W] with H and W large enough for {} layers",
                        self.in_channels, self.n_layers
                    ),
                    got: x.size(),
                })
            }
        }
        let mut h = leaky_relu(&self.first.f_forward_t(x, false)?, LEAKY_SLOPE, 1.0)?;
        for (conv, norm) in &self.layers {
            h = leaky_relu(
                &norm.forward(&conv.f_forward_t(&h, false)?, mode)?,
                LEAKY_SLOPE,
                1.0,
            )?;
        }
        Ok(self.out.f_forward_t(&h, false)?)
    }
}

/// pix2pix's 1x1 PatchGAN (upstream's `PixelDiscriminator`): 1x1 convs to `ndf` (biased),
/// LeakyReLU 0.2, to `2 * ndf` with norm and LeakyReLU, to one channel (biased only with
/// instance norm, as upstream). One logit per pixel, `[B, 1, H, W]`. Variables: upstream's
/// `net.N.*`.
#[derive(Debug)]
pub struct PixelDiscriminator {
    first: Conv2d,
    hidden: Conv2d,
    norm: Norm,
    out: Conv2d,
    in_channels: i64,
    norm_kind: NormKind,
}

impl PixelDiscriminator {
    /// Builds the network under `p` for images of `in_channels`.
    pub fn new(p: &nn::Path, cfg: &PixelConfig, in_channels: i64) -> Result<Self> {
        PatchDiscriminatorConfig::Pixel(cfg.clone()).validate()?;
        check_dims("pixel discriminator input", in_channels, 1, 1)?;
        let bias = cfg.norm.conv_bias();
        let net = p / "net";
        let conv = |i: i64, cin, cout, bias| {
            Conv2d::new(&net / i, cin, cout, [1, 1], conv_opts(1, 0, bias))
        };
        Ok(PixelDiscriminator {
            first: conv(0, in_channels, cfg.ndf, true)?,
            hidden: conv(2, cfg.ndf, 2 * cfg.ndf, bias)?,
            norm: Norm::new(&net / 3, cfg.norm, 2 * cfg.ndf)?,
            out: conv(5, 2 * cfg.ndf, 1, bias)?,
            in_channels,
            norm_kind: cfg.norm,
        })
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }

    /// Whether each image's logits depend on that image alone (instance norm).
    pub fn batch_independent(&self) -> bool {
        self.norm_kind == NormKind::Instance
    }

    /// Logit maps `[B, 1, H, W]` for images `[B, in_channels, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        if nchw(x, self.in_channels).is_none() {
            return Err(Error::Shape {
                what: "pixel discriminator input",
                expected: format!("[B, {}, H, W]", self.in_channels),
                got: x.size(),
            });
        }
        let h = leaky_relu(&self.first.f_forward_t(x, false)?, LEAKY_SLOPE, 1.0)?;
        let h = leaky_relu(
            &self
                .norm
                .forward(&self.hidden.f_forward_t(&h, false)?, mode)?,
            LEAKY_SLOPE,
            1.0,
        )?;
        Ok(self.out.f_forward_t(&h, false)?)
    }
}

/// An image-to-image generator chosen by [`TranslatorConfig`].
#[derive(Debug)]
pub enum Translator {
    /// pix2pix's U-Net.
    Unet(UnetGenerator),
    /// CycleGAN's ResNet generator (boxed: it holds many more layers than the U-Net's
    /// vector).
    Resnet(Box<ResnetTranslator>),
}

impl Translator {
    /// Builds the generator under `p` for `spec`.
    pub fn new(p: &nn::Path, cfg: &TranslatorConfig, spec: &TranslationSpec) -> Result<Self> {
        Ok(match cfg {
            TranslatorConfig::Unet(cfg) => Translator::Unet(UnetGenerator::new(p, cfg, spec)?),
            TranslatorConfig::Resnet(cfg) => {
                Translator::Resnet(Box::new(ResnetTranslator::new(p, cfg, spec)?))
            }
        })
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        match self {
            Translator::Unet(g) => g.in_channels(),
            Translator::Resnet(g) => g.in_channels(),
        }
    }

    /// Channels of the output images.
    pub fn out_channels(&self) -> i64 {
        match self {
            Translator::Unet(g) => g.out_channels(),
            Translator::Resnet(g) => g.out_channels(),
        }
    }

    /// Height and width of inputs must be multiples of this (`2^num_downs` for the U-Net, 4
    /// for the ResNet).
    pub fn size_multiple(&self) -> i64 {
        match self {
            Translator::Unet(g) => g.size_multiple(),
            Translator::Resnet(g) => g.size_multiple(),
        }
    }

    /// Whether the generator has dropout layers (active in `Train` and `Stochastic` modes).
    pub fn has_dropout(&self) -> bool {
        match self {
            Translator::Unet(g) => g.has_dropout(),
            Translator::Resnet(g) => g.has_dropout(),
        }
    }

    /// Translates images `[B, in_channels, H, W]` to `[B, out_channels, H, W]` in [-1, 1].
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match self {
            Translator::Unet(g) => g.forward(x, mode),
            Translator::Resnet(g) => g.forward(x, mode),
        }
    }
}

/// An image-to-image discriminator chosen by [`PatchDiscriminatorConfig`]; it returns a logit
/// map `[B, 1, H', W']`, one logit per patch or pixel.
#[derive(Debug)]
pub enum TranslationDiscriminator {
    /// The n-layer PatchGAN.
    Patch(PatchDiscriminator),
    /// The 1x1 PatchGAN.
    Pixel(PixelDiscriminator),
}

impl TranslationDiscriminator {
    /// Builds the discriminator under `p` for `height x width` images of `in_channels`
    /// (pix2pix judges `cat(A, B)`: [`TranslationSpec::pair_channels`]).
    pub fn new(
        p: &nn::Path,
        cfg: &PatchDiscriminatorConfig,
        in_channels: i64,
        height: i64,
        width: i64,
    ) -> Result<Self> {
        Ok(match cfg {
            PatchDiscriminatorConfig::Patch(cfg) => TranslationDiscriminator::Patch(
                PatchDiscriminator::new(p, cfg, in_channels, height, width)?,
            ),
            PatchDiscriminatorConfig::Pixel(cfg) => {
                check_dims("pixel discriminator input", in_channels, height, width)?;
                TranslationDiscriminator::Pixel(PixelDiscriminator::new(p, cfg, in_channels)?)
            }
        })
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> i64 {
        match self {
            TranslationDiscriminator::Patch(d) => d.in_channels(),
            TranslationDiscriminator::Pixel(d) => d.in_channels(),
        }
    }

    /// Whether each image's logits depend on that image alone, so that real and generated
    /// batches may share one forward pass (false with batch norm, which mixes the batch).
    pub fn batch_independent(&self) -> bool {
        match self {
            TranslationDiscriminator::Patch(d) => d.batch_independent(),
            TranslationDiscriminator::Pixel(d) => d.batch_independent(),
        }
    }

    /// Logit maps `[B, 1, H', W']` for images `[B, in_channels, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match self {
            TranslationDiscriminator::Patch(d) => d.forward(x, mode),
            TranslationDiscriminator::Pixel(d) => d.forward(x, mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_sides_follow_the_convolutions() {
        // 256 -> 128 -> 64 -> 32 -> 31 -> 30 (pix2pix's 30x30 map of 70x70 patches).
        assert_eq!(patch_side(256, 3), Some(30));
        assert_eq!(patch_side(32, 3), Some(2));
        assert_eq!(patch_side(32, 2), Some(6));
        assert_eq!(patch_side(16, 3), None);
        assert_eq!(patch_side(3, 1), None);
        assert_eq!(patch_side(7, 1), Some(1));
    }

    #[test]
    fn resnet_sizes_are_multiples_of_four() {
        assert!(resnet_size_ok(256, 256));
        assert!(resnet_size_ok(32, 64));
        assert!(resnet_size_ok(8, 12));
        assert!(!resnet_size_ok(30, 30));
        assert!(!resnet_size_ok(32, 30));
        assert!(!resnet_size_ok(4, 32));
    }

    #[test]
    fn unet_depth_from_the_size() {
        let cfg = UnetConfig::default();
        assert_eq!(unet_downs(&cfg, 256, 256).unwrap(), 8);
        assert_eq!(unet_downs(&cfg, 128, 128).unwrap(), 7);
        assert_eq!(unet_downs(&cfg, 32, 64).unwrap(), 5);
        assert_eq!(unet_downs(&cfg, 96, 96).unwrap(), 5);
        let err = unet_downs(&cfg, 48, 64).unwrap_err().to_string();
        assert!(
            err.contains("generator.num_downs") && err.contains("48x64"),
            "{err}"
        );
        let fixed = UnetConfig {
            num_downs: Some(6),
            ..cfg
        };
        let err = unet_downs(&fixed, 32, 64).unwrap_err().to_string();
        assert!(err.contains("32x64") && err.contains("64"), "{err}");
    }
}

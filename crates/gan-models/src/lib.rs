//! `gan-models`: generator and discriminator networks as tch `nn` modules.
//!
//! Each network is a plain struct built by a constructor that takes a var path (`&nn::Path`)
//! and a typed config with a `Default`, like tch's own layers. [`Generator`] and
//! [`Discriminator`] are the enums the training loop holds; their configs are
//! `#[serde(tag = "arch")]` enums so a TOML file picks the architecture by name.
//!
//! * MLPs for low-dimensional data ([`MlpGenerator`], [`MlpDiscriminator`]): depth, width,
//!   activation, batch norm, maxout and PacGAN packing.
//! * DCGAN for images of 32x32, 64x64 and other `b * 2^k` sizes ([`DcganGenerator`],
//!   [`DcganDiscriminator`]; the 64x64 pair is pytorch/examples' layer for layer).
//! * SNGAN's ResNets for 32x32 ([`ResnetGenerator`], [`ResnetDiscriminator`]) with spectral
//!   normalisation (power-iteration vectors saved with the weights).
//! * StyleGAN2 ([`StyleGan2Generator`]: [`MappingNetwork`] + [`SynthesisNetwork`];
//!   [`StyleGan2Discriminator`]), NVlabs' stylegan2-ada-pytorch structure and variable names
//!   in plain libtorch operations: equalized learning rate, modulated convolutions with
//!   demodulation, noise inputs, the `[1, 3, 3, 1]` FIR resampling, the `skip` generator,
//!   the `resnet` discriminator with minibatch standard deviation, the truncation trick.
//! * Class conditioning: conditional batch norm in generators, a projection or an
//!   auxiliary-classifier head in discriminators.
//! * Image-to-image translation, pix2pix's and CycleGAN's networks layer for layer
//!   (pytorch-CycleGAN-and-pix2pix): the U-Net generator ([`UnetGenerator`], `unet_256` /
//!   `unet_128` and other depths, any in/out channels, non-square sizes), CycleGAN's ResNet
//!   generator ([`ResnetTranslator`], `resnet_9blocks` / `resnet_6blocks`, config
//!   [`ResnetConfig`]), the n-layer PatchGAN ([`PatchDiscriminator`]) and the 1x1 one
//!   ([`PixelDiscriminator`]), with batch or instance norm ([`NormKind`]). They are built for
//!   a [`TranslationSpec`] through [`Translator`] / [`TranslationDiscriminator`] (configs
//!   [`TranslatorConfig`], [`PatchDiscriminatorConfig`]; `arch = "unet"`, `"resnet"`,
//!   `"patch"`, `"pixel"`), and their forward passes take a [`ForwardMode`]: `Train`, `Eval`,
//!   or `Stochastic` (pix2pix's test-time dropout and batch statistics, without touching the
//!   running statistics).
//!
//! The GAN networks are built for a [`DataSpec`] (the shape of one sample and the number of
//! classes).
//!
//! ```
//! use gan_models::{DataSpec, Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let points = DataSpec::points(2);
//! let g = Generator::new(&(vs.root() / "g"), &GeneratorConfig::default(), &points)?;
//! let d = Discriminator::new(&(vs.root() / "d"), &DiscriminatorConfig::default(), &points)?;
//! let z = Tensor::randn([64, g.latent_dim()], (Kind::Float, Device::Cpu));
//! let logits = d.forward_t(&g.forward_t(&z, None, true)?, None, true)?;
//! assert_eq!(logits.size(), vec![64]);
//!
//! // A class-conditional DCGAN pair for 32x32 grey images in 10 classes.
//! let images = DataSpec::images(1, 32, 32, 10);
//! let g_cfg: GeneratorConfig = toml::from_str("arch = 'dcgan'\nconditioning = 'batch-norm'")?;
//! let d_cfg: DiscriminatorConfig = toml::from_str("arch = 'dcgan'\nconditioning = 'projection'")?;
//! let g = Generator::new(&(vs.root() / "cg"), &g_cfg, &images)?;
//! let d = Discriminator::new(&(vs.root() / "cd"), &d_cfg, &images)?;
//! let y = Tensor::arange(8, (Kind::Int64, Device::Cpu));
//! let x = g.forward_t(&Tensor::randn([8, 100], (Kind::Float, Device::Cpu)), Some(&y), true)?;
//! assert_eq!(x.size(), vec![8, 1, 32, 32]);
//! assert_eq!(d.forward_t(&x, Some(&y), true)?.size(), vec![8]);
//!
//! // pix2pix for 32x32 grey -> RGB: a U-Net and a PatchGAN judging cat(A, B).
//! use gan_models::{ForwardMode, PatchDiscriminatorConfig, TranslationDiscriminator};
//! use gan_models::{TranslationSpec, Translator, TranslatorConfig};
//! let spec = TranslationSpec::new(1, 3, 32, 32);
//! let g_cfg: TranslatorConfig = toml::from_str("arch = 'unet'\nngf = 8")?;
//! let d_cfg: PatchDiscriminatorConfig = toml::from_str("arch = 'patch'\nndf = 8\nn_layers = 2")?;
//! let g = Translator::new(&(vs.root() / "tg"), &g_cfg, &spec)?;
//! let d = TranslationDiscriminator::new(&(vs.root() / "td"), &d_cfg, spec.pair_channels(), 32, 32)?;
//! let a = Tensor::randn([4, 1, 32, 32], (Kind::Float, Device::Cpu));
//! let b = g.forward(&a, ForwardMode::Train)?;
//! let logits = d.forward(&Tensor::cat(&[&a, &b], 1), ForwardMode::Train)?;
//! assert_eq!(logits.size(), vec![4, 1, 6, 6]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod dcgan;
mod error;
mod layers;
mod mlp;
mod resnet;
mod stylegan2;
mod translation;

pub use config::{
    Activation, DConditioning, DiscriminatorConfig, GConditioning, GeneratorConfig, MlpConfig,
    NormKind, PatchConfig, PatchDiscriminatorConfig, PixelConfig, ResnetConfig,
    StyleGan2DiscriminatorConfig, StyleGan2GeneratorConfig, TranslatorConfig, UnetConfig,
    WeightInit,
};
pub use dcgan::{DcganDiscriminator, DcganGenerator};
pub use error::{Error, Result};
pub use mlp::{MlpDiscriminator, MlpGenerator};
pub use resnet::{ResnetDiscriminator, ResnetGenerator};
pub use stylegan2::{
    MappingNetwork, NoiseMode, StyleGan2Discriminator, StyleGan2Generator, SynthesisNetwork,
};
pub use translation::{
    ForwardMode, PatchDiscriminator, PixelDiscriminator, ResnetTranslator,
    TranslationDiscriminator, TranslationSpec, Translator, UnetGenerator,
};

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// What the networks are built for: the shape of one sample (`[dim]` for points,
/// `[C, H, W]` for images) and the number of classes (0 for unlabelled data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSpec {
    /// Shape of one sample.
    pub shape: Vec<i64>,
    /// Number of classes (0: no labels).
    pub n_classes: i64,
}

impl DataSpec {
    /// Unlabelled points of dimension `dim`.
    pub fn points(dim: i64) -> Self {
        DataSpec {
            shape: vec![dim],
            n_classes: 0,
        }
    }

    /// Images `[channels, height, width]` in `n_classes` classes (0: unlabelled).
    pub fn images(channels: i64, height: i64, width: i64, n_classes: i64) -> Self {
        DataSpec {
            shape: vec![channels, height, width],
            n_classes,
        }
    }

    fn point_dim(&self, what: &'static str) -> Result<i64> {
        match self.shape[..] {
            [d] if d > 0 => Ok(d),
            _ => Err(Error::Shape {
                what,
                expected: "points [dim] (the MLP networks are for low-dimensional data; use \
                           arch = \"dcgan\" or \"resnet\" for images)"
                    .into(),
                got: self.shape.clone(),
            }),
        }
    }

    fn check_classes(&self, key: &str, conditional: bool) -> Result<()> {
        if conditional && self.n_classes < 2 {
            return Err(error::config_err(
                key,
                format!(
                    "a class-conditional network needs a labelled data set with at least 2 \
                     classes; this one has {}",
                    self.n_classes
                ),
            ));
        }
        Ok(())
    }
}

/// A generator chosen by [`GeneratorConfig`].
#[derive(Debug)]
pub enum Generator {
    /// A multilayer perceptron.
    Mlp(MlpGenerator),
    /// DCGAN.
    Dcgan(DcganGenerator),
    /// SNGAN ResNet.
    Resnet(ResnetGenerator),
    /// StyleGAN2.
    Stylegan2(StyleGan2Generator),
}

impl Generator {
    /// Builds the generator under `p` for samples described by `data`.
    pub fn new(p: &nn::Path, cfg: &GeneratorConfig, data: &DataSpec) -> Result<Self> {
        cfg.validate()?;
        data.check_classes(
            "generator.conditioning",
            cfg.conditioning() != GConditioning::None,
        )?;
        Ok(match cfg {
            GeneratorConfig::Mlp { latent_dim, mlp } => Generator::Mlp(MlpGenerator::new(
                p,
                *latent_dim,
                mlp,
                data.point_dim("MLP generator output")?,
            )?),
            GeneratorConfig::Dcgan {
                latent_dim,
                width,
                conditioning,
            } => Generator::Dcgan(DcganGenerator::new(
                p,
                *latent_dim,
                *width,
                *conditioning,
                data,
            )?),
            GeneratorConfig::Resnet {
                latent_dim,
                width,
                conditioning,
            } => Generator::Resnet(ResnetGenerator::new(
                p,
                *latent_dim,
                *width,
                *conditioning,
                data,
            )?),
            GeneratorConfig::Stylegan2(c) => {
                Generator::Stylegan2(StyleGan2Generator::new(p, c, data)?)
            }
        })
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        match self {
            Generator::Mlp(g) => g.latent_dim(),
            Generator::Dcgan(g) => g.latent_dim(),
            Generator::Resnet(g) => g.latent_dim(),
            Generator::Stylegan2(g) => g.latent_dim(),
        }
    }

    /// Whether [`forward_t`](Self::forward_t) needs class labels.
    pub fn conditional(&self) -> bool {
        match self {
            Generator::Mlp(_) => false,
            Generator::Dcgan(g) => g.conditional(),
            Generator::Resnet(g) => g.conditional(),
            Generator::Stylegan2(g) => g.conditional(),
        }
    }

    /// Maps latents `[B, latent_dim]` (and labels `[B]` for a conditional generator) to
    /// samples; `train` selects batch statistics.
    pub fn forward_t(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        match self {
            Generator::Mlp(g) => {
                let size = z.size();
                if size.len() != 2 || size[1] != g.latent_dim() {
                    return Err(Error::Shape {
                        what: "MLP generator input",
                        expected: format!("[B, {}]", g.latent_dim()),
                        got: size,
                    });
                }
                Ok(g.forward_t(z, train))
            }
            Generator::Dcgan(g) => g.forward_t(z, y, train),
            Generator::Resnet(g) => g.forward_t(z, y, train),
            Generator::Stylegan2(g) => g.forward_t(z, y, train),
        }
    }

    /// Samples (eval mode) with the truncation trick: `w` pulled towards the tracked average
    /// by `psi` (1 = no truncation). Only StyleGAN2 has a `w` to truncate; `psi != 1` for
    /// another generator is an error naming `truncation`.
    pub fn forward_truncated(&self, z: &Tensor, y: Option<&Tensor>, psi: f64) -> Result<Tensor> {
        match self {
            Generator::Stylegan2(g) => {
                let ws = g.ws(z, y, psi, false)?;
                g.synthesize(&ws, NoiseMode::Random, false)
            }
            _ if psi == 1.0 => self.forward_t(z, y, false),
            _ => Err(error::config_err(
                "truncation",
                format!(
                    "{psi}: only StyleGAN2 generators (arch = \"stylegan2\") have a w to truncate"
                ),
            )),
        }
    }

    /// The StyleGAN2 generator inside, if it is one.
    pub fn as_stylegan2(&self) -> Option<&StyleGan2Generator> {
        match self {
            Generator::Stylegan2(g) => Some(g),
            _ => None,
        }
    }
}

/// A discriminator chosen by [`DiscriminatorConfig`].
#[derive(Debug)]
pub enum Discriminator {
    /// A multilayer perceptron, optionally packed.
    Mlp(MlpDiscriminator),
    /// DCGAN.
    Dcgan(DcganDiscriminator),
    /// SNGAN ResNet.
    Resnet(ResnetDiscriminator),
    /// StyleGAN2.
    Stylegan2(StyleGan2Discriminator),
}

impl Discriminator {
    /// Builds the discriminator under `p` for samples described by `data`.
    pub fn new(p: &nn::Path, cfg: &DiscriminatorConfig, data: &DataSpec) -> Result<Self> {
        cfg.validate()?;
        data.check_classes(
            "discriminator.conditioning",
            cfg.conditioning() != DConditioning::None,
        )?;
        Ok(match cfg {
            DiscriminatorConfig::Mlp { pack, mlp } => Discriminator::Mlp(MlpDiscriminator::new(
                p,
                *pack,
                mlp,
                data.point_dim("MLP discriminator input")?,
            )?),
            DiscriminatorConfig::Dcgan {
                width,
                pack,
                spectral_norm,
                conditioning,
            } => Discriminator::Dcgan(DcganDiscriminator::new(
                p,
                *width,
                *pack,
                *spectral_norm,
                *conditioning,
                data,
            )?),
            DiscriminatorConfig::Resnet {
                width,
                conditioning,
            } => Discriminator::Resnet(ResnetDiscriminator::new(p, *width, *conditioning, data)?),
            DiscriminatorConfig::Stylegan2(c) => {
                Discriminator::Stylegan2(StyleGan2Discriminator::new(p, c, data)?)
            }
        })
    }

    /// How many samples the discriminator judges together (PacGAN); batches must divide by it.
    pub fn pack(&self) -> i64 {
        match self {
            Discriminator::Mlp(d) => d.pack(),
            Discriminator::Dcgan(d) => d.pack(),
            Discriminator::Resnet(_) | Discriminator::Stylegan2(_) => 1,
        }
    }

    /// Whether [`forward_t`](Self::forward_t) needs class labels (projection).
    pub fn conditional(&self) -> bool {
        match self {
            Discriminator::Mlp(_) => false,
            Discriminator::Dcgan(d) => d.conditional(),
            Discriminator::Resnet(d) => d.conditional(),
            Discriminator::Stylegan2(d) => d.conditional(),
        }
    }

    /// Whether each pack's logit depends on that pack alone, so that real and generated
    /// batches may share one forward pass (false with batch norm, which mixes the batch).
    pub fn batch_independent(&self) -> bool {
        match self {
            Discriminator::Mlp(d) => d.batch_independent(),
            Discriminator::Dcgan(d) => d.batch_independent(),
            Discriminator::Resnet(_) => true,
            // The minibatch standard-deviation layer mixes the batch.
            Discriminator::Stylegan2(_) => false,
        }
    }

    /// Logits, one per pack of samples: `[B / pack]`.
    pub fn forward_t(&self, x: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.forward_full(x, y, train)?.0)
    }

    /// Logits `[B / pack]` and, for an auxiliary-classifier discriminator, class logits
    /// `[B / pack, K]`.
    pub fn forward_full(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        match self {
            Discriminator::Mlp(d) => Ok((d.forward_t(x, train)?, None)),
            Discriminator::Dcgan(d) => d.forward_full(x, y, train),
            Discriminator::Resnet(d) => d.forward_full(x, y, train),
            Discriminator::Stylegan2(d) => Ok((d.forward(x, y)?, None)),
        }
    }

    /// The StyleGAN2 discriminator inside, if it is one.
    pub fn as_stylegan2(&self) -> Option<&StyleGan2Discriminator> {
        match self {
            Discriminator::Stylegan2(d) => Some(d),
            _ => None,
        }
    }

    /// Its blocks from the input, each a name and the var-store prefixes of its tensors
    /// (each ending in `.`), for FreezeD: DCGAN `conv0`, `conv1`, ..., `out`; StyleGAN2
    /// `b32`, `b16`, ..., `b4`. Empty for the architectures that do not offer it.
    pub fn freeze_blocks(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Discriminator::Dcgan(d) => d.blocks().to_vec(),
            Discriminator::Stylegan2(d) => d
                .block_names()
                .into_iter()
                .map(|b| {
                    let prefix = format!("{b}.");
                    (b, vec![prefix])
                })
                .collect(),
            Discriminator::Mlp(_) | Discriminator::Resnet(_) => Vec::new(),
        }
    }
}

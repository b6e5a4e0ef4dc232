//! `gan-models`: generator and discriminator networks as tch `nn` modules.
//!
//! Each network is a plain struct built by a constructor that takes a var path (`&nn::Path`)
//! and a typed config with a `Default`, like tch's own layers. [`Generator`] and
//! [`Discriminator`] are the enums the training loop holds; their configs are
//! `#[serde(tag = "arch")]` enums so a TOML file picks the architecture by name.
//!
//! So far: MLPs for low-dimensional data ([`MlpGenerator`], [`MlpDiscriminator`]) with
//! configurable depth, width, activation, batch norm, maxout and PacGAN packing.
//!
//! ```
//! use gan_models::{Generator, GeneratorConfig, Discriminator, DiscriminatorConfig};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let g = Generator::new(&(vs.root() / "g"), &GeneratorConfig::default(), 2)?;
//! let d = Discriminator::new(&(vs.root() / "d"), &DiscriminatorConfig::default(), 2)?;
//! let z = Tensor::randn([64, g.latent_dim()], (Kind::Float, Device::Cpu));
//! let logits = d.forward_t(&g.forward_t(&z, true), true)?;
//! assert_eq!(logits.size(), vec![64]);
//! # Ok::<(), gan_models::Error>(())
//! ```

mod config;
mod error;
mod mlp;

pub use config::{Activation, DiscriminatorConfig, GeneratorConfig, MlpConfig, WeightInit};
pub use error::{Error, Result};
pub use mlp::{MlpDiscriminator, MlpGenerator};

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// A generator chosen by [`GeneratorConfig`].
#[derive(Debug)]
pub enum Generator {
    /// A multilayer perceptron.
    Mlp(MlpGenerator),
}

impl Generator {
    /// Builds the generator under `p`, producing samples of dimension `data_dim`.
    pub fn new(p: &nn::Path, cfg: &GeneratorConfig, data_dim: i64) -> Result<Self> {
        cfg.validate()?;
        Ok(match cfg {
            GeneratorConfig::Mlp { latent_dim, mlp } => {
                Generator::Mlp(MlpGenerator::new(p, *latent_dim, mlp, data_dim))
            }
        })
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        match self {
            Generator::Mlp(g) => g.latent_dim(),
        }
    }

    /// Maps latents `[B, latent_dim]` to samples; `train` selects batch statistics.
    pub fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        match self {
            Generator::Mlp(g) => g.forward_t(z, train),
        }
    }
}

/// A discriminator chosen by [`DiscriminatorConfig`].
#[derive(Debug)]
pub enum Discriminator {
    /// A multilayer perceptron, optionally packed.
    Mlp(MlpDiscriminator),
}

impl Discriminator {
    /// Builds the discriminator under `p` for samples of dimension `data_dim`.
    pub fn new(p: &nn::Path, cfg: &DiscriminatorConfig, data_dim: i64) -> Result<Self> {
        cfg.validate()?;
        Ok(match cfg {
            DiscriminatorConfig::Mlp { pack, mlp } => {
                Discriminator::Mlp(MlpDiscriminator::new(p, *pack, mlp, data_dim))
            }
        })
    }

    /// How many samples the discriminator judges together (PacGAN); batches must divide by it.
    pub fn pack(&self) -> i64 {
        match self {
            Discriminator::Mlp(d) => d.pack(),
        }
    }

    /// Whether each pack's logit depends on that pack alone, so that real and generated
    /// batches may share one forward pass (false with batch norm, which mixes the batch).
    pub fn batch_independent(&self) -> bool {
        match self {
            Discriminator::Mlp(d) => d.batch_independent(),
        }
    }

    /// Logits, one per pack of samples: `[B / pack]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Discriminator::Mlp(d) => d.forward_t(x, train),
        }
    }
}

//! `gan-data`: where training samples come from.
//!
//! For now: the 2D Gaussian mixtures of the PacGAN / VEEGAN / Unrolled-GAN papers
//! ([`Mixture2d`]: `ring`, 8 modes, and `grid`, 25 modes), sampled on any device from
//! torch's generator (so a seeded step draws the same batch every time), and their
//! mode metrics ([`ModeMetrics`]: modes captured, high-quality fraction, reverse KL).
//!
//! ```
//! use gan_data::{Mixture2d, MixtureKind};
//! let ring = Mixture2d::new(MixtureKind::Ring);
//! let x = ring.sample_seeded(2500, 0, tch::Device::Cpu);
//! let pts: Vec<[f32; 2]> = gan_data::points(&x)?;
//! let m = ring.evaluate(&pts)?;
//! assert_eq!(m.modes_captured, 8);
//! assert!(m.high_quality_fraction > 0.98); // 3 std holds 98.9% of a 2D Gaussian
//! # Ok::<(), gan_data::Error>(())
//! ```

mod error;
mod mixture;

pub use error::{Error, Result};
pub use mixture::{points, Mixture2d, MixtureKind, MixtureSampler, ModeMetrics};

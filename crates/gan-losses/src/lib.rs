//! `gan-losses`: GAN losses and gradient penalties on [`tch`] (libtorch), usable on its own.
//!
//! * [`GanLoss`]: the adversarial loss, chosen by value (serde / [`FromStr`] names in
//!   kebab-case: `non-saturating`, `minimax`, `hinge`, `wasserstein`, `least-squares`,
//!   `relativistic-average`). [`GanLoss::discriminator`] and [`GanLoss::generator`] take the
//!   raw discriminator outputs (logits, `[N]` or `[N, 1]`) of a real and a fake batch, which
//!   may differ in size, and return a 0-dim `f32` tensor that keeps the autograd graph.
//! * [`functional`]: the same losses as free functions (`ns_d`, `hinge_g`, ...).
//! * Gradient penalties: [`gradient_penalty`] (WGAN-GP), [`r1_penalty`] / [`r2_penalty`]
//!   (unscaled: multiply by `gamma / 2`), and [`grad_norm_sq`] to compute R1 from the logits
//!   of the main discriminator pass. All are differentiable with respect to the
//!   discriminator's parameters (double backward).
//! * Reconstruction losses of image-to-image translation: [`l1`] (pix2pix's
//!   `lambda_L1 * |G(A) - B|`).
//!
//! Losses are pure functions of tensors: no module, optimizer or device handling. Wrong
//! shapes, empty batches, non-float or undefined tensors and device mismatches are
//! [`Error`]s naming the argument, never panics. The only dependency is `tch`.
//!
//! ```
//! use gan_losses::{r1_penalty, GanLoss};
//! use tch::nn::{self, Module, OptimizerConfig};
//! use tch::{Device, Kind, Tensor};
//!
//! let dev = Device::Cpu;
//! let (d_vs, g_vs) = (nn::VarStore::new(dev), nn::VarStore::new(dev));
//! let d = nn::linear(d_vs.root(), 2, 1, Default::default()); // logits [N, 1]
//! let g = nn::linear(g_vs.root(), 4, 2, Default::default());
//! let mut d_opt = nn::Adam::default().build(&d_vs, 1e-3)?;
//! let mut g_opt = nn::Adam::default().build(&g_vs, 1e-3)?;
//! let loss: GanLoss = "hinge".parse()?;
//!
//! let real = Tensor::randn([16, 2], (Kind::Float, dev));
//! let fake = g.forward(&Tensor::randn([8, 4], (Kind::Float, dev)));
//!
//! // Discriminator step: fakes detached, R1 scaled by gamma / 2 = 5.
//! let d_loss = loss.discriminator(&d.forward(&real), &d.forward(&fake.detach()))?
//!     + r1_penalty(|x| d.forward(x), &real)? * 5.0;
//! assert_eq!(d_loss.size(), Vec::<i64>::new()); // a scalar
//! d_opt.backward_step(&d_loss);
//!
//! // Generator step: real logits are only read by the relativistic loss.
//! let real_logits = if loss.needs_real_for_generator() {
//!     d.forward(&real).detach()
//! } else {
//!     Tensor::new() // never looked at
//! };
//! let g_loss = loss.generator(&real_logits, &d.forward(&fake))?;
//! g_opt.backward_step(&g_loss);
//! assert!(g_loss.double_value(&[]).is_finite());
//!
//! // Bad shapes are errors that name the argument.
//! let err = loss.discriminator(&Tensor::zeros([4, 2], (Kind::Float, dev)), &d.forward(&fake));
//! assert!(err.unwrap_err().to_string().contains("real_logits"));
//! # Ok::<(), gan_losses::Error>(())
//! ```

mod check;
mod error;
pub mod functional;
mod penalty;
mod reconstruction;

pub use error::{Error, Result};
pub use penalty::{grad_norm_sq, gradient_penalty, r1_penalty, r2_penalty};
pub use reconstruction::{cycle_loss, identity_loss, l1};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::Tensor;

/// An adversarial loss. With `l_r`, `l_f` the real and fake logits and
/// `softplus(x) = ln(1 + e^x)`:
///
/// | loss | discriminator | generator |
/// |------|---------------|-----------|
/// | `NonSaturating` | `mean(softplus(-l_r)) + mean(softplus(l_f))` | `mean(softplus(-l_f))` |
/// | `Minimax` | as `NonSaturating` | `-mean(softplus(l_f))` |
/// | `Hinge` | `mean(relu(1 - l_r)) + mean(relu(1 + l_f))` | `-mean(l_f)` |
/// | `Wasserstein` | `mean(l_f) - mean(l_r)` | `-mean(l_f)` |
/// | `LeastSquares` | `0.5 mean((l_r - 1)^2) + 0.5 mean(l_f^2)` | `0.5 mean((l_f - 1)^2)` |
/// | `RelativisticAverage` | `mean(softplus(-dr)) + mean(softplus(df))` | `mean(softplus(dr)) + mean(softplus(-df))` |
///
/// with `dr = l_r - mean(l_f)` and `df = l_f - mean(l_r)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// Goodfellow et al. 2014, with the non-saturating generator loss `-log D(G(z))`.
    #[default]
    NonSaturating,
    /// Goodfellow et al. 2014, the original minimax generator loss `log(1 - D(G(z)))`.
    Minimax,
    /// Hinge loss (Lim & Ye 2017; Miyato et al. 2018).
    Hinge,
    /// Wasserstein GAN (Arjovsky et al. 2017); pair it with [`gradient_penalty`].
    Wasserstein,
    /// Least-squares GAN (Mao et al. 2017), targets a = 0, b = 1, c = 1.
    LeastSquares,
    /// Relativistic average standard GAN, RaSGAN (Jolicoeur-Martineau 2018).
    RelativisticAverage,
}

impl GanLoss {
    /// Every loss, in declaration order.
    pub const ALL: [GanLoss; 6] = [
        GanLoss::NonSaturating,
        GanLoss::Minimax,
        GanLoss::Hinge,
        GanLoss::Wasserstein,
        GanLoss::LeastSquares,
        GanLoss::RelativisticAverage,
    ];

    /// The kebab-case name used by serde, [`Display`](fmt::Display) and [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::Minimax => "minimax",
            GanLoss::Hinge => "hinge",
            GanLoss::Wasserstein => "wasserstein",
            GanLoss::LeastSquares => "least-squares",
            GanLoss::RelativisticAverage => "relativistic-average",
        }
    }

    /// The discriminator (critic) loss, to minimise with respect to the discriminator.
    ///
    /// `real_logits` and `fake_logits` are raw discriminator outputs of shape `[N]` or
    /// `[N, 1]` (the two batch sizes may differ, neither may be 0) on the same device. Detach
    /// the fake batch before the discriminator pass so the generator is not updated. Returns
    /// a 0-dim `f32` tensor in the autograd graph.
    pub fn discriminator(self, real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::NonSaturating | GanLoss::Minimax => functional::ns_d(real_logits, fake_logits),
            GanLoss::Hinge => functional::hinge_d(real_logits, fake_logits),
            GanLoss::Wasserstein => functional::wasserstein_d(real_logits, fake_logits),
            GanLoss::LeastSquares => functional::ls_d(real_logits, fake_logits),
            GanLoss::RelativisticAverage => functional::ra_d(real_logits, fake_logits),
        }
    }

    /// The generator loss, to minimise with respect to the generator.
    ///
    /// `fake_logits` are the discriminator outputs for generated samples (not detached),
    /// shape `[N]` or `[N, 1]`. `real_logits` is read only when
    /// [`needs_real_for_generator`](Self::needs_real_for_generator) is true
    /// (`RelativisticAverage`); the other losses ignore it entirely, so any tensor, even
    /// `Tensor::new()`, will do. Callers may pass a detached real batch
    /// (`real_logits.detach()`): the generator's gradient flows through `fake_logits` only.
    /// Returns a 0-dim `f32` tensor in the autograd graph.
    pub fn generator(self, real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::NonSaturating => functional::ns_g(fake_logits),
            GanLoss::Minimax => functional::minimax_g(fake_logits),
            GanLoss::Hinge => functional::hinge_g(fake_logits),
            GanLoss::Wasserstein => functional::wasserstein_g(fake_logits),
            GanLoss::LeastSquares => functional::ls_g(fake_logits),
            GanLoss::RelativisticAverage => functional::ra_g(real_logits, fake_logits),
        }
    }

    /// The factor from this crate's form of the loss to the form of
    /// junyanz/pytorch-CycleGAN-and-pix2pix's `GANLoss`, whose `lsgan` is a plain
    /// `MSE(logits, target)` without Mao et al.'s 1/2: 2 for `LeastSquares`, 1 for every other
    /// loss (`vanilla` is [`NonSaturating`](Self::NonSaturating) as it stands). The pix2pix and
    /// CycleGAN families scale both terms by it, so that the adversarial terms weigh against
    /// the L1 and cycle terms as upstream's do.
    ///
    /// ```
    /// use gan_losses::GanLoss;
    /// use tch::Tensor;
    ///
    /// let fake = Tensor::from_slice(&[0.2f32, -0.4, 1.5]);
    /// let ls = GanLoss::LeastSquares;
    /// let g = ls.generator(&Tensor::new(), &fake).unwrap() * ls.translation_scale();
    /// let mse = (&fake - 1.0).square().mean(tch::Kind::Float);
    /// assert!((g.double_value(&[]) - mse.double_value(&[])).abs() < 1e-6);
    /// ```
    pub fn translation_scale(self) -> f64 {
        match self {
            GanLoss::LeastSquares => 2.0,
            _ => 1.0,
        }
    }

    /// Whether [`generator`](Self::generator) reads `real_logits`: true only for
    /// `RelativisticAverage`. Lets a training loop skip the real forward pass in the
    /// generator step.
    pub fn needs_real_for_generator(self) -> bool {
        matches!(self, GanLoss::RelativisticAverage)
    }
}

impl fmt::Display for GanLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GanLoss {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        GanLoss::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| Error::UnknownLoss(s.to_string()))
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

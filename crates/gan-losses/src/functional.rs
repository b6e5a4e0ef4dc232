//! One free function per loss and side, for callers that prefer them to [`GanLoss`].
//!
//! Every function takes raw discriminator outputs (logits) of shape `[N]` or `[N, 1]`,
//! checks them like [`GanLoss`] does, and returns a 0-dim `f32` tensor that keeps the
//! autograd graph. Generator losses that do not need the real logits take only
//! `fake_logits`. The minimax discriminator loss is [`ns_d`].
//!
//! `softplus(x) = ln(1 + e^x)` is libtorch's numerically stable softplus.
//!
//! [`GanLoss`]: crate::GanLoss

use crate::check::{logit_pair, logits};
use crate::Result;
use tch::{Kind, Tensor};

fn mean(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_mean(Kind::Float)?)
}

/// Non-saturating (and minimax) discriminator loss:
/// `mean(softplus(-l_r)) + mean(softplus(l_f))`, i.e. binary cross-entropy with targets
/// 1 for real and 0 for fake.
pub fn ns_d(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (r, f) = logit_pair(real_logits, fake_logits)?;
    let real_term = mean(&r.f_neg()?.f_softplus()?)?;
    let fake_term = mean(&f.f_softplus()?)?;
    Ok(real_term.f_add(&fake_term)?)
}

/// Non-saturating generator loss: `mean(softplus(-l_f))` (`-log D(G(z))`).
pub fn ns_g(fake_logits: &Tensor) -> Result<Tensor> {
    let f = logits("fake_logits", fake_logits)?;
    mean(&f.f_neg()?.f_softplus()?)
}

/// Minimax generator loss: `-mean(softplus(l_f))` (`mean(log(1 - D(G(z))))`).
///
/// Saturates (vanishing gradient) when the discriminator rejects fakes confidently;
/// kept for completeness and comparisons.
pub fn minimax_g(fake_logits: &Tensor) -> Result<Tensor> {
    let f = logits("fake_logits", fake_logits)?;
    Ok(mean(&f.f_softplus()?)?.f_neg()?)
}

/// Hinge discriminator loss: `mean(relu(1 - l_r)) + mean(relu(1 + l_f))`.
pub fn hinge_d(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (r, f) = logit_pair(real_logits, fake_logits)?;
    let real_term = mean(&r.f_rsub_scalar(1.0)?.f_relu()?)?;
    let fake_term = mean(&f.f_add_scalar(1.0)?.f_relu()?)?;
    Ok(real_term.f_add(&fake_term)?)
}

/// Hinge generator loss: `-mean(l_f)`.
pub fn hinge_g(fake_logits: &Tensor) -> Result<Tensor> {
    let f = logits("fake_logits", fake_logits)?;
    Ok(mean(&f)?.f_neg()?)
}

/// Wasserstein critic loss: `mean(l_f) - mean(l_r)`.
///
/// Needs a Lipschitz constraint on the critic, e.g. [`gradient_penalty`](crate::gradient_penalty).
pub fn wasserstein_d(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (r, f) = logit_pair(real_logits, fake_logits)?;
    Ok(mean(&f)?.f_sub(&mean(&r)?)?)
}

/// Wasserstein generator loss: `-mean(l_f)`.
pub fn wasserstein_g(fake_logits: &Tensor) -> Result<Tensor> {
    let f = logits("fake_logits", fake_logits)?;
    Ok(mean(&f)?.f_neg()?)
}

/// Least-squares discriminator loss (a = 0, b = 1):
/// `0.5 * mean((l_r - 1)^2) + 0.5 * mean(l_f^2)`.
pub fn ls_d(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (r, f) = logit_pair(real_logits, fake_logits)?;
    let real_term = mean(&r.f_sub_scalar(1.0)?.f_square()?)?;
    let fake_term = mean(&f.f_square()?)?;
    Ok(real_term.f_add(&fake_term)?.f_mul_scalar(0.5)?)
}

/// Least-squares generator loss (c = 1): `0.5 * mean((l_f - 1)^2)`.
pub fn ls_g(fake_logits: &Tensor) -> Result<Tensor> {
    let f = logits("fake_logits", fake_logits)?;
    Ok(mean(&f.f_sub_scalar(1.0)?.f_square()?)?.f_mul_scalar(0.5)?)
}

/// The relativistic differences `dr = l_r - mean(l_f)` and `df = l_f - mean(l_r)`.
fn relativistic(real_logits: &Tensor, fake_logits: &Tensor) -> Result<(Tensor, Tensor)> {
    let (r, f) = logit_pair(real_logits, fake_logits)?;
    let dr = r.f_sub(&mean(&f)?)?;
    let df = f.f_sub(&mean(&r)?)?;
    Ok((dr, df))
}

/// Relativistic average discriminator loss (RaSGAN), with `dr = l_r - mean(l_f)` and
/// `df = l_f - mean(l_r)`: `mean(softplus(-dr)) + mean(softplus(df))`.
pub fn ra_d(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (dr, df) = relativistic(real_logits, fake_logits)?;
    let real_term = mean(&dr.f_neg()?.f_softplus()?)?;
    let fake_term = mean(&df.f_softplus()?)?;
    Ok(real_term.f_add(&fake_term)?)
}

/// Relativistic average generator loss (RaSGAN): `mean(softplus(dr)) + mean(softplus(-df))`,
/// the discriminator loss with the roles of real and fake swapped.
///
/// The gradient reaches the generator through `fake_logits` only; `real_logits` may be
/// detached (`real_logits.detach()`), which also keeps the generator step from
/// back-propagating into the discriminator's real pass.
pub fn ra_g(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    let (dr, df) = relativistic(real_logits, fake_logits)?;
    let real_term = mean(&dr.f_softplus()?)?;
    let fake_term = mean(&df.f_neg()?.f_softplus()?)?;
    Ok(real_term.f_add(&fake_term)?)
}

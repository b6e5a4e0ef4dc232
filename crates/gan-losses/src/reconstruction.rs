//! Reconstruction losses of image-to-image translation: pix2pix's L1 term and, built on it,
//! CycleGAN's cycle-consistency and identity terms.
//!
//! Each takes an output and its target of the same shape (any floating kind, one device) and
//! returns a 0-dim `f32` tensor that keeps the autograd graph of `output`.
//!
//! ```
//! use tch::{Device, Kind, Tensor};
//! let fake = Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
//! let real = Tensor::ones([2, 1, 4, 4], (Kind::Float, Device::Cpu));
//! let loss = gan_losses::l1(&fake, &real)? * 100.0; // pix2pix: lambda_L1 = 100
//! assert_eq!(loss.double_value(&[]), 100.0);
//! # Ok::<(), gan_losses::Error>(())
//! ```
use tch::{Kind, Tensor};

use crate::check::{batch, floating, same_device};
use crate::{Error, Result};

fn pair(output: &Tensor, target: &Tensor) -> Result<()> {
    batch("output", output)?;
    batch("target", target)?;
    floating("output", output)?;
    floating("target", target)?;
    same_device("output", output, "target", target)?;
    if output.size() != target.size() {
        return Err(Error::Shape {
            arg: "target",
            expected: format!("the output's shape {:?}", output.size()),
            got: target.size(),
        });
    }
    Ok(())
}

/// Mean absolute error `mean(|output - target|)` (PyTorch's `nn.L1Loss()`).
pub fn l1(output: &Tensor, target: &Tensor) -> Result<Tensor> {
    pair(output, target)?;
    Ok(output.f_sub(target)?.f_abs()?.f_mean(Kind::Float)?)
}

/// CycleGAN's cycle-consistency term for one domain (Zhu et al. 2017, eq. 2):
/// `lambda * mean(|reconstructed - original|)`, where `reconstructed = F(G(original))`.
/// CycleGAN's `lambda_A` / `lambda_B` are 10.
///
/// ```
/// use tch::{Device, Kind, Tensor};
/// let a = Tensor::zeros([1, 3, 4, 4], (Kind::Float, Device::Cpu));
/// let rec = Tensor::full([1, 3, 4, 4], 0.5, (Kind::Float, Device::Cpu));
/// assert_eq!(gan_losses::cycle_loss(&rec, &a, 10.0)?.double_value(&[]), 5.0);
/// # Ok::<(), gan_losses::Error>(())
/// ```
pub fn cycle_loss(reconstructed: &Tensor, original: &Tensor, lambda: f64) -> Result<Tensor> {
    weight("lambda", lambda)?;
    Ok(l1(reconstructed, original)?.f_mul_scalar(lambda)?)
}

/// CycleGAN's identity term for one generator (Zhu et al. 2017, section 5.2, from Taigman et
/// al. 2017): a generator into domain B given a real B should return it unchanged,
/// `lambda * lambda_identity * mean(|G(b) - b|)`, with `lambda` the cycle weight of domain B
/// and `lambda_identity` CycleGAN's 0.5. Only defined when both domains have the same
/// channels.
pub fn identity_loss(
    mapped: &Tensor,
    original: &Tensor,
    lambda: f64,
    lambda_identity: f64,
) -> Result<Tensor> {
    weight("lambda", lambda)?;
    weight("lambda_identity", lambda_identity)?;
    Ok(l1(mapped, original)?.f_mul_scalar(lambda * lambda_identity)?)
}

fn weight(arg: &'static str, w: f64) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            arg,
            message: format!("{w} must be finite and >= 0"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn l1_is_the_mean_absolute_error_and_checks_shapes() {
        let a = Tensor::from_slice(&[0.0f32, 1.0, -2.0, 4.0]).view([2, 2]);
        let b = Tensor::from_slice(&[1.0f32, 1.0, 2.0, 0.0]).view([2, 2]);
        // torch.nn.L1Loss()(a, b) = (1 + 0 + 4 + 4) / 4 = 2.25
        assert_eq!(l1(&a, &b).unwrap().double_value(&[]), 2.25);
        let err = l1(&a, &b.view([4])).unwrap_err().to_string();
        assert!(err.contains("[2, 2]"), "{err}");
        let ints = Tensor::zeros([2, 2], (Kind::Int64, Device::Cpu));
        assert!(l1(&a, &ints).is_err());
    }

    #[test]
    fn cycle_and_identity_weight_the_l1() {
        let a = Tensor::from_slice(&[0.0f32, 1.0, -2.0, 4.0]).view([2, 2]);
        let b = Tensor::from_slice(&[1.0f32, 1.0, 2.0, 0.0]).view([2, 2]);
        assert_eq!(cycle_loss(&a, &b, 10.0).unwrap().double_value(&[]), 22.5);
        // lambda_B * lambda_identity = 10 * 0.5.
        assert_eq!(
            identity_loss(&a, &b, 10.0, 0.5).unwrap().double_value(&[]),
            11.25
        );
        let err = cycle_loss(&a, &b, -1.0).unwrap_err().to_string();
        assert!(err.contains("lambda") && err.contains("-1"), "{err}");
        assert!(identity_loss(&a, &b, 10.0, f64::NAN).is_err());
    }
}

//! Checks on user input, shared by the losses and the penalties.

use crate::{Error, Result};
use tch::{Kind, Tensor};

/// Fails on an undefined tensor (`size()` would panic on one).
pub(crate) fn defined(arg: &'static str, t: &Tensor) -> Result<()> {
    if t.defined() {
        Ok(())
    } else {
        Err(Error::Undefined { arg })
    }
}

/// Fails on integer, boolean and complex tensors.
pub(crate) fn floating(arg: &'static str, t: &Tensor) -> Result<()> {
    let kind = t.f_kind()?;
    if t.f_is_floating_point()? {
        Ok(())
    } else {
        Err(Error::NotFloat { arg, kind })
    }
}

/// The batch size of a defined tensor with at least one dimension and one sample.
pub(crate) fn batch(arg: &'static str, t: &Tensor) -> Result<i64> {
    defined(arg, t)?;
    let size = t.size();
    match size.first() {
        None => Err(Error::Shape {
            arg,
            expected: "a batch [N, ...] with at least one dimension".into(),
            got: size,
        }),
        Some(0) => Err(Error::EmptyBatch { arg, got: size }),
        Some(&n) => Ok(n),
    }
}

/// Both tensors on the same device.
pub(crate) fn same_device(
    first: &'static str,
    a: &Tensor,
    second: &'static str,
    b: &Tensor,
) -> Result<()> {
    let (first_device, second_device) = (a.device(), b.device());
    if first_device == second_device {
        Ok(())
    } else {
        Err(Error::DeviceMismatch {
            first,
            first_device,
            second,
            second_device,
        })
    }
}

/// Validates discriminator logits (`[N]` or `[N, 1]`, `N > 0`, floating point) and returns
/// them as a flat `[N]` `f32` tensor that stays in the autograd graph.
pub(crate) fn logits(arg: &'static str, t: &Tensor) -> Result<Tensor> {
    defined(arg, t)?;
    let size = t.size();
    let n = match size.as_slice() {
        [n] | [n, 1] => *n,
        _ => {
            return Err(Error::Shape {
                arg,
                expected: "logits of shape [N] or [N, 1] (one raw discriminator output per sample)"
                    .into(),
                got: size,
            })
        }
    };
    if n == 0 {
        return Err(Error::EmptyBatch { arg, got: size });
    }
    floating(arg, t)?;
    Ok(t.f_reshape([n])?.f_to_dtype(Kind::Float, false, false)?)
}

/// Validates a real / fake pair of logits.
pub(crate) fn logit_pair(real: &Tensor, fake: &Tensor) -> Result<(Tensor, Tensor)> {
    let r = logits("real_logits", real)?;
    let f = logits("fake_logits", fake)?;
    same_device("real_logits", real, "fake_logits", fake)?;
    Ok((r, f))
}

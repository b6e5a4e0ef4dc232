//! Gradient penalties: WGAN-GP, R1, R2, and the per-sample squared gradient norm they
//! are built on.

use crate::check::{batch, defined, floating, same_device};
use crate::{Error, Result};
use tch::{Kind, Tensor};

/// `d outputs.sum() / d inputs`, flattened to `[N, D]` `f32`, with the graph kept
/// (`keep_graph`) and differentiable itself (`create_graph`).
fn input_grad(
    outputs: &Tensor,
    outputs_arg: &'static str,
    inputs: &Tensor,
    inputs_arg: &'static str,
) -> Result<Tensor> {
    let n = batch(inputs_arg, inputs)?;
    floating(inputs_arg, inputs)?;
    defined(outputs_arg, outputs)?;
    let out_size = outputs.size();
    if out_size.first() != Some(&n) {
        return Err(Error::Shape {
            arg: outputs_arg,
            expected: format!("one output per sample, shape [{n}, ...]"),
            got: out_size,
        });
    }
    floating(outputs_arg, outputs)?;
    // No device check between outputs and inputs: a critic may move its input
    // (`d(&x.to_device(cuda))`) and autograd follows.
    if !inputs.requires_grad() {
        return Err(Error::NoGrad { arg: inputs_arg });
    }
    let not_connected = Error::NotConnected {
        outputs: outputs_arg,
        inputs: inputs_arg,
    };
    if !outputs.requires_grad() {
        return Err(not_connected);
    }
    let total = outputs.f_sum(Kind::Float)?;
    let grad = Tensor::f_run_backward(&[total], &[inputs], true, true)?
        .pop()
        .filter(Tensor::defined)
        .ok_or(not_connected)?;
    let per_sample: i64 = inputs.size()[1..].iter().product();
    Ok(grad
        .f_reshape([n, per_sample])?
        .f_to_dtype(Kind::Float, false, false)?)
}

/// Per-sample squared gradient norm `||d outputs_i / d inputs_i||^2`, shape `[N]`, `f32`.
///
/// `outputs` are discriminator outputs for the batch `inputs` (`[N]`, `[N, 1]` or anything
/// with `N` rows, e.g. PatchGAN maps: each sample's outputs are summed, as StyleGAN does).
/// `inputs` must require grad and have been fed to the discriminator *after*
/// `set_requires_grad(true)`. The gradient is taken of `outputs.sum()`, which equals the
/// per-sample gradient when samples do not interact inside the discriminator (no batch
/// norm, no minibatch-stddev layer).
///
/// The graph of `outputs` is kept, so the same logits can also feed the main loss, and the
/// result is differentiable with respect to the discriminator's parameters (double
/// backward).
///
/// ```
/// use gan_losses::{grad_norm_sq, GanLoss};
/// use tch::{Device, Kind, Tensor};
/// let w = Tensor::from_slice(&[3.0f32, 4.0]).set_requires_grad(true);
/// let d = |x: &Tensor| x.matmul(&w); // [N, 2] -> [N]
/// // One discriminator pass on the real batch serves both the loss and R1.
/// let real = Tensor::randn([8, 2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
/// let fake = Tensor::randn([8, 2], (Kind::Float, Device::Cpu));
/// let real_logits = d(&real);
/// let r1 = grad_norm_sq(&real_logits, &real)?.mean(Kind::Float); // ||w||^2 = 25
/// let gamma = 10.0;
/// let loss = GanLoss::NonSaturating.discriminator(&real_logits, &d(&fake))? + r1 * (gamma / 2.0);
/// loss.backward();
/// assert_eq!(w.grad().size(), vec![2]);
/// # Ok::<(), gan_losses::Error>(())
/// ```
pub fn grad_norm_sq(outputs: &Tensor, inputs: &Tensor) -> Result<Tensor> {
    let grad = input_grad(outputs, "outputs", inputs, "inputs")?;
    Ok(grad
        .f_square()?
        .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?)
}

/// WGAN-GP gradient penalty (Gulrajani et al. 2017):
/// `mean_i((||grad_x critic(x_i)||_2 - target_norm)^2)` at random interpolates
/// `x_i = a_i * real_i + (1 - a_i) * fake_i`, `a_i ~ U(0, 1)` drawn once per sample and
/// broadcast over all non-batch dimensions; the norm is taken over all non-batch
/// dimensions.
///
/// `real` and `fake` must have the same shape `[N, ...]` (`N > 0`) and device; they are
/// detached, so no gradient reaches the generator. `critic` must map a batch `[N, ...]`
/// to `N` outputs (`[N]` or `[N, 1]`). The result is a 0-dim `f32` tensor that is
/// differentiable with respect to the critic's parameters (double backward); the caller
/// multiplies it by lambda (10 in the paper). `target_norm` is 1 in the paper; 0 gives the
/// zero-centred variant. The `a_i` come from libtorch's global generator
/// (`tch::manual_seed` makes them reproducible).
///
/// ```
/// use gan_losses::gradient_penalty;
/// use tch::{Device, Kind, Tensor};
/// let w = Tensor::from_slice(&[0.6f32, 0.8]).set_requires_grad(true); // ||w|| = 1
/// let critic = |x: &Tensor| x.matmul(&w);
/// let real = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
/// let fake = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
/// let gp = gradient_penalty(critic, &real, &fake, 1.0)?;
/// assert!(gp.double_value(&[]).abs() < 1e-6); // a 1-Lipschitz linear critic is not penalised
/// # Ok::<(), gan_losses::Error>(())
/// ```
pub fn gradient_penalty(
    critic: impl Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
    target_norm: f64,
) -> Result<Tensor> {
    if !(target_norm.is_finite() && target_norm >= 0.0) {
        return Err(Error::TargetNorm(target_norm));
    }
    let n = batch("real", real)?;
    batch("fake", fake)?;
    let (real_size, fake_size) = (real.size(), fake.size());
    if real_size != fake_size {
        return Err(Error::ShapeMismatch {
            real: real_size,
            fake: fake_size,
        });
    }
    floating("real", real)?;
    floating("fake", fake)?;
    same_device("real", real, "fake", fake)?;
    let (real, fake) = (real.f_detach()?, fake.f_detach()?);
    let mut alpha_shape = vec![1i64; real_size.len()];
    alpha_shape[0] = n;
    let alpha = Tensor::f_rand(alpha_shape, (real.f_kind()?, real.device()))?;
    let x = alpha
        .f_mul(&real)?
        .f_add(&alpha.f_rsub_scalar(1.0)?.f_mul(&fake)?)?
        .f_set_requires_grad(true)?;
    let grad = input_grad(&critic(&x), "critic(x)", &x, "x")?;
    // `norm` (not sqrt of the squared norm): its gradient at a zero gradient is 0, not NaN.
    let norm = grad.f_norm_scalaropt_dim(2.0, [1i64].as_slice(), false)?;
    Ok(norm
        .f_sub_scalar(target_norm)?
        .f_square()?
        .f_mean(Kind::Float)?)
}

fn penalty_at(
    d: impl Fn(&Tensor) -> Tensor,
    x: &Tensor,
    x_arg: &'static str,
    out_arg: &'static str,
) -> Result<Tensor> {
    batch(x_arg, x)?;
    floating(x_arg, x)?;
    let x = x.f_detach()?.f_set_requires_grad(true)?;
    let grad = input_grad(&d(&x), out_arg, &x, x_arg)?;
    Ok(grad
        .f_square()?
        .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?
        .f_mean(Kind::Float)?)
}

/// R1 penalty (Mescheder et al. 2018): `mean_i ||grad_x d(x_i)||^2` at the real samples.
///
/// Not scaled: the caller multiplies by `gamma / 2`. `real` (`[N, ...]`, `N > 0`) is
/// detached and fed to `d` with `requires_grad` set; `d` must map it to `N` outputs. The
/// result is differentiable with respect to `d`'s parameters. To reuse the logits of the
/// main discriminator pass instead of a second forward, see [`grad_norm_sq`].
pub fn r1_penalty(d: impl Fn(&Tensor) -> Tensor, real: &Tensor) -> Result<Tensor> {
    penalty_at(d, real, "real", "d(real)")
}

/// R2 penalty (Mescheder et al. 2018): `mean_i ||grad_x d(x_i)||^2` at the fake samples.
///
/// Same contract as [`r1_penalty`]; `fake` is detached, so no gradient reaches the
/// generator. The caller multiplies by `gamma / 2`.
pub fn r2_penalty(d: impl Fn(&Tensor) -> Tensor, fake: &Tensor) -> Result<Tensor> {
    penalty_at(d, fake, "fake", "d(fake)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use tch::Device;

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn v(t: &Tensor) -> f64 {
        assert_eq!(
            t.size(),
            Vec::<i64>::new(),
            "penalty must be a 0-dim tensor"
        );
        assert_eq!(t.kind(), Kind::Float);
        t.double_value(&[])
    }

    fn vec_of(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
    }

    #[track_caller]
    fn assert_close(got: f64, expected: f64, tol: f64) {
        assert!(
            (got - expected).abs() <= tol * expected.abs().max(1.0),
            "got {got}, expected {expected}"
        );
    }

    /// `D(x) = sum over non-batch dims of x * w`: the input gradient is `w` everywhere.
    fn linear(w: &Tensor) -> impl Fn(&Tensor) -> Tensor + '_ {
        move |x: &Tensor| (x * w).sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float)
    }

    #[test]
    fn gp_of_a_linear_critic_is_norm_minus_target_squared() {
        tch::manual_seed(0);
        // w of shape [2, 3]: the interpolation and norm span both non-batch dims.
        let wv = [1.0f32, -2.0, 0.5, 3.0, 0.0, -1.0];
        let w = Tensor::from_slice(&wv).view([2, 3]);
        let norm = wv.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt(); // sqrt(15.25)
        let real = Tensor::randn([5, 2, 3], CPU);
        let fake = Tensor::randn([5, 2, 3], CPU);
        for target in [1.0, 0.0, 2.5] {
            let gp = gradient_penalty(linear(&w), &real, &fake, target).unwrap();
            assert_close(v(&gp), (norm - target).powi(2), 1e-5);
        }
    }

    #[test]
    fn gp_is_differentiable_in_the_critic_parameters() {
        // GP = (||w|| - 1)^2  =>  dGP/dw = 2 (||w|| - 1) w / ||w||
        let wv = [0.3f64, -1.2, 2.0, 0.7, 0.1, -0.4];
        let w = Tensor::from_slice(&wv)
            .to_kind(Kind::Float)
            .view([2, 3])
            .set_requires_grad(true);
        let real = Tensor::randn([4, 2, 3], CPU);
        let fake = Tensor::randn([4, 2, 3], CPU);
        let gp = gradient_penalty(linear(&w), &real, &fake, 1.0).unwrap();
        assert!(gp.requires_grad());
        gp.backward();
        let norm = wv.iter().map(|x| x * x).sum::<f64>().sqrt();
        let got = vec_of(&w.grad());
        for (g, wi) in got.iter().zip(wv) {
            assert_close(*g, 2.0 * (norm - 1.0) * wi / norm, 1e-5);
        }
    }

    #[test]
    fn gp_gradient_is_finite_at_a_zero_input_gradient() {
        // w = 0: ||grad|| = 0, where d||g||/dg is undefined; the penalty is target^2 and its
        // gradient must not be NaN.
        let w = Tensor::zeros([2, 3], CPU).set_requires_grad(true);
        let real = Tensor::randn([3, 2, 3], CPU);
        let fake = Tensor::randn([3, 2, 3], CPU);
        let gp = gradient_penalty(linear(&w), &real, &fake, 1.0).unwrap();
        assert_close(v(&gp), 1.0, 1e-6);
        gp.backward();
        assert!(vec_of(&w.grad()).iter().all(|g| g.is_finite()));
    }

    #[test]
    fn gp_interpolates_per_sample_between_real_and_fake() {
        tch::manual_seed(7);
        let seen = RefCell::new(Tensor::new());
        let critic = |x: &Tensor| {
            *seen.borrow_mut() = x.detach().copy();
            x.square()
                .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)
        };
        let real = Tensor::randn([6, 2, 3, 4], CPU);
        let fake = Tensor::randn([6, 2, 3, 4], CPU);
        let _gp = gradient_penalty(critic, &real, &fake, 1.0).unwrap();
        let x = seen.borrow().view([6, -1]);
        let (r, f) = (real.view([6, -1]), fake.view([6, -1]));
        // a_i = (x - f) / (r - f), elementwise: one value per sample, in [0, 1].
        let a = (&x - &f) / (&r - &f);
        let mut alphas = Vec::new();
        for i in 0..6 {
            let row = vec_of(&a.get(i));
            let first = row[0];
            assert!((0.0..=1.0).contains(&first), "a_{i} = {first}");
            assert!(
                row.iter().all(|ai| (ai - first).abs() < 1e-3),
                "sample {i}: {row:?}"
            );
            alphas.push(first);
        }
        // Drawn per sample, not once per batch.
        assert!(
            alphas.iter().any(|a| (a - alphas[0]).abs() > 1e-3),
            "{alphas:?}"
        );
    }

    #[test]
    fn gp_of_a_quadratic_critic_uses_the_interpolate() {
        // D(x) = 0.5 ||x||^2 has gradient x; with real == fake the interpolate is x itself:
        // GP = mean_i (||x_i|| - t)^2.
        let x = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 1.0, 1.0, 1.0]).view([2, 3]);
        let critic = |x: &Tensor| {
            x.square()
                .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
                * 0.5
        };
        let gp = gradient_penalty(critic, &x, &x, 2.0).unwrap();
        let expected = ((5.0f64 - 2.0).powi(2) + (3f64.sqrt() - 2.0).powi(2)) / 2.0;
        assert_close(v(&gp), expected, 1e-6);
    }

    #[test]
    fn gp_does_not_reach_real_or_fake() {
        let real = Tensor::randn([3, 2], CPU).set_requires_grad(true);
        let fake = Tensor::randn([3, 2], CPU).set_requires_grad(true);
        let critic = |x: &Tensor| {
            x.square()
                .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        };
        // The penalty depends on the interpolate (grad = 2x), yet nothing flows back to the
        // tensors it was made from.
        let gp = gradient_penalty(critic, &(&real * 2.0), &(&fake * 2.0), 1.0).unwrap();
        gp.backward();
        assert!(!real.grad().defined() && !fake.grad().defined());
        let w = Tensor::ones([2], CPU).set_requires_grad(true);
        let critic =
            |x: &Tensor| (x.square() * &w).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        gradient_penalty(critic, &(&real * 2.0), &(&fake * 2.0), 1.0)
            .unwrap()
            .backward();
        assert!(w.grad().defined());
        assert!(!real.grad().defined() && !fake.grad().defined());
    }

    #[test]
    fn r1_of_sum_of_squares_is_mean_norm_of_2x() {
        // D(x) = sum(x^2) per sample: grad = 2x, R1 = mean_i ||2 x_i||^2.
        let xs = [[1.0f32, 2.0], [-3.0, 0.5], [0.0, 0.0]];
        let real = Tensor::from_slice(&xs.concat()).view([3, 2]);
        let d = |x: &Tensor| {
            x.square()
                .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        };
        let expected = xs
            .iter()
            .map(|x| {
                x.iter()
                    .map(|xi| (2.0 * f64::from(*xi)).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 3.0; // (20 + 37 + 0) / 3
        assert_close(expected, 19.0, 1e-12);
        assert_close(v(&r1_penalty(d, &real).unwrap()), 19.0, 1e-6);
        assert_close(v(&r2_penalty(d, &real).unwrap()), 19.0, 1e-6);
        // Per sample:
        let x = real.set_requires_grad(true);
        let per = grad_norm_sq(&d(&x), &x).unwrap();
        assert_eq!(per.size(), vec![3]);
        assert_eq!(vec_of(&per), vec![20.0, 37.0, 0.0]);
    }

    #[test]
    fn r1_is_differentiable_in_the_parameters() {
        // D(x) = x . w: R1 = ||w||^2, dR1/dw = 2w.
        let wv = [0.5f32, -1.5, 2.0];
        let w = Tensor::from_slice(&wv).set_requires_grad(true);
        let real = Tensor::randn([4, 3], CPU);
        let r1 = r1_penalty(|x| x.matmul(&w), &real).unwrap();
        assert_close(v(&r1), 6.5, 1e-6);
        r1.backward();
        assert_eq!(vec_of(&w.grad()), vec![1.0, -3.0, 4.0]);
    }

    #[test]
    fn grad_norm_sq_reuses_the_logits_of_the_main_pass() {
        let w = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let x = Tensor::randn([5, 2], CPU).set_requires_grad(true);
        let logits = x.matmul(&w).unsqueeze(1); // [N, 1]
        let r1 = grad_norm_sq(&logits, &x).unwrap().mean(Kind::Float);
        assert_close(v(&r1), 5.0, 1e-6);
        // The logits' graph survives: the main loss can still go backward through it.
        let total = crate::GanLoss::Hinge
            .discriminator(&logits, &logits)
            .unwrap()
            + r1;
        total.backward();
        assert!(w.grad().defined());
    }

    #[test]
    fn penalty_input_errors_name_the_argument() {
        let d = |x: &Tensor| x.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        let a = Tensor::randn([4, 3], CPU);
        let b = Tensor::randn([4, 2], CPU);
        let e = gradient_penalty(d, &a, &b, 1.0).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
        assert!(e.to_string().contains("[4, 3]") && e.to_string().contains("[4, 2]"));
        let empty = Tensor::zeros([0, 3], CPU);
        assert!(matches!(
            gradient_penalty(d, &empty, &empty, 1.0),
            Err(Error::EmptyBatch { arg: "real", .. })
        ));
        assert!(matches!(
            r1_penalty(d, &empty),
            Err(Error::EmptyBatch { arg: "real", .. })
        ));
        assert!(matches!(
            r2_penalty(d, &empty),
            Err(Error::EmptyBatch { arg: "fake", .. })
        ));
        assert!(matches!(
            r1_penalty(d, &Tensor::from(1.0f32)),
            Err(Error::Shape { arg: "real", .. })
        ));
        assert!(matches!(
            r1_penalty(d, &Tensor::new()),
            Err(Error::Undefined { arg: "real" })
        ));
        assert!(matches!(
            gradient_penalty(d, &a, &a, -1.0),
            Err(Error::TargetNorm(_))
        ));
        assert!(matches!(
            gradient_penalty(d, &a, &a, f64::NAN),
            Err(Error::TargetNorm(_))
        ));
        // A critic that reduces over the batch gives one output, not N.
        let e = r1_penalty(|x| x.mean(Kind::Float), &a).unwrap_err();
        assert!(matches!(e, Error::Shape { arg: "d(real)", .. }), "{e}");
        let e = gradient_penalty(|x| x.sum(Kind::Float), &a, &a, 1.0).unwrap_err();
        assert!(e.to_string().contains("`critic(x)`"), "{e}");
    }

    #[test]
    fn grad_norm_sq_errors() {
        let x = Tensor::randn([4, 3], CPU);
        let out = x.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        assert!(matches!(
            grad_norm_sq(&out, &x),
            Err(Error::NoGrad { arg: "inputs" })
        ));
        // Outputs that ignore the inputs.
        let x = x.set_requires_grad(true);
        let b = Tensor::ones([4], CPU).set_requires_grad(true);
        let e = grad_norm_sq(&(&b * 2.0), &x).unwrap_err();
        assert!(matches!(e, Error::NotConnected { .. }), "{e}");
        let e = grad_norm_sq(&Tensor::ones([4], CPU), &x).unwrap_err();
        assert!(matches!(e, Error::NotConnected { .. }), "{e}");
        let e = r1_penalty(|_| Tensor::ones([4], CPU), &x).unwrap_err();
        assert!(matches!(e, Error::NotConnected { .. }), "{e}");
        // Wrong number of outputs.
        let e = grad_norm_sq(&x.sum(Kind::Float), &x).unwrap_err();
        assert!(matches!(e, Error::Shape { arg: "outputs", .. }), "{e}");
        let ints = Tensor::from_slice(&[1i64, 2]);
        assert!(matches!(
            r1_penalty(|x| x.shallow_clone(), &ints),
            Err(Error::NotFloat { arg: "real", .. })
        ));
    }
}

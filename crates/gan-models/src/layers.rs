//! Building blocks of the image networks: convolutions with optional spectral normalisation,
//! (class-conditional) batch norm, and the papers' weight initialisations.
//!
//! Variable names follow PyTorch's modules (`weight`, `bias`, `running_mean`, and for spectral
//! norm `weight_orig`, `weight_u`, `weight_v`) so that weights can be compared one to one with
//! the reference implementations.
//!
//! Every parameter and buffer of the crate is created through [`var`], [`zeros`],
//! [`zeros_no_train`] or [`ones_no_train`]: like tch's `Path` methods of the same names, but
//! a shape that user input made absurd is an [`Error`] naming the variable, checked before
//! anything is allocated, instead of a panic inside tch.

use tch::nn::init::NormalOrUniform;
use tch::nn::{self, Init};
use tch::{Device, Kind, TchError, Tensor};

use crate::error::Error;

/// Checks that the variable `name` of shape `dims` and kind `kind` can be created under `p`:
/// its element count must fit in an `i64`, and on the CPU its bytes (times `peak`, the copies
/// its initialisation holds at once) must fit in the memory available
/// ([`gan_tensor::memory::check_fits`]).
fn check_room(p: &nn::Path, name: &str, dims: &[i64], kind: Kind, peak: u64) -> crate::Result<()> {
    let shape_err = |reason| Error::ParameterShape {
        path: p.path(name),
        shape: dims.to_vec(),
        reason,
    };
    if dims.iter().any(|&d| d < 0) {
        return Err(shape_err("a dimension is negative"));
    }
    let elements = dims
        .iter()
        .try_fold(1i64, |n, &d| n.checked_mul(d))
        .ok_or_else(|| shape_err("more elements than a tensor can hold (i64 overflow)"))?;
    if p.device() == Device::Cpu {
        let bytes = gan_tensor::memory::bytes_of(elements as u64, kind.elt_size_in_bytes() as u64);
        let bytes = bytes.saturating_mul(peak);
        let what = if peak > 1 {
            format!(
                "parameter `{}` of shape {dims:?} (with the temporary copy its initialisation makes)",
                p.path(name)
            )
        } else {
            format!("parameter `{}` of shape {dims:?}", p.path(name))
        };
        gan_tensor::memory::check_fits(what, bytes)?;
    }
    Ok(())
}

/// How many tensors of the variable's size tch's `f_init` holds at once for `init`: two
/// where it scales or shifts a fresh tensor out of place (`randn * stdev + mean`,
/// `ones * c`), one where it fills in place.
fn init_peak(init: Init) -> u64 {
    let one = |x: f64| (x - 1.0).abs() <= f64::EPSILON;
    match init {
        Init::Const(c) if c == 0.0 || one(c) => 1,
        Init::Randn { mean, stdev } if mean == 0.0 && one(stdev) => 1,
        Init::Uniform { .. }
        | Init::Kaiming {
            dist: NormalOrUniform::Uniform,
            ..
        } => 1,
        _ => 2,
    }
}

/// A trainable variable (`p.var`), an [`Error`] naming it where it cannot be created.
pub(crate) fn var(p: &nn::Path, name: &str, dims: &[i64], init: Init) -> crate::Result<Tensor> {
    check_room(p, name, dims, p.kind(), init_peak(init))?;
    Ok(p.f_var(name, dims, init)?)
}

/// A trainable variable of zeros (`p.zeros`), an [`Error`] naming it where it cannot be
/// created.
pub(crate) fn zeros(p: &nn::Path, name: &str, dims: &[i64]) -> crate::Result<Tensor> {
    check_room(p, name, dims, p.kind(), 1)?;
    Ok(p.f_zeros(name, dims)?)
}

/// A buffer of zeros (`p.zeros_no_train`), an [`Error`] naming it where it cannot be created.
pub(crate) fn zeros_no_train(p: &nn::Path, name: &str, dims: &[i64]) -> crate::Result<Tensor> {
    check_room(p, name, dims, Kind::Float, 1)?;
    Ok(p.f_zeros_no_train(name, dims)?)
}

/// A buffer of ones (`p.ones_no_train`), an [`Error`] naming it where it cannot be created.
pub(crate) fn ones_no_train(p: &nn::Path, name: &str, dims: &[i64]) -> crate::Result<Tensor> {
    check_room(p, name, dims, Kind::Float, 1)?;
    Ok(p.f_ones_no_train(name, dims)?)
}

/// `gain * leaky_relu(x, slope)`, computed as `x * m` with the mask
/// `m = gain` where `x > 0` and `slope * gain` elsewhere, built without autograd.
///
/// This is the cheapest form libtorch offers through tch on the CPU, which has no binding
/// for `leaky_relu` with a slope. The mask takes three in-place kernels (`gt` into a float
/// tensor, a scale, a shift) and the backward pass is a single multiply by `m`. `prelu` with
/// a constant weight costs about four times as much, because its backward also reduces a
/// weight gradient nobody uses, and `maximum(x, slope * x)` costs five backward kernels. The
/// mask has no gradient, so second derivatives (R1, path length, WGAN-GP) match
/// `leaky_relu`'s: `m` once, and zero through `m`.
pub(crate) fn leaky_relu(x: &Tensor, slope: f64, gain: f64) -> Result<Tensor, TchError> {
    let m = x.f_empty_like()?;
    let mut m = x.detach().f_gt_scalar_out(&m, 0.0)?;
    let _ = m.f_mul_scalar_(gain * (1.0 - slope))?;
    let _ = m.f_add_scalar_(gain * slope)?;
    x.f_mul(&m)
}

/// [`leaky_relu`] with gain 1 for the infallible `forward_t` paths, which panic on a bad
/// shape like the rest of tch's `Module` API.
pub(crate) fn leaky_relu_t(x: &Tensor, slope: f64) -> Tensor {
    leaky_relu(x, slope, 1.0).unwrap_or_else(|e| panic!("leaky_relu: {e}"))
}

/// How a layer's weight is initialised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WInit {
    /// N(0, std): DCGAN (Radford et al. 2016).
    Normal(f64),
    /// Xavier/Glorot uniform with a gain: SNGAN's ResNets (Miyato et al. 2018, as in mimicry).
    Xavier(f64),
}

fn weight_init(init: WInit, fan_in: i64, fan_out: i64) -> Init {
    match init {
        WInit::Normal(stdev) => Init::Randn { mean: 0.0, stdev },
        WInit::Xavier(gain) => {
            let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
            Init::Uniform {
                lo: -bound,
                up: bound,
            }
        }
    }
}

/// Spectral normalisation (Miyato et al. 2018) of one weight, as `torch.nn.utils.spectral_norm`:
/// the weight is divided by its largest singular value, estimated by power iteration with
/// vectors `u`, `v` that persist across steps (saved with the weights as `weight_u`,
/// `weight_v`). In training, each forward pass runs `n_power_iterations` steps first.
#[derive(Debug)]
pub(crate) struct SpectralNorm {
    u: Tensor,
    v: Tensor,
    iterations: usize,
}

fn normalize(x: &Tensor) -> Tensor {
    x / x.norm().clamp_min(1e-12)
}

impl SpectralNorm {
    fn new(p: &nn::Path, rows: i64, cols: i64) -> crate::Result<Self> {
        // PyTorch starts u and v from normalised Gaussians.
        let mut u = zeros_no_train(p, "weight_u", &[rows])?;
        let mut v = zeros_no_train(p, "weight_v", &[cols])?;
        tch::no_grad(|| {
            u.copy_(&normalize(&Tensor::randn(
                [rows],
                (Kind::Float, u.device()),
            )));
            v.copy_(&normalize(&Tensor::randn(
                [cols],
                (Kind::Float, v.device()),
            )));
        });
        Ok(SpectralNorm {
            u,
            v,
            iterations: 1,
        })
    }

    /// `weight / sigma(weight)`, updating `u` and `v` first when `train`.
    fn apply(&self, weight: &Tensor, train: bool) -> Tensor {
        let rows = weight.size()[0];
        let mat = weight.reshape([rows, -1]);
        if train {
            tch::no_grad(|| {
                let mut u = self.u.shallow_clone();
                let mut v = self.v.shallow_clone();
                for _ in 0..self.iterations {
                    v.copy_(&normalize(&mat.detach().tr().mv(&u)));
                    u.copy_(&normalize(&mat.detach().mv(&v)));
                }
            });
        }
        // u and v are constants of the graph (PyTorch clones them): gradients flow through W.
        let sigma = self.u.dot(&mat.mv(&self.v));
        weight / sigma
    }
}

/// A layer's weight, optionally spectrally normalised: stored as PyTorch names it (`weight`, or
/// `weight_orig` with `weight_u` and `weight_v` under spectral norm).
#[derive(Debug)]
pub(crate) struct Weight {
    raw: Tensor,
    sn: Option<SpectralNorm>,
}

impl Weight {
    /// A weight of `shape` (`[out, ...]`) initialised by `init` with the given fans.
    fn new(
        p: &nn::Path,
        shape: &[i64],
        fans: (i64, i64),
        init: WInit,
        spectral_norm: bool,
    ) -> crate::Result<Self> {
        let name = if spectral_norm {
            "weight_orig"
        } else {
            "weight"
        };
        let raw = var(p, name, shape, weight_init(init, fans.0, fans.1))?;
        let rows = shape[0];
        let cols = shape[1..].iter().product();
        let sn = spectral_norm
            .then(|| SpectralNorm::new(p, rows, cols))
            .transpose()?;
        Ok(Weight { raw, sn })
    }

    /// The weight to use: normalised (after a power-iteration step when `train`) or as is.
    fn get(&self, train: bool) -> Tensor {
        match &self.sn {
            Some(sn) => sn.apply(&self.raw, train),
            None => self.raw.shallow_clone(),
        }
    }
}

/// A 2D convolution, optionally spectrally normalised.
#[derive(Debug)]
pub(crate) struct Conv2d {
    weight: Weight,
    bias: Option<Tensor>,
    stride: i64,
    padding: i64,
}

/// Options of [`Conv2d`] and [`ConvTranspose2d`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvOpts {
    pub stride: i64,
    pub padding: i64,
    pub bias: bool,
    pub spectral_norm: bool,
    pub init: WInit,
}

impl Conv2d {
    pub(crate) fn new(
        p: nn::Path,
        cin: i64,
        cout: i64,
        k: [i64; 2],
        o: ConvOpts,
    ) -> crate::Result<Self> {
        let fans = (cin * k[0] * k[1], cout * k[0] * k[1]);
        let shape = [cout, cin, k[0], k[1]];
        let weight = Weight::new(&p, &shape, fans, o.init, o.spectral_norm)?;
        let bias = o.bias.then(|| zeros(&p, "bias", &[cout])).transpose()?;
        Ok(Conv2d {
            weight,
            bias,
            stride: o.stride,
            padding: o.padding,
        })
    }

    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.conv2d(
            &self.weight.get(train),
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }

    /// [`forward_t`](Self::forward_t) returning libtorch's error instead of panicking.
    pub(crate) fn f_forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        x.f_conv2d(
            &self.weight.get(train),
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }
}

/// A transposed 2D convolution (weight `[in, out, kh, kw]`, as PyTorch), with PyTorch's
/// `output_padding` (0 unless set by [`with_output_padding`](Self::with_output_padding)).
#[derive(Debug)]
pub(crate) struct ConvTranspose2d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: i64,
    padding: i64,
    output_padding: i64,
}

impl ConvTranspose2d {
    pub(crate) fn new(
        p: nn::Path,
        cin: i64,
        cout: i64,
        k: [i64; 2],
        o: ConvOpts,
    ) -> crate::Result<Self> {
        // PyTorch computes the fans of a transposed convolution from weight.size(1) and (0).
        let fan_in = cout * k[0] * k[1];
        let fan_out = cin * k[0] * k[1];
        let weight = var(
            &p,
            "weight",
            &[cin, cout, k[0], k[1]],
            weight_init(o.init, fan_in, fan_out),
        )?;
        let bias = o.bias.then(|| zeros(&p, "bias", &[cout])).transpose()?;
        Ok(ConvTranspose2d {
            weight,
            bias,
            stride: o.stride,
            padding: o.padding,
            output_padding: 0,
        })
    }

    /// The same layer with `output_padding` extra rows and columns on the bottom and right of
    /// the output (PyTorch's `output_padding`; must be below the stride).
    pub(crate) fn with_output_padding(self, output_padding: i64) -> Self {
        ConvTranspose2d {
            output_padding,
            ..self
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        x.conv_transpose2d(
            &self.weight,
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [self.output_padding, self.output_padding],
            1,
            [1, 1],
        )
    }

    /// [`forward`](Self::forward) returning libtorch's error instead of panicking.
    pub(crate) fn f_forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_conv_transpose2d(
            &self.weight,
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [self.output_padding, self.output_padding],
            1,
            [1, 1],
        )
    }
}

/// A linear layer, optionally spectrally normalised (weight `[out, in]`, as PyTorch).
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Weight,
    bias: Option<Tensor>,
}

impl Linear {
    pub(crate) fn new(
        p: nn::Path,
        cin: i64,
        cout: i64,
        bias: bool,
        spectral_norm: bool,
        init: WInit,
    ) -> crate::Result<Self> {
        let weight = Weight::new(&p, &[cout, cin], (cin, cout), init, spectral_norm)?;
        let bias = bias.then(|| zeros(&p, "bias", &[cout])).transpose()?;
        Ok(Linear { weight, bias })
    }

    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.linear(&self.weight.get(train), self.bias.as_ref())
    }
}

/// A class embedding (`[classes, dim]`), optionally spectrally normalised (SNGAN's projection).
#[derive(Debug)]
pub(crate) struct Embedding {
    weight: Weight,
}

impl Embedding {
    pub(crate) fn new(
        p: nn::Path,
        classes: i64,
        dim: i64,
        spectral_norm: bool,
        init: WInit,
    ) -> crate::Result<Self> {
        let weight = Weight::new(&p, &[classes, dim], (classes, dim), init, spectral_norm)?;
        Ok(Embedding { weight })
    }

    pub(crate) fn forward_t(&self, y: &Tensor, train: bool) -> Tensor {
        self.weight.get(train).index_select(0, y)
    }
}

/// Batch norm over channels of `[B, C, ...]`, either with one affine transform (PyTorch's
/// `BatchNorm2d`: `weight`, `bias`) or with one per class (conditional batch norm, de Vries
/// et al. 2017 / Miyato & Koyama 2018: `gamma` and `beta` tables of shape `[classes, C]`).
#[derive(Debug)]
pub(crate) struct BatchNorm {
    running_mean: Tensor,
    running_var: Tensor,
    affine: Affine,
}

#[derive(Debug)]
enum Affine {
    Shared { weight: Tensor, bias: Tensor },
    PerClass { gamma: Tensor, beta: Tensor },
}

impl BatchNorm {
    /// `classes = 0`: one affine transform; otherwise one per class. `gamma_std > 0` draws the
    /// scales from N(1, gamma_std) (DCGAN's init), else they start at 1.
    pub(crate) fn new(
        p: nn::Path,
        channels: i64,
        classes: i64,
        gamma_std: f64,
    ) -> crate::Result<Self> {
        let scale_init = if gamma_std > 0.0 {
            Init::Randn {
                mean: 1.0,
                stdev: gamma_std,
            }
        } else {
            Init::Const(1.0)
        };
        if classes > 0 {
            let affine = Affine::PerClass {
                gamma: var(&p, "gamma", &[classes, channels], scale_init)?,
                beta: zeros(&p, "beta", &[classes, channels])?,
            };
            Self::with_affine(&p, channels, affine)
        } else {
            Self::shared(p, channels, scale_init)
        }
    }

    /// One affine transform (PyTorch's `BatchNorm1d`/`2d`, and tch's `nn::batch_norm*`) with
    /// the scales drawn from `scale_init`: variables `weight`, `bias`, `running_mean`,
    /// `running_var`, created in that order.
    pub(crate) fn shared(p: nn::Path, channels: i64, scale_init: Init) -> crate::Result<Self> {
        let affine = Affine::Shared {
            weight: var(&p, "weight", &[channels], scale_init)?,
            bias: zeros(&p, "bias", &[channels])?,
        };
        Self::with_affine(&p, channels, affine)
    }

    fn with_affine(p: &nn::Path, channels: i64, affine: Affine) -> crate::Result<Self> {
        Ok(BatchNorm {
            running_mean: zeros_no_train(p, "running_mean", &[channels])?,
            running_var: ones_no_train(p, "running_var", &[channels])?,
            affine,
        })
    }

    /// Normalises `x` (batch statistics when `train`); `y` selects the per-class transform.
    pub(crate) fn forward_t(&self, x: &Tensor, y: Option<&Tensor>, train: bool) -> Tensor {
        let stats = |w: Option<&Tensor>, b: Option<&Tensor>| {
            x.batch_norm(
                w,
                b,
                Some(&self.running_mean),
                Some(&self.running_var),
                train,
                0.1,
                1e-5,
                true,
            )
        };
        match (&self.affine, y) {
            (Affine::Shared { weight, bias }, _) => stats(Some(weight), Some(bias)),
            (Affine::PerClass { gamma, beta }, Some(y)) => {
                let h = stats(None, None);
                let mut shape = vec![-1, x.size()[1]];
                shape.extend(std::iter::repeat_n(1, x.dim() - 2));
                let g = gamma.index_select(0, y).view(shape.as_slice());
                let b = beta.index_select(0, y).view(shape.as_slice());
                h * g + b
            }
            // Callers check that a conditional network gets labels.
            (Affine::PerClass { .. }, None) => stats(None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// Both forms of the masked leaky ReLU against `gain * max(x, slope * x)`: values, the
    /// gradient, and the gradient of a gradient norm (what R1 differentiates).
    #[test]
    fn leaky_relu_matches_its_definition_to_second_order() {
        tch::manual_seed(5);
        let w = Tensor::randn([6, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let x = Tensor::randn([32, 6], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let second = |f: &dyn Fn(&Tensor) -> Tensor| {
            let y = f(&x.matmul(&w));
            let g = Tensor::run_backward(&[y.square().sum(Kind::Float)], &[&x], true, true);
            let gnorm = g[0].square().sum(Kind::Float);
            let gw = Tensor::run_backward(&[&gnorm], &[&w], false, false).remove(0);
            (
                y.detach(),
                Tensor::cat(&[gw.reshape([-1]), gnorm.reshape([1])], 0),
            )
        };
        for gain in [1.0, std::f64::consts::SQRT_2] {
            let reference = |h: &Tensor| h.maximum(&(h * 0.2)) * gain;
            let (ry, rg) = second(&reference);
            let (ay, ag) = second(&|h: &Tensor| leaky_relu(h, 0.2, gain).unwrap());
            assert!(ay.allclose(&ry, 1e-6, 1e-6, false));
            assert!(ag.allclose(&rg, 1e-5, 1e-5, false));
            if gain == 1.0 {
                let (by, bg) = second(&|h: &Tensor| leaky_relu_t(h, 0.2));
                assert!(by.equal(&ay) && bg.allclose(&ag, 1e-6, 1e-6, false));
            }
        }
        // The negative side really has the slope (a sign error would still pass at x > 0).
        let neg = Tensor::from_slice(&[-1.0f32, 2.0]);
        let y = Vec::<f32>::try_from(leaky_relu(&neg, 0.2, 2.0).unwrap()).unwrap();
        assert_eq!(y, vec![-0.4, 4.0]);
    }

    fn top_singular_value(w: &Tensor) -> f64 {
        let m = w.reshape([w.size()[0], -1]).to_kind(Kind::Double);
        Tensor::linalg_eigvalsh(&m.matmul(&m.tr()), "L")
            .max()
            .sqrt()
            .double_value(&[])
    }

    /// After enough power iterations the normalised weight has spectral norm 1.
    #[test]
    fn spectral_norm_converges_to_unit_norm() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let opts = ConvOpts {
            stride: 1,
            padding: 1,
            bias: true,
            spectral_norm: true,
            init: WInit::Normal(1.0),
        };
        let conv = Conv2d::new(vs.root() / "c", 3, 8, [3, 3], opts).unwrap();
        for _ in 0..50 {
            let _ = conv.weight.get(true);
        }
        let w = conv.weight.get(false);
        let sigma = top_singular_value(&w);
        assert!((sigma - 1.0).abs() < 1e-4, "sigma = {sigma}");
        // The unnormalised weight is far from norm 1 (so the test can fail).
        let raw = top_singular_value(&conv.weight.raw);
        assert!(raw > 2.0, "raw sigma = {raw}");
        let names: Vec<String> = vs.variables().into_keys().collect();
        for n in ["c.weight_orig", "c.weight_u", "c.weight_v", "c.bias"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }
    }

    /// The same layer as `torch.nn.utils.spectral_norm(nn.Conv2d(3, 6, 3, 1, 1))` with the same
    /// weights and vectors: output, updated vectors and weight gradient agree
    /// (`scripts/model_fixtures.py`).
    #[test]
    fn spectral_norm_matches_pytorch() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/spectral_norm.safetensors"
        );
        let t: std::collections::BTreeMap<String, Tensor> = Tensor::read_safetensors(path)
            .unwrap()
            .into_iter()
            .collect();
        let vs = nn::VarStore::new(Device::Cpu);
        let opts = ConvOpts {
            stride: 1,
            padding: 1,
            bias: true,
            spectral_norm: true,
            init: WInit::Normal(1.0),
        };
        let conv = Conv2d::new(vs.root(), 3, 6, [3, 3], opts).unwrap();
        tch::no_grad(|| {
            for (name, var) in vs.variables() {
                var.shallow_clone().copy_(&t[&name]);
            }
        });
        let y = conv.forward_t(&t["x"], true);
        let close = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]) < 1e-5;
        assert!(close(&y, &t["y"]));
        let sn = conv.weight.sn.as_ref().unwrap();
        assert!(close(&sn.u, &t["u_after"]) && close(&sn.v, &t["v_after"]));
        y.sum(Kind::Float).backward();
        assert!(close(&conv.weight.raw.grad(), &t["grad_weight_orig"]));
    }

    /// A shape whose element count overflows `i64`, or with a negative dimension, is an error
    /// naming the variable's full path and shape, and creates nothing.
    #[test]
    fn impossible_shapes_are_errors_naming_the_variable() {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root() / "net" / "big";
        let dims = [1i64 << 40, 1 << 40];
        let err = var(&p, "weight", &dims, Init::Const(0.0)).unwrap_err();
        assert!(matches!(err, Error::ParameterShape { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("`net.big.weight`")
                && msg.contains("[1099511627776, 1099511627776]")
                && msg.contains("overflow"),
            "{msg}"
        );
        let err = zeros_no_train(&p, "running_mean", &[4, -1]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`net.big.running_mean` of shape [4, -1]")
                && err.to_string().contains("negative"),
            "{err}"
        );
        for err in [
            zeros(&p, "bias", &[i64::MAX, 2]).unwrap_err(),
            ones_no_train(&p, "running_var", &[i64::MAX, 2]).unwrap_err(),
        ] {
            assert!(err.to_string().contains("net.big."), "{err}");
        }
        assert!(vs.variables().is_empty());
        // Ordinary shapes still work, and zero-sized ones too.
        assert_eq!(
            var(&p, "w", &[3, 0], Init::Const(1.0)).unwrap().size(),
            [3, 0]
        );
        assert_eq!(
            ones_no_train(&p, "v", &[2]).unwrap(),
            Tensor::from_slice(&[1f32, 1.0])
        );
    }

    /// Conditional batch norm with labels applies the selected class's scale and shift.
    #[test]
    fn conditional_batch_norm_selects_the_class_transform() {
        let vs = nn::VarStore::new(Device::Cpu);
        let bn = BatchNorm::new(vs.root() / "bn", 2, 3, 0.0).unwrap();
        if let Affine::PerClass { gamma, beta } = &bn.affine {
            tch::no_grad(|| {
                gamma
                    .shallow_clone()
                    .copy_(&Tensor::from_slice(&[1f32, 1., 2., 2., 3., 3.]).view([3, 2]));
                beta.shallow_clone()
                    .copy_(&Tensor::from_slice(&[0f32, 0., 10., 10., 20., 20.]).view([3, 2]));
            });
        }
        let x = Tensor::randn([4, 2, 3, 3], (Kind::Float, Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 1, 2, 1]);
        let out = bn.forward_t(&x, Some(&y), true);
        let plain = x.batch_norm(None::<Tensor>, None, None, None, true, 0.1, 1e-5, false);
        let expect1 = plain.get(1) * 2.0 + 10.0;
        assert!(out.get(1).allclose(&expect1, 1e-5, 1e-5, false));
        let expect2 = plain.get(2) * 3.0 + 20.0;
        assert!(out.get(2).allclose(&expect2, 1e-5, 1e-5, false));
    }
}

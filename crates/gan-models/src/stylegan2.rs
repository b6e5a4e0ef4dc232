//! StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"),
//! in plain libtorch operations: nothing is compiled at run time.
//!
//! The structure and the variable names are those of NVlabs' stylegan2-ada-pytorch
//! (`training/networks.py`), so a state dict maps one to one (the `resample_filter` buffers
//! excepted: the filter is a constant here):
//!
//! * [`MappingNetwork`]: `z` normalised by its second moment (and a class embedding, also
//!   normalised, concatenated after it), fully connected layers with leaky ReLU and a
//!   learning-rate multiplier (0.01), and the tracked average `w_avg` (decay 0.995) that the
//!   truncation trick pulls towards.
//! * [`SynthesisNetwork`]: the `skip` generator. A learned constant 4x4 input, modulated 3x3
//!   convolutions with weight demodulation, per-pixel noise with learned strengths, and at
//!   every resolution a ToRGB layer whose output is added to the up-sampled image so far.
//! * [`StyleGan2Discriminator`]: the `resnet` discriminator (residual blocks with `sqrt(0.5)`
//!   skips, down-sampling), a minibatch standard-deviation layer in the 4x4 epilogue, and for
//!   class-conditional models a projection onto a mapped class embedding.
//!
//! Every layer uses the equalized learning rate: weights are drawn from `N(0, 1) / lr_mul`
//! and scaled at run time by `lr_mul / sqrt(fan_in)`. Up- and down-sampling use the
//! `[1, 3, 3, 1]` FIR filter as upstream's `upfirdn2d`: zero-stuffing, padding and a
//! depthwise convolution with the normalised 4x4 outer product (`conv2d_resample`'s paths:
//! a transposed convolution then the filter for up-sampling, the filter then a strided
//! convolution for down-sampling).
//!
//! Modulated convolutions run "fused" (one grouped convolution with per-sample weights) for
//! inference and "non-fused" (the activations scaled before and after a shared-weight
//! convolution) for training, as upstream chooses; the two agree to rounding.
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

use crate::config::StyleGan2GeneratorConfig;
use crate::config::{DConditioning, GConditioning, StyleGan2DiscriminatorConfig};
use crate::error::{config_err, Error, Result};
use crate::layers::{leaky_relu, var, zeros, zeros_no_train};
use crate::DataSpec;

const SQRT2: f64 = std::f64::consts::SQRT_2;
const LRELU_SLOPE: f64 = 0.2;

/// The activation after a layer's bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Linear,
    /// Leaky ReLU with slope 0.2 (upstream's `lrelu`, default gain `sqrt(2)`).
    Lrelu,
}

impl Act {
    fn default_gain(self) -> f64 {
        match self {
            Act::Linear => 1.0,
            Act::Lrelu => SQRT2,
        }
    }
}

/// Upstream's `bias_act`: `clamp(act(x + b) * gain, -clamp, clamp)`, the bias broadcast along
/// dimension 1.
fn bias_act(
    x: &Tensor,
    b: Option<&Tensor>,
    act: Act,
    gain: f64,
    clamp: Option<f64>,
) -> Result<Tensor> {
    let mut x = match b {
        Some(b) => {
            let mut shape = vec![1i64; x.dim()];
            shape[1] = -1;
            x.f_add(&b.f_reshape(shape.as_slice())?)?
        }
        None => x.shallow_clone(),
    };
    if act == Act::Lrelu {
        // The gain is folded into the activation's mask: one multiply each way.
        x = leaky_relu(&x, LRELU_SLOPE, gain)?;
    } else if gain != 1.0 {
        x = x.f_mul_scalar(gain)?;
    }
    if let Some(c) = clamp {
        x = x.f_clamp(-c, c)?;
    }
    Ok(x)
}

/// A trainable variable drawn from `N(0, 1)`: every StyleGAN2 weight before its run-time
/// equalized-learning-rate gain.
fn unit_normal(p: &nn::Path, name: &str, dims: &[i64]) -> Result<Tensor> {
    var(
        p,
        name,
        dims,
        Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    )
}

/// `x * rsqrt(mean(x^2, dim 1) + 1e-8)`.
fn normalize_2nd_moment(x: &Tensor) -> Result<Tensor> {
    let ms = x.f_square()?.f_mean_dim(&[1i64][..], true, Kind::Float)?;
    Ok(x.f_mul(&ms.f_add_scalar(1e-8)?.f_rsqrt()?)?)
}

/// The normalised 4x4 low-pass filter: the outer product of `[1, 3, 3, 1]` over its sum (64).
fn fir_filter(device: Device) -> Tensor {
    let f = Tensor::from_slice(&[1f32, 3.0, 3.0, 1.0]).to_device(device);
    let f2 = f.outer(&f);
    &f2 / f2.sum(Kind::Float)
}

/// Upstream's `upfirdn2d` for a symmetric 2D filter: zero-stuffing by `up`, padding
/// `[x0, x1, y0, y1]` (non-negative here), a depthwise convolution with `f * gain`, then
/// keeping every `down`-th pixel.
fn upfirdn2d(
    x: &Tensor,
    f: &Tensor,
    up: i64,
    down: i64,
    pad: [i64; 4],
    gain: f64,
) -> Result<Tensor> {
    let size = x.size();
    let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
    let mut x = x.shallow_clone();
    if up > 1 {
        x = x
            .f_reshape([b, c, h, 1, w, 1])?
            .f_constant_pad_nd([0, up - 1, 0, 0, 0, up - 1])?
            .f_reshape([b, c, h * up, w * up])?;
    }
    if pad.iter().any(|&p| p != 0) {
        x = x.f_constant_pad_nd(pad)?;
    }
    // The filter is symmetric, so upstream's flip (convolution, not correlation) changes
    // nothing.
    let fs = f.size();
    let weight = f
        .f_mul_scalar(gain)?
        .f_reshape([1, 1, fs[0], fs[1]])?
        .f_repeat([c, 1, 1, 1])?;
    x = x.f_conv2d(&weight, None::<&Tensor>, [1, 1], [0, 0], [1, 1], c)?;
    if down > 1 {
        x = x.f_slice(2, 0, None, down)?.f_slice(3, 0, None, down)?;
    }
    Ok(x)
}

/// `upfirdn2d.upsample2d(x, f)`: 2x up-sampling with the filter (gain 4 keeps the mean).
fn upsample2d(x: &Tensor, f: &Tensor) -> Result<Tensor> {
    // padding = [(fw + up - 1) // 2, (fw - up) // 2] for fw 4, up 2.
    upfirdn2d(x, f, 2, 1, [2, 1, 2, 1], 4.0)
}

/// Upstream's `conv2d_resample` for the cases StyleGAN2 uses: `up` (a 3x3 modulated
/// convolution at twice the resolution), `down` (3x3 or 1x1 at half), or neither (same
/// padding). `w` is `[O * groups... ]` as for `conv2d` with `groups`; `flip_weight` false
/// means a true convolution (the weight flipped), as upstream.
#[allow(clippy::too_many_arguments)]
fn conv2d_resample(
    x: &Tensor,
    w: &Tensor,
    f: &Tensor,
    up: bool,
    down: bool,
    padding: i64,
    groups: i64,
    flip_weight: bool,
) -> Result<Tensor> {
    let ws = w.size();
    let (out_channels, in_per_group, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let fw = f.size()[1];
    let conv = |x: &Tensor, w: &Tensor, stride: i64, pad: i64| -> Result<Tensor> {
        let w = if flip_weight {
            w.shallow_clone()
        } else {
            w.f_flip([2, 3])?
        };
        Ok(x.f_conv2d(
            &w,
            None::<&Tensor>,
            [stride, stride],
            [pad, pad],
            [1, 1],
            groups,
        )?)
    };
    if up {
        // [(fw + up - 1) // 2, (fw - up) // 2] on top of the padding, then the transposed
        // convolution's own kernel - 1 / kernel - up taken off.
        let p0 = padding + (fw + 1) / 2 - (kw - 1);
        let p1 = padding + (fw - 2) / 2 - (kw - 2);
        let pt = (-p0).min(-p1).max(0);
        let w = if groups == 1 {
            w.f_transpose(0, 1)?
        } else {
            w.f_reshape([groups, out_channels / groups, in_per_group, kh, kw])?
                .f_transpose(1, 2)?
                .f_reshape([groups * in_per_group, out_channels / groups, kh, kw])?
        };
        // `_conv2d_wrapper(..., transpose=True, flip_weight=not flip_weight)`.
        let w = if !flip_weight { w } else { w.f_flip([2, 3])? };
        let x = x.f_conv_transpose2d(
            &w,
            None::<&Tensor>,
            [2, 2],
            [pt, pt],
            [0, 0],
            groups,
            [1, 1],
        )?;
        let (a, b) = (p0 + pt, p1 + pt);
        return upfirdn2d(&x, f, 1, 1, [a, b, a, b], 4.0);
    }
    if down {
        // [(fw - down + 1) // 2, (fw - down) // 2] on top of the padding.
        let p0 = padding + (fw - 1) / 2;
        let p1 = padding + (fw - 2) / 2;
        if kw == 1 && kh == 1 {
            let x = upfirdn2d(x, f, 1, 2, [p0, p1, p0, p1], 1.0)?;
            return conv(&x, w, 1, 0);
        }
        let x = upfirdn2d(x, f, 1, 1, [p0, p1, p0, p1], 1.0)?;
        return conv(&x, w, 2, 0);
    }
    conv(x, w, 1, padding)
}

/// Upstream's `modulated_conv2d`: the weight `[O, I, k, k]` scaled per sample by `styles`
/// `[B, I]`, demodulated by `rsqrt(sum w^2 + 1e-8)` per output channel, plus `noise`.
#[allow(clippy::too_many_arguments)]
fn modulated_conv2d(
    x: &Tensor,
    weight: &Tensor,
    styles: &Tensor,
    noise: Option<&Tensor>,
    f: &Tensor,
    up: bool,
    padding: i64,
    demodulate: bool,
    flip_weight: bool,
    fused: bool,
) -> Result<Tensor> {
    let b = x.size()[0];
    let wsz = weight.size();
    let (o, i, kh, kw) = (wsz[0], wsz[1], wsz[2], wsz[3]);
    // [B, O, I, k, k]
    let w = weight
        .f_unsqueeze(0)?
        .f_mul(&styles.f_reshape([b, 1, i, 1, 1])?)?;
    let dcoefs = if demodulate {
        Some(
            w.f_square()?
                .f_sum_dim_intlist(&[2i64, 3, 4][..], false, Kind::Float)?
                .f_add_scalar(1e-8)?
                .f_rsqrt()?,
        )
    } else {
        None
    };
    if !fused {
        let mut x = x.f_mul(&styles.f_reshape([b, i, 1, 1])?)?;
        x = conv2d_resample(&x, weight, f, up, false, padding, 1, flip_weight)?;
        if let Some(d) = &dcoefs {
            x = x.f_mul(&d.f_reshape([b, o, 1, 1])?)?;
        }
        if let Some(n) = noise {
            x = x.f_add(n)?;
        }
        return Ok(x);
    }
    let w = match &dcoefs {
        Some(d) => w.f_mul(&d.f_reshape([b, o, 1, 1, 1])?)?,
        None => w,
    };
    let xs = x.size();
    let x = x.f_reshape([1, b * i, xs[2], xs[3]])?;
    let w = w.f_reshape([b * o, i, kh, kw])?;
    let x = conv2d_resample(&x, &w, f, up, false, padding, b, flip_weight)?;
    let s = x.size();
    let mut x = x.f_reshape([b, o, s[2], s[3]])?;
    if let Some(n) = noise {
        x = x.f_add(n)?;
    }
    Ok(x)
}

/// Upstream's `FullyConnectedLayer`: equalized learning rate with a multiplier.
#[derive(Debug)]
struct FullyConnected {
    weight: Tensor,
    bias: Option<Tensor>,
    weight_gain: f64,
    bias_gain: f64,
    act: Act,
}

impl FullyConnected {
    fn new(
        p: &nn::Path,
        in_features: i64,
        out_features: i64,
        act: Act,
        lr_mul: f64,
        bias_init: f64,
    ) -> Result<Self> {
        let weight = var(
            p,
            "weight",
            &[out_features, in_features],
            Init::Randn {
                mean: 0.0,
                stdev: 1.0 / lr_mul,
            },
        )?;
        let bias = Some(var(p, "bias", &[out_features], Init::Const(bias_init))?);
        Ok(FullyConnected {
            weight,
            bias,
            weight_gain: lr_mul / (in_features as f64).sqrt(),
            bias_gain: lr_mul,
            act,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.f_mul_scalar(self.weight_gain)?;
        let b = match &self.bias {
            Some(b) if self.bias_gain != 1.0 => Some(b.f_mul_scalar(self.bias_gain)?),
            Some(b) => Some(b.shallow_clone()),
            None => None,
        };
        match (self.act, &b) {
            (Act::Linear, Some(b)) => Ok(b.f_unsqueeze(0)?.f_addmm(x, &w.f_tr()?)?),
            _ => bias_act(
                &x.f_matmul(&w.f_tr()?)?,
                b.as_ref(),
                self.act,
                self.act.default_gain(),
                None,
            ),
        }
    }
}

/// Upstream's `Conv2dLayer` (the discriminator's convolutions): equalized learning rate,
/// optional 2x down-sampling with the FIR filter, bias and activation, clamping.
#[derive(Debug)]
struct Conv2dLayer {
    weight: Tensor,
    bias: Option<Tensor>,
    weight_gain: f64,
    act: Act,
    down: bool,
    padding: i64,
    conv_clamp: Option<f64>,
}

impl Conv2dLayer {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        in_channels: i64,
        out_channels: i64,
        kernel: i64,
        bias: bool,
        act: Act,
        down: bool,
        conv_clamp: Option<f64>,
    ) -> Result<Self> {
        let weight = unit_normal(p, "weight", &[out_channels, in_channels, kernel, kernel])?;
        let bias = if bias {
            Some(zeros(p, "bias", &[out_channels])?)
        } else {
            None
        };
        Ok(Conv2dLayer {
            weight,
            bias,
            weight_gain: 1.0 / ((in_channels * kernel * kernel) as f64).sqrt(),
            act,
            down,
            padding: kernel / 2,
            conv_clamp,
        })
    }

    fn forward(&self, x: &Tensor, f: &Tensor, gain: f64) -> Result<Tensor> {
        let w = self.weight.f_mul_scalar(self.weight_gain)?;
        let x = conv2d_resample(x, &w, f, false, self.down, self.padding, 1, true)?;
        bias_act(
            &x,
            self.bias.as_ref(),
            self.act,
            self.act.default_gain() * gain,
            self.conv_clamp.map(|c| c * gain),
        )
    }
}

/// The mapping network `z (, c) -> w` (upstream's `MappingNetwork`). The discriminator of a
/// class-conditional model has one too, mapping the class alone (no `z`, no `w_avg`).
#[derive(Debug)]
pub struct MappingNetwork {
    z_dim: i64,
    c_dim: i64,
    w_dim: i64,
    embed: Option<FullyConnected>,
    layers: Vec<FullyConnected>,
    w_avg: Option<Tensor>,
    w_avg_beta: f64,
}

impl MappingNetwork {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        z_dim: i64,
        c_dim: i64,
        w_dim: i64,
        num_layers: i64,
        lr_mul: f64,
        w_avg_beta: Option<f64>,
    ) -> Result<Self> {
        let embed_features = if c_dim > 0 { w_dim } else { 0 };
        let embed = if c_dim > 0 {
            Some(FullyConnected::new(
                &(p / "embed"),
                c_dim,
                embed_features,
                Act::Linear,
                1.0,
                0.0,
            )?)
        } else {
            None
        };
        let mut layers = Vec::new();
        for idx in 0..num_layers {
            let in_f = if idx == 0 {
                z_dim + embed_features
            } else {
                w_dim
            };
            layers.push(FullyConnected::new(
                &(p / format!("fc{idx}")),
                in_f,
                w_dim,
                Act::Lrelu,
                lr_mul,
                0.0,
            )?);
        }
        let w_avg = match w_avg_beta {
            Some(_) => Some(zeros_no_train(p, "w_avg", &[w_dim])?),
            None => None,
        };
        Ok(MappingNetwork {
            z_dim,
            c_dim,
            w_dim,
            embed,
            layers,
            w_avg,
            w_avg_beta: w_avg_beta.unwrap_or(0.0),
        })
    }

    /// `w` `[B, w_dim]` for latents `z` `[B, z_dim]` and labels `y` `[B]` (class indices).
    /// With `update_w_avg`, `w_avg` moves towards the batch mean of `w` (training).
    pub fn forward(
        &self,
        z: Option<&Tensor>,
        y: Option<&Tensor>,
        update_w_avg: bool,
    ) -> Result<Tensor> {
        let mut x = None;
        if self.z_dim > 0 {
            let z = z.ok_or(Error::Shape {
                what: "StyleGAN2 mapping input",
                expected: format!("latents [B, {}]", self.z_dim),
                got: vec![],
            })?;
            let size = z.size();
            if size.len() != 2 || size[1] != self.z_dim {
                return Err(Error::Shape {
                    what: "StyleGAN2 mapping input",
                    expected: format!("[B, {}]", self.z_dim),
                    got: size,
                });
            }
            x = Some(normalize_2nd_moment(&z.f_to_kind(Kind::Float)?)?);
        }
        if let Some(embed) = &self.embed {
            let y = y.ok_or(Error::MissingLabels("the StyleGAN2 mapping network"))?;
            let onehot = y.f_one_hot(self.c_dim)?.f_to_kind(Kind::Float)?;
            let e = normalize_2nd_moment(&embed.forward(&onehot)?)?;
            x = Some(match x {
                Some(x) => Tensor::f_cat(&[x, e], 1)?,
                None => e,
            });
        }
        let mut x = x.ok_or(Error::Shape {
            what: "StyleGAN2 mapping input",
            expected: "latents or labels".into(),
            got: vec![],
        })?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        if update_w_avg {
            if let Some(w_avg) = &self.w_avg {
                tch::no_grad(|| -> Result<()> {
                    let mean = x.f_detach()?.f_mean_dim(&[0i64][..], false, Kind::Float)?;
                    let new = mean.f_lerp(w_avg, self.w_avg_beta)?;
                    w_avg.shallow_clone().f_copy_(&new)?;
                    Ok(())
                })?;
            }
        }
        Ok(x)
    }

    /// The tracked average of `w` (generators only).
    pub fn w_avg(&self) -> Option<&Tensor> {
        self.w_avg.as_ref()
    }

    /// Size of `w`.
    pub fn w_dim(&self) -> i64 {
        self.w_dim
    }
}

/// Where the synthesis layers' per-pixel noise comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoiseMode {
    /// Fresh `N(0, 1)` noise from torch's generator (training, and sampling by default).
    #[default]
    Random,
    /// Each layer's fixed `noise_const` buffer (upstream's snapshot grids).
    Const,
    /// No noise.
    None,
}

/// Upstream's `SynthesisLayer`: a modulated 3x3 convolution (up-sampling 2x in a block's
/// first layer), noise, bias, leaky ReLU.
#[derive(Debug)]
struct SynthesisLayer {
    affine: FullyConnected,
    weight: Tensor,
    noise_strength: Tensor,
    noise_const: Tensor,
    bias: Tensor,
    up: bool,
    resolution: i64,
    conv_clamp: Option<f64>,
}

impl SynthesisLayer {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        in_channels: i64,
        out_channels: i64,
        w_dim: i64,
        resolution: i64,
        up: bool,
        conv_clamp: Option<f64>,
    ) -> Result<Self> {
        let affine =
            FullyConnected::new(&(p / "affine"), w_dim, in_channels, Act::Linear, 1.0, 1.0)?;
        let weight = unit_normal(p, "weight", &[out_channels, in_channels, 3, 3])?;
        let noise_const = zeros_no_train(p, "noise_const", &[resolution, resolution])?;
        let _ = tch::no_grad(|| noise_const.shallow_clone().f_normal_(0.0, 1.0))?;
        let noise_strength = zeros(p, "noise_strength", &[])?;
        let bias = zeros(p, "bias", &[out_channels])?;
        Ok(SynthesisLayer {
            affine,
            weight,
            noise_strength,
            noise_const,
            bias,
            up,
            resolution,
            conv_clamp,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        w: &Tensor,
        f: &Tensor,
        noise: NoiseMode,
        fused: bool,
    ) -> Result<Tensor> {
        let styles = self.affine.forward(w)?;
        let b = x.size()[0];
        let noise = match noise {
            NoiseMode::Random => Some(
                Tensor::f_randn(
                    [b, 1, self.resolution, self.resolution],
                    (Kind::Float, x.device()),
                )?
                .f_mul(&self.noise_strength)?,
            ),
            NoiseMode::Const => Some(self.noise_const.f_mul(&self.noise_strength)?),
            NoiseMode::None => None,
        };
        let x = modulated_conv2d(
            x,
            &self.weight,
            &styles,
            noise.as_ref(),
            f,
            self.up,
            1,
            true,
            !self.up,
            fused,
        )?;
        bias_act(&x, Some(&self.bias), Act::Lrelu, SQRT2, self.conv_clamp)
    }
}

/// Upstream's `ToRGBLayer`: a modulated 1x1 convolution without demodulation.
#[derive(Debug)]
struct ToRgb {
    affine: FullyConnected,
    weight: Tensor,
    bias: Tensor,
    weight_gain: f64,
    conv_clamp: Option<f64>,
}

impl ToRgb {
    fn new(
        p: &nn::Path,
        in_channels: i64,
        out_channels: i64,
        w_dim: i64,
        conv_clamp: Option<f64>,
    ) -> Result<Self> {
        let affine =
            FullyConnected::new(&(p / "affine"), w_dim, in_channels, Act::Linear, 1.0, 1.0)?;
        let weight = unit_normal(p, "weight", &[out_channels, in_channels, 1, 1])?;
        let bias = zeros(p, "bias", &[out_channels])?;
        Ok(ToRgb {
            affine,
            weight,
            bias,
            weight_gain: 1.0 / (in_channels as f64).sqrt(),
            conv_clamp,
        })
    }

    fn forward(&self, x: &Tensor, w: &Tensor, f: &Tensor, fused: bool) -> Result<Tensor> {
        let styles = self.affine.forward(w)?.f_mul_scalar(self.weight_gain)?;
        let x = modulated_conv2d(
            x,
            &self.weight,
            &styles,
            None,
            f,
            false,
            0,
            false,
            true,
            fused,
        )?;
        bias_act(&x, Some(&self.bias), Act::Linear, 1.0, self.conv_clamp)
    }
}

/// Upstream's `SynthesisBlock` (`skip` architecture) at one resolution.
#[derive(Debug)]
struct SynthesisBlock {
    constant: Option<Tensor>,
    conv0: Option<SynthesisLayer>,
    conv1: SynthesisLayer,
    torgb: ToRgb,
}

impl SynthesisBlock {
    /// `w`s it reads: its convolutions' and its ToRGB's (which is the next block's first).
    fn num_conv(&self) -> i64 {
        if self.conv0.is_some() {
            2
        } else {
            1
        }
    }
}

/// The synthesis network `ws -> image` (upstream's `SynthesisNetwork`, `skip` generator).
#[derive(Debug)]
pub struct SynthesisNetwork {
    blocks: Vec<SynthesisBlock>,
    num_ws: i64,
    w_dim: i64,
    filter: Tensor,
}

impl SynthesisNetwork {
    fn new(
        p: &nn::Path,
        w_dim: i64,
        resolution: i64,
        img_channels: i64,
        channel_base: i64,
        channel_max: i64,
        conv_clamp: Option<f64>,
    ) -> Result<Self> {
        let log2 = resolution.trailing_zeros() as i64;
        let channels = |res: i64| (channel_base / res).clamp(1, channel_max);
        let mut blocks = Vec::new();
        let mut num_ws = 0;
        for k in 2..=log2 {
            let res = 1i64 << k;
            let out = channels(res);
            let bp = p / format!("b{res}");
            let (constant, conv0) = if res == 4 {
                let c = unit_normal(&bp, "const", &[out, res, res])?;
                (Some(c), None)
            } else {
                let conv0 = SynthesisLayer::new(
                    &(&bp / "conv0"),
                    channels(res / 2),
                    out,
                    w_dim,
                    res,
                    true,
                    conv_clamp,
                )?;
                (None, Some(conv0))
            };
            let conv1 =
                SynthesisLayer::new(&(&bp / "conv1"), out, out, w_dim, res, false, conv_clamp)?;
            let torgb = ToRgb::new(&(&bp / "torgb"), out, img_channels, w_dim, conv_clamp)?;
            let block = SynthesisBlock {
                constant,
                conv0,
                conv1,
                torgb,
            };
            num_ws += block.num_conv();
            blocks.push(block);
        }
        // The last block's ToRGB reads one more.
        num_ws += 1;
        Ok(SynthesisNetwork {
            blocks,
            num_ws,
            w_dim,
            filter: fir_filter(p.device()),
        })
    }

    /// How many `w` vectors an image takes (`[B, num_ws, w_dim]`).
    pub fn num_ws(&self) -> i64 {
        self.num_ws
    }

    /// Images `[B, C, R, R]` for `ws` `[B, num_ws, w_dim]`.
    pub fn forward(&self, ws: &Tensor, noise: NoiseMode, fused: bool) -> Result<Tensor> {
        let size = ws.size();
        if size.len() != 3 || size[1] != self.num_ws || size[2] != self.w_dim {
            return Err(Error::Shape {
                what: "StyleGAN2 synthesis input",
                expected: format!("[B, {}, {}]", self.num_ws, self.w_dim),
                got: size,
            });
        }
        let b = size[0];
        let f = &self.filter;
        let mut x: Option<Tensor> = None;
        let mut img: Option<Tensor> = None;
        let mut w_idx = 0;
        for block in &self.blocks {
            let w_at = |i: i64| ws.f_select(1, w_idx + i);
            let h = match (&block.constant, &block.conv0, &x) {
                (Some(c), _, _) => {
                    let s = c.size();
                    let x0 = c.f_unsqueeze(0)?.f_expand([b, s[0], s[1], s[2]], false)?;
                    block.conv1.forward(&x0, &w_at(0)?, f, noise, fused)?
                }
                (None, Some(conv0), Some(prev)) => {
                    let h = conv0.forward(prev, &w_at(0)?, f, noise, fused)?;
                    block.conv1.forward(&h, &w_at(1)?, f, noise, fused)?
                }
                _ => unreachable!("the first block has the constant, later ones conv0"),
            };
            let n = block.num_conv();
            let y = block.torgb.forward(&h, &w_at(n)?, f, fused)?;
            img = Some(match img {
                Some(prev) => upsample2d(&prev, f)?.f_add(&y)?,
                None => y,
            });
            x = Some(h);
            w_idx += n;
        }
        Ok(img.expect("at least the 4x4 block"))
    }
}

/// The StyleGAN2 generator: [`MappingNetwork`] then [`SynthesisNetwork`].
#[derive(Debug)]
pub struct StyleGan2Generator {
    mapping: MappingNetwork,
    synthesis: SynthesisNetwork,
    z_dim: i64,
    c_dim: i64,
}

/// The image size StyleGAN2 networks are built for: square, a power of two from 4.
fn square_power_of_two(data: &DataSpec, what: &'static str) -> Result<(i64, i64)> {
    match data.shape[..] {
        [c, h, w] if h == w && h >= 4 && (h & (h - 1)) == 0 && c > 0 => Ok((c, h)),
        _ => Err(Error::Shape {
            what,
            expected: "square images [C, R, R] with R a power of two >= 4 (pad or resize the \
                       data: e.g. Fashion-MNIST with pad = 2 is 32x32)"
                .into(),
            got: data.shape.clone(),
        }),
    }
}

impl StyleGan2Generator {
    /// Builds the generator under `p` for `data` (square images, a power-of-two size).
    pub fn new(p: &nn::Path, cfg: &StyleGan2GeneratorConfig, data: &DataSpec) -> Result<Self> {
        let (channels, resolution) = square_power_of_two(data, "StyleGAN2 generator output")?;
        let c_dim = match cfg.conditioning {
            GConditioning::None => 0,
            GConditioning::Mapping => data.n_classes,
            GConditioning::BatchNorm => {
                return Err(config_err(
                    "generator.conditioning",
                    "StyleGAN2 takes the class through its mapping network: use \
                     conditioning = \"mapping\" (or \"none\")",
                ))
            }
        };
        let clamp = (cfg.conv_clamp > 0.0).then_some(cfg.conv_clamp);
        let synthesis = SynthesisNetwork::new(
            &(p / "synthesis"),
            cfg.w_dim,
            resolution,
            channels,
            cfg.channel_base,
            cfg.channel_max,
            clamp,
        )?;
        let mapping = MappingNetwork::new(
            &(p / "mapping"),
            cfg.latent_dim,
            c_dim,
            cfg.w_dim,
            cfg.mapping_layers,
            cfg.mapping_lr_mul,
            Some(cfg.w_avg_beta),
        )?;
        Ok(StyleGan2Generator {
            mapping,
            synthesis,
            z_dim: cfg.latent_dim,
            c_dim,
        })
    }

    /// Size of `z`.
    pub fn latent_dim(&self) -> i64 {
        self.z_dim
    }

    /// Whether it needs class labels.
    pub fn conditional(&self) -> bool {
        self.c_dim > 0
    }

    /// How many `w` vectors an image takes.
    pub fn num_ws(&self) -> i64 {
        self.synthesis.num_ws()
    }

    /// The mapping network.
    pub fn mapping(&self) -> &MappingNetwork {
        &self.mapping
    }

    /// The synthesis network.
    pub fn synthesis(&self) -> &SynthesisNetwork {
        &self.synthesis
    }

    /// `ws` `[B, num_ws, w_dim]`: `w` broadcast to every layer, pulled towards `w_avg` by the
    /// truncation `psi` (1 = none) for all layers. `update_w_avg` in training.
    pub fn ws(
        &self,
        z: &Tensor,
        y: Option<&Tensor>,
        psi: f64,
        update_w_avg: bool,
    ) -> Result<Tensor> {
        let w = self.mapping.forward(Some(z), y, update_w_avg)?;
        let mut ws = w.f_unsqueeze(1)?.f_repeat([1, self.num_ws(), 1])?;
        if psi != 1.0 {
            let avg = self.mapping.w_avg().expect("generators track w_avg");
            ws = avg.f_lerp(&ws, psi)?;
        }
        Ok(ws)
    }

    /// Images for `ws`: non-fused modulation in training, fused otherwise.
    pub fn synthesize(&self, ws: &Tensor, noise: NoiseMode, train: bool) -> Result<Tensor> {
        self.synthesis.forward(ws, noise, !train)
    }

    /// Images for latents `z` and labels `y` (random noise; `train` also updates `w_avg`).
    pub fn forward_t(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let ws = self.ws(z, y, 1.0, train)?;
        self.synthesize(&ws, NoiseMode::Random, train)
    }
}

/// Upstream's `DiscriminatorBlock` (`resnet`).
#[derive(Debug)]
struct DiscriminatorBlock {
    fromrgb: Option<Conv2dLayer>,
    conv0: Conv2dLayer,
    conv1: Conv2dLayer,
    skip: Conv2dLayer,
}

/// The StyleGAN2 discriminator (upstream's `Discriminator`, `resnet` architecture).
#[derive(Debug)]
pub struct StyleGan2Discriminator {
    blocks: Vec<(i64, DiscriminatorBlock)>,
    mapping: Option<MappingNetwork>,
    mbstd_group: i64,
    mbstd_channels: i64,
    conv: Conv2dLayer,
    fc: FullyConnected,
    out: FullyConnected,
    cmap_dim: i64,
    c_dim: i64,
    resolution: i64,
    channels: i64,
    filter: Tensor,
}

impl StyleGan2Discriminator {
    /// Builds the discriminator under `p` for `data` (square images, a power-of-two size).
    pub fn new(p: &nn::Path, cfg: &StyleGan2DiscriminatorConfig, data: &DataSpec) -> Result<Self> {
        let (img_channels, resolution) =
            square_power_of_two(data, "StyleGAN2 discriminator input")?;
        let c_dim = match cfg.conditioning {
            DConditioning::None => 0,
            DConditioning::Projection => data.n_classes,
            DConditioning::AuxiliaryClassifier => {
                return Err(config_err(
                    "discriminator.conditioning",
                    "StyleGAN2's discriminator conditions by projection onto a mapped class \
                     embedding: use conditioning = \"projection\" (or \"none\")",
                ))
            }
        };
        let clamp = (cfg.conv_clamp > 0.0).then_some(cfg.conv_clamp);
        let channels = |res: i64| (cfg.channel_base / res).clamp(1, cfg.channel_max);
        let log2 = resolution.trailing_zeros() as i64;
        let mut blocks = Vec::new();
        for k in (3..=log2).rev() {
            let res = 1i64 << k;
            let tmp = channels(res);
            let out = channels(res / 2);
            let bp = p / format!("b{res}");
            let fromrgb = if res == resolution {
                Some(Conv2dLayer::new(
                    &(&bp / "fromrgb"),
                    img_channels,
                    tmp,
                    1,
                    true,
                    Act::Lrelu,
                    false,
                    clamp,
                )?)
            } else {
                None
            };
            let conv0 = Conv2dLayer::new(
                &(&bp / "conv0"),
                tmp,
                tmp,
                3,
                true,
                Act::Lrelu,
                false,
                clamp,
            )?;
            let conv1 =
                Conv2dLayer::new(&(&bp / "conv1"), tmp, out, 3, true, Act::Lrelu, true, clamp)?;
            let skip =
                Conv2dLayer::new(&(&bp / "skip"), tmp, out, 1, false, Act::Linear, true, None)?;
            blocks.push((
                res,
                DiscriminatorBlock {
                    fromrgb,
                    conv0,
                    conv1,
                    skip,
                },
            ));
        }
        let c4 = channels(4);
        let cmap_dim = if c_dim > 0 { c4 } else { 0 };
        let mapping = if c_dim > 0 {
            Some(MappingNetwork::new(
                &(p / "mapping"),
                0,
                c_dim,
                cmap_dim,
                cfg.mapping_layers,
                cfg.mapping_lr_mul,
                None,
            )?)
        } else {
            None
        };
        let e = p / "b4";
        let conv = Conv2dLayer::new(
            &(&e / "conv"),
            c4 + cfg.mbstd_channels,
            c4,
            3,
            true,
            Act::Lrelu,
            false,
            clamp,
        )?;
        let fc = FullyConnected::new(&(&e / "fc"), c4 * 16, c4, Act::Lrelu, 1.0, 0.0)?;
        let out = FullyConnected::new(&(&e / "out"), c4, cmap_dim.max(1), Act::Linear, 1.0, 0.0)?;
        Ok(StyleGan2Discriminator {
            blocks,
            mapping,
            mbstd_group: cfg.mbstd_group,
            mbstd_channels: cfg.mbstd_channels,
            conv,
            fc,
            out,
            cmap_dim,
            c_dim,
            resolution,
            channels: img_channels,
            filter: fir_filter(p.device()),
        })
    }

    /// Whether it needs class labels.
    pub fn conditional(&self) -> bool {
        self.c_dim > 0
    }

    /// The var-store prefixes of its blocks from the input (`b32`, `b16`, ...) then the
    /// epilogue (`b4`): what FreezeD freezes the first of.
    pub fn block_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.blocks.iter().map(|(r, _)| format!("b{r}")).collect();
        v.push("b4".into());
        v
    }

    /// The minibatch standard-deviation group: batches must divide by `min(group, batch)`.
    pub fn mbstd_group(&self) -> i64 {
        self.mbstd_group
    }

    fn minibatch_std(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.size();
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let g = self.mbstd_group.min(n);
        let f = self.mbstd_channels;
        if n % g != 0 {
            return Err(Error::Shape {
                what: "StyleGAN2 discriminator batch",
                expected: format!(
                    "a batch size divisible by the minibatch-std group {g} (discriminator.mbstd_group)"
                ),
                got: s,
            });
        }
        let y = x.f_reshape([g, -1, f, c / f, h, w])?;
        let y = y.f_sub(&y.f_mean_dim(&[0i64][..], false, Kind::Float)?)?;
        let y = y
            .f_square()?
            .f_mean_dim(&[0i64][..], false, Kind::Float)?
            .f_add_scalar(1e-8)?
            .f_sqrt()?
            .f_mean_dim(&[2i64, 3, 4][..], false, Kind::Float)?
            .f_reshape([-1, f, 1, 1])?
            .f_repeat([g, 1, h, w])?;
        Ok(Tensor::f_cat(&[x.shallow_clone(), y], 1)?)
    }

    /// Logits `[B]` for images `[B, C, R, R]` (and labels `[B]` if conditional).
    pub fn forward(&self, img: &Tensor, y: Option<&Tensor>) -> Result<Tensor> {
        let s = img.size();
        if s.len() != 4
            || s[1] != self.channels
            || s[2] != self.resolution
            || s[3] != self.resolution
        {
            return Err(Error::Shape {
                what: "StyleGAN2 discriminator input",
                expected: format!("[B, {}, {r}, {r}]", self.channels, r = self.resolution),
                got: s,
            });
        }
        let f = &self.filter;
        let half = 0.5f64.sqrt();
        let mut x = img.shallow_clone();
        for (_, block) in &self.blocks {
            if let Some(rgb) = &block.fromrgb {
                x = rgb.forward(&x, f, 1.0)?;
            }
            let skip = block.skip.forward(&x, f, half)?;
            let h = block.conv0.forward(&x, f, 1.0)?;
            let h = block.conv1.forward(&h, f, half)?;
            x = skip.f_add(&h)?;
        }
        if self.mbstd_channels > 0 {
            x = self.minibatch_std(&x)?;
        }
        x = self.conv.forward(&x, f, 1.0)?;
        x = self.fc.forward(&x.f_flatten(1, -1)?)?;
        x = self.out.forward(&x)?;
        if let Some(mapping) = &self.mapping {
            let y = y.ok_or(Error::MissingLabels("the StyleGAN2 discriminator"))?;
            let cmap = mapping.forward(None, Some(y), false)?;
            x = x
                .f_mul(&cmap)?
                .f_sum_dim_intlist(&[1i64][..], true, Kind::Float)?
                .f_mul_scalar(1.0 / (self.cmap_dim as f64).sqrt())?;
        }
        Ok(x.f_reshape([-1])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};

    fn small_g() -> StyleGan2GeneratorConfig {
        StyleGan2GeneratorConfig {
            latent_dim: 16,
            w_dim: 16,
            mapping_layers: 2,
            channel_base: 128,
            channel_max: 16,
            ..Default::default()
        }
    }

    fn small_d() -> StyleGan2DiscriminatorConfig {
        StyleGan2DiscriminatorConfig {
            channel_base: 128,
            channel_max: 16,
            mbstd_group: 4,
            mapping_layers: 2,
            ..Default::default()
        }
    }

    fn randn(shape: &[i64]) -> Tensor {
        Tensor::randn(shape, (Kind::Float, Device::Cpu))
    }

    #[test]
    fn shapes_and_the_number_of_ws() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let data = DataSpec::images(1, 32, 32, 0);
        let g = StyleGan2Generator::new(&vs.root(), &small_g(), &data).unwrap();
        // 4: conv1; 8, 16, 32: conv0 + conv1; + the last ToRGB.
        assert_eq!(g.num_ws(), 1 + 2 * 3 + 1);
        let x = g.forward_t(&randn(&[4, 16]), None, true).unwrap();
        assert_eq!(x.size(), vec![4, 1, 32, 32]);
        let d = StyleGan2Discriminator::new(&vs.root(), &small_d(), &data).unwrap();
        assert_eq!(d.forward(&x, None).unwrap().size(), vec![4]);
        assert_eq!(d.block_names(), vec!["b32", "b16", "b8", "b4"]);
        // A batch the minibatch-std group does not divide is an error, not a panic.
        let err = d.forward(&randn(&[6, 1, 32, 32]), None).unwrap_err();
        assert!(err.to_string().contains("mbstd_group"), "{err}");
        // A size that is not a power of two is refused with the fix.
        let err = StyleGan2Generator::new(&vs.root(), &small_g(), &DataSpec::images(1, 28, 28, 0))
            .unwrap_err();
        assert!(err.to_string().contains("pad = 2"), "{err}");
    }

    #[test]
    fn fused_and_non_fused_modulation_agree_and_truncation_pulls_to_w_avg() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let g = StyleGan2Generator::new(&vs.root(), &small_g(), &DataSpec::images(3, 16, 16, 0))
            .unwrap();
        // Non-zero noise strengths and biases so every term counts.
        tch::no_grad(|| {
            for (name, mut v) in vs.variables() {
                if name.ends_with("noise_strength") || name.ends_with(".bias") {
                    let _ = v.normal_(0.0, 0.5);
                }
            }
        });
        let z = randn(&[3, 16]);
        let ws = g.ws(&z, None, 1.0, false).unwrap();
        let a = g.synthesize(&ws, NoiseMode::Const, false).unwrap();
        let b = g.synthesize(&ws, NoiseMode::Const, true).unwrap();
        let diff = (&a - &b).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "fused vs non-fused: {diff}");
        assert!(a.abs().max().double_value(&[]) > 1e-3);
        // Training mode moves w_avg (from zero) towards the batch mean; eval leaves it.
        let before = g.mapping().w_avg().unwrap().copy();
        let _ = g.ws(&z, None, 1.0, false).unwrap();
        assert_eq!(g.mapping().w_avg().unwrap(), &before);
        let w = g.mapping().forward(Some(&z), None, true).unwrap();
        let expected = w.mean_dim(&[0i64][..], false, Kind::Float) * 0.005;
        let got = g.mapping().w_avg().unwrap();
        assert!((got - expected).abs().max().double_value(&[]) < 1e-6);
        // psi = 0 gives w_avg in every layer; psi = 0.5 is half way.
        let t0 = g.ws(&z, None, 0.0, false).unwrap();
        let avg = g.mapping().w_avg().unwrap().reshape([1, 1, -1]);
        assert!((&t0 - &avg).abs().max().double_value(&[]) < 1e-6);
        let t5 = g.ws(&z, None, 0.5, false).unwrap();
        let mid = (&ws + &avg) * 0.5;
        assert!((t5 - mid).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn double_backward_works_for_r1_and_path_length() {
        // R1 needs d|grad_x D(x)|^2 / d theta_D, the path-length penalty d|J_w^T y|^2 / d theta_G:
        // both differentiate through a gradient (create_graph), here through the FIR
        // resampling, transposed and grouped convolutions, the clamp and the leaky ReLU.
        tch::manual_seed(2);
        let vs = nn::VarStore::new(Device::Cpu);
        let data = DataSpec::images(3, 16, 16, 3);
        let mut gc = small_g();
        gc.conditioning = GConditioning::Mapping;
        let mut dc = small_d();
        dc.conditioning = DConditioning::Projection;
        let g = StyleGan2Generator::new(&(vs.root() / "g"), &gc, &data).unwrap();
        let d = StyleGan2Discriminator::new(&(vs.root() / "d"), &dc, &data).unwrap();
        let y = Tensor::from_slice(&[0i64, 1, 2, 1]);
        let x = randn(&[4, 3, 16, 16]).set_requires_grad(true);
        let logits = d.forward(&x, Some(&y)).unwrap();
        let grad = Tensor::run_backward(&[logits.sum(Kind::Float)], &[&x], true, true);
        let r1 = grad[0].square().sum(Kind::Float);
        let params: Vec<Tensor> = vs
            .variables()
            .into_iter()
            .filter(|(n, _)| n.starts_with("d.b16.conv0"))
            .map(|(_, t)| t)
            .collect();
        let refs: Vec<&Tensor> = params.iter().collect();
        let g2 = Tensor::run_backward(&[r1], &refs, false, false);
        assert!(g2
            .iter()
            .any(|t| t.abs().sum(Kind::Float).double_value(&[]) > 0.0));
        for fused in [false, true] {
            let z = randn(&[4, 16]);
            let ws = g
                .ws(&z, Some(&y), 1.0, false)
                .unwrap()
                .detach()
                .set_requires_grad(true);
            let img = g
                .synthesis()
                .forward(&ws, NoiseMode::Random, fused)
                .unwrap();
            let noise = randn(&img.size()) / 16.0;
            let grad =
                Tensor::run_backward(&[(&img * &noise).sum(Kind::Float)], &[&ws], true, true);
            let pl = grad[0]
                .square()
                .sum_dim_intlist(&[2i64][..], false, Kind::Float)
                .mean(Kind::Float);
            let w = vs.variables()["g.synthesis.b16.conv0.weight"].shallow_clone();
            let g2 = Tensor::run_backward(&[pl], &[&w], false, false);
            assert!(
                g2[0].abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "fused {fused}"
            );
        }
    }

    fn trainable(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    #[test]
    fn upstream_sized_networks_have_upstream_parameter_counts() {
        // stylegan2-ada-pytorch's Generator / Discriminator (counted from its modules by
        // scripts/stylegan2_fixtures.py): the `cifar` widths at 32x32 (2 mapping layers,
        // channel_base 32768) and `paper256` (8 mapping layers, channel_base 16384).
        for (res, layers, base, g_count, d_count) in [
            (32, 2, 32768, 19_947_539, 21_507_073),
            (256, 8, 16384, 24_767_458, 24_001_089),
        ] {
            let data = DataSpec::images(3, res, res, 0);
            let g_cfg = StyleGan2GeneratorConfig {
                mapping_layers: layers,
                channel_base: base,
                ..Default::default()
            };
            let d_cfg = StyleGan2DiscriminatorConfig {
                channel_base: base,
                ..Default::default()
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let _g = StyleGan2Generator::new(&vs.root(), &g_cfg, &data).unwrap();
            assert_eq!(trainable(&vs), g_count, "G at {res}");
            let vs = nn::VarStore::new(Device::Cpu);
            let _d = StyleGan2Discriminator::new(&vs.root(), &d_cfg, &data).unwrap();
            assert_eq!(trainable(&vs), d_count, "D at {res}");
        }
    }

    #[test]
    fn the_enums_build_it_and_refuse_other_conditioning() {
        let vs = nn::VarStore::new(Device::Cpu);
        let data = DataSpec::images(1, 16, 16, 10);
        let g_cfg: GeneratorConfig = toml::from_str(
            "arch = 'stylegan2'\nlatent_dim = 8\nw_dim = 8\nchannel_base = 64\nchannel_max = 8\nconditioning = 'mapping'",
        )
        .unwrap();
        let d_cfg: DiscriminatorConfig = toml::from_str(
            "arch = 'stylegan2'\nchannel_base = 64\nchannel_max = 8\nconditioning = 'projection'",
        )
        .unwrap();
        let g = Generator::new(&vs.root(), &g_cfg, &data).unwrap();
        let d = Discriminator::new(&vs.root(), &d_cfg, &data).unwrap();
        assert!(g.conditional() && d.conditional() && !d.batch_independent());
        let y = Tensor::from_slice(&[3i64, 7, 1, 0]);
        let x = g.forward_t(&randn(&[4, 8]), Some(&y), false).unwrap();
        assert_eq!(d.forward_t(&x, Some(&y), true).unwrap().size(), vec![4]);
        let bad: GeneratorConfig =
            toml::from_str("arch = 'stylegan2'\nconditioning = 'batch-norm'").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("generator.conditioning"));
        let bad: GeneratorConfig =
            toml::from_str("arch = 'dcgan'\nconditioning = 'mapping'").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("stylegan2"));
        let bad: DiscriminatorConfig =
            toml::from_str("arch = 'stylegan2'\nmbstd_channels = 3").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mbstd_channels"));
        assert!(toml::from_str::<GeneratorConfig>("arch = 'stylegan2'\nwidth = 3").is_err());
    }
}

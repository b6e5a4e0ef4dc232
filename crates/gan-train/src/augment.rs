//! Differentiable augmentation of every image the discriminator sees (`[augment]`): an
//! engine feature that the image families (`gan`, `stylegan2`) apply to real and generated
//! batches alike, in the discriminator's and the generator's phases, so the generator is
//! trained through the augmentation.
//!
//! * DiffAugment (Zhao et al. 2020, `DiffAugment_pytorch.py`), policies `color`
//!   (brightness + U(-0.5, 0.5); saturation: the deviation from the channel mean scaled by
//!   U(0, 2); contrast: the deviation from the image mean scaled by U(0.5, 1.5)),
//!   `translation` (an integer shift of up to 1/8 of each side, zero padding) and `cutout`
//!   (a square of half the size set to zero), each drawn per image.
//! * ADA (Karras et al. 2020, "Training GANs with Limited Data", `training/augment.py`):
//!   each transformation applied to each image with probability `p`, which follows the
//!   overfitting heuristic `r_t = E[sign(D(real))]`: every `interval` steps `p` moves by
//!   `sign(r_t - target) * batch * interval / (kimg * 1000)` (so from 0 to 1 in `kimg`
//!   thousand images), never below 0. Groups: `blit` (x-flip, 90-degree rotations, integer
//!   translation of up to 1/8 with reflection padding), `color` (brightness, contrast, luma
//!   flip, hue rotation, saturation, as one colour matrix per image) and `cutout`.
//!
//! Every random number comes from torch's generator, which the engine re-seeds every step,
//! and ADA's `p` and its running sign statistics are checkpoint tensors: resume is exact.
//!
//! Everything here is made of indexing, arithmetic and small matrix products, which have
//! second derivatives, so it runs under R1 and the path-length penalty (which differentiate
//! through a gradient). ADA's general geometric group (arbitrary rotation and scaling) needs
//! `grid_sample`, which libtorch cannot differentiate twice, so it is not offered.
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{config_err, Result};

/// What the tensor code returns (only libtorch can fail there).
type TResult<T> = std::result::Result<T, tch::TchError>;

/// A DiffAugment policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffPolicy {
    /// Brightness, saturation, contrast.
    Color,
    /// Integer translation by up to 1/8 of the size, zero padding.
    Translation,
    /// A square of half the size removed.
    Cutout,
}

/// An ADA transformation group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdaGroup {
    /// x-flip, 90-degree rotations, integer translation.
    Blit,
    /// Brightness, contrast, luma flip, hue rotation, saturation.
    Color,
    /// Cutout (a square of half the size).
    Cutout,
}

/// `[augment]`: what the discriminator's inputs go through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AugmentConfig {
    /// No augmentation.
    #[default]
    None,
    /// DiffAugment with the given policies, in order.
    #[serde(rename = "diffaugment")]
    DiffAugment {
        /// Policies (default: all three, as the paper's best).
        #[serde(default = "default_policy")]
        policy: Vec<DiffPolicy>,
    },
    /// Adaptive discriminator augmentation.
    Ada {
        /// Groups applied with probability p (default: blit, color, cutout).
        #[serde(default = "default_groups")]
        groups: Vec<AdaGroup>,
        /// Target of `r_t = E[sign(D(real))]` (0.6).
        #[serde(default = "default_target")]
        target: f64,
        /// Adjust p every this many steps (4).
        #[serde(default = "default_interval")]
        interval: u64,
        /// p can go from 0 to 1 in this many thousand real images (500).
        #[serde(default = "default_kimg")]
        kimg: f64,
        /// The starting p (0).
        #[serde(default)]
        p: f64,
    },
}

fn default_policy() -> Vec<DiffPolicy> {
    vec![
        DiffPolicy::Color,
        DiffPolicy::Translation,
        DiffPolicy::Cutout,
    ]
}

fn default_groups() -> Vec<AdaGroup> {
    vec![AdaGroup::Blit, AdaGroup::Color, AdaGroup::Cutout]
}

fn default_target() -> f64 {
    0.6
}

fn default_interval() -> u64 {
    4
}

fn default_kimg() -> f64 {
    500.0
}

impl AugmentConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match self {
            AugmentConfig::None => Ok(()),
            AugmentConfig::DiffAugment { policy } => {
                if policy.is_empty() {
                    return Err(config_err(
                        "augment.policy",
                        "is empty; list some of \"color\", \"translation\", \"cutout\" or set \
                         kind = \"none\"",
                    ));
                }
                Ok(())
            }
            AugmentConfig::Ada {
                groups,
                target,
                interval,
                kimg,
                p,
            } => {
                if groups.is_empty() {
                    return Err(config_err(
                        "augment.groups",
                        "is empty; list some of \"blit\", \"color\", \"cutout\"",
                    ));
                }
                if !(0.0..=1.0).contains(target) {
                    return Err(config_err(
                        "augment.target",
                        format!("{target} is not in [0, 1]"),
                    ));
                }
                if !(1..=1_000_000).contains(interval) {
                    return Err(config_err(
                        "augment.interval",
                        format!("{interval} is not in 1..=1000000"),
                    ));
                }
                if !(kimg.is_finite() && *kimg > 0.0) {
                    return Err(config_err(
                        "augment.kimg",
                        format!("{kimg} must be a positive number"),
                    ));
                }
                if !(0.0..=1.0).contains(p) {
                    return Err(config_err("augment.p", format!("{p} is not in [0, 1]")));
                }
                Ok(())
            }
        }
    }

    /// Whether anything is augmented.
    pub fn is_on(&self) -> bool {
        *self != AugmentConfig::None
    }
}

/// The augmentation of one run, with ADA's state.
#[derive(Debug)]
pub(crate) struct Augment {
    config: AugmentConfig,
    batch: i64,
    /// ADA: the probability (0-d, on the device); the sum and count of `sign(D(real))`
    /// since the last adjustment.
    p: Tensor,
    sign_sum: Tensor,
    sign_count: Tensor,
    /// ADA's constant colour matrices, on the device once (not rebuilt every step).
    color: Option<ColorBasis>,
}

/// The constant `[1, 4, 4]` matrices ADA's colour transform is built from.
#[derive(Debug)]
struct ColorBasis {
    /// The identity.
    eye: Tensor,
    /// `v v^T` for the luma axis `v = (1, 1, 1, 0) / sqrt(3)`.
    vv: Tensor,
    /// The translation column (`translate3d(1, 1, 1) - I`).
    tr: Tensor,
    /// `diag(1, 1, 1, 0)`.
    xyz: Tensor,
    /// The cross-product matrix `[v]x` (rotation generator about `v`).
    k: Tensor,
}

impl ColorBasis {
    fn new(device: Device) -> TResult<Self> {
        let m = |v: [f32; 16]| {
            Tensor::from_slice(&v)
                .to_device(device)
                .f_reshape([1, 4, 4])
        };
        let v = Tensor::from_slice(&[1f32, 1.0, 1.0, 0.0])
            .to_device(device)
            .f_div_scalar(3f64.sqrt())?;
        Ok(ColorBasis {
            eye: Tensor::f_eye(4, (Kind::Float, device))?.f_unsqueeze(0)?,
            vv: v.f_outer(&v)?.f_unsqueeze(0)?,
            tr: m([
                0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 0.,
            ])?,
            xyz: m([
                1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0.,
            ])?,
            k: m([
                0., -1., 1., 0., 1., 0., -1., 0., -1., 1., 0., 0., 0., 0., 0., 0.,
            ])?
            .f_div_scalar(3f64.sqrt())?,
        })
    }
}

impl Augment {
    pub(crate) fn new(config: &AugmentConfig, batch: i64, device: Device) -> Result<Self> {
        let p0 = match config {
            AugmentConfig::Ada { p, .. } => *p,
            _ => 0.0,
        };
        let color = match config {
            AugmentConfig::Ada { groups, .. } if groups.contains(&AdaGroup::Color) => {
                Some(ColorBasis::new(device)?)
            }
            _ => None,
        };
        Ok(Augment {
            color,
            config: config.clone(),
            batch,
            p: Tensor::f_full([], p0, (Kind::Float, device))?,
            sign_sum: Tensor::f_zeros([], (Kind::Float, device))?,
            sign_count: Tensor::f_zeros([], (Kind::Float, device))?,
        })
    }

    /// Augments a batch of images `[B, C, H, W]` (in `[-1, 1]`), differentiably.
    pub(crate) fn apply(&self, x: &Tensor) -> TResult<Tensor> {
        match &self.config {
            AugmentConfig::None => Ok(x.shallow_clone()),
            AugmentConfig::DiffAugment { policy } => {
                let mut x = x.shallow_clone();
                for p in policy {
                    x = match p {
                        DiffPolicy::Color => diff_color(&x)?,
                        DiffPolicy::Translation => diff_translation(&x)?,
                        DiffPolicy::Cutout => diff_cutout(&x)?,
                    };
                }
                Ok(x)
            }
            AugmentConfig::Ada { groups, .. } => {
                let mut x = x.shallow_clone();
                for g in groups {
                    x = match g {
                        AdaGroup::Blit => ada_blit(&x, &self.p)?,
                        AdaGroup::Color => {
                            ada_color(&x, &self.p, self.color.as_ref().expect("built in new"))?
                        }
                        AdaGroup::Cutout => ada_cutout(&x, &self.p)?,
                    };
                }
                Ok(x)
            }
        }
    }

    /// ADA: records the discriminator's logits of a real batch.
    pub(crate) fn observe_real(&mut self, logits: &Tensor) -> Result<()> {
        if let AugmentConfig::Ada { .. } = self.config {
            tch::no_grad(|| -> Result<()> {
                let s = logits.f_detach()?.f_sign()?;
                let _ = self.sign_sum.f_add_(&s.f_sum(Kind::Float)?)?;
                let _ = self.sign_count.f_add_scalar_(s.numel() as f64)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// ADA: after step `step` (0-based), adjusts `p` when an interval is complete.
    pub(crate) fn end_step(&mut self, step: u64) -> Result<()> {
        if let AugmentConfig::Ada {
            target,
            interval,
            kimg,
            ..
        } = self.config
        {
            if (step + 1).is_multiple_of(interval) {
                tch::no_grad(|| -> Result<()> {
                    let rt = self.sign_sum.f_div(&self.sign_count.f_clamp_min(1.0)?)?;
                    let speed = (self.batch as f64 * interval as f64) / (kimg * 1000.0);
                    let adjust = rt.f_sub_scalar(target)?.f_sign()?.f_mul_scalar(speed)?;
                    let p = self.p.f_add(&adjust)?.f_clamp_min(0.0)?;
                    self.p.f_copy_(&p)?;
                    let _ = self.sign_sum.f_zero_()?;
                    let _ = self.sign_count.f_zero_()?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// ADA's `p` and `r_t` so far, for the statistics (None without ADA).
    pub(crate) fn stats(&self) -> Option<(Tensor, Tensor)> {
        match self.config {
            AugmentConfig::Ada { .. } => Some((
                self.p.shallow_clone(),
                &self.sign_sum / self.sign_count.clamp_min(1.0),
            )),
            _ => None,
        }
    }

    /// Checkpoint tensors (ADA only): `augment.p`, `augment.sign_sum`, `augment.sign_count`.
    pub(crate) fn state(&self) -> Vec<(String, Tensor)> {
        match self.config {
            AugmentConfig::Ada { .. } => vec![
                ("augment.p".into(), self.p.shallow_clone()),
                ("augment.sign_count".into(), self.sign_count.shallow_clone()),
                ("augment.sign_sum".into(), self.sign_sum.shallow_clone()),
            ],
            _ => Vec::new(),
        }
    }

    /// Copies [`state`](Self::state)'s tensors back.
    pub(crate) fn load_state(
        &mut self,
        tensors: &std::collections::BTreeMap<String, Tensor>,
    ) -> Result<()> {
        for (name, t) in self.state() {
            if let Some(src) = tensors.get(&name) {
                tch::no_grad(|| t.shallow_clone().f_copy_(src))?;
            }
        }
        Ok(())
    }
}

fn rand_b(x: &Tensor, dims: &[i64]) -> TResult<Tensor> {
    Tensor::f_rand(dims, (Kind::Float, x.device()))
}

/// DiffAugment's `color`: brightness, saturation, contrast.
fn diff_color(x: &Tensor) -> TResult<Tensor> {
    let b = x.size()[0];
    let x = x.f_add(&rand_b(x, &[b, 1, 1, 1])?.f_sub_scalar(0.5)?)?;
    let mean = x.f_mean_dim(&[1i64][..], true, Kind::Float)?;
    let x = x
        .f_sub(&mean)?
        .f_mul(&rand_b(&x, &[b, 1, 1, 1])?.f_mul_scalar(2.0)?)?
        .f_add(&mean)?;
    let mean = x.f_mean_dim(&[1i64, 2, 3][..], true, Kind::Float)?;
    x.f_sub(&mean)?
        .f_mul(&rand_b(&x, &[b, 1, 1, 1])?.f_add_scalar(0.5)?)?
        .f_add(&mean)
}

/// Pixels of `x` `[B, C, H, W]` at per-image source coordinates `(sy, sx)` (`[B, H, W]`,
/// int64, within `[0, H) x [0, W)` of `src`, which may be a padded copy of `x`).
fn gather_pixels(src: &Tensor, sy: &Tensor, sx: &Tensor, h: i64, w: i64) -> TResult<Tensor> {
    let s = src.size();
    let (b, c, sw) = (s[0], s[1], s[3]);
    let flat = sy.f_mul_scalar(sw)?.f_add(sx)?.f_reshape([b, 1, h * w])?;
    let index = flat.f_expand([b, c, h * w], false)?;
    src.f_reshape([b, c, -1])?
        .f_gather(2, &index, false)?
        .f_reshape([b, c, h, w])
}

/// Row and column coordinates `[1, H, 1]` and `[1, 1, W]` on `x`'s device.
fn coords(x: &Tensor, h: i64, w: i64) -> TResult<(Tensor, Tensor)> {
    let opts = (Kind::Int64, x.device());
    Ok((
        Tensor::f_arange(h, opts)?.f_reshape([1, h, 1])?,
        Tensor::f_arange(w, opts)?.f_reshape([1, 1, w])?,
    ))
}

/// DiffAugment's `translation` (ratio 1/8): a shift in `[-s, s]` per axis, zero padding.
fn diff_translation(x: &Tensor) -> TResult<Tensor> {
    let s = x.size();
    let (b, h, w) = (s[0], s[2], s[3]);
    let (shift_h, shift_w) = (
        (h as f64 * 0.125 + 0.5) as i64,
        (w as f64 * 0.125 + 0.5) as i64,
    );
    let opts = (Kind::Int64, x.device());
    let ty = Tensor::f_randint_low(-shift_h, shift_h + 1, [b, 1, 1], opts)?;
    let tx = Tensor::f_randint_low(-shift_w, shift_w + 1, [b, 1, 1], opts)?;
    let (gy, gx) = coords(x, h, w)?;
    // Index into a copy padded by one zero pixel: out-of-range sources land on the padding.
    let sy = gy.f_add(&ty)?.f_add_scalar(1)?.f_clamp(0, h + 1)?;
    let sx = gx.f_add(&tx)?.f_add_scalar(1)?.f_clamp(0, w + 1)?;
    let padded = x.f_constant_pad_nd([1, 1, 1, 1])?;
    gather_pixels(&padded, &sy, &sx, h, w)
}

/// DiffAugment's `cutout` (ratio 1/2): a square of half the size, centred anywhere, zeroed.
fn diff_cutout(x: &Tensor) -> TResult<Tensor> {
    let s = x.size();
    let (b, h, w) = (s[0], s[2], s[3]);
    let (ch, cw) = ((h as f64 * 0.5 + 0.5) as i64, (w as f64 * 0.5 + 0.5) as i64);
    let opts = (Kind::Int64, x.device());
    let oy = Tensor::f_randint_low(0, h + (1 - ch % 2), [b, 1, 1], opts)?;
    let ox = Tensor::f_randint_low(0, w + (1 - cw % 2), [b, 1, 1], opts)?;
    let (gy, gx) = coords(x, h, w)?;
    let (y0, x0) = (oy.f_sub_scalar(ch / 2)?, ox.f_sub_scalar(cw / 2)?);
    let in_y = gy
        .f_ge_tensor(&y0)?
        .f_logical_and(&gy.f_lt_tensor(&y0.f_add_scalar(ch)?)?)?;
    let in_x = gx
        .f_ge_tensor(&x0)?
        .f_logical_and(&gx.f_lt_tensor(&x0.f_add_scalar(cw)?)?)?;
    let keep = in_y.f_logical_and(&in_x)?.f_logical_not()?;
    x.f_mul(&keep.f_unsqueeze(1)?.f_to_kind(x.kind())?)
}

/// Per-image `value` where a uniform draw is below `p * 1`, else `otherwise` (ADA's
/// `torch.where(rand < p, value, default)`), shape `[B]`.
fn with_p(p: &Tensor, value: &Tensor, otherwise: f64) -> TResult<Tensor> {
    let b = value.size()[0];
    let draw = Tensor::f_rand([b], (Kind::Float, value.device()))?;
    value.f_where_scalarother(&draw.f_lt_tensor(p)?, otherwise)
}

/// ADA's blit group: x-flip (half of the images p selects), rotation by a multiple of 90
/// degrees, integer translation of up to 1/8 (reflection padding), as one gather.
fn ada_blit(x: &Tensor, p: &Tensor) -> TResult<Tensor> {
    let s = x.size();
    let (b, h, w) = (s[0], s[2], s[3]);
    let dev = x.device();
    let f = (Kind::Float, dev);
    let flip = with_p(
        p,
        &Tensor::f_rand([b], f)?.f_mul_scalar(2.0)?.f_floor()?,
        0.0,
    )?;
    let rot = if h == w {
        with_p(
            p,
            &Tensor::f_rand([b], f)?.f_mul_scalar(4.0)?.f_floor()?,
            0.0,
        )?
    } else {
        Tensor::f_zeros([b], f)?
    };
    let t = Tensor::f_rand([b, 2], f)?
        .f_mul_scalar(2.0)?
        .f_sub_scalar(1.0)?
        .f_mul_scalar(0.125)?;
    let tx = with_p(
        p,
        &t.f_select(1, 0)?.f_mul_scalar(w as f64)?.f_round()?,
        0.0,
    )?;
    let ty = with_p(
        p,
        &t.f_select(1, 1)?.f_mul_scalar(h as f64)?.f_round()?,
        0.0,
    )?;
    let as_b = |t: &Tensor| -> TResult<Tensor> { t.f_to_kind(Kind::Int64)?.f_reshape([b, 1, 1]) };
    let (flip, rot, ty, tx) = (as_b(&flip)?, as_b(&rot)?, as_b(&ty)?, as_b(&tx)?);
    let (gy, gx) = coords(x, h, w)?;
    let (gy, gx) = (
        gy.f_expand([b, h, w], false)?,
        gx.f_expand([b, h, w], false)?,
    );
    // Output pixel -> source pixel, undoing translation, then rotation, then the flip.
    let (mut y, mut x_) = (gy.f_sub(&ty)?, gx.f_sub(&tx)?);
    let reflect = |v: &Tensor, n: i64| -> TResult<Tensor> {
        // One reflection at each border (shifts are at most n / 8).
        let v = v.f_abs()?;
        v.f_where_self(&v.f_lt(n)?, &v.f_neg()?.f_add_scalar(2 * (n - 1))?)
    };
    y = reflect(&y, h)?;
    x_ = reflect(&x_, w)?;
    // Rotation by k * 90 degrees of a square image: (y, x) -> (x, n-1-y) per quarter turn.
    let n1 = w - 1;
    let mut ry = y.shallow_clone();
    let mut rx = x_.shallow_clone();
    for k in 1..4i64 {
        let (ky, kx) = match k {
            1 => (x_.shallow_clone(), y.f_neg()?.f_add_scalar(n1)?),
            2 => (y.f_neg()?.f_add_scalar(n1)?, x_.f_neg()?.f_add_scalar(n1)?),
            _ => (x_.f_neg()?.f_add_scalar(n1)?, y.shallow_clone()),
        };
        let sel = rot.f_eq(k)?;
        ry = ky.f_where_self(&sel, &ry)?;
        rx = kx.f_where_self(&sel, &rx)?;
    }
    let fx = rx
        .f_neg()?
        .f_add_scalar(w - 1)?
        .f_where_self(&flip.f_eq(1)?, &rx)?;
    gather_pixels(x, &ry, &fx, h, w)
}

/// ADA's colour group as one 4x4 matrix per image on the RGB values (grey images: the
/// matrix averaged over the colour rows, as upstream): brightness N(0, 0.2), contrast
/// 2^N(0, 0.5), luma flip, hue rotation U(-pi, pi) about the luma axis, saturation
/// 2^N(0, 1), each applied with probability p.
fn ada_color(x: &Tensor, p: &Tensor, basis: &ColorBasis) -> TResult<Tensor> {
    let s = x.size();
    let (b, c) = (s[0], s[1]);
    let f = (Kind::Float, x.device());
    let ColorBasis {
        eye,
        vv,
        tr,
        xyz: sc,
        k,
    } = basis;
    let brightness = with_p(p, &Tensor::f_randn([b], f)?.f_mul_scalar(0.2)?, 0.0)?;
    let contrast = with_p(
        p,
        &Tensor::f_randn([b], f)?.f_mul_scalar(0.5)?.f_exp2()?,
        1.0,
    )?;
    let lumaflip = with_p(
        p,
        &Tensor::f_rand([b], f)?.f_mul_scalar(2.0)?.f_floor()?,
        0.0,
    )?;
    let theta = with_p(
        p,
        &Tensor::f_rand([b], f)?
            .f_mul_scalar(2.0)?
            .f_sub_scalar(1.0)?
            .f_mul_scalar(std::f64::consts::PI)?,
        0.0,
    )?;
    let saturation = with_p(p, &Tensor::f_randn([b], f)?.f_exp2()?, 1.0)?;
    let col = |t: &Tensor| t.f_reshape([b, 1, 1]);
    // translate3d(b, b, b)
    let mut m = eye.f_expand([b, 4, 4], false)?;
    m = eye.f_add(&tr.f_mul(&col(&brightness)?)?)?.f_bmm(&m)?;
    // scale3d(c, c, c)
    let scale = eye.f_sub(sc)?.f_add(&sc.f_mul(&col(&contrast)?)?)?;
    m = scale.f_bmm(&m)?;
    // Luma flip: I - 2 v v^T i.
    m = eye
        .f_sub(&vv.f_mul_scalar(2.0)?.f_mul(&col(&lumaflip)?)?)?
        .f_bmm(&m)?;
    // Hue: rotation by theta about v (Rodrigues), on the first three coordinates.
    let (sn, cs) = (col(&theta.f_sin()?)?, col(&theta.f_cos()?)?);
    // R = c I3 + s [v]x + (1 - c) v v^T on xyz, 1 on w.
    let w_only = eye.f_sub(sc)?;
    let rot = sc
        .f_mul(&cs)?
        .f_add(&k.f_mul(&sn)?)?
        .f_add(&vv.f_mul(&cs.f_neg()?.f_add_scalar(1.0)?)?)?
        .f_add(&w_only)?;
    m = rot.f_bmm(&m)?;
    // Saturation: v v^T + (I - v v^T) s.
    m = vv
        .f_add(&eye.f_sub(vv)?.f_mul(&col(&saturation)?)?)?
        .f_bmm(&m)?;
    let sh = x.size();
    let flat = x.f_reshape([b, c, -1])?;
    let out = if c == 3 {
        m.f_narrow(1, 0, 3)?
            .f_narrow(2, 0, 3)?
            .f_bmm(&flat)?
            .f_add(&m.f_narrow(1, 0, 3)?.f_narrow(2, 3, 1)?)?
    } else {
        // Grey: the colour rows averaged, the colour columns summed (a grey value g is
        // the RGB (g, g, g)).
        let mean_rows = m
            .f_narrow(1, 0, 3)?
            .f_mean_dim(&[1i64][..], true, Kind::Float)?;
        let gain =
            mean_rows
                .f_narrow(2, 0, 3)?
                .f_sum_dim_intlist(&[2i64][..], true, Kind::Float)?;
        flat.f_mul(&gain)?.f_add(&mean_rows.f_narrow(2, 3, 1)?)?
    };
    out.f_reshape(sh.as_slice())
}

/// ADA's cutout: with probability p, a square of half the size around a uniform centre
/// set to zero.
fn ada_cutout(x: &Tensor, p: &Tensor) -> TResult<Tensor> {
    let s = x.size();
    let (b, h, w) = (s[0], s[2], s[3]);
    let f = (Kind::Float, x.device());
    let size = with_p(p, &Tensor::f_full([b], 0.5, f)?, 0.0)?.f_reshape([b, 1, 1])?;
    let centre = Tensor::f_rand([b, 2], f)?;
    let cy = centre.f_select(1, 1)?.f_reshape([b, 1, 1])?;
    let cx = centre.f_select(1, 0)?.f_reshape([b, 1, 1])?;
    let ys = Tensor::f_arange(h, f)?
        .f_add_scalar(0.5)?
        .f_div_scalar(h as f64)?
        .f_reshape([1, h, 1])?;
    let xs = Tensor::f_arange(w, f)?
        .f_add_scalar(0.5)?
        .f_div_scalar(w as f64)?
        .f_reshape([1, 1, w])?;
    let half = size.f_div_scalar(2.0)?;
    let out_y = ys.f_sub(&cy)?.f_abs()?.f_ge_tensor(&half)?;
    let out_x = xs.f_sub(&cx)?.f_abs()?.f_ge_tensor(&half)?;
    let keep = out_y.f_logical_or(&out_x)?;
    x.f_mul(&keep.f_unsqueeze(1)?.f_to_kind(x.kind())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(b: i64, c: i64, n: i64) -> Tensor {
        Tensor::rand([b, c, n, n], (Kind::Float, Device::Cpu)) * 2.0 - 1.0
    }

    fn diffaug(policy: Vec<DiffPolicy>) -> Augment {
        Augment::new(&AugmentConfig::DiffAugment { policy }, 8, Device::Cpu).unwrap()
    }

    #[test]
    fn diffaugment_translation_shifts_whole_images_with_zero_padding() {
        tch::manual_seed(0);
        let x = images(64, 1, 16).abs() + 0.1; // no zeros in the image itself
        let y = diffaug(vec![DiffPolicy::Translation]).apply(&x).unwrap();
        for i in 0..64 {
            let (xi, yi) = (x.get(i), y.get(i));
            // Find the shift: the output equals the input moved by (dy, dx), zeros elsewhere.
            let found = (-2..=2)
                .flat_map(|dy| (-2..=2).map(move |dx| (dy, dx)))
                .any(|(dy, dx)| {
                    let shifted = xi.roll([-dy, -dx], [1, 2]);
                    let ys = Tensor::arange(16, (Kind::Int64, Device::Cpu)).reshape([16, 1]) + dy;
                    let xs = Tensor::arange(16, (Kind::Int64, Device::Cpu)).reshape([1, 16]) + dx;
                    let inside = ys
                        .ge(0)
                        .logical_and(&ys.lt(16))
                        .logical_and(&xs.ge(0).logical_and(&xs.lt(16)));
                    let expected = shifted * inside.unsqueeze(0);
                    expected.equal(&yi)
                });
            assert!(found, "image {i} is not a shifted copy");
        }
    }

    #[test]
    fn diffaugment_cutout_removes_a_square_and_color_stays_differentiable() {
        tch::manual_seed(1);
        let x = images(32, 3, 16).abs() + 0.1;
        let y = diffaug(vec![DiffPolicy::Cutout]).apply(&x).unwrap();
        let zeros =
            y.eq(0.0)
                .to_kind(Kind::Float)
                .sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Float);
        let z: Vec<f32> = Vec::try_from(zeros / 3.0).unwrap();
        // 8 x 8 squares, cut at the border for centres near it.
        assert!(z.iter().all(|&n| n > 0.0 && n <= 64.0), "{z:?}");
        assert!(z.contains(&64.0));
        // All three policies, then a double backward (what R1 through D(aug(x)) needs).
        let x = images(8, 3, 16).set_requires_grad(true);
        let y = diffaug(default_policy()).apply(&x).unwrap();
        let g = Tensor::run_backward(&[(&y * &y).sum(Kind::Float)], &[&x], true, true);
        let gg = Tensor::run_backward(&[g[0].square().sum(Kind::Float)], &[&x], false, false);
        assert!(gg[0].abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }

    #[test]
    fn diffaugment_color_draws_follow_the_paper() {
        tch::manual_seed(2);
        // A constant grey image: saturation and contrast act on deviations (none), so only
        // brightness moves it, by U(-0.5, 0.5).
        let x = Tensor::zeros([2000, 1, 4, 4], (Kind::Float, Device::Cpu));
        let y = diffaug(vec![DiffPolicy::Color]).apply(&x).unwrap();
        let shift = y.mean_dim(&[1i64, 2, 3][..], false, Kind::Float);
        let (lo, hi) = (shift.min().double_value(&[]), shift.max().double_value(&[]));
        assert!(
            lo >= -0.5 && hi <= 0.5 && lo < -0.45 && hi > 0.45,
            "{lo} {hi}"
        );
    }

    fn ada(p: f64, groups: Vec<AdaGroup>) -> Augment {
        let cfg = AugmentConfig::Ada {
            groups,
            target: 0.6,
            interval: 4,
            kimg: 500.0,
            p,
        };
        Augment::new(&cfg, 64, Device::Cpu).unwrap()
    }

    #[test]
    fn ada_at_p_zero_is_the_identity_and_at_p_one_transforms() {
        tch::manual_seed(3);
        let x = images(16, 3, 8);
        let all = default_groups();
        let id = ada(0.0, all.clone()).apply(&x).unwrap();
        assert!((id - &x).abs().max().double_value(&[]) < 1e-6);
        let blit = ada(0.0, vec![AdaGroup::Blit, AdaGroup::Cutout])
            .apply(&x)
            .unwrap();
        assert!(blit.equal(&x));
        let y = ada(1.0, vec![AdaGroup::Blit]).apply(&x).unwrap();
        assert!(!y.equal(&x));
        // Colour at p = 0 is the identity matrix up to rounding.
        let c = ada(0.0, vec![AdaGroup::Color]).apply(&x).unwrap();
        assert!((c - &x).abs().max().double_value(&[]) < 1e-6);
        // Colour on a grey image stays one channel, and its double backward exists.
        let g = images(8, 1, 8).set_requires_grad(true);
        let out = ada(1.0, all).apply(&g).unwrap();
        assert_eq!(out.size(), vec![8, 1, 8, 8]);
        let d = Tensor::run_backward(&[(&out * &out).sum(Kind::Float)], &[&g], true, true);
        let dd = Tensor::run_backward(&[d[0].square().sum(Kind::Float)], &[&g], false, false);
        assert!(dd[0].abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }

    #[test]
    fn ada_rotations_and_flips_are_exact_permutations() {
        tch::manual_seed(4);
        // No translation: with p = 1 every image is flipped or rotated (or kept); check each
        // against the 8 symmetries of the square.
        let x = images(32, 1, 6);
        let y = ada(1.0, vec![AdaGroup::Blit]).apply(&x).unwrap();
        let mut exact = 0;
        for i in 0..32 {
            let xi = x.get(i);
            let yi = y.get(i);
            let mut cands = Vec::new();
            for k in 0..4 {
                let r = xi.rot90(k, [1, 2]);
                cands.push(r.flip([2]));
                cands.push(r);
            }
            if cands.iter().any(|c| c.equal(&yi)) {
                exact += 1;
            }
        }
        // Images whose translation rounded to zero are exact symmetries (shifts are
        // round(U(-1, 1) * 0.75) here: zero for a third of each axis).
        assert!(exact >= 2, "{exact}");
    }

    #[test]
    fn ada_p_follows_the_sign_heuristic_and_is_checkpointed() {
        let mut a = ada(0.0, default_groups());
        let speed = 64.0 * 4.0 / 500_000.0;
        // Overfitting (all real logits positive: r_t = 1 > 0.6): p rises once per interval.
        for step in 0..8 {
            a.observe_real(&Tensor::ones([64], (Kind::Float, Device::Cpu)))
                .unwrap();
            a.end_step(step).unwrap();
        }
        let p = a.p.double_value(&[]);
        assert!((p - 2.0 * speed).abs() < 1e-9, "{p}");
        // r_t below the target: p falls, never below 0.
        for step in 8..20 {
            a.observe_real(&-Tensor::ones([64], (Kind::Float, Device::Cpu)))
                .unwrap();
            a.end_step(step).unwrap();
        }
        assert_eq!(a.p.double_value(&[]), 0.0);
        let names: Vec<String> = a.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["augment.p", "augment.sign_count", "augment.sign_sum"]
        );
        assert!(diffaug(default_policy()).state().is_empty());
    }

    #[test]
    fn configs_name_their_keys() {
        let bad: AugmentConfig = toml::from_str("kind = 'ada'\ntarget = 2.0").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("augment.target"));
        let bad: AugmentConfig = toml::from_str("kind = 'diffaugment'\npolicy = []").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("augment.policy"));
        assert!(toml::from_str::<AugmentConfig>("kind = 'diffaugment'\npolicy = ['hue']").is_err());
        let ok: AugmentConfig = toml::from_str("kind = 'diffaugment'").unwrap();
        assert_eq!(
            ok,
            AugmentConfig::DiffAugment {
                policy: default_policy()
            }
        );
    }
}

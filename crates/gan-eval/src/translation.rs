//! Paired scores of image-to-image translation (pix2pix and its kin): how close each
//! translated image is to its target, by mean absolute error ([`TranslationScores::l1`]),
//! peak signal-to-noise ratio ([`TranslationScores::psnr`]) and the structural similarity
//! index ([`TranslationScores::ssim`]), each a mean over the image pairs.
//!
//! The definitions are those of `scripts/pix2pix_edges.py` (its `scores`, the PyTorch peer of
//! the toolkit's pix2pix run) on pixel values `x / 255` (data range 1), in float64 on the CPU.
//! `scripts/translation_fixtures_eval.py` scores a few seeded image pairs with a NumPy
//! transcription (and, where torch is installed, with that script's own function);
//! `tests/translation.rs` checks [`translation_scores`] against it.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Side of the SSIM window (shorter for images smaller than this).
const WINDOW: i64 = 11;
/// Standard deviation of the Gaussian SSIM window, in pixels.
const SIGMA: f64 = 1.5;
/// SSIM's stabilising constant of the means for data range 1: `C1 = K1^2`, `K1 = 0.01`.
const C1: f64 = 0.01 * 0.01;
/// SSIM's stabilising constant of the (co)variances for data range 1: `C2 = K2^2`, `K2 = 0.03`.
const C2: f64 = 0.03 * 0.03;
/// The smallest MSE counted by PSNR (100 dB for identical images).
const MSE_FLOOR: f64 = 1e-10;
/// Pixel values (per side) of a chunk of images scored at once: 8 MiB of float64 per side,
/// under about 100 MiB at the peak with the local statistics.
const CHUNK_VALUES: i64 = 1 << 20;

/// Mean closeness of translated images to their targets; see [`translation_scores`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TranslationScores {
    /// Image pairs scored.
    pub n: usize,
    /// Mean absolute error of the pixel values in `[0, 1]` (0 for identical images).
    pub l1: f64,
    /// Mean over images of the peak signal-to-noise ratio in dB (data range 1; at most 100).
    pub psnr: f64,
    /// Mean over images of the structural similarity index (1 for identical images).
    pub ssim: f64,
}

impl TranslationScores {
    /// A Markdown table of the scores, headed by `title`.
    pub fn markdown(&self, title: &str) -> String {
        format!(
            "{title}\n\n| score | value |\n|---|---|\n| image pairs | {} |\n| L1 (pixels in [0, 1]) \
             | {:.4} |\n| PSNR (dB) | {:.3} |\n| SSIM (Gaussian 11x11, sigma 1.5) | {:.4} |\n",
            self.n, self.l1, self.psnr, self.ssim
        )
    }
}

/// L1, PSNR and SSIM of translated images `output` against their targets `target`, both
/// uint8 `[N, C, H, W]` tensors of the same shape on any device (copied to the CPU, scored in
/// float64), as `scripts/pix2pix_edges.py` scores them. With `x = output / 255` and
/// `y = target / 255`, each image `i` gets
///
/// ```text
/// l1_i   = mean over c, h, w of |x - y|
/// psnr_i = 10 log10(1 / max(mean over c, h, w of (x - y)^2, 1e-10))     (so at most 100 dB)
/// ssim_i = mean over c and the map positions of
///          ((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))
/// ```
///
/// and the scores are the means of these over the `N` images. SSIM (Wang, Bovik, Sheikh &
/// Simoncelli, "Image Quality Assessment: From Error Visibility to Structural Similarity",
/// IEEE TIP 2004) as in that paper's reference setting: `mu`, `s^2` and `s_xy` are the local
/// means, biased variances and covariance (`E_w[x^2] - mu_x^2`, `E_w[xy] - mu_x mu_y`) under a
/// Gaussian window `w` of standard deviation 1.5, 11x11, normalised to sum 1, taken per
/// channel at the valid window positions only (no padding: a 22x22 map for a 32x32 image);
/// `C1 = 0.01^2`, `C2 = 0.03^2` (`K1 = 0.01`, `K2 = 0.03`, data range 1). The window is the
/// outer product of 1-D weights `exp(-(t - (s - 1) / 2)^2 / (2 1.5^2))`, `t = 0..s`, each
/// normalised to sum 1.
///
/// Images smaller than 11 pixels on a side use a window of `min(11, H) x min(11, W)` with the
/// same sigma (a single map row or column along that side); `scripts/pix2pix_edges.py` only
/// handles images of at least 11x11, where the two agree.
///
/// The window is separable, so the local means are computed as two products with band
/// matrices of the 1-D weights (the same valid correlation as a `conv2d` with the 2-D window,
/// up to round-off, and much faster in float64). About 2^20 pixel values per side (or one
/// image, if larger) are scored at a time, so the working memory stays under about 100 MiB
/// whatever `N`.
///
/// ```
/// use gan_eval::translation_scores;
/// use tch::{Device, Kind, Tensor};
/// let target = Tensor::randint(200, [4, 1, 32, 32], (Kind::Uint8, Device::Cpu));
/// let same = translation_scores(&target, &target)?;
/// assert_eq!((same.n, same.l1, same.ssim), (4, 0.0, 1.0));
/// assert!((same.psnr - 100.0).abs() < 1e-12);
/// let brighter = translation_scores(&(&target + 51), &target)?; // +51 of 255 everywhere
/// assert!((brighter.l1 - 0.2).abs() < 1e-12);
/// assert!((brighter.psnr - 20.0 * 5f64.log10()).abs() < 1e-9);
/// # Ok::<(), gan_eval::Error>(())
/// ```
///
/// Errors ([`Error::Shape`]): an undefined tensor, a tensor that is not uint8 or not
/// `[N, C, H, W]`, an empty batch or empty images, `output` and `target` of different shapes.
pub fn translation_scores(output: &Tensor, target: &Tensor) -> Result<TranslationScores> {
    let _no_grad = tch::no_grad_guard();
    let size = image_shape("output", output)?;
    let target_size = image_shape("target", target)?;
    if size != target_size {
        return Err(Error::Shape(format!(
            "translation scores: output and target differ in shape (output {size:?}, target \
             {target_size:?})"
        )));
    }
    let [n, c, h, w] = size;
    let window = Window::new(h, w)?;
    let output = output.f_to_device(Device::Cpu)?;
    let target = target.f_to_device(Device::Cpu)?;
    let chunk = (CHUNK_VALUES / (c * h * w)).clamp(1, n);
    let (mut l1, mut psnr, mut ssim) = (0.0, 0.0, 0.0);
    for start in (0..n).step_by(chunk as usize) {
        let len = chunk.min(n - start);
        let x = unit(&output.f_narrow(0, start, len)?)?;
        let y = unit(&target.f_narrow(0, start, len)?)?;
        let sums = chunk_sums(&x, &y, &window)?;
        l1 += sums[0];
        psnr += sums[1];
        ssim += sums[2];
    }
    let n_f = n as f64;
    Ok(TranslationScores {
        n: n as usize,
        l1: l1 / n_f,
        psnr: psnr / n_f,
        ssim: ssim / n_f,
    })
}

/// The shape of uint8 `[N >= 1, C >= 1, H >= 1, W >= 1]` images; `what` names them in errors.
fn image_shape(what: &str, t: &Tensor) -> Result<[i64; 4]> {
    if !t.defined() {
        return Err(Error::Shape(format!(
            "translation scores: {what} is an undefined tensor"
        )));
    }
    let size = t.size();
    let kind = t.f_kind()?;
    if kind != Kind::Uint8 {
        return Err(Error::Shape(format!(
            "translation scores: {what} must be uint8 images, got {kind:?} of shape {size:?}"
        )));
    }
    match size[..] {
        [0, _, _, _] => Err(Error::Shape(format!(
            "translation scores: {what} is an empty batch (shape {size:?})"
        ))),
        [n, c, h, w] if c > 0 && h > 0 && w > 0 => Ok([n, c, h, w]),
        _ => Err(Error::Shape(format!(
            "translation scores: {what} must be [N, C, H, W] images with C, H, W >= 1, got \
             shape {size:?}"
        ))),
    }
}

/// uint8 images as float64 in `[0, 1]`.
fn unit(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_to_kind(Kind::Double)?.f_div_scalar_(255.0)?)
}

/// The 1-D Gaussian weights of `s` taps, `exp(-(t - (s - 1) / 2)^2 / (2 sigma^2))` for
/// `t = 0..s`, normalised to sum 1.
fn gaussian_taps(s: i64) -> Vec<f64> {
    let centre = (s - 1) as f64 / 2.0;
    let g: Vec<f64> = (0..s)
        .map(|t| {
            let d = t as f64 - centre;
            (-d * d / (2.0 * SIGMA * SIGMA)).exp()
        })
        .collect();
    let total: f64 = g.iter().sum();
    g.iter().map(|v| v / total).collect()
}

/// The `[n - s + 1, n]` float64 matrix of the valid correlation of a length-`n` signal with
/// the `s` Gaussian taps: row `i` holds the taps in columns `i..i + s`.
fn band(n: i64, s: i64) -> Result<Tensor> {
    let taps = gaussian_taps(s);
    let (rows, cols) = ((n - s + 1) as usize, n as usize);
    let mut m = vec![0.0; rows * cols];
    for i in 0..rows {
        m[i * cols + i..i * cols + i + taps.len()].copy_from_slice(&taps);
    }
    Ok(Tensor::from_slice(&m).f_view([rows as i64, cols as i64])?)
}

/// The window of the local SSIM statistics for `h x w` images, as the two band matrices of
/// its separable form: `blur(X) = rows X cols^T` for every `h x w` plane `X`, equal to the
/// valid 2-D correlation with the outer-product window (a `conv2d`; the matrix products are
/// some 30 times faster in float64 on the CPU).
struct Window {
    /// `[h', h]`, from `min(11, h)` taps.
    rows: Tensor,
    /// `[w', w]` transposed to `[w, w']`, from `min(11, w)` taps.
    cols_t: Tensor,
}

impl Window {
    fn new(h: i64, w: i64) -> Result<Self> {
        Ok(Self {
            rows: band(h, h.min(WINDOW))?,
            cols_t: band(w, w.min(WINDOW))?.f_tr()?.f_contiguous()?,
        })
    }

    /// Local weighted means of `[B, h, w]` planes: `[B, h', w']`.
    fn blur(&self, planes: &Tensor) -> Result<Tensor> {
        let size = planes.size();
        let (b, h, w) = (size[0], size[1], size[2]);
        let ow = self.cols_t.size()[1];
        let along_w = planes
            .f_reshape([b * h, w])?
            .f_mm(&self.cols_t)?
            .f_view([b, h, ow])?;
        Ok(self.rows.f_matmul(&along_w)?)
    }
}

/// Sums over the images of a chunk (`[len, C, H, W]` float64 in `[0, 1]`) of their L1, PSNR
/// and SSIM.
fn chunk_sums(x: &Tensor, y: &Tensor, window: &Window) -> Result<[f64; 3]> {
    let size = x.size();
    let (len, c, h, w) = (size[0], size[1], size[2], size[3]);
    let per_image = |t: &Tensor| t.f_reshape([len, -1])?.f_mean_dim(1, false, Kind::Double);
    let mut d = x.f_sub(y)?;
    let l1 = per_image(&d.f_abs()?)?;
    let mse = per_image(&d.f_square_()?)?.f_clamp_min(MSE_FLOOR)?;
    let psnr = mse.f_reciprocal()?.f_log10()? * 10.0;

    // Local weighted means of x, y, x^2, y^2 and xy over every channel plane; then, in
    // place, mu_x mu_y, mu_x^2, mu_y^2 and the (co)variances.
    let blur = |t: &Tensor| window.blur(&t.f_reshape([len * c, h, w])?);
    let (mut mx, mut my) = (blur(x)?, blur(y)?);
    let mut exx = blur(&x.f_square()?)?;
    let mut eyy = blur(&y.f_square()?)?;
    let mut exy = blur(&x.f_mul(y)?)?;
    let mxy = mx.f_mul(&my)?;
    let (mxx, myy) = (mx.f_square_()?, my.f_square_()?);
    let cov = exy.f_sub_(&mxy)?;
    let var_sum = exx.f_sub_(&mxx)?.f_add_(&eyy.f_sub_(&myy)?)?;
    let mut num = (mxy * 2.0 + C1).f_mul_(&(cov * 2.0 + C2))?;
    let den = (mxx + myy + C1).f_mul_(&(var_sum + C2))?;
    let ssim = per_image(&num.f_div_(&den)?)?;

    let sum = |t: &Tensor| -> Result<f64> { Ok(t.f_sum(Kind::Double)?.f_double_value(&[])?) };
    Ok([sum(&l1)?, sum(&psnr)?, sum(&ssim)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(seed: i64, shape: [i64; 4], high: i64) -> Tensor {
        tch::manual_seed(seed);
        Tensor::randint(high, shape, (Kind::Uint8, Device::Cpu))
    }

    /// The band matrices are the valid correlation with the normalised outer-product window:
    /// the same local means as a 2-D `conv2d` with it.
    #[test]
    fn separable_blur_equals_the_2d_window() {
        for (h, w) in [(32, 32), (11, 11), (5, 40), (8, 6), (1, 1), (16, 20)] {
            let (sh, sw) = (h.min(WINDOW), w.min(WINDOW));
            let kernel = Tensor::from_slice(&gaussian_taps(sh))
                .outer(&Tensor::from_slice(&gaussian_taps(sw)))
                .view([1, 1, sh, sw]);
            let total = kernel.sum(Kind::Double).double_value(&[]);
            assert!((total - 1.0).abs() < 1e-15, "{h}x{w}: {total}");
            assert!(kernel.equal(&kernel.flip([2, 3])), "{h}x{w}");
            tch::manual_seed(5);
            let planes = Tensor::rand([6, h, w], (Kind::Double, Device::Cpu));
            let conv = planes
                .unsqueeze(1)
                .conv2d::<Tensor>(&kernel, None, [1, 1], [0, 0], [1, 1], 1)
                .squeeze_dim(1);
            let ours = Window::new(h, w).unwrap().blur(&planes).unwrap();
            assert_eq!(ours.size(), [6, h - sh + 1, w - sw + 1]);
            let diff = (&ours - &conv).abs().max().double_value(&[]);
            assert!(diff < 1e-14, "{h}x{w}: {diff:e}");
        }
        // The 11-tap centre weight: 1 / sum_t exp(-(t - 5)^2 / 4.5).
        let norm: f64 = (0..11)
            .map(|t| (-((t - 5) as f64).powi(2) / 4.5).exp())
            .sum();
        assert!((gaussian_taps(11)[5] - 1.0 / norm).abs() < 1e-16);
    }

    /// Chunking changes nothing: a batch spanning two chunks scores the mean of its images'
    /// scores.
    #[test]
    fn chunks_agree_with_single_images() {
        let side = 32;
        let n = CHUNK_VALUES / (side * side) + 3; // two chunks, 3 images in the last
        let x = images(1, [n, 1, side, side], 256);
        let y = images(2, [n, 1, side, side], 256);
        let all = translation_scores(&x, &y).unwrap();
        assert_eq!(all.n, n as usize);
        let win = Window::new(side, side).unwrap();
        let mut sums = [0.0; 3];
        for i in 0..n {
            let one = |t: &Tensor| unit(&t.narrow(0, i, 1)).unwrap();
            let s = chunk_sums(&one(&x), &one(&y), &win).unwrap();
            sums.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        }
        let nf = n as f64;
        assert!((all.l1 - sums[0] / nf).abs() < 1e-13, "{all:?} {sums:?}");
        assert!((all.psnr - sums[1] / nf).abs() < 1e-11, "{all:?} {sums:?}");
        assert!((all.ssim - sums[2] / nf).abs() < 1e-13, "{all:?} {sums:?}");
    }

    #[test]
    fn ssim_is_symmetric_and_below_one_for_different_images() {
        let x = images(3, [3, 2, 16, 16], 256);
        let y = images(4, [3, 2, 16, 16], 256);
        let a = translation_scores(&x, &y).unwrap();
        let b = translation_scores(&y, &x).unwrap();
        assert!((a.ssim - b.ssim).abs() < 1e-15 && (a.psnr - b.psnr).abs() < 1e-12);
        assert!(a.ssim < 0.5, "{a:?}");
    }

    #[test]
    fn markdown_lists_the_scores() {
        let s = TranslationScores {
            n: 10,
            l1: 0.125,
            psnr: 21.5,
            ssim: 0.75,
        };
        let t = s.markdown("## test");
        assert!(t.starts_with("## test\n\n| score | value |"));
        assert!(t.contains("| image pairs | 10 |"));
        assert!(t.contains("| PSNR (dB) | 21.500 |"));
        assert!(t.contains("| 0.7500 |"));
    }
}

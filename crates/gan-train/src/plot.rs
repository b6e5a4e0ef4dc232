//! PNG plots written into the run folder (no font: the file name says what it is).
use std::path::Path;

use image::{Rgb, RgbImage};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

const SIZE: u32 = 640;

/// Scatter plot of 2D `samples` (blue) over the true `means` (red rings of radius
/// `hq_radius`, the high-quality threshold), on a square canvas spanning `half_extent`
/// around the origin. Samples outside the canvas are drawn at its edge in orange.
pub fn scatter_2d(
    path: &Path,
    samples: &[[f32; 2]],
    means: &[[f64; 2]],
    hq_radius: f64,
    half_extent: f64,
) -> Result<()> {
    let mut img = RgbImage::from_pixel(SIZE, SIZE, Rgb([255, 255, 255]));
    let scale = (SIZE as f64 - 1.0) / (2.0 * half_extent);
    let to_px =
        |x: f64, y: f64| -> (f64, f64) { ((x + half_extent) * scale, (half_extent - y) * scale) };

    // Grid lines at every integer, axes darker.
    let light = Rgb([232, 232, 232]);
    let axis = Rgb([170, 170, 170]);
    let k = half_extent.floor() as i64;
    for i in -k..=k {
        let (p, _) = to_px(i as f64, 0.0);
        let c = if i == 0 { axis } else { light };
        for t in 0..SIZE {
            put(&mut img, p, t as f64, c);
            put(&mut img, t as f64, p, c);
        }
    }
    // Samples: alpha-blended 3x3 dots, so density shows.
    let blue = [31.0, 119.0, 180.0];
    for &[x, y] in samples {
        let (mut px, mut py) = to_px(x as f64, y as f64);
        let outside = !(0.0..SIZE as f64).contains(&px) || !(0.0..SIZE as f64).contains(&py);
        px = px.clamp(1.0, SIZE as f64 - 2.0);
        py = py.clamp(1.0, SIZE as f64 - 2.0);
        let color = if outside { [255.0, 127.0, 14.0] } else { blue };
        for dx in -1..=1 {
            for dy in -1..=1 {
                blend(&mut img, px + dx as f64, py + dy as f64, color, 0.35);
            }
        }
    }
    // Means: a red ring at the high-quality radius (at least 4 px) and a centre dot.
    let red = Rgb([214, 39, 40]);
    let r = (hq_radius * scale).max(4.0);
    for m in means {
        let (cx, cy) = to_px(m[0], m[1]);
        let n = (2.0 * std::f64::consts::PI * r * 2.0).ceil() as usize;
        for i in 0..n {
            let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            put(&mut img, cx + r * a.cos(), cy + r * a.sin(), red);
        }
        put(&mut img, cx, cy, red);
    }
    save_png(&img, path)
}

/// Line plot of several series (e.g. losses) against step, each in its own colour,
/// y-range fitted to the finite values.
pub fn lines(path: &Path, series: &[(&str, Vec<(f64, f64)>)]) -> Result<()> {
    let (w, h) = (800u32, 400u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let pts = series
        .iter()
        .flat_map(|(_, s)| s.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return save_png(&img, path);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = 10.0;
    let fx = |x: f64| pad + (x - x0) / (x1 - x0) * (w as f64 - 2.0 * pad);
    let fy = |y: f64| h as f64 - pad - (y - y0) / (y1 - y0) * (h as f64 - 2.0 * pad);
    if y0 < 0.0 && y1 > 0.0 {
        for x in 0..w {
            put(&mut img, x as f64, fy(0.0), Rgb([200, 200, 200]));
        }
    }
    let palette = [
        Rgb([31, 119, 180]),
        Rgb([214, 39, 40]),
        Rgb([44, 160, 44]),
        Rgb([148, 103, 189]),
    ];
    for (i, (_, s)) in series.iter().enumerate() {
        let c = palette[i % palette.len()];
        for pair in s.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if !(a.1.is_finite() && b.1.is_finite()) {
                continue;
            }
            let (ax, ay, bx, by) = (fx(a.0), fy(a.1), fx(b.0), fy(b.1));
            let n = ((bx - ax).abs().max((by - ay).abs()).ceil() as usize).max(1);
            for t in 0..=n {
                let f = t as f64 / n as f64;
                put(&mut img, ax + f * (bx - ax), ay + f * (by - ay), c);
            }
        }
    }
    save_png(&img, path)
}

fn put(img: &mut RgbImage, x: f64, y: f64, c: Rgb<u8>) {
    let (x, y) = (x.round(), y.round());
    if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn blend(img: &mut RgbImage, x: f64, y: f64, c: [f64; 3], alpha: f64) {
    let (x, y) = (x.round(), y.round());
    if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
        let p = img.get_pixel_mut(x as u32, y as u32);
        for (channel, target) in p.0.iter_mut().zip(c) {
            *channel = (*channel as f64 * (1.0 - alpha) + target * alpha).round() as u8;
        }
    }
}

/// Images in `[-1, 1]` (`[N, C, H, W]`, C = 1 or 3, any device) as `u8` pixels `[N, C, H, W]`
/// on the CPU: `round((x + 1) * 127.5)`, clamped.
pub fn to_u8(x: &Tensor) -> Tensor {
    ((x.to_device(tch::Device::Cpu).to_kind(Kind::Float) + 1.0) * 127.5)
        .round()
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
}

/// Writes images in `[-1, 1]` (`[N, C, H, W]`, C = 1 or 3) as one PNG grid of `columns`
/// columns, 2-pixel grey borders (as torchvision's `make_grid`, in grey).
pub fn image_grid(path: &Path, x: &Tensor, columns: usize) -> Result<()> {
    let size = x.size();
    let (n, c, h, w) = match size[..] {
        [n, c, h, w] if n > 0 && (c == 1 || c == 3) => {
            (n as usize, c as usize, h as usize, w as usize)
        }
        _ => {
            return Err(Error::Config {
                key: "images".into(),
                message: format!("expected [N, 1 or 3, H, W] images to plot, got {size:?}"),
            })
        }
    };
    let px = Vec::<u8>::try_from(&to_u8(x).reshape([-1]))?;
    let columns = columns.clamp(1, n);
    let rows = n.div_ceil(columns);
    let pad = 2;
    let (gw, gh) = (columns * (w + pad) + pad, rows * (h + pad) + pad);
    let mut img = RgbImage::from_pixel(gw as u32, gh as u32, Rgb([128, 128, 128]));
    for i in 0..n {
        let (ox, oy) = (
            pad + (i % columns) * (w + pad),
            pad + (i / columns) * (h + pad),
        );
        let base = i * c * h * w;
        for yy in 0..h {
            for xx in 0..w {
                let at = |ch: usize| px[base + ch * h * w + yy * w + xx];
                let rgb = if c == 1 {
                    [at(0); 3]
                } else {
                    [at(0), at(1), at(2)]
                };
                img.put_pixel((ox + xx) as u32, (oy + yy) as u32, Rgb(rgb));
            }
        }
    }
    save_png(&img, path)
}

/// Writes an image atomically (a crash never leaves a torn PNG).
fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    Ok(gan_tensor::write_atomic_with(path, |tmp| img.save(tmp))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_marks_samples_and_means() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        scatter_2d(&path, &[[0.5, 0.5]; 20], &[[-1.0, 0.0]], 0.03, 1.5).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (SIZE, SIZE));
        let scale = (SIZE as f64 - 1.0) / 3.0;
        let sample = img.get_pixel(
            ((0.5 + 1.5) * scale).round() as u32,
            ((1.5 - 0.5) * scale).round() as u32,
        );
        assert!(
            sample.0[2] > sample.0[0],
            "sample pixel should be blue: {sample:?}"
        );
        let mean = img.get_pixel(
            ((-1.0 + 1.5) * scale).round() as u32,
            (1.5 * scale).round() as u32,
        );
        assert_eq!(mean.0, [214, 39, 40]);
    }

    #[test]
    fn image_grids_tile_with_borders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        // Three 1-channel 2x2 images: all -1 (black), all 0 (grey 128), all 1 (white).
        let x = Tensor::from_slice(&[-1f32, 0.0, 1.0])
            .view([3, 1, 1, 1])
            .repeat([1, 1, 2, 2]);
        image_grid(&path, &x, 2).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (10, 10));
        assert_eq!(img.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(7, 3).0, [128, 128, 128]);
        assert_eq!(img.get_pixel(3, 7).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(0, 0).0, [128, 128, 128]);
        assert!(image_grid(
            &path,
            &Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu)),
            2
        )
        .is_err());
    }
}

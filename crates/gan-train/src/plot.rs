//! Plots written into the run folder: training statistics and evaluation scores as curves
//! with axes, numbers, axis titles, legends and a title naming the run (PNG, and SVG beside
//! it), drawn with `plotters`; sample grids and the 2D scatter as plain images.
//!
//! Text is drawn with DejaVu Sans (Bitstream Vera licence), embedded in the binary through the
//! `dejavu` crate, so plots render the same on a machine without fontconfig or system fonts.
use std::path::Path;
use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::*;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

const SIZE: u32 = 640;

/// Scatter plot of 2D `samples` (blue, translucent so density shows) over the true `means`
/// (red rings of radius `hq_radius`, the high-quality threshold), on square axes spanning
/// `half_extent` around the origin, with numbers, axis titles, a legend and `title`. Samples
/// outside the view are drawn at its edge in orange. PNG, and SVG beside it.
pub fn scatter_2d(
    path: &Path,
    title: &str,
    samples: &[[f32; 2]],
    means: &[[f64; 2]],
    hq_radius: f64,
    half_extent: f64,
) -> Result<()> {
    font()?;
    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        title: &str,
        samples: &[[f32; 2]],
        means: &[[f64; 2]],
        hq_radius: f64,
        e: f64,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18).into_font().style(FontStyle::Bold))
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(50)
            .build_cartesian_2d(-e..e, -e..e)?;
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("y")
            .x_label_formatter(&label)
            .y_label_formatter(&label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(246, 246, 246))
            .draw()?;
        let inside = |v: f64| v.is_finite() && (-e..=e).contains(&v);
        let blue = RGBColor(31, 119, 180).mix(0.35);
        chart
            .draw_series(
                samples
                    .iter()
                    .map(|p| (p[0] as f64, p[1] as f64))
                    .filter(|&(x, y)| inside(x) && inside(y))
                    .map(|p| Circle::new(p, 2, blue.filled())),
            )?
            .label("samples")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, blue.filled()));
        let orange = RGBColor(255, 127, 14);
        let clamp = |v: f64| if v.is_finite() { v.clamp(-e, e) } else { e };
        let outside: Vec<(f64, f64)> = samples
            .iter()
            .map(|p| (p[0] as f64, p[1] as f64))
            .filter(|&(x, y)| !(inside(x) && inside(y)))
            .map(|(x, y)| (clamp(x), clamp(y)))
            .collect();
        let n_out = outside.len();
        if n_out > 0 {
            chart
                .draw_series(
                    outside
                        .into_iter()
                        .map(|p| Circle::new(p, 2, orange.filled())),
                )?
                .label(format!("outside the view ({n_out}), at its edge"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, orange.filled()));
        }
        // The ring's radius in pixels: the plotting area's width over the span.
        let (w, _) = chart.plotting_area().dim_in_pixel();
        let r = ((hq_radius / (2.0 * e)) * w as f64).max(4.0) as i32;
        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(
                means
                    .iter()
                    .map(|m| Circle::new((m[0], m[1]), r, red.stroke_width(2))),
            )?
            .label("true modes (ring: high-quality radius)")
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, red.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 12))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        root.present()
    }
    png_and_svg(
        path,
        (SIZE, SIZE),
        |root| {
            draw(root, title, samples, means, hq_radius, half_extent).map_err(|e| format!("{e:?}"))
        },
        |root| {
            draw(root, title, samples, means, hq_radius, half_extent).map_err(|e| format!("{e:?}"))
        },
    )
}

/// Draws one plot twice, into `path` (PNG, encoded by `image`) and an SVG beside it: the
/// two closures are the same drawing on the two backends.
fn png_and_svg(
    path: &Path,
    (w, h): (u32, u32),
    png: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> std::result::Result<(), String>,
    svg: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    let fail = |message: String| Error::Plot {
        path: path.to_path_buf(),
        message,
    };
    let mut buf = vec![255u8; (w * h * 3) as usize];
    png(BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area()).map_err(fail)?;
    let img = RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| fail("the drawing buffer has the wrong size".into()))?;
    save_png(&img, path)?;
    let mut text = String::new();
    svg(SVGBackend::with_string(&mut text, (w, h)).into_drawing_area()).map_err(fail)?;
    gan_tensor::write_atomic(&path.with_extension("svg"), text.as_bytes())?;
    Ok(())
}

/// One named series of `(step, value)` points.
pub type Series<'a> = (&'a str, Vec<(f64, f64)>);

/// Which point of a panel's series to mark, and its legend text.
type MarkFn<'a> = dyn Fn(&str, &[(f64, f64)]) -> Option<(f64, f64, String)> + 'a;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Registers the embedded font once (plotters' `ab_glyph` text looks fonts up by name).
fn font() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "the embedded DejaVu Sans font does not load".to_string())?;
        plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
            .map_err(|_| "the embedded DejaVu Sans Bold font does not load".to_string())
    })
    .clone()
    .map_err(|message| Error::Plot {
        path: Default::default(),
        message,
    })
}

/// TensorBoard's smoothing: an exponential moving average with weight `w`, debiased so that
/// the first points are not pulled towards zero.
pub fn smooth(values: &[f64], w: f64) -> Vec<f64> {
    let (mut last, mut n) = (0.0, 0);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * w + (1.0 - w) * v;
            n += 1;
            last / (1.0 - w.powi(n))
        })
        .collect()
}

/// The smoothing weight for `n` points: none for a handful, up to 0.9 for long runs.
fn smoothing_for(n: usize) -> f64 {
    match n {
        0..=10 => 0.0,
        11..=50 => 0.6,
        _ => 0.9,
    }
}

/// A range that shows `values` with a margin (and a non-empty one for a constant series).
fn fit(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    Some((lo - 0.05 * span, hi + 0.05 * span))
}

/// Number labels that stay short and tell neighbouring ticks apart: four significant digits
/// (trailing zeros dropped), scientific notation outside 1e-4..1e5.
fn label(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Draws one panel: raw points (light) under the smoothed line, axes with numbers and titles,
/// a legend, and an optional marked point (the best checkpoint).
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_title: &str,
    color: RGBColor,
    points: &[(f64, f64)],
    mark: Option<(f64, f64, String)>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (x0, x1) = fit(finite.iter().map(|p| p.0)).unwrap_or((0.0, 1.0));
    let (y0, y1) = fit(finite.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18).into_font().style(FontStyle::Bold))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(62)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(y_title)
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(246, 246, 246))
        .draw()?;
    let w = smoothing_for(finite.len());
    let raw_style = color.mix(if w > 0.0 { 0.35 } else { 1.0 });
    chart
        .draw_series(
            finite
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 2, raw_style.filled())),
        )?
        .label(if w > 0.0 { "raw" } else { "value" })
        .legend(move |(x, y)| Circle::new((x + 10, y), 3, raw_style.filled()));
    if w > 0.0 {
        let ys: Vec<f64> = finite.iter().map(|p| p.1).collect();
        let smoothed = smooth(&ys, w);
        chart
            .draw_series(LineSeries::new(
                finite.iter().map(|p| p.0).zip(smoothed),
                color.stroke_width(2),
            ))?
            .label(format!("smoothed (EMA {w})"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    } else if finite.len() > 1 {
        chart.draw_series(LineSeries::new(
            finite.iter().copied(),
            color.stroke_width(2),
        ))?;
    }
    let mark_at = mark.as_ref().map(|(x, y, _)| (*x, *y));
    if let Some((mx, my, text)) = mark {
        let gold = RGBColor(230, 159, 0);
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (mx, my),
                9,
                gold.filled(),
            )))?
            .label(text)
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, gold.filled()));
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(mx, y0), (mx, y1)],
            gold.mix(0.6).stroke_width(1),
        )))?;
    }
    // The legend goes in the corner with the fewest points (and away from the mark).
    let corner = |right: bool, upper: bool| {
        let in_box = |(x, y): (f64, f64)| {
            let fx = (x - x0) / (x1 - x0);
            let fy = (y - y0) / (y1 - y0);
            (if right { fx > 0.55 } else { fx < 0.45 })
                && (if upper { fy > 0.65 } else { fy < 0.35 })
        };
        finite.iter().filter(|&&p| in_box(p)).count()
            + mark_at.map_or(0, |p| if in_box(p) { 1000 } else { 0 })
    };
    let position = [
        (SeriesLabelPosition::UpperRight, corner(true, true)),
        (SeriesLabelPosition::UpperLeft, corner(false, true)),
        (SeriesLabelPosition::LowerRight, corner(true, false)),
        (SeriesLabelPosition::LowerLeft, corner(false, false)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p);
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}

/// Panels in a grid under a title: what both the PNG and the SVG draw.
fn panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series],
    y_title: &dyn Fn(&str) -> String,
    mark: &MarkFn,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22).into_font().style(FontStyle::Bold))?;
    let cols = series.len().clamp(1, 3);
    let rows = series.len().div_ceil(cols).max(1);
    for (i, (area, (name, points))) in root
        .split_evenly((rows, cols))
        .iter()
        .zip(series)
        .enumerate()
    {
        panel(
            area,
            name,
            &y_title(name),
            PALETTE[i % PALETTE.len()],
            points,
            mark(name, points),
        )?;
    }
    root.present()
}

/// Writes `path` (PNG) and the same plot as SVG beside it: one panel per series.
fn write_panels(
    path: &Path,
    title: &str,
    series: &[Series],
    y_title: &dyn Fn(&str) -> String,
    mark: &MarkFn,
) -> Result<()> {
    font()?;
    let cols = series.len().clamp(1, 3) as u32;
    let rows = series.len().div_ceil(cols as usize).max(1) as u32;
    let size = (cols * 460, 50 + rows * 300);
    png_and_svg(
        path,
        size,
        |root| panels(root, title, series, y_title, mark).map_err(|e| format!("{e:?}")),
        |root| panels(root, title, series, y_title, mark).map_err(|e| format!("{e:?}")),
    )
}

/// `plots/losses.png` (and `.svg`): every named training statistic against step, one panel
/// each, the smoothed line over the raw points, under a title naming the run.
pub fn statistics(path: &Path, run: &str, series: &[Series]) -> Result<()> {
    write_panels(
        path,
        &format!("{run}: training statistics"),
        series,
        &|name: &str| {
            if name.ends_with("loss") {
                "loss".into()
            } else {
                name.into()
            }
        },
        &|_: &str, _: &[(f64, f64)]| None,
    )
}

/// `plots/<score>.png` (and `.svg`): an evaluation score against step, with `best` (the best
/// checkpoint's step and value) marked, or else the best value of the curve
/// (`higher_is_better` says which end that is).
pub fn score(
    path: &Path,
    run: &str,
    name: &str,
    points: &[(f64, f64)],
    higher_is_better: bool,
    best: Option<(f64, f64)>,
) -> Result<()> {
    let mark = |_: &str, pts: &[(f64, f64)]| {
        if let Some((x, y)) = best {
            return Some((x, y, format!("best checkpoint (step {x:.0})")));
        }
        let pick = pts
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
            .reduce(|a, b| {
                if (b.1 > a.1) == higher_is_better && b.1 != a.1 {
                    b
                } else {
                    a
                }
            })?;
        Some((pick.0, pick.1, format!("best value (step {:.0})", pick.0)))
    };
    let better = if higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    write_panels(
        path,
        &format!("{run}: {name} ({better})"),
        &[(name, points.to_vec())],
        &|n: &str| n.to_string(),
        &mark,
    )
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
    fn scatter_marks_samples_and_means_with_axes_and_a_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let mut pts = vec![[0.5f32, 0.5]; 20];
        pts.push([9.0, 0.0]);
        pts.push([f32::NAN, 0.0]);
        scatter_2d(&path, "samples at step 7", &pts, &[[-1.0, 0.0]], 0.03, 1.5).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (SIZE, SIZE));
        let blueish = img
            .pixels()
            .filter(|p| p.0[2] > 150 && p.0[0] < 150)
            .count();
        let red = img.pixels().filter(|p| p.0 == [214, 39, 40]).count();
        assert!(
            blueish > 10 && red > 10,
            "samples {blueish}, mode ring {red}"
        );
        let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
        for text in [
            "samples at step 7",
            "samples",
            "outside the view (2)",
            "true modes",
            "\nx\n",
            "\ny\n",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text:?}");
        }
    }

    #[test]
    fn statistics_and_scores_draw_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("losses.png");
        let d: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64 * 10.0, 1.0 + (i as f64).sin()))
            .collect();
        let g: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64 * 10.0, 2e6 * i as f64))
            .collect();
        statistics(&path, "my-run", &[("d_loss", d.clone()), ("g_loss", g)]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (920, 350));
        // Something besides white and the two series colours was drawn: text and axes.
        let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 80)).count();
        assert!(dark > 500, "no text or axes drawn ({dark} dark pixels)");
        let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
        for text in [
            "my-run: training statistics",
            "d_loss",
            "g_loss",
            "step",
            "smoothed (EMA 0.9)",
            "raw",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text:?}");
        }
        assert!(
            svg.contains("e6") || svg.contains("e8"),
            "large numbers in short form"
        );
        let path = dir.path().join("fcd.png");
        score(&path, "my-run", "fcd", &d[..8], false, Some((30.0, 0.5))).unwrap();
        let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
        assert!(svg.contains("best checkpoint (step 30)") && svg.contains("lower is better"));
        score(&path, "r", "psnr", &d[..8], true, None).unwrap();
        let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
        assert!(
            svg.contains("best value (step 20)"),
            "the highest of 1 + sin(i) is at i = 2"
        );
        // An empty or non-finite series still draws (an empty panel), never panics.
        statistics(&path, "r", &[("x", vec![(0.0, f64::NAN)])]).unwrap();
        statistics(&path, "r", &[]).unwrap();
    }

    #[test]
    fn smoothing_is_debiased_and_labels_are_short() {
        let s = smooth(&[2.0, 2.0, 2.0], 0.9);
        assert!(s.iter().all(|v| (v - 2.0).abs() < 1e-12), "{s:?}");
        assert_eq!(label(&1234567.0), "1.23e6");
        assert_eq!(label(&0.25), "0.25");
        assert_eq!(label(&300.0), "300");
        // Neighbouring ticks of a narrow range stay apart.
        assert_ne!(label(&1.365), label(&1.37));
        assert_eq!(label(&0.0012), "0.0012");
        assert_eq!(label(&0.00045), "0.00045");
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

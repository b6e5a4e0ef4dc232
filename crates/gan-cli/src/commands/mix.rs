//! `gan mix`: a style-mixing grid from a StyleGAN2 run's EMA generator.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_tensor::DeviceSpec;
use gan_train::{plot, TrainedGenerator, WhichCheckpoint};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A StyleGAN2 run folder.
    #[arg(long)]
    run: PathBuf,
    /// Which checkpoint: latest, best (by the config's eval.best), step-N or a folder.
    #[arg(long, default_value = "latest")]
    checkpoint: WhichCheckpoint,
    /// Output PNG: the top row shows the column sources, the left column the row sources,
    /// and each cell a row source with the column source's styles in the `--styles` layers.
    #[arg(long)]
    out: PathBuf,
    /// Row sources.
    #[arg(long, default_value_t = 5)]
    rows: i64,
    /// Column sources.
    #[arg(long, default_value_t = 6)]
    cols: i64,
    /// The layers whose styles come from the column source, `A-B` inclusive (0-based, among
    /// the generator's `w` inputs; default: the first half, the coarse styles).
    #[arg(long)]
    styles: Option<String>,
    /// Truncation psi (1: none).
    #[arg(long, default_value_t = 1.0)]
    truncation: f64,
    /// Class of every image (class-conditional models).
    #[arg(long)]
    class: Option<i64>,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

/// `A-B` (inclusive) or `A` as a half-open range.
fn parse_styles(s: &str) -> Result<std::ops::Range<i64>> {
    let parse = |v: &str| -> Result<i64> {
        v.trim()
            .parse()
            .with_context(|| format!("--styles {s}: `{v}` is not a layer number"))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let a = parse(s)?;
            (a, a)
        }
    };
    if b < a {
        bail!("--styles {s}: the range is empty");
    }
    Ok(a..b + 1)
}

pub fn handle_command(args: Args) -> Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("png") {
        bail!("--out {}: write a .png", args.out.display());
    }
    super::check_out_dir(&args.out)?;
    let mut g = TrainedGenerator::load_which(&args.run, &args.checkpoint, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    super::warn_rejected(&g.rejected);
    let num_ws = match g.stylegan2() {
        Some(s) => s.num_ws(),
        None => bail!(
            "{}: style mixing needs a StyleGAN2 run ([generator] arch = \"stylegan2\"), this \
             one's generator is `{}`",
            args.run.display(),
            g.config.generator.arch()
        ),
    };
    g.set_truncation(args.truncation)?;
    let styles = match &args.styles {
        Some(s) => parse_styles(s)?,
        None => 0..num_ws / 2,
    };
    let k = g.info.class_names.len() as i64;
    if let Some(c) = args.class {
        if !g.conditional() {
            bail!("--class: this generator is not class-conditional");
        }
        if !(0..k).contains(&c) {
            bail!("--class {c} is not in 0..{k}");
        }
    }
    let grid = g.style_mixing_grid(args.rows, args.cols, args.seed, styles.clone(), args.class)?;
    plot::image_grid(&args.out, &grid, (args.cols + 1) as usize)?;
    println!(
        "style mixing ({} x {} sources, layers {}-{} of {num_ws} from the columns, step {}) -> {}",
        args.rows,
        args.cols,
        styles.start,
        styles.end - 1,
        g.step,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_styles;

    #[test]
    fn style_ranges_are_inclusive() {
        assert_eq!(parse_styles("0-3").unwrap(), 0..4);
        assert_eq!(parse_styles("5").unwrap(), 5..6);
        assert!(parse_styles("4-2").is_err());
        assert!(parse_styles("a-2").unwrap_err().to_string().contains("`a`"));
    }
}

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::npy;
use gan_tensor::DeviceSpec;
use gan_train::{plot, write_csv, TrainedGenerator, WhichCheckpoint};
use tch::{Kind, Tensor};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder (its newest checkpoint's EMA generator is used).
    #[arg(long)]
    run: PathBuf,
    /// Which checkpoint: latest, best (by the config's eval.best), step-N or a folder.
    #[arg(long, default_value = "latest")]
    checkpoint: WhichCheckpoint,
    /// Number of samples.
    #[arg(long)]
    n: i64,
    /// Output file. 2D data: .csv (one `x,y` sample per line, no header). Images: .npy
    /// (uint8, shape (N, C, H, W); labels of conditional models beside it as
    /// FILE.labels.npy, int64) or .png (a grid).
    #[arg(long)]
    out: PathBuf,
    /// Class of every sample (conditional models; default: classes cycle 0..K-1).
    #[arg(long)]
    class: Option<i64>,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

/// The most images one `.png` grid holds.
const MAX_GRID: i64 = 10_000;

fn extension(path: &Path) -> &str {
    path.extension().and_then(|e| e.to_str()).unwrap_or("")
}

/// Labels for `n` samples of a conditional generator: `class` for all, or cycling.
pub fn labels_for(g: &TrainedGenerator, n: i64, class: Option<i64>) -> Result<Option<Tensor>> {
    let k = g.info.class_names.len() as i64;
    match (g.conditional(), class) {
        (false, None) => Ok(None),
        (false, Some(_)) => bail!("--class: this generator is not class-conditional"),
        (true, Some(c)) if !(0..k).contains(&c) => {
            bail!(
                "--class {c} is not in 0..{k} ({})",
                g.info.class_names.join(", ")
            )
        }
        (true, Some(c)) => Ok(Some(Tensor::full([n], c, (Kind::Int64, tch::Device::Cpu)))),
        (true, None) => Ok(Some(
            Tensor::arange(n, (Kind::Int64, tch::Device::Cpu)).remainder(k),
        )),
    }
}

pub fn handle_command(args: Args) -> Result<()> {
    if args.n < 1 {
        bail!("--n must be at least 1 (got {})", args.n);
    }
    let g = TrainedGenerator::load_which(&args.run, &args.checkpoint, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    super::warn_rejected(&g.rejected);
    // Before anything is allocated: an absurd --n is an error, not an allocation failure.
    g.check_memory(args.n)?;
    if extension(&args.out) == "png" && args.n > MAX_GRID {
        bail!(
            "--n {} is too many images for one .png grid (at most {MAX_GRID}); write a .npy",
            args.n
        );
    }
    let ext = extension(&args.out);
    if !g.info.is_images() {
        if ext != "csv" {
            bail!(
                "--out {}: unsupported extension {ext:?} for 2D samples; use .csv",
                args.out.display()
            );
        }
        if args.class.is_some() {
            bail!("--class: this generator is not class-conditional");
        }
        let pts = gan_data::points(&g.sample(args.n, args.seed, None)?)?;
        write_csv(&args.out, &pts)?;
    } else {
        if !matches!(ext, "npy" | "png") {
            bail!(
                "--out {}: unsupported extension {ext:?} for images; use .npy or .png",
                args.out.display()
            );
        }
        let labels = labels_for(&g, args.n, args.class)?;
        let x = g.generate_images(args.n, args.seed, labels.as_ref())?;
        if ext == "png" {
            let columns = if labels.is_some() && args.class.is_none() {
                g.info.class_names.len()
            } else {
                (args.n as f64).sqrt().ceil() as usize
            };
            plot::image_grid(&args.out, &x, columns)?;
        } else {
            let shape: Vec<usize> = x.size().iter().map(|&d| d as usize).collect();
            let px = Vec::<u8>::try_from(&plot::to_u8(&x).reshape([-1]))?;
            npy::write_u8(&args.out, &shape, &px)?;
            if let Some(l) = &labels {
                let path = args.out.with_extension("labels.npy");
                npy::write_i64(&path, &[args.n as usize], &Vec::<i64>::try_from(l)?)?;
                eprintln!("wrote labels to {}", path.display());
            }
        }
    }
    eprintln!(
        "wrote {} samples from step {} ({}) to {}",
        args.n,
        g.step,
        g.checkpoint.display(),
        args.out.display()
    );
    Ok(())
}

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
    /// Number of samples (with --latents: their number).
    #[arg(long, required_unless_present = "latents")]
    n: Option<i64>,
    /// Latents to sample from instead of drawing them: .npy, float32 (or float64), shape
    /// (N, latent_dim).
    #[arg(long)]
    latents: Option<PathBuf>,
    /// With a .npy output: the generator's raw float32 output (images in [-1, 1]) instead of
    /// uint8 pixels.
    #[arg(long)]
    raw: bool,
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
    /// Truncation psi (StyleGAN2): `w` pulled towards its average, 1 = none, 0.7 a common
    /// choice (less variety, fewer failures).
    #[arg(long, default_value_t = 1.0)]
    truncation: f64,
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

/// Latents from a `.npy` file, checked against the generator.
fn read_latents(path: &Path, g: &TrainedGenerator) -> Result<Tensor> {
    let arr = npy::read_f32(path)?;
    let d = g.latent_dim() as usize;
    if arr.shape.len() != 2 || arr.shape[1] != d || arr.shape[0] == 0 {
        bail!(
            "--latents {}: expected float32 latents of shape (N >= 1, {d}), got shape {:?}",
            path.display(),
            arr.shape
        );
    }
    Ok(Tensor::from_slice(&arr.data).view([arr.shape[0] as i64, d as i64]))
}

pub fn handle_command(mut args: Args) -> Result<()> {
    let mut g = TrainedGenerator::load_which(&args.run, &args.checkpoint, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    super::warn_rejected(&g.rejected);
    g.set_truncation(args.truncation)?;
    let latents = match &args.latents {
        Some(p) => {
            let z = read_latents(p, &g)?;
            match args.n {
                Some(n) if n != z.size()[0] => bail!(
                    "--n {n} but --latents {} holds {} latents",
                    p.display(),
                    z.size()[0]
                ),
                _ => args.n = Some(z.size()[0]),
            }
            Some(z)
        }
        None => None,
    };
    let n = args.n.unwrap_or(0);
    if n < 1 {
        bail!("--n must be at least 1 (got {n})");
    }
    if args.raw && extension(&args.out) != "npy" {
        bail!("--raw writes float32 .npy files: use --out FILE.npy");
    }
    // Before anything is allocated: an absurd --n is an error, not an allocation failure.
    g.check_memory(n)?;
    if extension(&args.out) == "png" && n > MAX_GRID {
        bail!(
            "--n {} is too many images for one .png grid (at most {MAX_GRID}); write a .npy",
            n
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
        let x = match &latents {
            Some(z) => g.generate(z, None)?.to_device(tch::Device::Cpu),
            None => g.sample(n, args.seed, None)?,
        };
        let pts = gan_data::points(&x)?;
        write_csv(&args.out, &pts)?;
    } else {
        if !matches!(ext, "npy" | "png") {
            bail!(
                "--out {}: unsupported extension {ext:?} for images; use .npy or .png",
                args.out.display()
            );
        }
        let labels = labels_for(&g, n, args.class)?;
        let x = match &latents {
            Some(z) => g.generate(z, labels.as_ref())?.to_device(tch::Device::Cpu),
            None => g.generate_images(n, args.seed, labels.as_ref())?,
        };
        if ext == "png" {
            let columns = if labels.is_some() && args.class.is_none() {
                g.info.class_names.len()
            } else {
                (n as f64).sqrt().ceil() as usize
            };
            plot::image_grid(&args.out, &x, columns)?;
        } else {
            let shape: Vec<usize> = x.size().iter().map(|&d| d as usize).collect();
            if args.raw {
                let v = Vec::<f32>::try_from(&x.to_kind(Kind::Float).reshape([-1]))?;
                npy::write_f32(&args.out, &shape, &v)?;
            } else {
                let px = Vec::<u8>::try_from(&plot::to_u8(&x).reshape([-1]))?;
                npy::write_u8(&args.out, &shape, &px)?;
            }
            if let Some(l) = &labels {
                let path = args.out.with_extension("labels.npy");
                npy::write_i64(&path, &[n as usize], &Vec::<i64>::try_from(l)?)?;
                eprintln!("wrote labels to {}", path.display());
            }
        }
    }
    eprintln!(
        "wrote {} samples from step {} ({}) to {}",
        n,
        g.step,
        g.checkpoint.display(),
        args.out.display()
    );
    Ok(())
}

//! `gan interpolate`: a latent interpolation strip from a run's EMA generator.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_tensor::{seed_all, DeviceSpec};
use gan_train::{plot, TrainedGenerator};
use tch::{Device, Kind, Tensor};

use super::sample::labels_for;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder (its newest checkpoint's EMA generator is used).
    #[arg(long)]
    run: PathBuf,
    /// Output PNG: one row per pair of latents, `--steps` images from one to the other.
    #[arg(long)]
    out: PathBuf,
    /// Images per row (including both ends).
    #[arg(long, default_value_t = 10)]
    steps: i64,
    /// Rows (pairs of latents).
    #[arg(long, default_value_t = 8)]
    rows: i64,
    /// Class of every row (conditional models; default: row r shows class r mod K).
    #[arg(long)]
    class: Option<i64>,
    /// Linear interpolation instead of spherical (slerp suits Gaussian latents better).
    #[arg(long)]
    linear: bool,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

/// Spherical interpolation between rows of `a` and `b` at fraction `t`.
fn slerp(a: &Tensor, b: &Tensor, t: f64) -> Tensor {
    let na = a.norm_scalaropt_dim(2, [1].as_slice(), true);
    let nb = b.norm_scalaropt_dim(2, [1].as_slice(), true);
    let cos = ((a * b).sum_dim_intlist(1, true, Kind::Float) / (&na * &nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let so = omega.sin();
    // Nearly parallel latents: fall back to linear interpolation.
    let lin = a * (1.0 - t) + b * t;
    let sph = (a * ((1.0 - t) * &omega).sin() + b * (t * &omega).sin()) / &so;
    sph.where_self(&so.abs().gt(1e-6), &lin)
}

pub fn handle_command(args: Args) -> Result<()> {
    if args.steps < 2 || args.rows < 1 {
        bail!("--steps must be at least 2 and --rows at least 1");
    }
    if args.out.extension().and_then(|e| e.to_str()) != Some("png") {
        bail!("--out {}: write a .png", args.out.display());
    }
    let g = TrainedGenerator::load(&args.run, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    super::warn_rejected(&g.rejected);
    if !g.info.is_images() {
        bail!(
            "{} trained on 2D points: interpolation strips are for image models",
            args.run.display()
        );
    }
    seed_all(args.seed);
    let opts = (Kind::Float, Device::Cpu);
    let a = Tensor::randn([args.rows, g.latent_dim()], opts);
    let b = Tensor::randn([args.rows, g.latent_dim()], opts);
    // Row-major: row r holds steps t = 0..1 between a[r] and b[r].
    let frames: Vec<Tensor> = (0..args.steps)
        .map(|i| {
            let t = i as f64 / (args.steps - 1) as f64;
            if args.linear {
                &a * (1.0 - t) + &b * t
            } else {
                slerp(&a, &b, t)
            }
        })
        .collect();
    let z = Tensor::stack(&frames, 1).reshape([args.rows * args.steps, g.latent_dim()]);
    let row_labels = labels_for(&g, args.rows, args.class)?;
    let labels = row_labels.map(|l| l.repeat_interleave_self_int(args.steps, 0, None));
    let x = g.generate(&z, labels.as_ref())?;
    plot::image_grid(&args.out, &x, args.steps as usize)?;
    eprintln!(
        "wrote {} rows x {} steps from step {} to {}",
        args.rows,
        args.steps,
        g.step,
        args.out.display()
    );
    Ok(())
}

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_tensor::DeviceSpec;
use gan_train::{write_csv, TrainedGenerator};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder (its newest checkpoint's EMA generator is used).
    #[arg(long)]
    run: PathBuf,
    /// Number of samples.
    #[arg(long)]
    n: i64,
    /// Output file: .csv (one `x,y` sample per line, no header).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn handle_command(args: Args) -> Result<()> {
    if args.n < 1 {
        bail!("--n must be at least 1 (got {})", args.n);
    }
    match args.out.extension().and_then(|e| e.to_str()) {
        Some("csv") => {}
        other => bail!(
            "--out {}: unsupported extension {:?} for 2D samples; use .csv",
            args.out.display(),
            other.unwrap_or("")
        ),
    }
    let g = TrainedGenerator::load(&args.run, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    let pts = gan_data::points(&g.sample(args.n, args.seed)?)?;
    write_csv(&args.out, &pts)?;
    eprintln!(
        "wrote {} samples from step {} ({}) to {}",
        args.n,
        g.step,
        g.checkpoint.display(),
        args.out.display()
    );
    Ok(())
}

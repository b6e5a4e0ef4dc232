//! `gan export`: a run's EMA generator for use outside the toolkit: TorchScript (load it with
//! `torch.jit.load`, no toolkit needed) or safetensors weights, each with a JSON sidecar
//! describing the network.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_tensor::DeviceSpec;
use gan_train::{TrainedGenerator, WhichCheckpoint};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A traced TorchScript module: `forward(z)` (or `forward(z, y)` for conditional
    /// models) gives samples (images in [-1, 1]).
    Torchscript,
    /// The generator's tensors by name; the sidecar JSON holds the architecture.
    Safetensors,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder (a GAN run: its EMA generator is exported).
    #[arg(long)]
    run: PathBuf,
    /// Which checkpoint: latest, best (by the config's eval.best), step-N or a folder.
    #[arg(long, default_value = "latest")]
    checkpoint: WhichCheckpoint,
    /// What to write.
    #[arg(long, value_enum)]
    format: Format,
    /// Output file (.pt for TorchScript, .safetensors); FILE.json beside it describes it.
    #[arg(long)]
    out: PathBuf,
    /// Device the TorchScript module is traced on (it runs where it was traced).
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

pub fn handle_command(args: Args) -> Result<()> {
    let want = match args.format {
        Format::Torchscript => "pt",
        Format::Safetensors => "safetensors",
    };
    let ext = args.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext != want {
        bail!(
            "--out {}: use a .{want} file for --format {:?}",
            args.out.display(),
            args.format
        );
    }
    super::check_out_dir(&args.out)?;
    let g = TrainedGenerator::load_which(&args.run, &args.checkpoint, args.device.resolve()?)
        .with_context(|| format!("cannot load a generator from {}", args.run.display()))?;
    super::warn_rejected(&g.rejected);
    let sidecar = args.out.with_extension("json");
    let info = serde_json::json!({
        "format": want,
        "run": args.run.display().to_string(),
        "checkpoint": g.checkpoint.display().to_string(),
        "step": g.step,
        "latent_dim": g.latent_dim(),
        "latent_distribution": "standard normal",
        "conditional": g.conditional(),
        "classes": g.info.class_names,
        "output_shape": g.info.shape,
        "output_range": if g.info.is_images() { "[-1, 1] (pixels: round((x + 1) * 127.5))" } else { "data space" },
        "inputs": if g.conditional() { "forward(z: float32 [N, latent_dim], y: int64 [N])" } else { "forward(z: float32 [N, latent_dim])" },
        "generator": g.config.generator,
    });
    match args.format {
        Format::Torchscript => {
            let module = g.trace(2).context("cannot trace the generator")?;
            gan_tensor::write_atomic_with(&args.out, |tmp| {
                module.save(tmp).map_err(std::io::Error::other)
            })
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        }
        Format::Safetensors => {
            let weights = g.weights();
            let named: Vec<(&str, &tch::Tensor)> =
                weights.iter().map(|(n, t)| (n.as_str(), t)).collect();
            gan_tensor::write_atomic_with(&args.out, |tmp| {
                tch::Tensor::write_safetensors(&named, tmp).map_err(std::io::Error::other)
            })
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        }
    }
    gan_tensor::write_atomic(&sidecar, serde_json::to_string_pretty(&info)?.as_bytes())?;
    eprintln!(
        "wrote the EMA generator of step {} ({}) to {} ({:?}); described in {}",
        g.step,
        g.checkpoint.display(),
        args.out.display(),
        args.format,
        sidecar.display()
    );
    Ok(())
}

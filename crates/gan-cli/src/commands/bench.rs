use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use gan_tensor::DeviceSpec;
use gan_train::{TrainConfig, Trainer};
use serde::Serialize;

const PRESET: &str = include_str!("../../../../configs/bench-2d.toml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config whose training step is timed (default: configs/bench-2d.toml, built in).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Timed steps.
    #[arg(long, default_value_t = 200)]
    steps: u64,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// libtorch CPU threads.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

#[derive(Serialize)]
struct Timing {
    name: String,
    device: String,
    threads: i32,
    steps: u64,
    ms_per_step: f64,
}

/// Times the 2D training step of `configs/bench-2d.toml` (PacGAN-sized networks, batch 100).
pub fn handle_command(args: Args) -> Result<()> {
    let mut cfg = match &args.config {
        Some(path) => TrainConfig::from_toml_file(path)?,
        None => TrainConfig::from_toml_str(PRESET, Path::new("configs/bench-2d.toml"))?,
    };
    cfg.device = args.device;
    cfg.train.threads = args.threads;
    cfg.train.steps = u64::MAX / 2;
    let dir = std::env::temp_dir().join(format!("gan-bench-{}", std::process::id()));
    let mut t = Trainer::create(cfg, &dir)?;
    for _ in 0..args.warmup {
        t.train_step()?;
    }
    sync(&t);
    let start = Instant::now();
    for _ in 0..args.steps {
        t.train_step()?;
    }
    sync(&t);
    let ms = start.elapsed().as_secs_f64() * 1e3 / args.steps as f64;
    let _ = std::fs::remove_dir_all(&dir);
    let timing = Timing {
        name: format!("{}-step", t.config().name),
        device: format!("{:?}", t.device()),
        threads: tch::get_num_threads(),
        steps: args.steps,
        ms_per_step: ms,
    };
    println!("{}", serde_json::to_string(&timing)?);
    Ok(())
}

fn sync(t: &Trainer) {
    if let tch::Device::Cuda(i) = t.device() {
        tch::Cuda::synchronize(i as i64);
    }
}

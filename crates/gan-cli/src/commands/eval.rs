use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::{Mixture2d, MixtureKind, ModeMetrics};
use gan_tensor::DeviceSpec;
use gan_train::{ModelConfig, TrainConfig, TrainedGenerator, TrainedTranslator, WhichCheckpoint};
use serde::Serialize;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Data {
    Ring,
    Grid,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder to evaluate (samples its EMA generator).
    #[arg(long, required_unless_present = "samples", conflicts_with = "samples")]
    run: Option<PathBuf>,
    /// Which checkpoint of the run: latest, best (by the config's eval.best), step-N or a folder.
    #[arg(long, default_value = "latest")]
    checkpoint: WhichCheckpoint,
    /// Samples to evaluate instead of a run: a CSV of `x,y` points (needs --data), or a
    /// .npy of uint8 images (N, C, H, W) (labels of conditional samples are read from
    /// FILE.labels.npy when it exists, or --labels).
    #[arg(long)]
    samples: Option<PathBuf>,
    /// The mixture 2D samples should match (with --samples FILE.csv).
    #[arg(long, value_enum)]
    data: Option<Data>,
    /// Class labels of the samples (.npy, int64, shape (N,)).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Translation runs: test-time behaviour (default: the run's `model.test_mode`).
    #[arg(long, value_enum)]
    mode: Option<super::translate::Mode>,
    /// With --samples FILE.npy of translations: the true targets (.npy, uint8, the same
    /// shape), to add L1, PSNR and SSIM (how translation runs are scored).
    #[arg(long, requires = "samples")]
    targets: Option<PathBuf>,
    /// A classifier folder (`gan classifier train`) to score images with. Default:
    /// classifiers/<data>-<H>x<W> of the run's data, or of --reference's for samples files,
    /// when it exists.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Skip the classifier scores.
    #[arg(long, conflicts_with = "classifier")]
    no_classifier: bool,
    /// The InceptionV3 TorchScript file for FID/KID/IS (default: $GAN_INCEPTION, else the
    /// one `cargo xtask fetch-inception` writes into the cache). Without it, the Inception
    /// scores are skipped with a note saying how to get it.
    #[arg(long)]
    inception: Option<PathBuf>,
    /// Skip the Inception scores (slow on a CPU: InceptionV3 at 299x299).
    #[arg(long, conflicts_with = "inception")]
    no_inception: bool,
    /// Real images to compare with (FID, FCD, KID, precision/recall, density/coverage):
    /// NAME:SPLIT with NAME fashion-mnist, mnist, cifar10 or stacked-fashion-mnist (grey
    /// images are padded to the samples' size), or `none`. Default for runs: the run's data,
    /// test split; for samples files: none.
    #[arg(long)]
    reference: Option<String>,
    /// Reference images used (the first N of the split; 0 = all).
    #[arg(long, default_value_t = 10_000)]
    reference_images: usize,
    /// Also GAN-train / GAN-test (Shmelkov et al. 2018; class-conditional samples): trains a
    /// classifier like the domain classifier on the samples and tests it on the reference.
    #[arg(long)]
    gan_train: bool,
    /// Epochs of the GAN-train classifier (default: the domain classifier's).
    #[arg(long)]
    gan_train_epochs: Option<u64>,
    /// Samples to draw from the run (default 2500 for 2D data, the PacGAN protocol; 10000
    /// for images).
    #[arg(long)]
    n: Option<i64>,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Where to write the JSON result (a Markdown table goes beside it as .md). Default:
    /// RUN/eval.json, or FILE.eval.json beside --samples.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device of the generator and the feature extractors: auto (CUDA when available), cpu,
    /// cuda or cuda:N. The scores themselves are computed in float64 on the CPU.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
}

#[derive(Serialize)]
struct Report {
    source: String,
    step: Option<u64>,
    data: MixtureKind,
    protocol: &'static str,
    #[serde(flatten)]
    metrics: ModeMetrics,
}

const PROTOCOL: &str = "PacGAN: high quality = within 3 std of the nearest mean; a mode is captured with >= 1 high-quality sample; reverse KL of the nearest-mode histogram against uniform";

pub fn read_csv(path: &Path) -> Result<Vec<[f32; 2]>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut pts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.split(',').map(|s| s.trim().parse::<f32>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(x)), Some(Ok(y)), None) => pts.push([x, y]),
            _ => bail!(
                "{}:{}: expected `x,y` (two numbers), got {line:?}",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(pts)
}

pub fn handle_command(args: Args) -> Result<()> {
    // Checked before anything is scored: an unwritable --out must not waste the work.
    if let Some(out) = &args.out {
        super::check_out_dir(out)?;
    }
    if let Some(file) = &args.samples {
        if file.extension().and_then(|e| e.to_str()) == Some("npy") {
            return super::eval_images::samples_file(&args_images(&args), file);
        }
    }
    let (report, out) = if let Some(file) = &args.samples {
        let Some(data) = args.data else {
            bail!(
                "--samples {}: 2D samples need --data ring|grid",
                file.display()
            );
        };
        let kind = match data {
            Data::Ring => MixtureKind::Ring,
            Data::Grid => MixtureKind::Grid,
        };
        let pts = read_csv(file)?;
        let metrics = Mixture2d::new(kind)
            .evaluate(&pts)
            .with_context(|| format!("cannot evaluate {}", file.display()))?;
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| file.with_extension("eval.json"));
        (
            Report {
                source: file.display().to_string(),
                step: None,
                data: kind,
                protocol: PROTOCOL,
                metrics,
            },
            out,
        )
    } else {
        let run = args.run.as_ref().expect("clap requires --run or --samples");
        let cfg = TrainConfig::from_toml_file(&run.join("config.toml"))
            .with_context(|| format!("cannot read the run in {}", run.display()))?;
        if let ModelConfig::Cyclegan(_) = cfg.model {
            return super::eval_images::cyclegan_run(&args_images(&args), run, &args.checkpoint);
        }
        if !cfg.model.generates_from_latents() {
            let t = TrainedTranslator::load_which(run, &args.checkpoint, args.device.resolve()?)
                .with_context(|| format!("cannot load a translator from {}", run.display()))?;
            super::warn_rejected(&t.rejected);
            return super::eval_images::translation_run(&args_images(&args), run, &t);
        }
        let g = TrainedGenerator::load_which(run, &args.checkpoint, args.device.resolve()?)
            .with_context(|| format!("cannot load a generator from {}", run.display()))?;
        super::warn_rejected(&g.rejected);
        if let Some(n) = args.n {
            g.check_memory(n)?;
        }
        let Some(data) = g.mixture() else {
            return super::eval_images::run(&args_images(&args), run, &g);
        };
        let n = args.n.unwrap_or(2500);
        if n < 1 {
            bail!("--n must be at least 1 (got {n})");
        }
        let pts = gan_data::points(&g.sample(n, args.seed, None)?)?;
        let metrics = data.evaluate(&pts)?;
        let out = args.out.clone().unwrap_or_else(|| run.join("eval.json"));
        (
            Report {
                source: g.checkpoint.display().to_string(),
                step: Some(g.step),
                data: data.kind(),
                protocol: PROTOCOL,
                metrics,
            },
            out,
        )
    };
    let m = &report.metrics;
    println!("source          {}", report.source);
    if let Some(s) = report.step {
        println!("step            {s}");
    }
    println!("samples         {}", m.n_samples);
    println!("modes captured  {}/{}", m.modes_captured, m.n_modes);
    println!("high quality    {:.2}%", 100.0 * m.high_quality_fraction);
    println!("reverse KL      {:.4}", m.reverse_kl);
    let json = serde_json::to_string_pretty(&report)?;
    gan_tensor::write_atomic(&out, (json + "\n").as_bytes())?;
    println!("wrote {}", out.display());
    Ok(())
}

fn args_images(args: &Args) -> super::eval_images::ImageArgs {
    super::eval_images::ImageArgs {
        labels: args.labels.clone(),
        targets: args.targets.clone(),
        mode: args.mode.map(super::translate::Mode::test_mode),
        classifier: args.classifier.clone(),
        no_classifier: args.no_classifier,
        inception: args.inception.clone(),
        no_inception: args.no_inception,
        reference: args.reference.clone(),
        reference_images: args.reference_images,
        gan_train: args.gan_train,
        gan_train_epochs: args.gan_train_epochs,
        n: args.n.unwrap_or(10_000),
        seed: args.seed,
        out: args.out.clone(),
        device: args.device,
    }
}

//! `gan classifier train`: the domain classifier that scores generated images.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use gan_data::Split;
use gan_eval::{Classifier, ClassifierConfig, TrainEvent};
use gan_tensor::DeviceSpec;
use gan_train::{default_classifier_dir, load_images, DataConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Train a classifier on a labelled data set's train split and measure it on the test split.
    Train(TrainArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DataName {
    FashionMnist,
    Mnist,
    Cifar10,
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// The data set (train split for training, test split for the accuracy).
    #[arg(
        long,
        value_enum,
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    data: Option<DataName>,
    /// Take the data set and its padding from a training config's [data] table, so the
    /// classifier sees images exactly as that GAN generates them.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Black pixels added on every side (2 makes Fashion-MNIST 32x32), with --data.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Folder of the data files (default: searched as for training).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Output folder (default: classifiers/<data>-<H>x<W>, where `gan eval` looks).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = ClassifierConfig::default().epochs)]
    epochs: u64,
    /// Channels of the first convolutions.
    #[arg(long, default_value_t = ClassifierConfig::default().width)]
    width: i64,
    /// Images per step.
    #[arg(long, default_value_t = ClassifierConfig::default().batch_size)]
    batch_size: usize,
    /// Seed of the weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// CPU threads for libtorch (0 = libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
}

pub fn handle_command(args: Args) -> Result<()> {
    match args.command {
        Command::Train(a) => train(a),
    }
}

fn train(args: TrainArgs) -> Result<()> {
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let data = match (&args.config, args.data) {
        (Some(path), _) => crate::presets::load(path)?.data,
        (None, Some(DataName::FashionMnist)) => DataConfig::FashionMnist {
            dir: args.dir.clone(),
            split: Split::Train,
            pad: args.pad,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        (None, Some(DataName::Mnist)) => DataConfig::Mnist {
            dir: args.dir.clone(),
            split: Split::Train,
            pad: args.pad,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        (None, Some(DataName::Cifar10)) => DataConfig::Cifar10 {
            dir: args.dir.clone(),
            split: Split::Train,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        (None, None) => bail!("give --data or --config"),
    };
    let cfg = ClassifierConfig {
        width: args.width,
        epochs: args.epochs,
        batch_size: args.batch_size,
        seed: args.seed,
        ..Default::default()
    };
    train_classifier(&data, &cfg, args.device.resolve()?, args.out.clone())
}

/// Trains the domain classifier of `data` (its train split; accuracy on the test split) with
/// a progress line per 100 steps, and saves it to `out` (default:
/// `classifiers/<data>-<H>x<W>`, where `gan eval` and `[eval]` look).
pub fn train_classifier(
    data: &DataConfig,
    cfg: &ClassifierConfig,
    device: tch::Device,
    out: Option<std::path::PathBuf>,
) -> Result<()> {
    let train_ds = load_images(&data.with_split(Split::Train)?)?;
    let test_ds = load_images(&data.with_split(Split::Test)?)?;
    let shape = [train_ds.channels, train_ds.height, train_ds.width].map(|d| d as i64);
    let out = out.unwrap_or_else(|| default_classifier_dir(data.name(), &shape));
    eprintln!(
        "training a classifier on {} ({} images {:?}, {} classes) for {} epochs on {:?} ({} \
         threads); test: {} ({} images)",
        train_ds.source,
        train_ds.len(),
        shape,
        train_ds.n_classes(),
        cfg.epochs,
        device,
        tch::get_num_threads(),
        test_ds.source,
        test_ds.len()
    );
    let start = Instant::now();
    let mut on_event = |e: TrainEvent| match e {
        TrainEvent::Step { step, total, loss } => {
            let secs = start.elapsed().as_secs_f64();
            let eta = secs / step as f64 * (total - step) as f64;
            eprintln!(
                "step {step:>6}/{total}  loss {loss:.4}  {:.1} it/s  eta {eta:.0}s",
                step as f64 / secs
            );
        }
        TrainEvent::Epoch {
            epoch,
            test_accuracy,
        } => eprintln!("epoch {epoch}: test accuracy {:.2}%", 100.0 * test_accuracy),
    };
    let mut classifier = Classifier::train(cfg, &train_ds, &test_ds, device, &mut on_event)?;
    classifier
        .save(&out)
        .with_context(|| format!("cannot save the classifier to {}", out.display()))?;
    eprintln!(
        "test accuracy {:.2}% ({}); {:.0} s; saved to {} (sha256 {})",
        100.0 * classifier.meta.test_accuracy,
        test_ds.source,
        classifier.meta.train_seconds,
        out.display(),
        classifier.meta.weights_sha256
    );
    Ok(())
}

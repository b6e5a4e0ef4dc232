//! `gan translate`: run a trained translator (pix2pix, or either direction of a cyclegan
//! run) over images.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::npy;
use gan_tensor::DeviceSpec;
use gan_train::{TestMode, TrainedTranslator, Way, WhichCheckpoint};
use serde::Serialize;
use tch::Tensor;

/// Which way to translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// A -> B (pix2pix's G; cyclegan's G_A).
    AToB,
    /// B -> A (cyclegan's G_B; a pix2pix run has no B -> A translator).
    BToA,
}

/// How the translator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// pix2pix's default: dropout on, batch statistics (running statistics untouched).
    Stochastic,
    /// Dropout off, running statistics (pix2pix's `--eval`).
    Eval,
}

impl Mode {
    /// As the training crate names it.
    pub fn test_mode(self) -> TestMode {
        match self {
            Mode::Stochastic => TestMode::Stochastic,
            Mode::Eval => TestMode::Eval,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder of a translation run.
    #[arg(long)]
    run: PathBuf,
    /// Input: a uint8 .npy (N, C, H, W), an image file (PNG/JPEG) or a folder of them.
    #[arg(long)]
    input: PathBuf,
    /// Output: a .npy for a .npy input (same N and order), an image file for an image file,
    /// a folder for a folder (the same file names, as PNG).
    #[arg(long)]
    out: PathBuf,
    /// Which way to translate.
    #[arg(long, value_enum, default_value = "a-to-b")]
    direction: Direction,
    /// Which checkpoint: latest, best, step-N or a folder.
    #[arg(long, default_value = "latest")]
    checkpoint: WhichCheckpoint,
    /// Test-time behaviour (default: the run's `model.test_mode`).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Seed of the dropout draws (stochastic mode).
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

/// What `gan translate` records beside its output (`<out>.json`, or `translate.json` in an
/// output folder).
#[derive(Serialize)]
struct Record<'a> {
    run: &'a Path,
    checkpoint: &'a Path,
    step: u64,
    direction: Direction,
    test_mode: &'static str,
    test_batch: i64,
    seed: i64,
    input: &'a Path,
    images: usize,
}

fn ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn is_image(path: &Path) -> bool {
    matches!(ext(path).as_str(), "png" | "jpg" | "jpeg")
}

/// Reads an image as `u8` `[1, C, H, W]` with `channels` (1 or 3), resized to `(h, w)`.
fn read_image(path: &Path, channels: i64, (h, w): (i64, i64)) -> Result<Tensor> {
    let img = image::open(path).with_context(|| format!("cannot decode {}", path.display()))?;
    let img = img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle);
    let px: Vec<u8> = if channels == 1 {
        img.to_luma8().into_raw()
    } else {
        img.to_rgb8().into_raw()
    };
    // HWC -> CHW.
    Ok(Tensor::from_slice(&px)
        .view([h, w, channels])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .contiguous())
}

/// Writes `u8` `[C, H, W]` as a PNG (atomically).
fn write_image(path: &Path, x: &Tensor) -> Result<()> {
    let s = x.size();
    let (c, h, w) = (s[0], s[1] as u32, s[2] as u32);
    let px = Vec::<u8>::try_from(x.permute([1, 2, 0]).contiguous().reshape([-1]))?;
    let save = |tmp: &Path| -> image::ImageResult<()> {
        if c == 1 {
            image::GrayImage::from_raw(w, h, px.clone())
                .expect("size matches")
                .save_with_format(tmp, image::ImageFormat::Png)
        } else {
            image::RgbImage::from_raw(w, h, px.clone())
                .expect("size matches")
                .save_with_format(tmp, image::ImageFormat::Png)
        }
    };
    Ok(gan_tensor::write_atomic_with(path, save)?)
}

pub fn handle_command(args: Args) -> Result<()> {
    let device = args.device.resolve()?;
    let way = match args.direction {
        Direction::AToB => Way::AToB,
        Direction::BToA => Way::BToA,
    };
    let t = TrainedTranslator::load_direction(&args.run, &args.checkpoint, way, device)
        .with_context(|| format!("cannot load a translator from {}", args.run.display()))?;
    super::warn_rejected(&t.rejected);
    let mode = args.mode.map_or(t.test_mode, Mode::test_mode);
    let shape = t.input_shape();
    let (ca, size) = (shape[0], (shape[1], shape[2]));
    let record_path;
    let n;
    if ext(&args.input) == "npy" {
        if ext(&args.out) != "npy" {
            bail!(
                "--out {}: a .npy input gives a .npy output",
                args.out.display()
            );
        }
        let arr = npy::read_u8(&args.input)?;
        let dims: Vec<i64> = arr.shape.iter().map(|&d| d as i64).collect();
        if dims.len() != 4 || dims[1] != ca {
            bail!(
                "--input {}: expected uint8 (N, {ca}, H, W), got shape {:?}",
                args.input.display(),
                arr.shape
            );
        }
        let x = Tensor::from_slice(&arr.data).view(dims.as_slice());
        let y = t.translate(&x, mode, args.seed)?;
        let out_shape: Vec<usize> = y.size().iter().map(|&d| d as usize).collect();
        npy::write_u8(
            &args.out,
            &out_shape,
            &Vec::<u8>::try_from(y.reshape([-1]))?,
        )?;
        n = out_shape[0];
        record_path = args.out.with_extension("json");
    } else if args.input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&args.input)
            .with_context(|| format!("cannot list {}", args.input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!(
                "--input {}: no PNG or JPEG files in the folder",
                args.input.display()
            );
        }
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        for f in &files {
            let y = t.translate(&read_image(f, ca, size)?, mode, args.seed)?;
            let name = Path::new(f.file_name().expect("a file")).with_extension("png");
            write_image(&args.out.join(name), &y.get(0))?;
        }
        n = files.len();
        record_path = args.out.join("translate.json");
    } else if is_image(&args.input) {
        let y = t.translate(&read_image(&args.input, ca, size)?, mode, args.seed)?;
        write_image(&args.out, &y.get(0))?;
        n = 1;
        record_path = args.out.with_extension("json");
    } else {
        bail!(
            "--input {}: expected a .npy, a PNG/JPEG file or a folder of them",
            args.input.display()
        );
    }
    let rec = Record {
        run: &args.run,
        checkpoint: &t.checkpoint,
        step: t.step,
        direction: args.direction,
        test_mode: mode.name(),
        test_batch: t.test_batch,
        seed: args.seed,
        input: &args.input,
        images: n,
    };
    gan_tensor::write_atomic(
        &record_path,
        (serde_json::to_string_pretty(&rec)? + "\n").as_bytes(),
    )?;
    eprintln!(
        "translated {n} image(s) with step {} ({}, {} mode, {} at a time) to {}; recorded in {}",
        t.step,
        t.checkpoint.display(),
        mode.name(),
        t.test_batch,
        args.out.display(),
        record_path.display()
    );
    Ok(())
}

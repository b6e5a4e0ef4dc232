use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gan_tensor::DeviceSpec;
use gan_train::{Outcome, ResumeFrom, TrainConfig, Trainer, WhichCheckpoint};

use crate::progress::Progress;

/// The preset `gan train` runs without `--config`.
const RING_PRESET: &str = include_str!("../../../../configs/ring.toml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// TOML config file, or a preset's name (`gan configs` lists them). Default: ring.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder. Default: runs/<name>-NNN, the first free number.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device: auto, cpu, cuda or cuda:N (overrides the config).
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// Seed (overrides the config).
    #[arg(long)]
    seed: Option<u64>,
    /// Total generator steps (overrides train.steps; use it to extend a resumed run).
    #[arg(long)]
    steps: Option<u64>,
    /// Continue the run in this folder from its newest checkpoint that verifies.
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// With --resume: continue from this checkpoint instead (step-N, such as step-600, or a
    /// checkpoint folder). Newer checkpoints are moved to checkpoints/set-aside/. With
    /// --init-from: latest, best or step-N of the source run.
    #[arg(long)]
    checkpoint: Option<String>,
    /// Transfer learning: start from this run's generator, discriminator and EMA weights
    /// (fresh optimisers, a run folder of its own); the architectures must match.
    #[arg(long, conflicts_with = "resume", requires = "config")]
    init_from: Option<PathBuf>,
}

fn default_out(name: &str) -> PathBuf {
    (1..)
        .map(|i| Path::new("runs").join(format!("{name}-{i:03}")))
        .find(|p| !p.exists())
        .expect("an unused run folder name")
}

pub fn handle_command(args: Args) -> Result<()> {
    let mut cfg = match (&args.config, &args.resume) {
        (Some(path), _) => Some(crate::presets::load(path)?),
        (None, Some(_)) => None,
        (None, None) => Some(TrainConfig::from_toml_str(
            RING_PRESET,
            Path::new("<built-in ring preset>"),
        )?),
    };
    if args.device.is_some() || args.seed.is_some() || args.steps.is_some() {
        if cfg.is_none() {
            let dir = args
                .resume
                .as_ref()
                .expect("resume is set when config is not");
            cfg = Some(TrainConfig::from_toml_file(&dir.join("config.toml"))?);
        }
        let c = cfg.as_mut().expect("set above");
        if let Some(d) = args.device {
            c.device = d;
        }
        if let Some(s) = args.seed {
            c.seed = s;
        }
        if let Some(s) = args.steps {
            c.train.steps = s;
        }
        c.validate()?;
    }

    // A shipped preset just runs: the domain classifier its [eval] scores with is trained first
    // when it is not there yet (once per data set and size; every later run reuses it).
    if let Some(cfg) = &cfg {
        if let Some((data, dir)) = gan_train::missing_default_classifier(cfg)? {
            eprintln!(
                "[eval] scores with the domain classifier {}, which does not exist yet: \
                 training it first (about 3 minutes on 2 CPU cores; once, kept for later runs; \
                 `gan classifier train --config FILE` does the same by hand)",
                dir.display()
            );
            super::classifier::train_classifier(
                &data,
                &gan_eval::ClassifierConfig::default(),
                cfg.device.resolve()?,
                Some(dir),
            )
            .context("cannot train the domain classifier for [eval]")?;
        }
    }

    let mut trainer = match &args.resume {
        Some(dir) => {
            let checkpoint = args
                .checkpoint
                .as_deref()
                .map(gan_train::checkpoint::parse_name)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--checkpoint: {e}"))?;
            let from = match &checkpoint {
                Some(c) => ResumeFrom::Checkpoint(c.clone()),
                None => ResumeFrom::Newest,
            };
            let t = Trainer::resume_from(dir, cfg, &from)
                .with_context(|| format!("cannot resume {}", dir.display()))?;
            if let Some(r) = t.resume_report() {
                for c in &r.cleaned {
                    eprintln!(
                        "removed {}, left by an interrupted checkpoint write or prune",
                        c.display()
                    );
                }
                for rej in &r.rejected {
                    eprintln!(
                        "rejected checkpoint {}: {}; moved to {} (kept for inspection, never used)",
                        rej.path.display(),
                        rej.reason,
                        rej.moved_to
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    );
                }
                for (from, to) in &r.set_aside {
                    eprintln!(
                        "moved the newer checkpoint {} to {}",
                        from.display(),
                        to.display()
                    );
                }
                eprintln!(
                    "resuming {} at step {} of {} from {}{}",
                    dir.display(),
                    t.step(),
                    t.config().train.steps,
                    r.checkpoint.display(),
                    if r.rejected.is_empty() {
                        if r.verified {
                            " (checksums verified)"
                        } else {
                            " (format 1: written before checksums, not verified)"
                        }
                    } else {
                        ", the newest checkpoint that verifies"
                    }
                );
                if let Some(s) = &r.schedule_change {
                    eprintln!("warning: {} (recorded in metrics.jsonl)", s.message);
                }
            }
            t
        }
        None => {
            let cfg = cfg.expect("config given or preset");
            let out = args.out.clone().unwrap_or_else(|| default_out(&cfg.name));
            let existed = out.exists();
            let mut t = Trainer::create(cfg, &out)
                .with_context(|| format!("cannot start a run in {}", out.display()))?;
            if let Some(src) = &args.init_from {
                let which: WhichCheckpoint = args
                    .checkpoint
                    .as_deref()
                    .unwrap_or("latest")
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--checkpoint: {e}"))?;
                let rec = match t.init_from(src, &which) {
                    Ok(rec) => rec,
                    Err(e) => {
                        drop(t);
                        if !existed {
                            let _ = std::fs::remove_dir_all(&out);
                        }
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot initialise from {}", src.display())));
                    }
                };
                eprintln!(
                    "initialised {} tensors from {} (step {}); recorded in {}",
                    rec.tensors,
                    rec.checkpoint.display(),
                    rec.step,
                    out.join("init.json").display()
                );
            } else if args.checkpoint.is_some() {
                bail!("--checkpoint goes with --resume or --init-from");
            }
            t
        }
    };
    let run = trainer.run_dir().root.clone();
    let total = trainer.config().train.steps;
    if trainer.step() >= total {
        bail!(
            "{} is already complete at step {}; pass --steps N (N > {}) to train further",
            run.display(),
            trainer.step(),
            trainer.step()
        );
    }
    let info = trainer.data_info().clone();
    eprintln!(
        "training `{}` on {:?} for {} steps ({} threads) -> {}",
        trainer.config().name,
        trainer.device(),
        total,
        tch::get_num_threads(),
        run.display()
    );
    if info.is_images() {
        eprintln!(
            "data: {} ({} images {:?}, {} classes, {:.1} MB in memory{})",
            info.source,
            info.n_samples,
            info.shape,
            info.class_names.len(),
            info.bytes as f64 / 1e6,
            if info.skipped > 0 {
                format!(", {} undecodable files skipped", info.skipped)
            } else {
                String::new()
            }
        );
    }

    // Ctrl-C (SIGINT), SIGTERM (what `docker stop`, Slurm and Kubernetes send) and SIGHUP all
    // finish the step, write a checkpoint and exit 0; another one quits at once, but only if
    // it comes at least `REPEAT` after the first: signals that arrive together are one stop.
    // GNU `timeout` sends its signal to the run and then to the whole process group (the run
    // again), and batch schedulers signal every process of a job, so a wall-clock budget
    // would otherwise lose the final checkpoint.
    const REPEAT: std::time::Duration = std::time::Duration::from_secs(1);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let first = std::sync::Mutex::new(None::<std::time::Instant>);
        ctrlc::set_handler(move || {
            let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
            match *first {
                Some(t) if t.elapsed() >= REPEAT => {
                    eprintln!("\nsecond interrupt: exiting without a final checkpoint");
                    std::process::exit(130);
                }
                Some(_) => {} // the same stop, delivered twice
                None => {
                    *first = Some(std::time::Instant::now());
                    stop.store(true, Ordering::SeqCst);
                    eprintln!(
                        "\ninterrupt (Ctrl-C or SIGTERM): finishing the step and writing a \
                         checkpoint (interrupt again, a second or more later, to quit now)"
                    );
                }
            }
        })
        .context("cannot install the interrupt (SIGINT/SIGTERM) handler")?;
    }

    let mut progress = Progress::new(trainer.step(), total);
    // A libtorch failure inside a step that tch reports by panicking (memory running out
    // mid-step, say) ends as an error that says what is kept, not as exit 101. Everything
    // saved so far stays: checkpoints are only ever written whole.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        trainer.run(&stop, &mut |e| progress.event(e))
    }));
    progress.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = crate::panic_message(panic.as_ref());
            let newest = gan_train::checkpoint::latest(&gan_train::RunDir::new(&run).checkpoints())
                .ok()
                .flatten()
                .map(|c| c.path.display().to_string());
            anyhow::bail!(
                "training stopped at step {} (libtorch failed; tch panicked): {what}\n  {}",
                trainer.step(),
                match newest {
                    Some(p) => format!(
                        "the newest checkpoint, {p}, is intact: fix the cause (often memory: a \
                         smaller batch_size or model) and resume with gan train --resume {}",
                        run.display()
                    ),
                    None => "no checkpoint was written yet".to_string(),
                }
            );
        }
    };
    match outcome? {
        Outcome::Finished { step } => {
            eprintln!("done: {step} steps. Results in {}:", run.display());
            if info.is_images() {
                eprintln!(
                    "  plots/samples-latest.png  a sample grid (translation runs: input | output | target rows; samples/ has one per evaluation)"
                );
            } else {
                eprintln!("  plots/samples-latest.png  samples over the true modes");
            }
            eprintln!("  plots/losses.png          losses; metrics.jsonl has every record");
            eprintln!(
                "  checkpoints/              resume with: gan train --resume {} --steps N",
                run.display()
            );
            if info.input_shape.is_some() {
                eprintln!(
                    "next: gan eval --run {0}   |   gan translate --run {0} --input FILE.npy|IMAGE|DIR --out ...",
                    run.display()
                );
            } else if info.is_images() {
                eprintln!(
                    "next: gan sample --run {0} --n 64 --out grid.png   |   gan sample --run {0} --n 10000 --out samples.npy",
                    run.display()
                );
            } else {
                eprintln!(
                    "next: gan eval --run {0}   |   gan sample --run {0} --n 2500 --out samples.csv",
                    run.display()
                );
            }
        }
        Outcome::Stopped { step } => {
            eprintln!(
                "stopped at step {step}; continue with: gan train --resume {}",
                run.display()
            );
        }
    }
    Ok(())
}

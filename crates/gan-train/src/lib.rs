//! `gan-train`: the adversarial training loop and everything a run leaves on disk.
//!
//! * [`TrainConfig`]: the typed run config (`configs/*.toml`), `deny_unknown_fields`,
//!   validated with errors that name the key; saved resolved into the run folder.
//! * [`Trainer`]: `n_critic` discriminator steps then a generator step, two learning rates,
//!   [`Adam`] whose moments are ours (so checkpoints hold them), a generator EMA, and
//!   re-seeding from `(seed, step)` at every step so that a resumed run is bit-identical
//!   to an uninterrupted one on the CPU.
//! * [`checkpoint`]: atomic checkpoint folders (temporary folder, fsync, rename; the newest
//!   `keep` kept) and strict layout checks on load.
//! * `metrics.jsonl` ([`TrainRecord`], [`EvalRecord`]), sample CSVs, scatter and loss plots.
//!
//! A run folder (see [`RunDir`]): `config.toml` (the resolved config), `data.json` (what the
//! data is: shape, classes, name), `metrics.jsonl`
//! (`train`, `eval`, `rollback`, `schedule` and `warning` records), `checkpoints/step-N/`
//! (`state.safetensors` + `meta.json`; `rejected/` and `set-aside/` hold checkpoints that
//! failed verification or were passed over by `--checkpoint`), `best/` (`best.json`, the best
//! checkpoint by `eval.best`), `samples/`, `plots/`, and `eval.json` once `gan eval` ran.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use gan_train::{DataConfig, TrainConfig, Trainer};
//! let mut cfg = TrainConfig::new(DataConfig::Ring);
//! cfg.train.steps = 1000;
//! let mut trainer = Trainer::create(cfg, "runs/example")?;
//! trainer.run(&AtomicBool::new(false), &mut |_event| {})?;
//! # Ok::<(), gan_train::Error>(())
//! ```

mod adam;
pub mod augment;
pub mod checkpoint;
mod config;
mod data;
mod ema;
mod engine;
mod error;
pub mod family;
mod flat;
mod guard;
mod metrics;
pub mod plan;
pub mod plot;
pub mod pool;
mod records;
pub mod report;
mod run_dir;
mod scoring;
pub mod tensorboard;
mod toml_diag;
mod trained;

pub use adam::Adam;
pub use config::{
    BestMetric, CycleganConfig, DataConfig, EvalConfig, FinetuneConfig, GuardConfig, LogConfig,
    LossConfig, LrSchedule, ModelConfig, OptimConfig, Pix2pixConfig, ScheduleConfig,
    Stylegan2Config, TestMode, TrainConfig,
};
pub use data::{load_images, load_pairs, load_unpaired, DataInfo};
pub use engine::{InitRecord, ResumeFrom, ResumeReport, Trainer};
pub use error::{Error, Result};
pub use family::cyclegan::{classifier_view, DirectionRecord, Way};
pub use family::gan::write_csv;
pub use family::{Family, Phase, PhaseCtx, StatKind, Stats};
pub use metrics::MetricsWriter;
pub use plan::Plan;
pub use records::{
    EvalRecord, Event, Outcome, RollbackRecord, ScheduleRecord, TrainRecord, WarningRecord,
};
pub use run_dir::RunDir;
pub use scoring::{
    cycle_labels, default_classifier_dir, generate_chunked, metric_value,
    missing_default_classifier, BestRecord,
};
pub use trained::{TrainedGenerator, TrainedTranslator, WhichCheckpoint};

//! The engine: one training loop for every model family.
//!
//! It owns the run folder, step seeding, the phase schedule, checkpoints (writing, resuming,
//! layout checks), the EMA schedule, the metrics stream, periodic evaluation and `best/`,
//! stop handling and the divergence guard. What trains is a [`Family`].
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gan_tensor::{seed_all, step_seed, Stream};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use crate::config::{BestMetric, TrainConfig};
use crate::data::DataInfo;
use crate::error::{io_err, Error, Result};
use crate::family::{self, EvalCtx, Family, Phase, PhaseCtx, StatKind, Stats, StepEnd};
use crate::guard::{Divergence, Guard};
use crate::metrics::MetricsWriter;
use crate::plan::Plan;
use crate::plot;
use crate::records::{
    EvalRecord, Event, Outcome, RollbackRecord, ScheduleRecord, TrainRecord, WarningRecord,
};
use crate::run_dir::RunDir;
use crate::scoring::{self, BestRecord};

/// Names, shapes and kinds of `vars`: what a checkpoint must hold for them.
pub(crate) fn layout(vars: &[(String, Tensor)]) -> BTreeMap<String, (Vec<i64>, Kind)> {
    vars.iter()
        .map(|(n, t)| (n.clone(), (t.size(), t.kind())))
        .collect()
}

/// The first tensor holding a NaN or an infinity, if any.
fn first_non_finite<'a>(
    tensors: impl IntoIterator<Item = (&'a String, &'a Tensor)>,
) -> Option<String> {
    tensors
        .into_iter()
        .find(|(_, t)| {
            t.is_floating_point() && !bool::try_from(t.isfinite().all()).unwrap_or(false)
        })
        .map(|(n, _)| n.clone())
}

/// One step's statistics, still on the device.
struct PendingStep {
    step: u64,
    names: Vec<(&'static str, StatKind)>,
    values: Tensor,
}

/// The loop, a model family and the run folder.
pub struct Trainer {
    cfg: TrainConfig,
    plan: Plan,
    run: RunDir,
    device: Device,
    family: Box<dyn Family>,
    phases: Vec<Phase>,
    step: u64,
    metrics: MetricsWriter,
    pending: Vec<PendingStep>,
    interval_start: (u64, Instant),
    last_checkpoint: Option<PathBuf>,
    saved_at: Option<u64>,
    evaluator: Option<gan_eval::Evaluator>,
    best: Option<BestRecord>,
    guard: Guard,
    lr_scale: f64,
    rollbacks: u32,
    resumed: Option<ResumeReport>,
}

/// Which checkpoint [`Trainer::resume_from`] continues from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeFrom {
    /// The newest checkpoint that verifies.
    Newest,
    /// This folder: a path, or a name under `checkpoints/` such as `step-000000600`.
    Checkpoint(PathBuf),
}

/// What a resume found and did: say it to the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeReport {
    /// The checkpoint resumed from.
    pub checkpoint: PathBuf,
    /// Whether its checksums were verified (false for a format-1 checkpoint).
    pub verified: bool,
    /// Newer checkpoints that failed verification, with the reason and where they went.
    pub rejected: Vec<checkpoint::Rejected>,
    /// Newer checkpoints moved aside by a resume from an older one: `(from, to)`.
    pub set_aside: Vec<(PathBuf, PathBuf)>,
    /// Leftovers of an interrupted save or prune that were removed.
    pub cleaned: Vec<PathBuf>,
    /// The learning-rate schedule's total changed (also written to `metrics.jsonl`).
    pub schedule_change: Option<ScheduleRecord>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("run", &self.run.root)
            .field("family", &self.family.name())
            .field("step", &self.step)
            .field("device", &self.device)
            .finish()
    }
}

/// Where a transfer-learning run's weights came from (`init.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitRecord {
    /// The source run folder.
    pub run: PathBuf,
    /// The checkpoint folder the weights came from.
    pub checkpoint: PathBuf,
    /// Its step.
    pub step: u64,
    /// Tensors copied.
    pub tensors: usize,
}

impl Trainer {
    /// Starts a new run in `run_dir` (created if needed; refused if it already holds checkpoints).
    pub fn create(cfg: TrainConfig, run_dir: impl Into<PathBuf>) -> Result<Self> {
        let plan = Plan::resolve(&cfg)?;
        // A device that is not there (`--device cuda` without CUDA) fails before any folder
        // is made.
        plan.device.resolve()?;
        let run = RunDir::new(run_dir);
        if checkpoint::latest(&run.checkpoints())?.is_some() {
            return Err(Error::Config {
                key: "--out".into(),
                message: format!(
                    "{} already holds a run; resume it with --resume or choose another folder",
                    run.root.display()
                ),
            });
        }
        // What this call makes, so that a start that fails (a model too big for memory, data
        // that cannot be read) leaves the folder as it found it.
        let made: Vec<PathBuf> = [
            run.root.clone(),
            run.checkpoints(),
            run.samples(),
            run.plots(),
            run.config(),
            run.metrics(),
            run.data_info(),
            run.tensorboard(),
        ]
        .into_iter()
        .filter(|p| !p.exists())
        .collect();
        let started = (|| {
            for dir in [
                run.root.clone(),
                run.checkpoints(),
                run.samples(),
                run.plots(),
            ] {
                fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
            }
            gan_tensor::write_atomic(&run.config(), cfg.to_toml().as_bytes())?;
            let metrics = open_metrics(&run, &cfg, 0)?;
            Self::assemble(cfg, plan, run.clone(), metrics)
        })();
        if started.is_err() {
            // Newest first: files, then the folders that held them.
            for path in made.iter().rev() {
                let _ = if path.is_dir() {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
            }
        }
        started
    }

    /// Transfer learning: before the first step, copies the generator, discriminator and
    /// EMA weights (`g.*`, `d.*`, `g_ema.*`) of another run's checkpoint (`which`: latest,
    /// best or a folder) into this run, keeping its fresh optimisers and everything else. The
    /// architectures must match tensor for tensor; otherwise the error lists every tensor
    /// that differs. Records the source in `init.json` in the run folder.
    pub fn init_from(
        &mut self,
        source: &std::path::Path,
        which: &crate::trained::WhichCheckpoint,
    ) -> Result<InitRecord> {
        if self.step != 0 {
            return Err(Error::Config {
                key: "--init-from".into(),
                message: format!("the run is already at step {}", self.step),
            });
        }
        let (loaded, _) = crate::trained::load_checkpoint(&RunDir::new(source), which)?;
        let ours: Vec<(String, Tensor)> = self
            .family
            .state()
            .into_iter()
            .filter(|(n, _)| ["g.", "d.", "g_ema."].iter().any(|p| n.starts_with(p)))
            .collect();
        let mut differences = Vec::new();
        for (name, t) in &ours {
            match loaded.tensors.get(name) {
                None => differences.push(format!("`{name}` {:?}: not in the source", t.size())),
                Some(src) if src.size() != t.size() || src.kind() != t.kind() => {
                    differences.push(format!(
                        "`{name}`: {:?} {:?} here, {:?} {:?} in the source",
                        t.size(),
                        t.kind(),
                        src.size(),
                        src.kind()
                    ))
                }
                _ => {}
            }
        }
        for name in loaded.tensors.keys() {
            let network = ["g.", "d.", "g_ema."].iter().any(|p| name.starts_with(p));
            if network && !ours.iter().any(|(n, _)| n == name) {
                differences.push(format!("`{name}`: in the source, not in this model"));
            }
        }
        if !differences.is_empty() {
            return Err(Error::IncompatibleCheckpoint {
                path: loaded.path.clone(),
                differences,
            });
        }
        tch::no_grad(|| -> Result<()> {
            for (name, t) in &ours {
                t.shallow_clone().f_copy_(&loaded.tensors[name])?;
            }
            Ok(())
        })?;
        let record = InitRecord {
            run: source.to_path_buf(),
            checkpoint: loaded.path.clone(),
            step: loaded.meta.step,
            tensors: ours.len(),
        };
        let json = serde_json::to_string_pretty(&record).expect("serialisable");
        gan_tensor::write_atomic(&self.run.root.join("init.json"), json.as_bytes())?;
        Ok(record)
    }

    /// Continues the run in `run_dir` from its newest checkpoint that verifies. With `cfg`,
    /// that config replaces the saved one (e.g. more steps), provided the model and seed still
    /// match. See [`Trainer::resume_from`] for the report of what was rejected.
    pub fn resume(run_dir: impl Into<PathBuf>, cfg: Option<TrainConfig>) -> Result<Self> {
        Self::resume_from(run_dir, cfg, &ResumeFrom::Newest)
    }

    /// Continues the run in `run_dir` from the checkpoint `from` names.
    ///
    /// - [`ResumeFrom::Newest`]: the newest checkpoint that verifies. Each newer one that
    ///   fails is moved to `checkpoints/rejected/` (never used, never deleted) and listed in
    ///   [`Trainer::resume_report`] with the reason.
    /// - [`ResumeFrom::Checkpoint`]: that one, or an error saying why not. Newer checkpoints are
    ///   moved to `checkpoints/set-aside/` so that the continued run neither overwrites nor
    ///   prunes them.
    ///
    /// A new `cfg` must keep every setting outside [`TrainConfig::RESUMABLE_KEYS`]; the error
    /// lists each key that differs. A longer or shorter `train.steps` under a step-dependent
    /// learning-rate schedule is allowed but changes the schedule: the report says so and a
    /// `schedule` record goes into `metrics.jsonl`.
    pub fn resume_from(
        run_dir: impl Into<PathBuf>,
        cfg: Option<TrainConfig>,
        from: &ResumeFrom,
    ) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let saved = TrainConfig::from_toml_file(&run.config())?;
        let cfg = match cfg {
            Some(c) => {
                let differences = saved.resume_differences(&c);
                if !differences.is_empty() {
                    return Err(Error::ResumeConfigChanged {
                        run: run.root.clone(),
                        differences,
                    });
                }
                c
            }
            None => saved,
        };
        let plan = Plan::resolve(&cfg)?;
        let checkpoints = run.checkpoints();
        let cleaned = checkpoint::clean_stale(&checkpoints)?;
        let mut report = ResumeReport {
            cleaned,
            ..ResumeReport::default()
        };
        let loaded = match from {
            ResumeFrom::Newest => {
                let (loaded, mut rejected) = checkpoint::newest_verified(&checkpoints)?;
                for r in &mut rejected {
                    checkpoint::quarantine(&checkpoints, r)?;
                }
                let Some(loaded) = loaded else {
                    return Err(match rejected.first() {
                        Some(r) => Error::CorruptCheckpoint {
                            path: r.path.clone(),
                            reason: format!(
                                "{}; no checkpoint of {} verifies ({} rejected, moved to \
                                 checkpoints/{}/ and kept)",
                                r.reason,
                                run.root.display(),
                                rejected.len(),
                                checkpoint::REJECTED_DIR
                            ),
                        },
                        None => Error::NoCheckpoint(run.root.clone()),
                    });
                };
                report.rejected = rejected;
                loaded
            }
            ResumeFrom::Checkpoint(which) => {
                let loaded = checkpoint::load(&checkpoint::resolve(&checkpoints, which))?;
                report.set_aside = checkpoint::set_aside_newer(&checkpoints, loaded.meta.step)?;
                loaded
            }
        };
        report.checkpoint = loaded.path.clone();
        report.verified = loaded.verified;
        let schedule_change = match loaded.meta.schedule_steps {
            Some(was)
                if was != plan.schedule.steps
                    && plan.schedule.optim.schedule.depends_on_total() =>
            {
                Some((was, plan.schedule.steps))
            }
            _ => None,
        };
        let metrics = open_metrics(&run, &cfg, loaded.meta.step)?;
        let mut t = Self::assemble(cfg, plan, run, metrics)?;
        t.lr_scale = loaded.meta.lr_scale;
        t.rollbacks = loaded.meta.rollbacks;
        t.restore(loaded)?;
        if let Some((from_steps, to_steps)) = schedule_change {
            let rec = ScheduleRecord {
                kind: "schedule".into(),
                step: t.step,
                schedule: t.plan.schedule.optim.schedule,
                from_steps,
                to_steps,
                message: format!(
                    "the learning-rate schedule now runs over {to_steps} steps instead of \
                     {from_steps}: from step {} on, the rates differ from a run trained for \
                     {to_steps} steps in one go",
                    t.step
                ),
            };
            t.metrics.write(&rec)?;
            report.schedule_change = Some(rec);
        }
        t.resumed = Some(report);
        gan_tensor::write_atomic(&t.run.config(), t.cfg.to_toml().as_bytes())?;
        Ok(t)
    }

    /// What the resume that built this trainer found and did (`None` for a new run).
    pub fn resume_report(&self) -> Option<&ResumeReport> {
        self.resumed.as_ref()
    }

    fn assemble(cfg: TrainConfig, plan: Plan, run: RunDir, metrics: MetricsWriter) -> Result<Self> {
        if plan.threads > 0 {
            tch::set_num_threads(plan.threads);
        }
        let device = plan.device.resolve()?;
        let family = family::build(&plan, device)?;
        let info = family.data_info();
        // A lower bound of one step's memory: the real and fake batches, their gradients and
        // the first layer's activations are each at least a batch of samples.
        let numel: u64 = info.shape.iter().map(|&d| d.max(1) as u64).product();
        gan_tensor::memory::check_fits(
            format!(
                "a training batch (train.batch_size = {} samples of shape {:?})",
                plan.data.batch_size, info.shape
            ),
            gan_tensor::memory::bytes_of(plan.data.batch_size.max(0) as u64, numel * 4 * 4),
        )?;
        let info_json = serde_json::to_string_pretty(info).expect("DataInfo serialises");
        gan_tensor::write_atomic(&run.data_info(), info_json.as_bytes())?;
        let evaluator = scoring::build_evaluator(&plan.eval, info, device)?;
        // A record for another score (the config changed) does not count.
        let best =
            BestRecord::read(&run.best())?.filter(|b| b.metric == plan.eval.config.best.name());
        let phases = family.phases().to_vec();
        let guard = Guard::new(&plan.guard);
        Ok(Trainer {
            cfg,
            plan,
            run,
            device,
            family,
            phases,
            step: 0,
            metrics,
            pending: Vec::new(),
            interval_start: (0, Instant::now()),
            last_checkpoint: None,
            saved_at: None,
            evaluator,
            best,
            guard,
            lr_scale: 1.0,
            rollbacks: 0,
            resumed: None,
        })
    }

    /// Checks a loaded checkpoint against the family (names, shapes, dtypes, seed, family)
    /// and copies it in.
    fn restore(&mut self, loaded: checkpoint::Loaded) -> Result<()> {
        let expected = layout(&self.family.state());
        let mut differences =
            match checkpoint::check_layout(&loaded.path, &expected, &loaded.tensors) {
                Ok(()) => Vec::new(),
                Err(Error::IncompatibleCheckpoint { differences, .. }) => differences,
                Err(e) => return Err(e),
            };
        if loaded.meta.seed != self.plan.seed {
            differences.push(format!(
                "seed: checkpoint {}, config {}",
                loaded.meta.seed, self.plan.seed
            ));
        }
        if loaded.meta.family != self.family.name() {
            differences.push(format!(
                "model family: checkpoint `{}`, config `{}`",
                loaded.meta.family,
                self.family.name()
            ));
        }
        if !differences.is_empty() {
            return Err(Error::IncompatibleCheckpoint {
                path: loaded.path,
                differences,
            });
        }
        self.family.load_state(&loaded.tensors)?;
        self.step = loaded.meta.step;
        self.interval_start = (self.step, Instant::now());
        self.saved_at = Some(self.step);
        self.last_checkpoint = Some(loaded.path);
        Ok(())
    }

    /// Steps completed.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The config in force.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// The device in use.
    pub fn device(&self) -> Device {
        self.device
    }

    /// What the run trains on.
    pub fn data_info(&self) -> &DataInfo {
        self.family.data_info()
    }

    /// The model family's phase schedule.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Each optimiser's current learning rate (schedule, guard and family corrections
    /// applied).
    pub fn learning_rates(&self) -> std::collections::BTreeMap<String, f64> {
        self.family
            .learning_rates()
            .into_iter()
            .map(|(n, lr)| (n.to_string(), lr))
            .collect()
    }

    /// The learning-rate multiplier the divergence guard has set (1 before any rollback).
    pub fn lr_scale(&self) -> f64 {
        self.lr_scale
    }

    /// Every network, optimiser and family tensor by name (what a checkpoint holds).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.family.state()
    }

    /// One training step: torch's generator re-seeded from `(seed, step)`, the learning-rate
    /// factor set, every phase due at this step run (each `repeat` times), then the family's
    /// per-step updates. Statistics stay on the device until the next log.
    pub fn train_step(&mut self) -> Result<()> {
        let step = self.step;
        seed_all(step_seed(self.plan.seed, Stream::Train, step));
        // Learning rates are a function of the step alone, so a resumed run follows the
        // same schedule.
        let s = &self.plan.schedule;
        let factor = s.optim.lr_factor(step, s.steps) * self.lr_scale;
        self.family.set_lr_factor(factor);
        let mut stats = Stats::default();
        for phase in &self.phases {
            if !phase.due(step) {
                continue;
            }
            for index in 0..phase.repeat {
                let ctx = PhaseCtx { step, index, phase };
                self.family.run_phase(&ctx, &mut stats)?;
            }
        }
        // The usual EMA warm-up, so early samples are not dominated by the initialisation.
        let ema_beta = s.ema_decay.min((1.0 + step as f64) / (10.0 + step as f64));
        self.family.end_step(&StepEnd { step, ema_beta })?;
        let names = stats.entries.iter().map(|(n, k, _)| (*n, *k)).collect();
        let values: Vec<Tensor> = stats.entries.into_iter().map(|(_, _, t)| t).collect();
        self.pending.push(PendingStep {
            step,
            names,
            values: Tensor::cat(&values, 0),
        });
        self.step += 1;
        Ok(())
    }

    /// Copies the pending statistics to the host (once), lets the guard judge every step, and
    /// writes their means. `Err(Divergence)` inside `Ok` when the guard trips.
    fn flush(
        &mut self,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<std::result::Result<(), Divergence>> {
        if self.pending.is_empty() {
            return Ok(Ok(()));
        }
        let pending = std::mem::take(&mut self.pending);
        let all: Vec<Tensor> = pending.iter().map(|p| p.values.shallow_clone()).collect();
        let v = Vec::<f64>::try_from(
            Tensor::cat(&all, 0)
                .to_device(Device::Cpu)
                .to_kind(Kind::Double),
        )?;
        let mut offset = 0;
        let mut sums: Vec<(&'static str, f64, usize)> = Vec::new();
        for p in &pending {
            let row: Vec<(&'static str, StatKind, f64)> = p
                .names
                .iter()
                .zip(&v[offset..offset + p.names.len()])
                .map(|(&(n, k), &x)| (n, k, x))
                .collect();
            offset += p.names.len();
            if let Err(d) = self.guard.check(p.step, &row) {
                return Ok(Err(d));
            }
            for (stat, value, message) in self.guard.huge(p.step, &row) {
                let w = WarningRecord {
                    kind: "warning".into(),
                    step: p.step,
                    stat: stat.to_string(),
                    value,
                    message,
                };
                self.metrics.write(&w)?;
                on_event(Event::Warning(&w));
            }
            for (n, k, x) in row {
                if k == StatKind::GradsFinite {
                    continue;
                }
                match sums.iter_mut().find(|(m, _, _)| *m == n) {
                    Some((_, s, c)) => {
                        *s += x;
                        *c += 1;
                    }
                    None => sums.push((n, x, 1)),
                }
            }
        }
        let (s0, t0) = self.interval_start;
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        let rec = TrainRecord {
            kind: "train".into(),
            step: self.step,
            stats: sums
                .into_iter()
                .map(|(n, s, c)| (n.to_string(), s / c as f64))
                .collect(),
            steps_per_sec: (self.step - s0) as f64 / secs,
        };
        self.interval_start = (self.step, Instant::now());
        self.metrics.write(&rec)?;
        on_event(Event::Log(&rec));
        Ok(Ok(()))
    }

    /// Flushes, and on a divergence rolls back (or stops, per `[guard]`). `Ok(true)`: the
    /// run was rolled back and the caller should carry on from the restored step.
    fn flush_guarded(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<bool> {
        match self.flush(on_event)? {
            Ok(()) => Ok(false),
            Err(d) => {
                self.roll_back(d, on_event)?;
                Ok(true)
            }
        }
    }

    /// Goes back to the newest checkpoint whose tensors are all finite (or the initial
    /// weights), lowers the learning rates, and records the event; an error once rollbacks
    /// are exhausted or the guard is off.
    fn roll_back(&mut self, d: Divergence, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        self.pending.clear();
        let g = self.plan.guard.clone();
        if !g.enabled {
            return Err(Error::NonFinite {
                what: d.what,
                value: d.value,
                step: d.step,
                last_checkpoint: self.last_checkpoint.clone(),
            });
        }
        if self.rollbacks >= g.max_rollbacks {
            return Err(Error::Diverged {
                reason: d.reason,
                step: d.step,
                rollbacks: self.rollbacks,
                checkpoint: self.newest_good_checkpoint()?.map(|l| l.path),
            });
        }
        let restored = self.newest_good_checkpoint()?;
        let checkpoint = restored.as_ref().map(|l| l.path.clone());
        match restored {
            Some(loaded) => self.restore(loaded)?,
            None => {
                // No checkpoint yet: start over from the initial weights.
                self.family = family::build(&self.plan, self.device)?;
                self.step = 0;
                self.saved_at = None;
                self.last_checkpoint = None;
            }
        }
        self.lr_scale *= g.lr_factor;
        self.rollbacks += 1;
        self.guard.reset();
        self.interval_start = (self.step, Instant::now());
        self.metrics = open_metrics(&self.run, &self.cfg, self.step)?;
        let rec = RollbackRecord {
            kind: "rollback".into(),
            step: self.step,
            detected_at: d.step,
            reason: d.reason,
            checkpoint,
            lr_scale: self.lr_scale,
            rollbacks: self.rollbacks,
        };
        self.metrics.write(&rec)?;
        on_event(Event::Rollback(&rec));
        Ok(())
    }

    /// The newest checkpoint that loads, fits the model and holds only finite values.
    fn newest_good_checkpoint(&self) -> Result<Option<checkpoint::Loaded>> {
        let expected = layout(&self.family.state());
        for c in checkpoint::list(&self.run.checkpoints())?.into_iter().rev() {
            let Ok(loaded) = checkpoint::load(&c.path) else {
                continue;
            };
            if checkpoint::check_layout(&c.path, &expected, &loaded.tensors).is_ok()
                && first_non_finite(&loaded.tensors).is_none()
            {
                return Ok(Some(loaded));
            }
        }
        Ok(None)
    }

    /// The metadata of a checkpoint of the current step holding `state`.
    fn checkpoint_meta(&self, state: &[(String, Tensor)]) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            step: self.step,
            seed: self.plan.seed,
            tensors: state.len(),
            family: self.family.name().into(),
            lr_scale: self.lr_scale,
            rollbacks: self.rollbacks,
            schedule_steps: Some(self.plan.schedule.steps),
            files: BTreeMap::new(),
            digest: String::new(),
        }
    }

    /// Writes a checkpoint of the current step, unless the state holds a non-finite value
    /// (then the divergence is returned and nothing is written).
    fn checkpoint_checked(
        &mut self,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<std::result::Result<PathBuf, Divergence>> {
        let state = self.family.state();
        if let Some(name) = first_non_finite(state.iter().map(|(n, t)| (n, t))) {
            return Ok(Err(Divergence {
                step: self.step.saturating_sub(1),
                reason: format!(
                    "tensor `{name}` holds a non-finite value after step {}",
                    self.step.saturating_sub(1)
                ),
                value: f64::NAN,
                what: name,
            }));
        }
        let path = checkpoint::save(
            &self.run.checkpoints(),
            &self.checkpoint_meta(&state),
            &state,
            self.plan.schedule.keep_checkpoints,
        )?;
        on_event(Event::Checkpoint(&path));
        self.last_checkpoint = Some(path.clone());
        self.saved_at = Some(self.step);
        Ok(Ok(path))
    }

    /// Flushes and writes a checkpoint of the current step. `Ok(None)`: the guard rolled the
    /// run back instead.
    fn flush_and_save(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<Option<PathBuf>> {
        if self.flush_guarded(on_event)? {
            return Ok(None);
        }
        match self.checkpoint_checked(on_event)? {
            Ok(p) => Ok(Some(p)),
            Err(d) => {
                self.roll_back(d, on_event)?;
                Ok(None)
            }
        }
    }

    /// Writes a checkpoint of the current step (after checking the pending statistics).
    pub fn save_checkpoint(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<PathBuf> {
        match self.flush_and_save(on_event)? {
            Some(p) => Ok(p),
            None => Err(Error::Config {
                key: "guard".into(),
                message: format!(
                    "the state diverged; rolled back to step {} instead of saving",
                    self.step
                ),
            }),
        }
    }

    /// Evaluates the family at the current step (samples, plots, `[eval]` scores), updates
    /// `best/`, writes the record and redraws the plots.
    pub fn evaluate(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<EvalRecord> {
        let ctx = EvalCtx {
            step: self.step,
            run: &self.run,
            seed: self.plan.seed,
            samples: self.plan.eval.samples,
            evaluator: self.evaluator.as_ref(),
        };
        let mut rec = self.family.evaluate(&ctx)?;
        rec.best = self.update_best(&rec)?;
        self.metrics.write(&rec)?;
        self.metrics.image(
            self.step,
            "samples",
            &self.run.plots().join("samples-latest.png"),
        )?;
        let text = fs::read_to_string(self.run.metrics())
            .map_err(io_err("cannot read", self.run.metrics()))?;
        let name = &self.cfg.name;
        plot_losses(&self.run, name, &text)?;
        let best_at = rec.best.as_ref().map(|b| b.step);
        plot_scores(&self.run, name, &text, self.plan.eval.config.best, best_at)?;
        on_event(Event::Eval(&rec));
        Ok(rec)
    }

    /// Keeps a copy of the current state in `<run>/best/` when `eval.best`'s value in `rec`
    /// improves on the best so far (the new checkpoint and `best.json` are written before the
    /// old best is removed). Returns the best record after `rec`.
    fn update_best(&mut self, rec: &EvalRecord) -> Result<Option<BestRecord>> {
        let metric = self.plan.eval.config.best;
        let Some(value) = scoring::metric_value(metric, rec) else {
            return Ok(self.best.clone());
        };
        if !value.is_finite()
            || self
                .best
                .as_ref()
                .is_some_and(|b| !b.improved_by(metric, value))
        {
            return Ok(self.best.clone());
        }
        let dir = self.run.best();
        let state = self.family.state();
        if first_non_finite(state.iter().map(|(n, t)| (n, t))).is_some() {
            return Ok(self.best.clone());
        }
        let path = checkpoint::save(&dir, &self.checkpoint_meta(&state), &state, usize::MAX)?;
        let best = BestRecord {
            metric: metric.name().into(),
            value,
            step: self.step,
            checkpoint: path.clone(),
        };
        best.write(&dir)?;
        for old in checkpoint::list(&dir)? {
            if old.path != path {
                checkpoint::remove(&old.path)?;
            }
        }
        self.best = Some(best.clone());
        Ok(Some(best))
    }

    /// Trains until `train.steps` or until `stop` is raised (then checkpoints and returns).
    pub fn run(&mut self, stop: &AtomicBool, on_event: &mut dyn FnMut(Event)) -> Result<Outcome> {
        let total = self.plan.schedule.steps;
        let log_every = self.plan.schedule.log_every;
        let eval_every = self.plan.eval.every;
        let checkpoint_every = self.plan.schedule.checkpoint_every;
        self.interval_start = (self.step, Instant::now());
        let mut evaluated_at = None;
        while self.step < total {
            self.train_step()?;
            let s = self.step;
            on_event(Event::Step { step: s, total });
            if s.is_multiple_of(log_every) && self.flush_guarded(on_event)? {
                continue;
            }
            if eval_every > 0 && s.is_multiple_of(eval_every) {
                if self.flush_guarded(on_event)? {
                    continue;
                }
                self.evaluate(on_event)?;
                evaluated_at = Some(s);
            }
            if s.is_multiple_of(checkpoint_every) && self.flush_and_save(on_event)?.is_none() {
                continue;
            }
            if stop.load(Ordering::SeqCst) && s < total {
                if self.saved_at != Some(s) && self.flush_and_save(on_event)?.is_none() {
                    // Rolled back: the restored checkpoint is on disk already, unless the run
                    // went back to its initial weights.
                    if self.saved_at != Some(self.step) {
                        self.flush_and_save(on_event)?;
                    }
                    return Ok(Outcome::Stopped { step: self.step });
                }
                self.flush_guarded(on_event)?;
                return Ok(Outcome::Stopped { step: self.step });
            }
        }
        if self.flush_guarded(on_event)? {
            // Rolled back at the very end: train the remaining steps.
            return self.run(stop, on_event);
        }
        if evaluated_at != Some(self.step) {
            self.evaluate(on_event)?;
        }
        if self.saved_at != Some(self.step) && self.flush_and_save(on_event)?.is_none() {
            return self.run(stop, on_event);
        }
        Ok(Outcome::Finished { step: self.step })
    }
}

/// `metrics.jsonl` (and, with `[log] tensorboard`, the event file), without the records after
/// `step`.
fn open_metrics(run: &RunDir, cfg: &TrainConfig, step: u64) -> Result<MetricsWriter> {
    let m = MetricsWriter::open(&run.metrics(), Some(step))?;
    if cfg.log.tensorboard {
        m.with_events(&run.tensorboard(), Some(step))
    } else {
        Ok(m)
    }
}

/// Redraws `plots/losses.png` (and `.svg`) from `metrics.jsonl`'s text: every named
/// statistic against step, one panel each.
fn plot_losses(run: &RunDir, name: &str, text: &str) -> Result<()> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for rec in text
        .lines()
        .filter_map(|l| serde_json::from_str::<TrainRecord>(l).ok())
        .filter(|r| r.kind == "train")
    {
        for (stat, v) in &rec.stats {
            match series.iter_mut().find(|(n, _)| n == stat) {
                Some((_, s)) => s.push((rec.step as f64, *v)),
                None => series.push((stat.clone(), vec![(rec.step as f64, *v)])),
            }
        }
    }
    let shown: Vec<plot::Series> = series
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    plot::statistics(&run.plots().join("losses.png"), name, &shown)
}

/// Draws `plots/<score>.png` (and `.svg`) for every score the evaluations hold, each against
/// step, with the best checkpoint (the step `best_at` the engine keeps) marked on the score
/// that picks it.
fn plot_scores(
    run: &RunDir,
    name: &str,
    text: &str,
    best: BestMetric,
    best_at: Option<u64>,
) -> Result<()> {
    let evals: Vec<EvalRecord> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<EvalRecord>(l).ok())
        .filter(|r| r.kind == "eval")
        .collect();
    for metric in BestMetric::ALL {
        let pts: Vec<(f64, f64)> = evals
            .iter()
            .filter_map(|r| scoring::metric_value(metric, r).map(|v| (r.step as f64, v)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let marked = (metric == best)
            .then_some(best_at)
            .flatten()
            .and_then(|x| pts.iter().copied().find(|p| p.0 == x as f64));
        plot::score(
            &run.plots().join(format!("{}.png", metric.name())),
            name,
            metric.name(),
            &pts,
            metric.higher_is_better(),
            marked,
        )?;
    }
    Ok(())
}

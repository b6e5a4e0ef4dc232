//! The adversarial loop.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gan_data::{points, Mixture2d, ModeMetrics};
use gan_losses::{grad_norm_sq, gradient_penalty};
use gan_models::{DataSpec, Discriminator, Generator};
use gan_tensor::{seed_all, step_seed, Stream};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::adam::Adam;
use crate::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use crate::config::{BestMetric, TrainConfig};
use crate::data::{DataInfo, Source};
use crate::ema::Ema;
use crate::error::{io_err, Error, Result};
use crate::metrics::MetricsWriter;
use crate::plot;
use crate::scoring::{self, BestRecord};

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub root: PathBuf,
}

impl RunDir {
    /// A run folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }
    /// The resolved config.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// Checkpoint folders live here.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    /// One JSON record per line.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    /// The best checkpoint by `eval.best`, and `best.json` naming it.
    pub fn best(&self) -> PathBuf {
        self.root.join("best")
    }
    /// Samples written at evaluations.
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }
    /// Plots.
    pub fn plots(&self) -> PathBuf {
        self.root.join("plots")
    }
    /// What the run trains on ([`DataInfo`]).
    pub fn data_info(&self) -> PathBuf {
        self.root.join("data.json")
    }
}

/// A `metrics.jsonl` training record: means over the steps since the previous one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRecord {
    /// Always `"train"`.
    pub kind: String,
    /// Generator steps completed.
    pub step: u64,
    /// Discriminator loss (with penalties).
    pub d_loss: f64,
    /// Generator loss.
    pub g_loss: f64,
    /// Mean discriminator logit on real samples.
    pub d_real: f64,
    /// Mean discriminator logit on generated samples.
    pub d_fake: f64,
    /// Generator steps per second over the interval.
    pub steps_per_sec: f64,
}

/// A `metrics.jsonl` evaluation record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Always `"eval"`.
    pub kind: String,
    /// Generator steps completed.
    pub step: u64,
    /// The 2D mode metrics of samples from the EMA generator (2D data only).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<ModeMetrics>,
    /// The sample grid written (image data only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<PathBuf>,
    /// Image scores (`[eval]` classifier and Inception scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<gan_eval::ImageReport>,
    /// The best checkpoint so far by `eval.best`, after this evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestRecord>,
}

/// What the loop reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A generator step finished.
    Step {
        /// Steps completed.
        step: u64,
        /// Steps in the run.
        total: u64,
    },
    /// A training record was written.
    Log(&'a TrainRecord),
    /// An evaluation was written.
    Eval(&'a EvalRecord),
    /// A checkpoint was written.
    Checkpoint(&'a Path),
}

/// How a call to [`Trainer::run`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All configured steps are done.
    Finished {
        /// Steps completed.
        step: u64,
    },
    /// The stop flag was raised; a checkpoint of the current step was written.
    Stopped {
        /// Steps completed.
        step: u64,
    },
}

/// Which checkpoint of a run to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhichCheckpoint {
    /// The newest in `checkpoints/`.
    Latest,
    /// The one `best/best.json` names.
    Best,
    /// A checkpoint folder.
    Dir(PathBuf),
}

impl std::str::FromStr for WhichCheckpoint {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "latest" => WhichCheckpoint::Latest,
            "best" => WhichCheckpoint::Best,
            dir => WhichCheckpoint::Dir(PathBuf::from(dir)),
        })
    }
}

/// Generator, discriminator, EMA generator, optimisers and the run folder.
pub struct Trainer {
    cfg: TrainConfig,
    run: RunDir,
    device: Device,
    source: Source,
    info: DataInfo,
    vs_g: VarStore,
    vs_d: VarStore,
    vs_ema: VarStore,
    g: Generator,
    d: Discriminator,
    g_ema: Generator,
    opt_g: Adam,
    opt_d: Adam,
    ema: Ema,
    step: u64,
    metrics: MetricsWriter,
    pending: Vec<Tensor>,
    interval_start: (u64, Instant),
    last_checkpoint: Option<PathBuf>,
    evaluator: Option<gan_eval::Evaluator>,
    best: Option<BestRecord>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("run", &self.run.root)
            .field("step", &self.step)
            .field("device", &self.device)
            .finish()
    }
}

/// The networks a config describes, with their variable stores.
struct Nets {
    vs_g: VarStore,
    vs_d: VarStore,
    vs_ema: VarStore,
    g: Generator,
    d: Discriminator,
    g_ema: Generator,
}

fn build_nets(cfg: &TrainConfig, device: Device, spec: &DataSpec) -> Result<Nets> {
    seed_all(step_seed(cfg.seed, Stream::Init, 0));
    let vs_g = VarStore::new(device);
    let vs_d = VarStore::new(device);
    let mut vs_ema = VarStore::new(device);
    let g = Generator::new(&vs_g.root(), &cfg.generator, spec)?;
    let d = Discriminator::new(&vs_d.root(), &cfg.discriminator, spec)?;
    let g_ema = Generator::new(&vs_ema.root(), &cfg.generator, spec)?;
    vs_ema.copy(&vs_g)?;
    vs_ema.freeze();
    Ok(Nets {
        vs_g,
        vs_d,
        vs_ema,
        g,
        d,
        g_ema,
    })
}

fn sorted_vars(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Names (with `prefix.`), shapes and kinds of `vars`: what a checkpoint must hold for them.
fn layout(prefix: &str, vars: &[(String, Tensor)]) -> BTreeMap<String, (Vec<i64>, Kind)> {
    vars.iter()
        .map(|(n, t)| (format!("{prefix}{n}"), (t.size(), t.kind())))
        .collect()
}

fn copy_into(
    vars: &[(String, Tensor)],
    prefix: &str,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (n, t) in vars {
            let src = &tensors[&format!("{prefix}.{n}")];
            t.shallow_clone().f_copy_(src)?;
        }
        Ok(())
    })
}

fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).map_err(io_err("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("cannot replace", path))
}

impl Trainer {
    /// Starts a new run in `run_dir` (created if needed; refused if it already holds checkpoints).
    pub fn create(cfg: TrainConfig, run_dir: impl Into<PathBuf>) -> Result<Self> {
        cfg.validate()?;
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
        for dir in [
            run.root.clone(),
            run.checkpoints(),
            run.samples(),
            run.plots(),
        ] {
            fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
        }
        write_atomic(&run.config(), &cfg.to_toml())?;
        let metrics = MetricsWriter::open(&run.metrics(), Some(0))?;
        Self::assemble(cfg, run, metrics)
    }

    /// Continues the run in `run_dir` from its newest checkpoint. With `cfg`, that config
    /// replaces the saved one (e.g. more steps), provided the model and seed still match.
    pub fn resume(run_dir: impl Into<PathBuf>, cfg: Option<TrainConfig>) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let saved_cfg = TrainConfig::from_toml_file(&run.config())?;
        let cfg = cfg.unwrap_or(saved_cfg);
        cfg.validate()?;
        let ckpt = checkpoint::latest(&run.checkpoints())?
            .ok_or_else(|| Error::NoCheckpoint(run.root.clone()))?;
        let loaded = checkpoint::load(&ckpt.path)?;
        let metrics = MetricsWriter::open(&run.metrics(), Some(loaded.meta.step))?;
        let mut t = Self::assemble(cfg, run, metrics)?;
        t.restore(loaded)?;
        write_atomic(&t.run.config(), &t.cfg.to_toml())?;
        Ok(t)
    }

    fn assemble(cfg: TrainConfig, run: RunDir, metrics: MetricsWriter) -> Result<Self> {
        if cfg.train.threads > 0 {
            tch::set_num_threads(cfg.train.threads);
        }
        let device = cfg.device.resolve()?;
        let (source, info) = Source::load(&cfg.data, device, cfg.train.batch_size, cfg.seed)?;
        let info_json = serde_json::to_string_pretty(&info).expect("DataInfo serialises");
        write_atomic(&run.data_info(), &info_json)?;
        let Nets {
            vs_g,
            vs_d,
            vs_ema,
            g,
            d,
            g_ema,
        } = build_nets(&cfg, device, &info.spec())?;
        let o = &cfg.optim;
        let opt_g = Adam::new(&vs_g, o.lr_g, o.beta1, o.beta2, o.eps);
        let opt_d = Adam::new(&vs_d, o.lr_d, o.beta1, o.beta2, o.eps);
        let ema = Ema::new(&vs_g, &opt_g, &vs_ema);
        let evaluator = scoring::build_evaluator(&cfg, &info, device)?;
        // A record for another score (the config changed) does not count.
        let best = BestRecord::read(&run.best())?.filter(|b| b.metric == cfg.eval.best.name());
        Ok(Trainer {
            cfg,
            run,
            device,
            source,
            info,
            vs_g,
            vs_d,
            vs_ema,
            g,
            d,
            g_ema,
            opt_g,
            opt_d,
            ema,
            step: 0,
            metrics,
            pending: Vec::new(),
            interval_start: (0, Instant::now()),
            last_checkpoint: None,
            evaluator,
            best,
        })
    }

    /// Every tensor a checkpoint holds, by name.
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (prefix, vs) in [
            ("g", &self.vs_g),
            ("d", &self.vs_d),
            ("g_ema", &self.vs_ema),
        ] {
            out.extend(
                sorted_vars(vs)
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}.{n}"), t)),
            );
        }
        for (prefix, opt) in [("opt_g", &self.opt_g), ("opt_d", &self.opt_d)] {
            out.extend(
                opt.state()
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}.{n}"), t)),
            );
        }
        out
    }

    fn restore(&mut self, loaded: checkpoint::Loaded) -> Result<()> {
        let expected = layout("", &self.state());
        let mut result = checkpoint::check_layout(&loaded.path, &expected, &loaded.tensors);
        if loaded.meta.seed != self.cfg.seed {
            let diff = format!(
                "seed: checkpoint {}, config {}",
                loaded.meta.seed, self.cfg.seed
            );
            result = match result {
                Ok(()) => Err(Error::IncompatibleCheckpoint {
                    path: loaded.path.clone(),
                    differences: vec![diff],
                }),
                Err(Error::IncompatibleCheckpoint {
                    path,
                    mut differences,
                }) => {
                    differences.push(diff);
                    Err(Error::IncompatibleCheckpoint { path, differences })
                }
                Err(e) => Err(e),
            };
        }
        result?;
        let tensors = &loaded.tensors;
        copy_into(&sorted_vars(&self.vs_g), "g", tensors)?;
        copy_into(&sorted_vars(&self.vs_d), "d", tensors)?;
        copy_into(&sorted_vars(&self.vs_ema), "g_ema", tensors)?;
        let get_g = |n: &str| {
            tensors
                .get(&format!("opt_g.{n}"))
                .map(|t| t.shallow_clone())
        };
        self.opt_g.load_state(&get_g)?;
        let get_d = |n: &str| {
            tensors
                .get(&format!("opt_d.{n}"))
                .map(|t| t.shallow_clone())
        };
        self.opt_d.load_state(&get_d)?;
        self.step = loaded.meta.step;
        self.interval_start = (self.step, Instant::now());
        self.last_checkpoint = Some(loaded.path);
        Ok(())
    }

    /// Generator steps completed.
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

    /// Every network and optimiser tensor by name (for tests and tools).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.state()
    }

    /// Latents and (for a conditional generator) uniformly drawn class labels for `b` fakes.
    fn latents(&self, b: i64) -> (Tensor, Option<Tensor>) {
        let z = Tensor::randn([b, self.g.latent_dim()], (Kind::Float, self.device));
        let y = self.g.conditional().then(|| {
            Tensor::randint(
                self.info.class_names.len() as i64,
                [b],
                (Kind::Int64, self.device),
            )
        });
        (z, y)
    }

    /// One generator step and the `n_critic` discriminator steps before it, seeded from
    /// `(seed, step)`. Losses are kept on the device until the next log.
    pub fn train_step(&mut self) -> Result<()> {
        seed_all(step_seed(self.cfg.seed, Stream::Train, self.step));
        // Learning rates are a function of the step alone, so a resumed run follows the same schedule.
        let factor = self.cfg.optim.lr_factor(self.step, self.cfg.train.steps);
        self.opt_g.lr = self.cfg.optim.lr_g * factor;
        self.opt_d.lr = self.cfg.optim.lr_d * factor;
        let b = self.cfg.train.batch_size;
        let lc = self.cfg.loss.clone();
        let n_critic = self.cfg.train.n_critic;

        // Penalties see a pack (the discriminator's unit of judgement) as one sample:
        // inputs are viewed as [B / pack, pack * sample size] and one gradient norm is taken
        // per pack. `full` restores the discriminator's input shape [B, sample shape...].
        let pack = self.d.pack();
        let mut full_shape = vec![-1i64];
        full_shape.extend(&self.info.shape);
        let full = |t: &Tensor| t.reshape(full_shape.as_slice());
        let as_packs = |t: &Tensor| t.reshape([b / pack, -1]);
        // The label of a pack is its first sample's (auxiliary-classifier targets).
        let pack_labels = |y: &Tensor| y.view([b / pack, pack]).select(1, 0);
        let lazy = lc.r1_every;
        let regularise = self.step.is_multiple_of(lazy);
        let (r1, r2) = if regularise {
            (lc.r1_gamma * lazy as f64, lc.r2_gamma * lazy as f64)
        } else {
            (0.0, 0.0)
        };
        let mut d_stats = None;
        let mut last_real = None;
        for critic in 0..n_critic {
            let (real, y_real) = self
                .source
                .real(b, self.step * n_critic as u64 + critic as u64);
            let (z, y_fake) = self.latents(b);
            let fake = tch::no_grad(|| self.g.forward_t(&z, y_fake.as_ref(), true))?;
            let real_in = if r1 > 0.0 {
                as_packs(&real).detach().set_requires_grad(true)
            } else {
                as_packs(&real)
            };
            let fake_in = if r2 > 0.0 {
                as_packs(&fake).detach().set_requires_grad(true)
            } else {
                as_packs(&fake)
            };
            let (l_real, l_fake, aux_real, aux_fake) = if self.d.batch_independent() {
                // One pass over real and fake together: half the operations, same logits.
                let both = Tensor::cat(&[full(&real_in), full(&fake_in)], 0);
                let y_both = match (&y_real, &y_fake) {
                    (Some(yr), Some(yf)) => Some(Tensor::cat(&[yr, yf], 0)),
                    _ => None,
                };
                let (l, aux) = self.d.forward_full(&both, y_both.as_ref(), true)?;
                let n = b / pack;
                let split = |t: &Tensor| (t.narrow(0, 0, n), t.narrow(0, n, n));
                let (lr, lf) = split(&l);
                let (ar, af) = match aux.as_ref().map(split) {
                    Some((ar, af)) => (Some(ar), Some(af)),
                    None => (None, None),
                };
                (lr, lf, ar, af)
            } else {
                let (lr, ar) = self
                    .d
                    .forward_full(&full(&real_in), y_real.as_ref(), true)?;
                let (lf, af) = self
                    .d
                    .forward_full(&full(&fake_in), y_fake.as_ref(), true)?;
                (lr, lf, ar, af)
            };
            let mut loss = lc.kind.discriminator(&l_real, &l_fake)?;
            if lc.gp_weight > 0.0 {
                let d = &self.d;
                let y = y_real.as_ref();
                // Shapes were checked by the forward passes above.
                let critic = |x: &Tensor| d.forward_t(&full(x), y, true).expect("checked shape");
                loss += gradient_penalty(critic, &as_packs(&real), &as_packs(&fake), lc.gp_target)?
                    * lc.gp_weight;
            }
            if r1 > 0.0 {
                loss += grad_norm_sq(&l_real, &real_in)?.mean(Kind::Float) * (r1 / 2.0);
            }
            if r2 > 0.0 {
                loss += grad_norm_sq(&l_fake, &fake_in)?.mean(Kind::Float) * (r2 / 2.0);
            }
            if let (Some(a), Some(y)) = (&aux_real, &y_real) {
                loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
            }
            if let (Some(a), Some(y)) = (&aux_fake, &y_fake) {
                loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
            }
            self.opt_d.zero_grad();
            loss.backward();
            self.opt_d.step();
            d_stats = Some((
                loss.detach(),
                l_real.detach().mean(Kind::Float),
                l_fake.detach().mean(Kind::Float),
            ));
            last_real = Some((real, y_real));
        }

        // The discriminator is frozen while the generator's graph is recorded (autograd decides
        // at record time), so the generator step computes no discriminator gradients.
        self.vs_d.freeze();
        let g_loss = (|| -> Result<Tensor> {
            let (z, y_fake) = self.latents(b);
            let fake = self.g.forward_t(&z, y_fake.as_ref(), true)?;
            let (l_fake, aux_fake) = self.d.forward_full(&fake, y_fake.as_ref(), true)?;
            let l_real = match &last_real {
                Some((real, y_real)) if lc.kind.needs_real_for_generator() => {
                    self.d.forward_t(real, y_real.as_ref(), true)?.detach()
                }
                _ => l_fake.detach(),
            };
            let mut loss = lc.kind.generator(&l_real, &l_fake)?;
            if let (Some(a), Some(y)) = (&aux_fake, &y_fake) {
                loss += a.cross_entropy_for_logits(&pack_labels(y)) * lc.aux_weight;
            }
            Ok(loss)
        })();
        self.vs_d.unfreeze();
        let g_loss = g_loss?;
        self.opt_g.zero_grad();
        g_loss.backward();
        self.opt_g.step();

        // EMA of every generator tensor (weights and batch-norm statistics), with the
        // usual warm-up so early samples are not dominated by the random initialisation.
        let beta = self
            .cfg
            .train
            .ema_decay
            .min((1.0 + self.step as f64) / (10.0 + self.step as f64));
        self.ema.update(beta);

        let (d_loss, d_real, d_fake) = d_stats.expect("n_critic >= 1");
        self.pending
            .push(Tensor::stack(&[d_loss, g_loss.detach(), d_real, d_fake], 0));
        self.step += 1;
        Ok(())
    }

    /// Checks the pending losses (first non-finite one stops the run) and writes their means.
    fn flush(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len();
        let first_step = self.step - n as u64;
        let all = Tensor::stack(&self.pending, 0)
            .to_device(Device::Cpu)
            .to_kind(Kind::Double);
        self.pending.clear();
        let v = Vec::<f64>::try_from(all.view([-1]))?;
        let names = [
            "discriminator loss",
            "generator loss",
            "discriminator output on real samples",
            "discriminator output on fake samples",
        ];
        for (i, row) in v.chunks_exact(4).enumerate() {
            if let Some(k) = row.iter().position(|x| !x.is_finite()) {
                return Err(Error::NonFinite {
                    what: names[k],
                    value: row[k],
                    step: first_step + i as u64,
                    last_checkpoint: self.last_checkpoint.clone(),
                });
            }
        }
        let mean = |k: usize| v.iter().skip(k).step_by(4).sum::<f64>() / n as f64;
        let (s0, t0) = self.interval_start;
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        let rec = TrainRecord {
            kind: "train".into(),
            step: self.step,
            d_loss: mean(0),
            g_loss: mean(1),
            d_real: mean(2),
            d_fake: mean(3),
            steps_per_sec: (self.step - s0) as f64 / secs,
        };
        self.interval_start = (self.step, Instant::now());
        self.metrics.write(&rec)?;
        on_event(Event::Log(&rec));
        Ok(())
    }

    /// `n` samples from the EMA generator with latents seeded by `seed` (eval mode: no
    /// statistics change); `labels` (`[n]`) for a conditional generator.
    pub fn sample_ema(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        sample_generator(&self.g_ema, n, seed, labels, self.device)
    }

    /// Evaluates the EMA generator. 2D data: mode metrics, samples CSV and scatter plot;
    /// images: a sample grid from a fixed latent batch (one row per class for conditional
    /// models). Both redraw the loss plot.
    pub fn evaluate(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<EvalRecord> {
        let seed = step_seed(self.cfg.seed, Stream::Eval, 0);
        let rec = if let Some(mixture) = self.source.mixture() {
            let x = self.sample_ema(self.cfg.train.eval_samples, seed, None)?;
            let pts = points(&x)?;
            let modes = mixture.evaluate(&pts)?;
            let csv = self
                .run
                .samples()
                .join(format!("step-{:09}.csv", self.step));
            write_csv(&csv, &pts)?;
            let png = self
                .run
                .plots()
                .join(format!("samples-step-{:09}.png", self.step));
            scatter(mixture, &png, &pts)?;
            fs::copy(&png, self.run.plots().join("samples-latest.png"))
                .map_err(io_err("cannot copy", &png))?;
            EvalRecord {
                kind: "eval".into(),
                step: self.step,
                modes: Some(modes),
                grid: None,
                scores: None,
                best: None,
            }
        } else {
            let (labels, columns) = grid_layout(&self.info, self.g_ema.conditional(), self.device);
            let n = labels.as_ref().map_or(64, |l| l.size()[0]);
            let x = self.sample_ema(n, seed, labels.as_ref())?;
            let png = self
                .run
                .samples()
                .join(format!("step-{:09}.png", self.step));
            plot::image_grid(&png, &x, columns)?;
            fs::copy(&png, self.run.plots().join("samples-latest.png"))
                .map_err(io_err("cannot copy", &png))?;
            let scores = match &self.evaluator {
                Some(ev) => {
                    let n = self.cfg.train.eval_samples;
                    let labels = self
                        .g_ema
                        .conditional()
                        .then(|| scoring::cycle_labels(n, self.info.class_names.len() as i64));
                    let seed = step_seed(self.cfg.seed, Stream::Eval, 1);
                    let x = scoring::generate_chunked(
                        &self.g_ema,
                        n,
                        seed,
                        labels.as_ref(),
                        self.device,
                    )?;
                    let labels: Option<Vec<i64>> =
                        labels.as_ref().map(Vec::<i64>::try_from).transpose()?;
                    let report = ev
                        .evaluate(&plot::to_u8(&x), labels.as_deref(), &mut |_, _, _| {})
                        .map_err(|source| Error::Eval {
                            what: format!("scoring samples at step {}", self.step),
                            source,
                        })?;
                    Some(report)
                }
                None => None,
            };
            EvalRecord {
                kind: "eval".into(),
                step: self.step,
                modes: None,
                grid: Some(png),
                scores,
                best: None,
            }
        };
        let mut rec = rec;
        rec.best = self.update_best(&rec)?;
        self.metrics.write(&rec)?;
        let text = fs::read_to_string(self.run.metrics())
            .map_err(io_err("cannot read", self.run.metrics()))?;
        plot_losses(&self.run, &text)?;
        plot_scores(&self.run, &text, self.cfg.eval.best)?;
        on_event(Event::Eval(&rec));
        Ok(rec)
    }

    /// Keeps a copy of the current state in `<run>/best/` when `eval.best`'s value in `rec`
    /// improves on the best so far (the new checkpoint and `best.json` are written before the
    /// old best is removed). Returns the best record after `rec`.
    fn update_best(&mut self, rec: &EvalRecord) -> Result<Option<BestRecord>> {
        let metric = self.cfg.eval.best;
        let Some(value) = scoring::metric_value(metric, rec.modes.as_ref(), rec.scores.as_ref())
        else {
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
        let state = self.state();
        let path = checkpoint::save(&dir, &self.checkpoint_meta(&state), &state, usize::MAX)?;
        let best = BestRecord {
            metric: metric.name().into(),
            value,
            step: self.step,
            checkpoint: path.clone(),
        };
        let json = serde_json::to_string_pretty(&best).expect("BestRecord serialises");
        write_atomic(&dir.join("best.json"), &json)?;
        for old in checkpoint::list(&dir)? {
            if old.path != path {
                fs::remove_dir_all(&old.path).map_err(io_err("cannot prune", &old.path))?;
            }
        }
        self.best = Some(best.clone());
        Ok(Some(best))
    }

    /// What the run trains on.
    pub fn data_info(&self) -> &DataInfo {
        &self.info
    }

    /// The metadata of a checkpoint of the current step holding `state`.
    fn checkpoint_meta(&self, state: &[(String, Tensor)]) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            step: self.step,
            seed: self.cfg.seed,
            tensors: state.len(),
        }
    }

    /// Writes a checkpoint of the current step.
    pub fn save_checkpoint(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<PathBuf> {
        let state = self.state();
        let path = checkpoint::save(
            &self.run.checkpoints(),
            &self.checkpoint_meta(&state),
            &state,
            self.cfg.train.keep_checkpoints,
        )?;
        on_event(Event::Checkpoint(&path));
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }

    /// Trains until `train.steps` or until `stop` is raised (then checkpoints and returns).
    pub fn run(&mut self, stop: &AtomicBool, on_event: &mut dyn FnMut(Event)) -> Result<Outcome> {
        let total = self.cfg.train.steps;
        let t = self.cfg.train.clone();
        self.interval_start = (self.step, Instant::now());
        let mut saved_at = self.last_checkpoint.as_ref().map(|_| self.step);
        let mut evaluated_at = None;
        while self.step < total {
            self.train_step()?;
            let s = self.step;
            on_event(Event::Step { step: s, total });
            if s.is_multiple_of(t.log_every) {
                self.flush(on_event)?;
            }
            if t.eval_every > 0 && s.is_multiple_of(t.eval_every) {
                self.flush(on_event)?;
                self.evaluate(on_event)?;
                evaluated_at = Some(s);
            }
            if s.is_multiple_of(t.checkpoint_every) {
                self.flush(on_event)?;
                self.save_checkpoint(on_event)?;
                saved_at = Some(s);
            }
            if stop.load(Ordering::SeqCst) && s < total {
                self.flush(on_event)?;
                if saved_at != Some(s) {
                    self.save_checkpoint(on_event)?;
                }
                return Ok(Outcome::Stopped { step: s });
            }
        }
        self.flush(on_event)?;
        if evaluated_at != Some(self.step) {
            self.evaluate(on_event)?;
        }
        if saved_at != Some(self.step) {
            self.save_checkpoint(on_event)?;
        }
        Ok(Outcome::Finished { step: self.step })
    }
}

fn sample_generator(
    g: &Generator,
    n: i64,
    seed: i64,
    labels: Option<&Tensor>,
    device: Device,
) -> Result<Tensor> {
    seed_all(seed);
    let z = Tensor::randn([n, g.latent_dim()], (Kind::Float, device));
    let labels = labels.map(|l| l.to_device(device));
    Ok(tch::no_grad(|| g.forward_t(&z, labels.as_ref(), false))?)
}

/// Labels and column count of an evaluation grid: 10 columns per class row for a conditional
/// generator (`None` labels and 8 columns of 64 samples otherwise).
fn grid_layout(info: &DataInfo, conditional: bool, device: Device) -> (Option<Tensor>, usize) {
    if conditional {
        let k = info.class_names.len() as i64;
        let labels =
            Tensor::arange(k, (Kind::Int64, device)).repeat_interleave_self_int(10, 0, None);
        (Some(labels), 10)
    } else {
        (None, 8)
    }
}

/// Writes `x,y` lines, no header.
pub fn write_csv(path: &Path, pts: &[[f32; 2]]) -> Result<()> {
    let mut s = String::with_capacity(pts.len() * 24);
    for [x, y] in pts {
        s.push_str(&format!("{x},{y}\n"));
    }
    write_atomic(path, &s)
}

fn scatter(data: &Mixture2d, path: &Path, pts: &[[f32; 2]]) -> Result<()> {
    let extent = data
        .means()
        .iter()
        .flatten()
        .fold(0f64, |a, &b| a.max(b.abs()))
        * 1.375;
    plot::scatter_2d(path, pts, data.means(), 3.0 * data.std(), extent)
}

/// Redraws `plots/losses.png` from `metrics.jsonl`'s text (discriminator blue, generator red).
fn plot_losses(run: &RunDir, text: &str) -> Result<()> {
    let (mut d, mut g) = (Vec::new(), Vec::new());
    for rec in text
        .lines()
        .filter_map(|l| serde_json::from_str::<TrainRecord>(l).ok())
        .filter(|r| r.kind == "train")
    {
        d.push((rec.step as f64, rec.d_loss));
        g.push((rec.step as f64, rec.g_loss));
    }
    plot::lines(
        &run.plots().join("losses.png"),
        &[("d_loss", d), ("g_loss", g)],
    )
}

/// Draws `plots/<score>.png`, a score over the run's evaluations: `eval.best`'s, else FID,
/// else FCD (nothing when the evaluations have none of them).
fn plot_scores(run: &RunDir, text: &str, best: BestMetric) -> Result<()> {
    let evals: Vec<EvalRecord> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<EvalRecord>(l).ok())
        .filter(|r| r.kind == "eval")
        .collect();
    for metric in [best, BestMetric::Fid, BestMetric::Fcd] {
        let pts: Vec<(f64, f64)> = evals
            .iter()
            .filter_map(|r| {
                scoring::metric_value(metric, r.modes.as_ref(), r.scores.as_ref())
                    .map(|v| (r.step as f64, v))
            })
            .collect();
        if !pts.is_empty() {
            let name = metric.name();
            return plot::lines(&run.plots().join(format!("{name}.png")), &[(name, pts)]);
        }
    }
    Ok(())
}

/// A trained EMA generator loaded from a run folder.
#[derive(Debug)]
pub struct TrainedGenerator {
    /// The run's config.
    pub config: TrainConfig,
    /// What the run trained on.
    pub info: DataInfo,
    /// The checkpoint's step.
    pub step: u64,
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    generator: Generator,
    device: Device,
    _vs: VarStore,
}

impl TrainedGenerator {
    /// Loads the EMA generator of the newest checkpoint in `run_dir` onto `device`.
    pub fn load(run_dir: &Path, device: Device) -> Result<Self> {
        Self::load_which(run_dir, &WhichCheckpoint::Latest, device)
    }

    /// Loads the EMA generator of the newest, the best (`eval.best`) or a given checkpoint.
    pub fn load_which(run_dir: &Path, which: &WhichCheckpoint, device: Device) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let config = TrainConfig::from_toml_file(&run.config())?;
        let ckpt_path = match which {
            WhichCheckpoint::Latest => {
                checkpoint::latest(&run.checkpoints())?
                    .ok_or_else(|| Error::NoCheckpoint(run.root.clone()))?
                    .path
            }
            WhichCheckpoint::Best => {
                BestRecord::read(&run.best())?
                    .ok_or_else(|| Error::Config {
                        key: "--checkpoint best".into(),
                        message: format!(
                            "{} has no best checkpoint (set eval.best in the config)",
                            run.root.display()
                        ),
                    })?
                    .checkpoint
            }
            WhichCheckpoint::Dir(d) => d.clone(),
        };
        let loaded = checkpoint::load(&ckpt_path)?;
        let ckpt = checkpoint::CheckpointDir {
            path: ckpt_path,
            step: loaded.meta.step,
        };
        let info = DataInfo::read(&run.data_info())?;
        let vs = VarStore::new(device);
        let generator = Generator::new(&vs.root(), &config.generator, &info.spec())?;
        let vars = sorted_vars(&vs);
        let expected = layout("g_ema.", &vars);
        let subset: BTreeMap<String, Tensor> = loaded
            .tensors
            .iter()
            .filter(|(k, _)| k.starts_with("g_ema."))
            .map(|(k, v)| (k.clone(), v.shallow_clone()))
            .collect();
        checkpoint::check_layout(&ckpt.path, &expected, &subset)?;
        copy_into(&vars, "g_ema", &subset)?;
        Ok(TrainedGenerator {
            config,
            info,
            step: loaded.meta.step,
            checkpoint: ckpt.path,
            generator,
            device,
            _vs: vs,
        })
    }

    /// Whether samples need class labels.
    pub fn conditional(&self) -> bool {
        self.generator.conditional()
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        self.generator.latent_dim()
    }

    /// `n` samples from latents seeded by `seed`; `labels` (`[n]`, any device) for a
    /// conditional generator.
    pub fn sample(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        sample_generator(&self.generator, n, seed, labels, self.device)
    }

    /// `n` images in `[-1, 1]` on the CPU, generated in chunks from one latent batch seeded
    /// by `seed` (drawn on the CPU: the same latents on every device); `labels` as above.
    pub fn generate_images(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        scoring::generate_chunked(&self.generator, n, seed, labels, self.device)
    }

    /// Samples for given latents `z` (`[n, latent_dim]`) and labels.
    pub fn generate(&self, z: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let z = z.to_device(self.device);
        let labels = labels.map(|l| l.to_device(self.device));
        Ok(tch::no_grad(|| {
            self.generator.forward_t(&z, labels.as_ref(), false)
        })?)
    }

    /// The mixture the run was trained on, for 2D runs.
    pub fn mixture(&self) -> Option<Mixture2d> {
        self.config.data.mixture_kind().map(Mixture2d::new)
    }
}

//! Model families: what trains, as opposed to how a run is driven ([`crate::Trainer`]).
//!
//! The engine owns the run folder, step seeding, the phase schedule, checkpoints, EMA
//! bookkeeping, the metrics stream, periodic evaluation and `best/`, stop handling and the
//! divergence guard. A family owns its networks and optimisers, what each [`Phase`]
//! computes (reported as named [`Stats`]), its per-step updates, the tensors it puts in a
//! checkpoint, and how it produces samples for evaluation. The loop never matches on the
//! family: it calls the [`Family`] trait.
//!
//! Families: [`gan`] (unconditional, class-conditional and AC-GAN training of a generator
//! of latents against a discriminator), [`pix2pix`] (paired image-to-image translation) and
//! [`cyclegan`] (unpaired translation between two domains) and [`stylegan2`] (StyleGAN2 with
//! its lazy regularisation phases).
use std::collections::BTreeMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::data::DataInfo;
use crate::error::Result;
use crate::plan::{ModelPlan, Plan};
use crate::records::EvalRecord;

pub mod cyclegan;
pub mod gan;
pub mod pix2pix;
pub mod stylegan2;

/// One entry of the phase schedule (stylegan2-ada's `(name, module, opt, interval)`): at every
/// step `k` with `k % every == 0` the engine runs the phase `repeat` times in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Its name (`d`, `g`, ...), also the prefix of its statistics.
    pub name: &'static str,
    /// The optimiser it steps.
    pub optimizer: &'static str,
    /// Runs at steps that are multiples of this.
    pub every: u64,
    /// Runs this many times in a row (the GAN family's `n_critic`).
    pub repeat: u32,
    /// Loss terms folded into this phase's loss only at steps that are multiples of their
    /// interval (lazy regularisation: R1 every `r1_every` steps with its weight scaled by the
    /// interval). Each is `(name, every)`.
    pub lazy_terms: Vec<(&'static str, u64)>,
}

impl Phase {
    /// A phase that steps `optimizer` once at every step.
    pub fn new(name: &'static str, optimizer: &'static str) -> Self {
        Phase {
            name,
            optimizer,
            every: 1,
            repeat: 1,
            lazy_terms: Vec::new(),
        }
    }

    /// Whether the phase runs at `step`.
    pub fn due(&self, step: u64) -> bool {
        step.is_multiple_of(self.every)
    }
}

/// Where in the schedule a phase call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseCtx<'a> {
    /// The step (0-based: steps completed before this one).
    pub step: u64,
    /// Which repetition of the phase (0..repeat).
    pub index: u32,
    /// The phase being run.
    pub phase: &'a Phase,
}

impl PhaseCtx<'_> {
    /// Whether the lazy term `name` of this phase is due at this step.
    pub fn term_due(&self, name: &str) -> bool {
        self.phase
            .lazy_terms
            .iter()
            .any(|(n, every)| *n == name && self.step.is_multiple_of(*every))
    }
}

/// What a statistic is, for the divergence guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// A loss: logged, must be finite, and is watched for spikes past a multiple of its
    /// running median.
    Loss,
    /// Any other scalar (a mean logit, an accuracy): logged and must be finite.
    Value,
    /// 1 if every gradient of an optimiser step was finite, else 0: not logged; a 0 is a
    /// divergence.
    GradsFinite,
}

/// The named scalars a family reports for one step, kept on the device until the engine
/// writes them (one host copy per log interval).
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) entries: Vec<(&'static str, StatKind, Tensor)>,
}

impl Stats {
    /// Adds a loss (a 0-d tensor on the device).
    pub fn loss(&mut self, name: &'static str, value: &Tensor) {
        self.push(name, StatKind::Loss, value);
    }

    /// Adds another scalar.
    pub fn value(&mut self, name: &'static str, value: &Tensor) {
        self.push(name, StatKind::Value, value);
    }

    /// Adds an optimiser's gradient check ([`crate::Adam::grads_finite`]).
    pub fn grads_finite(&mut self, name: &'static str, flag: &Tensor) {
        self.push(name, StatKind::GradsFinite, flag);
    }

    fn push(&mut self, name: &'static str, kind: StatKind, value: &Tensor) {
        // A later value of the same name in one step (repeated phases) replaces the earlier.
        self.entries.retain(|(n, _, _)| *n != name);
        self.entries
            .push((name, kind, value.detach().to_kind(Kind::Float).reshape([1])));
    }
}

/// What the engine hands a family at the end of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepEnd {
    /// The step that just ran (0-based).
    pub step: u64,
    /// The EMA decay to apply now (the engine's warm-up schedule).
    pub ema_beta: f64,
}

/// What an evaluation needs from the engine.
pub struct EvalCtx<'a> {
    /// Steps completed.
    pub step: u64,
    /// The run folder.
    pub run: &'a crate::RunDir,
    /// Seeds for evaluation draws (`step_seed(seed, Eval, i)`; never the training stream).
    pub seed: u64,
    /// Samples to draw for scores.
    pub samples: i64,
    /// The image scorer `[eval]` asks for, if any.
    pub evaluator: Option<&'a gan_eval::Evaluator>,
}

impl std::fmt::Debug for EvalCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalCtx")
            .field("step", &self.step)
            .field("run", &self.run.root)
            .finish()
    }
}

/// A model family plugged into the engine.
pub trait Family {
    /// Its name, recorded in checkpoints (`gan`, ...).
    fn name(&self) -> &'static str;

    /// The phase schedule of one training step, in order.
    fn phases(&self) -> &[Phase];

    /// Sets every learning rate to its configured value times `factor` (the engine's
    /// schedule times the divergence guard's reduction).
    fn set_lr_factor(&mut self, factor: f64);

    /// Each optimiser's current learning rate, by name (what `set_lr_factor` and the
    /// family's own corrections made of the configured ones).
    fn learning_rates(&self) -> Vec<(&'static str, f64)>;

    /// Runs one repetition of a phase: losses, backward, the optimiser step. Every random
    /// number must come from torch's generator (re-seeded by the engine each step) or be a
    /// function of the step, so resumed runs replay exactly.
    fn run_phase(&mut self, ctx: &PhaseCtx, stats: &mut Stats) -> Result<()>;

    /// Per-step updates after the phases (EMA, pools).
    fn end_step(&mut self, end: &StepEnd) -> Result<()>;

    /// Every tensor a checkpoint holds, by name, in a fixed order.
    fn state(&self) -> Vec<(String, Tensor)>;

    /// Copies a checkpoint's tensors in. The engine has checked that names, shapes and
    /// dtypes are exactly those of [`state`](Self::state).
    fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()>;

    /// Samples, pictures and scores of an evaluation (the engine adds `best` and writes it).
    /// Must not change the training state nor draw from the training stream.
    fn evaluate(&mut self, ctx: &EvalCtx) -> Result<EvalRecord>;

    /// What the run trains on (saved as `data.json`).
    fn data_info(&self) -> &DataInfo;
}

/// Builds the family a plan names, on `device`.
pub fn build(plan: &Plan, device: Device) -> Result<Box<dyn Family>> {
    match &plan.model {
        ModelPlan::Gan(gan) => Ok(Box::new(gan::GanFamily::new(gan, &plan.data, device)?)),
        ModelPlan::Pix2pix { config, optim } => Ok(Box::new(pix2pix::Pix2pixFamily::new(
            config, optim, &plan.data, device,
        )?)),
        ModelPlan::Cyclegan { config, optim } => Ok(Box::new(cyclegan::CycleganFamily::new(
            config,
            optim,
            &plan.eval.config,
            &plan.data,
            device,
        )?)),
        ModelPlan::Stylegan2(sg) => Ok(Box::new(stylegan2::Stylegan2Family::new(
            sg, &plan.data, device,
        )?)),
    }
}

/// Sorted `(name, tensor)` pairs of a variable store (the order checkpoints use).
pub(crate) fn sorted_vars(vs: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A family's checkpoint tensors: every variable of each store as `prefix.name`, then each
/// optimiser's state as `prefix.name`, in the order given.
pub(crate) fn stores_state(
    stores: &[(&str, &tch::nn::VarStore)],
    opts: &[(&str, &crate::Adam)],
) -> Vec<(String, Tensor)> {
    let prefixed = |prefix: &str, vars: Vec<(String, Tensor)>| {
        vars.into_iter()
            .map(|(n, t)| (format!("{prefix}.{n}"), t))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    for (prefix, vs) in stores {
        out.extend(prefixed(prefix, sorted_vars(vs)));
    }
    for (prefix, opt) in opts {
        out.extend(prefixed(prefix, opt.state()));
    }
    out
}

/// Copies a checked checkpoint back into the stores and optimisers [`stores_state`] named.
pub(crate) fn load_stores_state(
    stores: &[(&str, &tch::nn::VarStore)],
    opts: &mut [(&str, &mut crate::Adam)],
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    for (prefix, vs) in stores {
        copy_into(&sorted_vars(vs), prefix, tensors)?;
    }
    for (prefix, opt) in opts.iter_mut() {
        opt.load_state(&|n| {
            tensors
                .get(&format!("{prefix}.{n}"))
                .map(|t| t.shallow_clone())
        })?;
    }
    Ok(())
}

/// Copies `prefix.name` tensors of a checked checkpoint into `vars`.
pub(crate) fn copy_into(
    vars: &[(String, Tensor)],
    prefix: &str,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (n, t) in vars {
            let key = format!("{prefix}.{n}");
            let src = tensors
                .get(&key)
                .ok_or_else(|| crate::Error::IncompatibleCheckpoint {
                    path: Path::new("<state>").to_path_buf(),
                    differences: vec![format!("missing tensor `{key}`")],
                })?;
            t.shallow_clone().f_copy_(src)?;
        }
        Ok(())
    })
}

/// Replaces `dst` with a copy of `src`, atomically (e.g. `plots/samples-latest.png`).
pub(crate) fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    let bytes = std::fs::read(src).map_err(crate::error::io_err("cannot read", src))?;
    Ok(gan_tensor::write_atomic(dst, &bytes)?)
}

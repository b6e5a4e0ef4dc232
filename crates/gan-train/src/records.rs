//! What the loop writes to `metrics.jsonl` and reports while it runs.
use std::path::{Path, PathBuf};

use gan_data::ModeMetrics;
use serde::{Deserialize, Serialize};

use crate::family::pix2pix::TranslationRecord;
use crate::scoring::BestRecord;

/// A `metrics.jsonl` training record: the means of the family's named statistics over the
/// steps since the previous record (`{"kind":"train","step":100,"d_loss":1.3,...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    /// Always `"train"`.
    pub kind: String,
    /// Steps completed.
    pub step: u64,
    /// Each statistic's mean over the interval, in the order the family reports them.
    #[serde(flatten, with = "ordered")]
    pub stats: Vec<(String, f64)>,
    /// Steps per second over the interval.
    pub steps_per_sec: f64,
}

impl TrainRecord {
    /// The value of statistic `name`, if the record has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// Named statistics as a JSON map (flattened into the record), kept in report order.
mod ordered {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, x) in v {
            m.serialize_entry(k, x)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(String, f64)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("named numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, f64>()? {
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A `metrics.jsonl` evaluation record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Always `"eval"`.
    pub kind: String,
    /// Steps completed.
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
    /// Translation runs: L1/PSNR/SSIM of held-out pairs and how they were translated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<TranslationRecord>,
    /// Two-way translation runs (cyclegan): the scores of each direction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directions: Vec<crate::family::cyclegan::DirectionRecord>,
    /// The best checkpoint so far by `eval.best`, after this evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestRecord>,
}

impl EvalRecord {
    /// An empty evaluation record of `step`.
    pub fn new(step: u64) -> Self {
        EvalRecord {
            kind: "eval".into(),
            step,
            modes: None,
            grid: None,
            scores: None,
            translation: None,
            directions: Vec::new(),
            best: None,
        }
    }
}

/// A `metrics.jsonl` record of the divergence guard rolling the run back. Its `step` is the
/// step training continues from (so a later resume keeps it), `detected_at` the step whose
/// values tripped the guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRecord {
    /// Always `"rollback"`.
    pub kind: String,
    /// The checkpoint step the run went back to (0: the initial weights).
    pub step: u64,
    /// The step (0-based) that produced the bad value.
    pub detected_at: u64,
    /// What tripped the guard.
    pub reason: String,
    /// The checkpoint restored (`None`: the initial weights).
    pub checkpoint: Option<PathBuf>,
    /// The learning-rate multiplier from now on.
    pub lr_scale: f64,
    /// Rollbacks so far in this run.
    pub rollbacks: u32,
}

/// A `metrics.jsonl` record of a resume that changed the learning-rate schedule's total
/// (`--steps` on a run with a step-dependent schedule such as `linear-decay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// Always `"schedule"`.
    pub kind: String,
    /// The step the run resumed at.
    pub step: u64,
    /// The schedule.
    pub schedule: crate::config::LrSchedule,
    /// The total the schedule ran over until now.
    pub from_steps: u64,
    /// The total it runs over from now on.
    pub to_steps: u64,
    /// The warning, in words.
    pub message: String,
}

/// A `metrics.jsonl` record of a warning: a loss that is finite but huge (the run is likely
/// diverging though no value is NaN or infinite yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningRecord {
    /// Always `"warning"`.
    pub kind: String,
    /// The step (0-based) whose value it is about.
    pub step: u64,
    /// The statistic.
    pub stat: String,
    /// Its value.
    pub value: f64,
    /// The warning, in words.
    pub message: String,
}

/// What the loop reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step finished.
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
    /// The divergence guard rolled the run back.
    Rollback(&'a RollbackRecord),
    /// A warning was written (a huge but finite loss).
    Warning(&'a WarningRecord),
}

/// How a call to [`crate::Trainer::run`] ended.
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

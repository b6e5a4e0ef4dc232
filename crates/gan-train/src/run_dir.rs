//! The files of a run folder.
use std::path::PathBuf;

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
    /// TensorBoard event files (`[log] tensorboard`).
    pub fn tensorboard(&self) -> PathBuf {
        self.root.join("tensorboard")
    }
    /// What the run trains on ([`crate::DataInfo`]).
    pub fn data_info(&self) -> PathBuf {
        self.root.join("data.json")
    }
}

use std::path::PathBuf;

use thiserror::Error;

/// Errors of `gan-train`.
#[derive(Debug, Error)]
pub enum Error {
    /// A config file that cannot be read.
    #[error("cannot read config {path}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A config file that does not parse or does not fit the config's types: names the
    /// file, the dotted key where it can be found, and the key's own line and column.
    #[error("invalid config {path}, line {line}, column {column}{}: {message}\n{snippet}", key.as_ref().map(|k| format!(" (`{k}`)")).unwrap_or_default())]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The dotted key the error is about, where it could be found.
        key: Option<String>,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (toml's message without its own position).
        message: String,
        /// The offending line with a caret under the column.
        snippet: String,
        /// toml's error as it came (its position may be the enclosing table's).
        toml: Box<toml::de::Error>,
    },
    /// A config value out of range, in a file: the validation error with the file and the
    /// key's line and column (or a note that the file leaves the key at its default).
    #[error("{path}{}: {source}", match place { Some((l, c)) => format!(", line {l}, column {c}"), None => format!(" (`{key}` is not set there: its default)") })]
    ConfigValue {
        /// The file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// Its line and column in the file, if the file sets it.
        place: Option<(usize, usize)>,
        /// The validation error.
        #[source]
        source: Box<Error>,
    },
    /// A config value out of range.
    #[error("invalid value for `{key}`: {message}")]
    Config {
        /// The dotted key.
        key: String,
        /// Why.
        message: String,
    },
    /// A model config error.
    #[error(transparent)]
    Model(#[from] gan_models::Error),
    /// A network that cannot be built (a parameter too big for memory, say).
    #[error("cannot build the {network}")]
    Build {
        /// Which network.
        network: &'static str,
        /// Why.
        #[source]
        source: gan_models::Error,
    },
    /// A loss error.
    #[error(transparent)]
    Loss(#[from] gan_losses::Error),
    /// A data error.
    #[error(transparent)]
    Data(#[from] gan_data::Error),
    /// A device or tensor helper error.
    #[error(transparent)]
    Tensor(#[from] gan_tensor::Error),
    /// libtorch failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A plot could not be drawn.
    #[error("cannot draw the plot {path}: {message}")]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file that does not parse.
    #[error("invalid JSON in {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An image data set that is nowhere to be found.
    #[error("cannot find the {name} data set; looked in: {}. Run `cargo xtask data {name}` or set `data.dir` in the config", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DataNotFound {
        /// The data set.
        name: &'static str,
        /// The folders searched.
        looked: Vec<PathBuf>,
    },
    /// No checkpoint in a run folder.
    #[error("no checkpoint in {0} (expected checkpoints/step-*/ with meta.json)")]
    NoCheckpoint(PathBuf),
    /// A checkpoint that fails verification: a missing or edited `meta.json`, a file whose
    /// size or SHA-256 differs from the one recorded, a damaged tensor file. It is never
    /// used, and never deleted.
    #[error("checkpoint {path} failed verification: {reason}")]
    CorruptCheckpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A resume whose config changes settings that must stay as they were.
    #[error("the config differs from the one {run} was trained with in settings that cannot change on resume:\n  {}\nOnly train.steps, train.log_every, train.eval_every, train.eval_samples, train.checkpoint_every, train.keep_checkpoints, train.threads, optim.lr_g, optim.lr_d, device, name, [eval] and [guard] may change; start a new run to change the rest", differences.join("\n  "))]
    ResumeConfigChanged {
        /// The run folder.
        run: PathBuf,
        /// One line per dotted key: `key: trained with X, now Y`.
        differences: Vec<String>,
    },
    /// A checkpoint that does not fit the model built from the config.
    #[error("checkpoint {path} does not match the model in the config:\n  {}", differences.join("\n  "))]
    IncompatibleCheckpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// One line per missing, unexpected, reshaped or retyped tensor.
        differences: Vec<String>,
    },
    /// A loss became NaN or infinite.
    #[error("{what} is not finite ({value}) at step {step}; training stopped. The last good checkpoint is {}", last_checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none (no checkpoint was written yet)".into()))]
    NonFinite {
        /// Which quantity.
        what: String,
        /// Its value.
        value: f64,
        /// The step (0-based) that produced it.
        step: u64,
        /// The newest checkpoint on disk, untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// The divergence guard used up its rollbacks (`guard.max_rollbacks`).
    #[error("training diverged: {reason}; stopped after {rollbacks} rollback(s) (guard.max_rollbacks). The newest good checkpoint is {}", checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none (no checkpoint was written yet)".into()))]
    Diverged {
        /// What tripped the guard the last time.
        reason: String,
        /// The step (0-based) that produced it.
        step: u64,
        /// Rollbacks made before giving up.
        rollbacks: u32,
        /// The newest checkpoint whose tensors are all finite, kept on disk.
        checkpoint: Option<PathBuf>,
    },
    /// An evaluation (classifier, Inception, reference features) failed.
    #[error("{what}")]
    Eval {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: gan_eval::Error,
    },
    /// An image could not be written.
    #[error("cannot write image {path}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: image::ImageError,
    },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Names the network in a model error that is not a config error (those name their key).
pub(crate) fn build_err(network: &'static str) -> impl FnOnce(gan_models::Error) -> Error {
    move |source| match source {
        e @ gan_models::Error::Config { .. } => Error::Model(e),
        source => Error::Build { network, source },
    }
}

pub(crate) fn config_err(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

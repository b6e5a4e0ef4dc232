use std::path::PathBuf;

use thiserror::Error;

/// Errors of `gan-eval`.
#[derive(Debug, Error)]
pub enum Error {
    /// Images or labels that do not fit the classifier or each other.
    #[error("{0}")]
    Shape(String),
    /// A crash-safe write failed (names the file).
    #[error(transparent)]
    Write(#[from] gan_tensor::Error),
    /// A file that cannot be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Invalid JSON metadata.
    #[error("invalid classifier metadata {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A classifier folder whose weights do not match its metadata.
    #[error("classifier {path}: {message}")]
    BadClassifier {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The feature-extractor file is not there.
    #[error("no InceptionV3 feature extractor at {path}: {hint}")]
    MissingExtractor {
        /// Where it was looked for.
        path: PathBuf,
        /// How to get it.
        hint: &'static str,
    },
    /// A feature-extractor file that does not keep the contract.
    #[error("feature extractor {path}: {message}")]
    BadExtractor {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A cache file that cannot be used.
    #[error("reference cache {path}: {message}")]
    BadCache {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An error of the data layer.
    #[error(transparent)]
    Data(#[from] gan_data::Error),
    /// An error raised by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

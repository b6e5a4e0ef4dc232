use thiserror::Error;

/// Errors of `gan-data`.
#[derive(Debug, Error)]
pub enum Error {
    /// Samples of the wrong shape.
    #[error("expected 2-D points of shape [N, 2], got shape {0:?}")]
    Shape(Vec<i64>),
    /// No samples to evaluate.
    #[error("no samples to evaluate")]
    Empty,
    /// A sample with a NaN or infinite coordinate.
    #[error("sample {index} is not finite: ({x}, {y})")]
    NonFinite {
        /// Row of the bad sample.
        index: usize,
        /// Its x.
        x: f32,
        /// Its y.
        y: f32,
    },
    /// An error raised by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

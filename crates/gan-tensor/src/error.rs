use thiserror::Error;

/// Errors of `gan-tensor`.
#[derive(Debug, Error)]
pub enum Error {
    /// A device string that is not `auto`, `cpu`, `cuda` or `cuda:N`.
    #[error("invalid device `{0}`: expected auto, cpu, cuda or cuda:N")]
    InvalidDevice(String),
    /// CUDA was asked for but libtorch sees no CUDA device.
    #[error("device `{requested}` was requested but CUDA is not available ({reason}); use --device cpu or auto")]
    CudaUnavailable {
        /// What the user asked for.
        requested: String,
        /// Why it is not available.
        reason: String,
    },
    /// `cuda:N` with N past the number of devices.
    #[error("device `cuda:{index}` was requested but only {count} CUDA device(s) are visible")]
    CudaIndex {
        /// The requested ordinal.
        index: usize,
        /// Devices libtorch sees.
        count: usize,
    },
    /// A tensor of an unexpected shape.
    #[error("expected {expected}, got shape {got:?}")]
    Shape {
        /// What was expected.
        expected: String,
        /// The shape that came.
        got: Vec<i64>,
    },
    /// A file operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file's contents failed (the writer's own error).
    #[error("cannot write {path}")]
    Write {
        /// The file that was being written (it is left as it was).
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A job that does not fit in the memory the process may use.
    #[error("{what} needs about {} of memory, but only {} is available ({limit}); ask for less", crate::memory::human_bytes(*needed), crate::memory::human_bytes(*available))]
    OutOfMemory {
        /// What was asked for, naming the input that sizes it.
        what: String,
        /// The estimate, in bytes.
        needed: u64,
        /// The budget, in bytes.
        available: u64,
        /// Which limit the budget comes from.
        limit: &'static str,
    },
    /// An error raised by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

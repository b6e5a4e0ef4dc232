use thiserror::Error;

/// Errors of `gan-models`.
#[derive(Debug, Error)]
pub enum Error {
    /// A config value out of range; names the key.
    #[error("invalid value for `{key}`: {message}")]
    Config {
        /// The offending key, e.g. `discriminator.pack`.
        key: String,
        /// Why it is wrong.
        message: String,
    },
    /// An input of the wrong shape.
    #[error("{what}: expected {expected}, got shape {got:?}")]
    Shape {
        /// Which network or input.
        what: &'static str,
        /// What was expected.
        expected: String,
        /// The shape that came.
        got: Vec<i64>,
    },
    /// A class-conditional network called without labels.
    #[error("{0} is class-conditional and needs labels")]
    MissingLabels(&'static str),
    /// A parameter whose shape no tensor can have (a negative dimension, or more elements
    /// than libtorch can count); names the variable.
    #[error("parameter `{path}` of shape {shape:?}: {reason}")]
    ParameterShape {
        /// The variable's full var-store path, e.g. `g.fc1.weight`.
        path: String,
        /// The requested shape.
        shape: Vec<i64>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An error raised by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// An error of `gan-tensor`, e.g. a parameter that does not fit in the memory available.
    #[error(transparent)]
    Tensor(#[from] gan_tensor::Error),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn config_err(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

use tch::{Device, Kind};

/// Errors of `gan-losses`.
///
/// Every check on user input names the argument it is about (`real_logits`, `fake`,
/// `d(real)`, ...) and, where it applies, the shape that came.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An undefined tensor (for example `Tensor::new()`) where data was needed.
    #[error("`{arg}` is an undefined tensor")]
    Undefined {
        /// The argument.
        arg: &'static str,
    },
    /// A tensor of the wrong shape.
    #[error("`{arg}`: expected {expected}, got shape {got:?}")]
    Shape {
        /// The argument.
        arg: &'static str,
        /// What was expected.
        expected: String,
        /// The shape that came.
        got: Vec<i64>,
    },
    /// A batch with no samples.
    #[error("`{arg}` is an empty batch (shape {got:?}): at least one sample is needed")]
    EmptyBatch {
        /// The argument.
        arg: &'static str,
        /// The shape that came.
        got: Vec<i64>,
    },
    /// Integer, boolean or complex data where real floating-point values were needed.
    #[error("`{arg}` must be a floating-point tensor, got {kind:?}")]
    NotFloat {
        /// The argument.
        arg: &'static str,
        /// The kind that came.
        kind: Kind,
    },
    /// `real` and `fake` of [`gradient_penalty`](crate::gradient_penalty) differ in shape.
    #[error("`real` and `fake` must have the same shape, got {real:?} and {fake:?}")]
    ShapeMismatch {
        /// Shape of `real`.
        real: Vec<i64>,
        /// Shape of `fake`.
        fake: Vec<i64>,
    },
    /// Two tensors that are combined live on different devices.
    #[error("`{first}` is on {first_device:?} but `{second}` is on {second_device:?}")]
    DeviceMismatch {
        /// The first argument.
        first: &'static str,
        /// Its device.
        first_device: Device,
        /// The second argument.
        second: &'static str,
        /// Its device.
        second_device: Device,
    },
    /// Gradients were asked with respect to a tensor that does not require grad.
    #[error("`{arg}` does not require grad: create it with `.set_requires_grad(true)` before the forward pass")]
    NoGrad {
        /// The argument.
        arg: &'static str,
    },
    /// The outputs do not depend on the inputs, so there is no gradient to penalise.
    #[error("`{outputs}` does not depend on `{inputs}` through the autograd graph")]
    NotConnected {
        /// The outputs argument.
        outputs: &'static str,
        /// The inputs argument.
        inputs: &'static str,
    },
    /// A loss weight that is negative or not finite.
    #[error("`{arg}`: {message}")]
    InvalidArgument {
        /// The argument.
        arg: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A negative or non-finite target norm for [`gradient_penalty`](crate::gradient_penalty).
    #[error("`target_norm` must be finite and >= 0, got {0}")]
    TargetNorm(f64),
    /// A loss name that is not one of [`GanLoss::ALL`](crate::GanLoss::ALL).
    #[error("unknown GAN loss `{0}`: expected one of non-saturating, minimax, hinge, wasserstein, least-squares, relativistic-average")]
    UnknownLoss(String),
    /// An error raised by libtorch (the [`tch::TchError`] is kept as the source).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

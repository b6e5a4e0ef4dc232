use std::path::PathBuf;

use thiserror::Error;

/// Errors of `gan-data`.
///
/// Errors about a file name the file; those caused by the operating system or a decoder keep
/// that cause as their [`source`](std::error::Error::source) (print the whole chain to see it).
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
    /// A crash-safe write failed (names the file).
    #[error(transparent)]
    Write(#[from] gan_tensor::Error),
    /// A file or folder that cannot be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content is not in the expected format.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file (or folder, for a bad folder layout).
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// An image file that the `image` crate cannot decode.
    #[error("cannot decode image {}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        #[source]
        source: image::ImageError,
    },
    /// An image file and a label file that disagree on the number of samples.
    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels",
        images.display(),
        labels.display()
    )]
    Mismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images in it.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels in it.
        n_labels: usize,
    },
    /// Files of a standard data set that are not in its folder.
    #[error("{}: cannot find {}. {hint}", dir.display(), missing.join(", "))]
    MissingFiles {
        /// The folder searched.
        dir: PathBuf,
        /// The files not found (with their alternative names, if any, in parentheses).
        missing: Vec<String>,
        /// How to get them: a sentence.
        hint: String,
    },
    /// A data set source with no usable image.
    #[error("{}: no images ({reason})", path.display())]
    NoImages {
        /// The file or folder.
        path: PathBuf,
        /// What was looked for, or why every candidate was dropped.
        reason: String,
    },
    /// An image of one folder of a pair of folders with no image of the same name in the
    /// other (see [`PairedDataset::folders`](crate::PairedDataset::folders)).
    #[error(
        "{} has no partner: no image named {name} (.png, .jpg or .jpeg) in {}",
        file.display(),
        missing_in.display()
    )]
    Unpaired {
        /// The image without a partner.
        file: PathBuf,
        /// Its path relative to its folder, without the extension.
        name: String,
        /// The folder that lacks it.
        missing_in: PathBuf,
    },
    /// Loading options or a data set description that make no sense.
    #[error("invalid data options: {0}")]
    Options(String),
    /// A batch size that an [`EpochBatcher`](crate::EpochBatcher) cannot serve.
    #[error("cannot draw batches of {batch} from {n} samples: the batch size must be in 1..={n}")]
    BatchSize {
        /// Number of samples.
        n: usize,
        /// Requested batch size.
        batch: usize,
    },
}

/// `Result` with [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

/// A closure turning an I/O error into [`Error::Io`] for `path`.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

//! `gan-eval`: judging generated samples with numbers, computed as the reference tools do.
//!
//! * Feature extractors: [`Inception`] (InceptionV3 as a TorchScript file, with pytorch-fid's
//!   preprocessing inside; `cargo xtask fetch-inception` makes it) and [`Classifier`] (a small
//!   CNN the toolkit trains on a labelled data set, `gan classifier train`).
//! * Scores on feature matrices: [`frechet_distance`] (FID with Inception features, FCD with
//!   the classifier's; float64, exact matrix square root), [`kid`], [`precision_recall`],
//!   [`density_coverage`], [`inception_score`]; on predictions: [`classifier_scores`]
//!   (class histogram and entropy, classifier score, conditional accuracy),
//!   [`stacked_modes`] (Stacked MNIST-style mode counts) and [`gan_train_test`].
//! * [`Evaluator`] puts them together for a set of `u8` images against a [`Reference`] split,
//!   with the reference side cached on disk by [`FeatureCache`], and returns an
//!   [`ImageReport`] (JSON, Markdown) recording the extractors' hashes and preprocessing.
//! * Paired scores of image-to-image translation: [`translation_scores`] (L1, PSNR and
//!   Gaussian-window SSIM of `u8` outputs against their targets, as
//!   `scripts/pix2pix_edges.py`), in a [`TranslationScores`].
//!
//! ```
//! use gan_eval::classifier_scores;
//! use tch::Tensor;
//! // Four confident predictions, two classes, balanced: entropy ln 2, score 2.
//! let p = Tensor::from_slice(&[1f32, 0., 0., 1., 1., 0., 0., 1.]).view([4, 2]);
//! let s = classifier_scores(&p, Some(&[0, 1, 0, 0]), 1)?;
//! assert!((s.class_entropy - 2f64.ln()).abs() < 1e-9);
//! assert!((s.classifier_score - 2.0).abs() < 1e-6);
//! assert_eq!(s.conditional_accuracy, Some(0.75));
//! # Ok::<(), gan_eval::Error>(())
//! ```

mod classifier;
mod error;
mod evaluator;
mod frechet;
mod gan_train_test;
mod inception;
mod metrics;
mod reference;
mod scores;
mod stacked;
mod translation;

pub use classifier::{
    sha256, Classifier, ClassifierConfig, ClassifierMeta, TrainEvent, FORMAT_VERSION,
};
pub use error::{Error, Result};
pub use evaluator::{
    feature_scores, ClassifierReport, Evaluator, FeatureScores, ImageReport, InceptionReport,
    Progress, Reference, ReferenceInfo, ScoreOptions,
};
pub use frechet::{feature_stats, frechet_distance};
pub use gan_train_test::{gan_train_test, GanTrainTest};
pub use inception::{cache_dir, Inception, InceptionInfo, FETCH_HINT};
pub use metrics::{
    density_coverage, inception_score, kid, neighbour_scores, precision_recall, KidOptions,
    KidResult, NeighbourScores, DEFAULT_DC_NEIGHBOURS, DEFAULT_PR_NEIGHBOURS,
};
pub use reference::{take, CacheOutcome, FeatureCache};
pub use scores::{classifier_scores, ClassifierScores};
pub use stacked::{stacked_modes, StackedModes};
pub use translation::{translation_scores, TranslationScores};

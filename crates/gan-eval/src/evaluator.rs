//! Everything `gan eval` and periodic evaluation compute for a set of generated images:
//! the domain classifier's scores, and, against a reference set of real images, the
//! feature-based scores (Frechet distance, KID, precision/recall, density/coverage) in the
//! classifier's feature space (FCD) and in InceptionV3's (FID), plus the Inception Score.
//!
//! The reference side (features and statistics) is computed once per [`Evaluator`] and
//! cached on disk by [`FeatureCache`].

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::classifier::Classifier;
use crate::error::{Error, Result};
use crate::frechet::{feature_stats, frechet_distance};
use crate::inception::Inception;
use crate::metrics::{
    inception_score, kid, neighbour_scores, KidOptions, DEFAULT_DC_NEIGHBOURS,
    DEFAULT_PR_NEIGHBOURS,
};
use crate::reference::{take, CacheOutcome, FeatureCache};
use crate::scores::{classifier_scores, ClassifierScores};
use crate::stacked::{stacked_modes, StackedModes};

/// Settings of the feature-based scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreOptions {
    /// KID subsets.
    pub kid_subsets: usize,
    /// KID subset size (at most the smaller set).
    pub kid_subset_size: usize,
    /// Seed of the KID subsets.
    pub kid_seed: u64,
    /// Neighbours for precision/recall (3, as Kynkaanniemi et al. and stylegan2-ada).
    pub pr_k: usize,
    /// Neighbours for density/coverage (5, as Naeem et al.).
    pub dc_k: usize,
    /// Splits of the Inception Score and of the classifier score.
    pub splits: usize,
    /// Images per batch through the extractors.
    pub batch: i64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            kid_subsets: 100,
            kid_subset_size: 1000,
            kid_seed: 0,
            pr_k: DEFAULT_PR_NEIGHBOURS,
            dc_k: DEFAULT_DC_NEIGHBOURS,
            splits: 10,
            batch: 200,
        }
    }
}

/// The scores of one feature space against the reference set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureScores {
    /// Frechet distance (FID with Inception features, FCD with the classifier's).
    pub frechet_distance: f64,
    /// KID: mean of the unbiased MMD^2 (cubic kernel) over subsets.
    pub kid: f64,
    /// Standard deviation of KID over the subsets.
    pub kid_std: f64,
    /// Improved precision (Kynkaanniemi et al. 2019).
    pub precision: f64,
    /// Improved recall.
    pub recall: f64,
    /// Density (Naeem et al. 2020).
    pub density: f64,
    /// Coverage (Naeem et al. 2020).
    pub coverage: f64,
}

/// Computes [`FeatureScores`] of generated features against reference features whose
/// statistics `(mu, sigma)` are given.
pub fn feature_scores(
    real: &Tensor,
    real_stats: (&Tensor, &Tensor),
    fake: &Tensor,
    opts: &ScoreOptions,
) -> Result<FeatureScores> {
    let (mu_f, s_f) = feature_stats(fake)?;
    let fd = frechet_distance(real_stats.0, real_stats.1, &mu_f, &s_f)?;
    let k = kid(
        real,
        fake,
        KidOptions {
            num_subsets: opts.kid_subsets,
            max_subset_size: opts.kid_subset_size,
            seed: opts.kid_seed,
        },
    )?;
    let n = neighbour_scores(real, fake, opts.pr_k, opts.dc_k)?;
    Ok(FeatureScores {
        frechet_distance: fd,
        kid: k.mean,
        kid_std: k.std,
        precision: n.precision,
        recall: n.recall,
        density: n.density,
        coverage: n.coverage,
    })
}

/// A set of real images to compare against.
pub struct Reference {
    /// What it is, e.g. "fashion-mnist:test (pad 2)".
    pub name: String,
    /// `u8` images `[N, C, H, W]`.
    pub images: Tensor,
}

/// Where the reference side of one feature space came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceInfo {
    /// The reference set.
    pub name: String,
    /// Its size.
    pub n: i64,
    /// The cache file used (`null` when it could not be written).
    pub cache: Option<PathBuf>,
    /// Whether it was read from the cache.
    pub cache_hit: bool,
}

/// The classifier's part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// Folder of the classifier.
    pub dir: PathBuf,
    /// SHA-256 of its weights.
    pub weights_sha256: String,
    /// Its accuracy on real test data, and which.
    pub test_accuracy: f64,
    /// The data set it was measured on.
    pub test_data: String,
    /// Class names.
    pub class_names: Vec<String>,
    /// Scores from its predictions.
    pub scores: ClassifierScores,
    /// Scores in its feature space against the reference (FCD etc.).
    pub features: Option<FeatureScores>,
    /// Mode coverage of stacked images (RGB images scored by a grey classifier, one channel
    /// at a time; the other classifier scores are then over all channel images).
    pub stacked: Option<StackedModes>,
    /// The reference side.
    pub reference: Option<ReferenceInfo>,
}

/// The Inception part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InceptionReport {
    /// The TorchScript file.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// What it says about itself (network, weights and their hash, preprocessing).
    pub info: crate::inception::InceptionInfo,
    /// Inception Score (softmax over the logits; `splits` splits): mean.
    pub inception_score: f64,
    /// Its standard deviation over the splits.
    pub inception_score_std: f64,
    /// FID, KID, precision/recall, density/coverage against the reference.
    pub features: Option<FeatureScores>,
    /// The reference side.
    pub reference: Option<ReferenceInfo>,
}

/// The result of [`Evaluator::evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Generated images scored.
    pub n_samples: i64,
    /// Score settings.
    pub options: ScoreOptions,
    /// Classifier scores (absent without a classifier).
    pub classifier: Option<ClassifierReport>,
    /// Inception scores (absent without the extractor file).
    pub inception: Option<InceptionReport>,
    /// Why the Inception scores are absent, and how to get them.
    pub inception_missing: Option<String>,
    /// Seconds spent scoring (reference features excluded when cached).
    pub seconds: f64,
}

struct RefSide {
    features: Tensor,
    mu: Tensor,
    sigma: Tensor,
    info: ReferenceInfo,
}

/// Scores generated images; holds the extractors and the reference side.
pub struct Evaluator {
    classifier: Option<(Classifier, PathBuf)>,
    inception: Option<Inception>,
    inception_missing: Option<String>,
    opts: ScoreOptions,
    ref_classifier: Option<RefSide>,
    ref_inception: Option<RefSide>,
}

/// The images as the classifier sees them: RGB images under a grey classifier are stacked
/// data, scored one channel at a time (`[N, 3, H, W]` becomes `[3N, 1, H, W]`).
fn classifier_view(c: &Classifier, images: &Tensor) -> (Tensor, bool) {
    let s = images.size();
    if c.meta.shape.first() == Some(&1) && s.len() == 4 && s[1] == 3 {
        (images.reshape([s[0] * 3, 1, s[2], s[3]]), true)
    } else {
        (images.shallow_clone(), false)
    }
}

/// Progress of long work: (what, done, total).
pub type Progress<'a> = &'a mut dyn FnMut(&str, i64, i64);

fn reference_side(
    reference: &Reference,
    extractor_sha: &str,
    extractor: &str,
    cache: &FeatureCache,
    extract: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
) -> Result<RefSide> {
    let note = serde_json::json!({
        "reference": reference.name,
        "n": reference.images.size()[0],
        "shape": reference.images.size(),
        "extractor": extractor,
        "extractor_sha256": extractor_sha,
        "tensors": ["features", "mu", "sigma"],
    });
    let (tensors, outcome) =
        cache.get_or_compute(extractor_sha, &reference.images, &note, || {
            let f = extract(&reference.images)?;
            let (mu, sigma) = feature_stats(&f)?;
            Ok(vec![
                ("features".into(), f),
                ("mu".into(), mu),
                ("sigma".into(), sigma),
            ])
        })?;
    let (cache_path, hit) = match &outcome {
        CacheOutcome::Hit(p) => (Some(p.clone()), true),
        CacheOutcome::Stored(p) => (Some(p.clone()), false),
        CacheOutcome::NotStored(_) => (None, false),
    };
    let hint = cache_path
        .clone()
        .unwrap_or_else(|| cache.dir().to_path_buf());
    Ok(RefSide {
        features: take(&tensors, "features", &hint)?,
        mu: take(&tensors, "mu", &hint)?,
        sigma: take(&tensors, "sigma", &hint)?,
        info: ReferenceInfo {
            name: reference.name.clone(),
            n: reference.images.size()[0],
            cache: cache_path,
            cache_hit: hit,
        },
    })
}

impl Evaluator {
    /// Prepares an evaluator. `inception` is the extractor's load result: an error (the file
    /// is missing) is kept as the report's `inception_missing`, so the classifier scores still
    /// run. With a `reference`, its features in each available space are computed now (or
    /// read from `cache`).
    pub fn new(
        classifier: Option<(Classifier, PathBuf)>,
        inception: Option<Result<Inception>>,
        reference: Option<&Reference>,
        cache: &FeatureCache,
        opts: ScoreOptions,
        progress: Progress,
    ) -> Result<Self> {
        let (inception, inception_missing) = match inception {
            Some(Ok(m)) => (Some(m), None),
            Some(Err(e @ Error::MissingExtractor { .. })) => (None, Some(e.to_string())),
            Some(Err(e)) => return Err(e),
            None => (None, Some("not requested".into())),
        };
        let mut ev = Evaluator {
            classifier,
            inception,
            inception_missing,
            opts,
            ref_classifier: None,
            ref_inception: None,
        };
        if let Some(reference) = reference {
            if let Some((c, dir)) = &ev.classifier {
                let name = format!("classifier {}", dir.display());
                ev.ref_classifier = Some(reference_side(
                    reference,
                    &c.meta.weights_sha256,
                    &name,
                    cache,
                    &mut |x| Ok(c.predict_u8(&classifier_view(c, x).0)?.1),
                )?);
            }
            if let Some(m) = &ev.inception {
                let batch = ev.opts.batch;
                ev.ref_inception = Some(reference_side(
                    reference,
                    &m.sha256,
                    &m.info.name,
                    cache,
                    &mut |x| {
                        let mut p = |d, t| progress("reference Inception features", d, t);
                        Ok(m.extract_u8(x, batch, &mut p)?.0)
                    },
                )?);
            }
        }
        Ok(ev)
    }

    /// The classifier, if any.
    pub fn classifier(&self) -> Option<&Classifier> {
        self.classifier.as_ref().map(|(c, _)| c)
    }

    /// Scores `u8` images `[N, C, H, W]`; `labels` are the classes asked of a conditional
    /// generator (for conditional accuracy).
    pub fn evaluate(
        &self,
        images: &Tensor,
        labels: Option<&[i64]>,
        progress: Progress,
    ) -> Result<ImageReport> {
        let start = Instant::now();
        if images.kind() != Kind::Uint8 || images.dim() != 4 {
            return Err(Error::Shape(format!(
                "generated images must be uint8 [N, C, H, W], got {:?} {:?}",
                images.kind(),
                images.size()
            )));
        }
        let n = images.size()[0];
        let classifier = match &self.classifier {
            None => None,
            Some((c, dir)) => {
                let (view, is_stacked) = classifier_view(c, images);
                let (probs, feats) = c.predict_u8(&view)?;
                // Stacked samples' labels name stacked modes, not the classifier's classes.
                let labels = if is_stacked { None } else { labels };
                let scores = classifier_scores(&probs, labels, self.opts.splits)?;
                let stacked = if is_stacked {
                    let classes = Vec::<i64>::try_from(probs.argmax(-1, false))?;
                    Some(stacked_modes(&classes, c.meta.class_names.len())?)
                } else {
                    None
                };
                let features = match &self.ref_classifier {
                    Some(r) => Some(feature_scores(
                        &r.features,
                        (&r.mu, &r.sigma),
                        &feats,
                        &self.opts,
                    )?),
                    None => None,
                };
                Some(ClassifierReport {
                    dir: dir.clone(),
                    weights_sha256: c.meta.weights_sha256.clone(),
                    test_accuracy: c.meta.test_accuracy,
                    test_data: c.meta.test_data.clone(),
                    class_names: c.meta.class_names.clone(),
                    scores,
                    features,
                    stacked,
                    reference: self.ref_classifier.as_ref().map(|r| r.info.clone()),
                })
            }
        };
        let inception = match &self.inception {
            None => None,
            Some(m) => {
                let mut p = |d, t| progress("Inception features", d, t);
                let (feats, logits) = m.extract_u8(images, self.opts.batch, &mut p)?;
                let (is, is_std) =
                    inception_score(&logits.softmax(-1, Kind::Double), self.opts.splits)?;
                let features = match &self.ref_inception {
                    Some(r) => Some(feature_scores(
                        &r.features,
                        (&r.mu, &r.sigma),
                        &feats,
                        &self.opts,
                    )?),
                    None => None,
                };
                Some(InceptionReport {
                    path: m.path.clone(),
                    sha256: m.sha256.clone(),
                    info: m.info.clone(),
                    inception_score: is,
                    inception_score_std: is_std,
                    features,
                    reference: self.ref_inception.as_ref().map(|r| r.info.clone()),
                })
            }
        };
        Ok(ImageReport {
            n_samples: n,
            options: self.opts.clone(),
            classifier,
            inception,
            inception_missing: self.inception_missing.clone(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

impl ImageReport {
    /// A Markdown table of the report, headed by `title`.
    pub fn markdown(&self, title: &str) -> String {
        let mut t = format!("{title}\n\n");
        t += "| score | value |\n|---|---|\n";
        t += &format!("| samples | {} |\n", self.n_samples);
        let fs_rows = |t: &mut String, space: &str, fd: &str, f: &FeatureScores| {
            *t += &format!("| {fd} | {:.3} |\n", f.frechet_distance);
            *t += &format!(
                "| KID ({space}; x1000) | {:.3} ± {:.3} |\n",
                1000.0 * f.kid,
                1000.0 * f.kid_std
            );
            *t += &format!(
                "| precision / recall ({space}, k={}) | {:.3} / {:.3} |\n",
                self.options.pr_k, f.precision, f.recall
            );
            *t += &format!(
                "| density / coverage ({space}, k={}) | {:.3} / {:.3} |\n",
                self.options.dc_k, f.density, f.coverage
            );
        };
        if let Some(m) = &self.inception {
            if let Some(f) = &m.features {
                fs_rows(&mut t, "Inception", "FID", f);
            }
            t += &format!(
                "| Inception Score ({} splits) | {:.3} ± {:.3} |\n",
                self.options.splits, m.inception_score, m.inception_score_std
            );
        }
        if let Some(c) = &self.classifier {
            if let Some(f) = &c.features {
                fs_rows(&mut t, "classifier", "FCD (classifier features)", f);
            }
            if let Some(st) = &c.stacked {
                t += &format!(
                    "| stacked modes covered | {}/{} |\n| stacked KL to uniform (nats) | {:.3} |\n",
                    st.modes_covered, st.n_modes, st.kl_to_uniform
                );
            }
            let s = &c.scores;
            t += &format!(
                "| predicted-class entropy (nats) | {:.3} (max ln {} = {:.3}) |\n",
                s.class_entropy,
                s.class_histogram.len(),
                s.max_class_entropy
            );
            t += &format!(
                "| classes covered | {}/{} |\n",
                s.classes_covered,
                s.class_histogram.len()
            );
            t += &format!(
                "| classifier score ({} splits) | {:.3} ± {:.3} |\n",
                s.splits, s.classifier_score, s.classifier_score_std
            );
            if let Some(acc) = s.conditional_accuracy {
                t += &format!("| conditional accuracy | {:.2}% |\n", 100.0 * acc);
            }
        }
        t += "\n";
        if let Some(m) = &self.inception {
            t += &format!(
                "Inception: {} ({}; file sha256 {}...); preprocessing: {}\n",
                m.info.name,
                m.path.display(),
                &m.sha256[..12.min(m.sha256.len())],
                m.info.preprocessing
            );
            if let Some(r) = &m.reference {
                t += &format!("Inception reference: {}\n", r.name);
            }
        } else if let Some(why) = &self.inception_missing {
            t += &format!("Inception scores skipped: {why}\n");
        }
        if let Some(c) = &self.classifier {
            t += &format!(
                "Classifier: {} (test accuracy {:.2}% on {}; weights sha256 {}...)\n",
                c.dir.display(),
                100.0 * c.test_accuracy,
                c.test_data,
                &c.weights_sha256[..12.min(c.weights_sha256.len())]
            );
            if let Some(r) = &c.reference {
                t += &format!("Classifier reference: {}\n", r.name);
            }
            let s = &c.scores;
            t += "\n| class | predicted | share |";
            if s.per_class_accuracy.is_some() {
                t += " conditional accuracy |";
            }
            t += "\n|---|---|---|";
            if s.per_class_accuracy.is_some() {
                t += "---|";
            }
            t += "\n";
            for (k, &cnt) in s.class_histogram.iter().enumerate() {
                let name = c
                    .class_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| k.to_string());
                t += &format!(
                    "| {name} | {cnt} | {:.1}% |",
                    100.0 * cnt as f64 / s.n_samples as f64
                );
                if let Some(per) = &s.per_class_accuracy {
                    t += &format!(" {:.1}% |", 100.0 * per[k]);
                }
                t += "\n";
            }
        }
        t
    }
}

//! Scores computed from a classifier's class probabilities for a set of samples.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::metrics::inception_score;

/// What a domain classifier says about a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierScores {
    /// Samples scored.
    pub n_samples: usize,
    /// Samples per predicted class (argmax), index = class.
    pub class_histogram: Vec<usize>,
    /// Entropy of the predicted-class histogram in nats (`ln K` when every class is equally
    /// frequent; low values mean mode collapse).
    pub class_entropy: f64,
    /// `ln K`, the largest possible `class_entropy`.
    pub max_class_entropy: f64,
    /// Classes predicted for at least one sample.
    pub classes_covered: usize,
    /// The Inception Score computed with this classifier (`exp E_x KL(p(y|x) || p(y))`,
    /// mean over `splits` splits, as IS), and its standard deviation over the splits.
    pub classifier_score: f64,
    /// Standard deviation of the classifier score over the splits.
    pub classifier_score_std: f64,
    /// Splits of the classifier score.
    pub splits: usize,
    /// For conditional samples: the fraction classified as the class they were generated for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditional_accuracy: Option<f64>,
    /// For conditional samples: that fraction per requested class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_class_accuracy: Option<Vec<f64>>,
}

/// Scores class probabilities `probs` (`[N, K]`, rows summing to 1); `labels` are the classes
/// the samples were generated for (conditional models). The classifier score uses `splits`
/// equal splits (10 for IS), fewer when there are fewer samples.
pub fn classifier_scores(
    probs: &Tensor,
    labels: Option<&[i64]>,
    splits: usize,
) -> Result<ClassifierScores> {
    let size = probs.size();
    let (n, k) = match size[..] {
        [n, k] if n > 0 && k > 1 => (n as usize, k as usize),
        _ => {
            return Err(Error::Shape(format!(
                "class probabilities must be [N > 0, K > 1], got {size:?}"
            )))
        }
    };
    let p = probs.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let pred = Vec::<i64>::try_from(&p.argmax(-1, false))?;
    let mut class_histogram = vec![0usize; k];
    for &c in &pred {
        class_histogram[c as usize] += 1;
    }
    let class_entropy = -class_histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let q = c as f64 / n as f64;
            q * q.ln()
        })
        .sum::<f64>();
    let classes_covered = class_histogram.iter().filter(|&&c| c > 0).count();

    // The Inception Score formula, on this classifier's probabilities.
    let splits = splits.clamp(1, n);
    let (classifier_score, classifier_score_std) = inception_score(&p, splits)?;

    let (conditional_accuracy, per_class_accuracy) = match labels {
        None => (None, None),
        Some(l) if l.len() != n => {
            return Err(Error::Shape(format!("{} labels for {n} samples", l.len())))
        }
        Some(l) => {
            if let Some(bad) = l.iter().find(|&&c| !(0..k as i64).contains(&c)) {
                return Err(Error::Shape(format!(
                    "label {bad} is not a class of this classifier (0..{k})"
                )));
            }
            let mut right = vec![0usize; k];
            let mut total = vec![0usize; k];
            for (&want, &got) in l.iter().zip(&pred) {
                total[want as usize] += 1;
                right[want as usize] += usize::from(want == got);
            }
            let acc = right.iter().sum::<usize>() as f64 / n as f64;
            let per: Vec<f64> = right
                .iter()
                .zip(&total)
                .map(|(&r, &t)| {
                    if t == 0 {
                        f64::NAN
                    } else {
                        r as f64 / t as f64
                    }
                })
                .collect();
            (Some(acc), Some(per))
        }
    };
    Ok(ClassifierScores {
        n_samples: n,
        class_histogram,
        class_entropy,
        max_class_entropy: (k as f64).ln(),
        classes_covered,
        classifier_score,
        classifier_score_std,
        splits,
        conditional_accuracy,
        per_class_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(rows: &[[f64; 3]]) -> Tensor {
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, 3])
    }

    /// Confident predictions spread evenly over K classes: entropy ln K, score K.
    #[test]
    fn confident_uniform_predictions_score_k() {
        let p = probs(&[[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]].repeat(4));
        let s = classifier_scores(&p, None, 1).unwrap();
        assert_eq!(s.class_histogram, vec![4, 4, 4]);
        assert!((s.class_entropy - 3f64.ln()).abs() < 1e-12);
        assert!(
            (s.classifier_score - 3.0).abs() < 1e-9,
            "{}",
            s.classifier_score
        );
        assert_eq!(s.classes_covered, 3);
    }

    /// Mode collapse: every sample in one class gives entropy 0 and score 1.
    #[test]
    fn collapse_scores_one() {
        let p = probs(&[[0., 1., 0.]; 10]);
        let s = classifier_scores(&p, None, 10).unwrap();
        assert_eq!(s.class_entropy, 0.0);
        assert!((s.classifier_score - 1.0).abs() < 1e-9);
        assert_eq!(s.classes_covered, 1);
    }

    /// Uncertain predictions (uniform rows) give score 1 even when balanced.
    #[test]
    fn uncertain_predictions_score_one() {
        let p = probs(&[[1. / 3., 1. / 3., 1. / 3.]; 6]);
        let s = classifier_scores(&p, None, 2).unwrap();
        assert!((s.classifier_score - 1.0).abs() < 1e-9);
    }

    #[test]
    fn conditional_accuracy_counts_matches_per_class() {
        let p = probs(&[[0.9, 0.1, 0.], [0.2, 0.8, 0.], [0.6, 0.4, 0.], [0., 0., 1.]]);
        let s = classifier_scores(&p, Some(&[0, 1, 1, 2]), 1).unwrap();
        assert_eq!(s.conditional_accuracy, Some(0.75));
        assert_eq!(s.per_class_accuracy.unwrap(), vec![1.0, 0.5, 1.0]);
        assert!(classifier_scores(&p, Some(&[0, 1]), 1).is_err());
        assert!(classifier_scores(&p, Some(&[0, 1, 1, 3]), 1).is_err());
    }
}

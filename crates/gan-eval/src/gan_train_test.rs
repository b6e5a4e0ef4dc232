//! GAN-train and GAN-test (Shmelkov, Schmid and Alahari, "How good is my GAN?", ECCV 2018)
//! for class-conditional generators.
//!
//! * GAN-test: the accuracy of a classifier trained on real images, measured on generated
//!   images against the classes they were generated for (high when samples look like their
//!   class: precision-like);
//! * GAN-train: the accuracy on the real test split of a classifier of the same architecture
//!   and settings trained on generated images only (high when the samples are varied and
//!   faithful enough to learn the real classes from: recall-like).
//!
//! Both are read against the real classifier's own test accuracy (train on real, test on
//! real).

use std::time::Instant;

use gan_data::ImageDataset;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::classifier::{Classifier, ClassifierConfig, TrainEvent};
use crate::error::{Error, Result};

/// GAN-train and GAN-test accuracies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanTrainTest {
    /// Accuracy on the real test split of a classifier trained on the generated images.
    pub gan_train: f64,
    /// Accuracy of the real-data classifier on the generated images.
    pub gan_test: f64,
    /// The real-data classifier's accuracy on the real test split (the reference).
    pub real_accuracy: f64,
    /// Generated images (training set of GAN-train, test set of GAN-test).
    pub n_generated: usize,
    /// Real test images.
    pub n_real_test: usize,
    /// The settings the GAN-train classifier was trained with (the real classifier's).
    pub config: ClassifierConfig,
    /// Seconds spent.
    pub seconds: f64,
}

/// Computes GAN-train and GAN-test. `domain` is the classifier trained on real data;
/// `generated` holds generated images with the classes asked for; `real_test` is the real
/// test split. The GAN-train classifier uses `domain`'s settings (`epochs` overrides).
pub fn gan_train_test(
    domain: &Classifier,
    generated: &ImageDataset,
    real_test: &ImageDataset,
    epochs: Option<u64>,
    device: Device,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<GanTrainTest> {
    let start = Instant::now();
    if generated.class_names.len() != domain.meta.class_names.len() {
        return Err(Error::Shape(format!(
            "generated images have {} classes, the classifier {}",
            generated.class_names.len(),
            domain.meta.class_names.len()
        )));
    }
    let gan_test = domain.accuracy(generated)?;
    let mut config = domain.meta.config.clone();
    if let Some(e) = epochs {
        config.epochs = e;
    }
    let trained = Classifier::train(&config, generated, real_test, device, on_event)?;
    Ok(GanTrainTest {
        gan_train: trained.meta.test_accuracy,
        gan_test,
        real_accuracy: domain.meta.test_accuracy,
        n_generated: generated.len(),
        n_real_test: real_test.len(),
        config,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ClassifierConfig {
        ClassifierConfig {
            width: 4,
            feature_dim: 16,
            epochs: 6,
            batch_size: 25,
            ..Default::default()
        }
    }

    /// A "generator" that reproduces real data scores like real data; one whose images do
    /// not match their labels scores near chance on both.
    #[test]
    fn faithful_samples_score_high_and_mislabelled_ones_near_chance() {
        let train = ImageDataset::synthetic(400, [1, 16, 16], 4, 0).unwrap();
        let test = ImageDataset::synthetic(100, [1, 16, 16], 4, 1).unwrap();
        let domain = Classifier::train(&cfg(), &train, &test, Device::Cpu, &mut |_| {}).unwrap();
        assert!(
            domain.meta.test_accuracy > 0.9,
            "{}",
            domain.meta.test_accuracy
        );
        let good = ImageDataset::synthetic(200, [1, 16, 16], 4, 5).unwrap();
        let r = gan_train_test(&domain, &good, &test, None, Device::Cpu, &mut |_| {}).unwrap();
        assert!(r.gan_train > 0.9 && r.gan_test > 0.9, "{r:?}");
        assert_eq!((r.n_generated, r.n_real_test), (200, 100));
        // Labels shifted by one class: every image carries a wrong label.
        let mut bad = good.clone();
        for l in &mut bad.labels {
            *l = (*l + 1) % 4;
        }
        let r = gan_train_test(&domain, &bad, &test, None, Device::Cpu, &mut |_| {}).unwrap();
        assert!(r.gan_train < 0.3 && r.gan_test < 0.3, "{r:?}");
    }
}

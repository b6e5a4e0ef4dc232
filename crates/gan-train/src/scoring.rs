//! Scores during training (`[eval]`): the image scores of `gan-eval` on samples of the EMA
//! generator, and the best checkpoint by a chosen score, kept in `<run>/best/`.

use std::fs;
use std::path::{Path, PathBuf};

use gan_data::ModeMetrics;
use gan_eval::{Classifier, Evaluator, FeatureCache, ImageReport, Inception, Reference};
use gan_models::Generator;
use gan_tensor::seed_all;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::BestMetric;
use crate::data::{load_images, DataInfo};
use crate::error::{io_err, Error, Result};
use crate::plan::EvalPlan;
use crate::records::EvalRecord;

/// Generated images per forward pass when sampling many.
const CHUNK: i64 = 500;

/// `n` images in `[-1, 1]` on the CPU from `g`, generated [`CHUNK`] at a time from one
/// latent batch seeded by `seed` (drawn on the CPU, so the same on every device), with the
/// truncation `psi` (1: none; other values for StyleGAN2 only).
pub fn generate_chunked(
    g: &Generator,
    n: i64,
    seed: i64,
    labels: Option<&Tensor>,
    psi: f64,
    device: Device,
) -> Result<Tensor> {
    seed_all(seed);
    let z = Tensor::f_randn([n, g.latent_dim()], (Kind::Float, Device::Cpu))?;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let y = labels.map(|l| l.narrow(0, start, len).to_device(device));
        let zb = z.narrow(0, start, len).to_device(device);
        let x = tch::no_grad(|| g.forward_truncated(&zb, y.as_ref(), psi))?;
        parts.push(x.to_device(Device::Cpu));
        start += len;
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// Labels `0, 1, .., k-1, 0, 1, ..` for `n` samples of a conditional generator.
pub fn cycle_labels(n: i64, k: i64) -> Tensor {
    Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(k.max(1))
}

/// The classifier folder for images of data set `name` and shape `[C, H, W]` by default:
/// `classifiers/<name>-<H>x<W>` (what `gan classifier train` writes).
pub fn default_classifier_dir(name: &str, shape: &[i64]) -> PathBuf {
    Classifier::default_dir(&format!("{name}-{}x{}", shape[1], shape[2]))
}

/// The labelled data set whose domain classifier `cfg`'s `[eval]` will load from its default
/// place (`eval.classifier` unset) but that is not there yet: the data to train it on and the
/// folder it belongs in, so that `gan train` can train it first and a shipped preset just
/// runs. `None` when no classifier is needed, one is named, or it exists; and for data sets
/// with no labelled source of their own (folders, synthetic data: those keep the error).
pub fn missing_default_classifier(
    cfg: &crate::TrainConfig,
) -> Result<Option<(crate::DataConfig, PathBuf)>> {
    use crate::DataConfig as D;
    let plan = crate::plan::Plan::resolve(cfg)?;
    let e = &plan.eval.config;
    if !e.classifier_scores || e.classifier.is_some() || plan.eval.reference.is_none() {
        return Ok(None);
    }
    let fashion = |dir: &Option<PathBuf>, pad: usize| D::FashionMnist {
        dir: dir.clone(),
        split: gan_data::Split::Train,
        pad,
        classes: None,
        subset: None,
        subset_seed: 0,
    };
    let (data, side) = match &cfg.data {
        D::FashionMnist { dir, pad, .. } | D::StackedFashionMnist { dir, pad, .. } => {
            (fashion(dir, *pad), 28 + 2 * *pad)
        }
        D::Mnist { dir, pad, .. } => (
            D::Mnist {
                dir: dir.clone(),
                split: gan_data::Split::Train,
                pad: *pad,
                classes: None,
                subset: None,
                subset_seed: 0,
            },
            28 + 2 * *pad,
        ),
        D::Cifar10 { dir, .. } => (
            D::Cifar10 {
                dir: dir.clone(),
                split: gan_data::Split::Train,
                classes: None,
                subset: None,
                subset_seed: 0,
            },
            32,
        ),
        D::Edges { dir, .. } | D::Hot { dir, .. } => (fashion(dir, 2), 32),
        _ => return Ok(None),
    };
    let side = side as i64;
    let dir = default_classifier_dir(data.name(), &[1, side, side]);
    Ok((!dir.join("classifier.json").exists()).then_some((data, dir)))
}

/// The evaluator `[eval]` asks for (`None` when it asks for no image score).
pub(crate) fn build_evaluator(
    plan: &EvalPlan,
    info: &DataInfo,
    device: Device,
) -> Result<Option<Evaluator>> {
    let e = &plan.config;
    let Some(reference_data) = &plan.reference else {
        return Ok(None);
    };
    if !(e.classifier_scores || e.inception) || !info.is_images() {
        return Ok(None);
    }
    let classifier = if e.classifier_scores {
        let dir = e
            .classifier
            .clone()
            .unwrap_or_else(|| default_classifier_dir(&info.name, &info.shape));
        let c = Classifier::load(&dir, device).map_err(|source| Error::Eval {
            what: format!(
                "eval.classifier_scores: cannot load the classifier in {} (train one with \
                 `gan classifier train --config <this config>`, or set eval.classifier)",
                dir.display()
            ),
            source,
        })?;
        Some((c, dir))
    } else {
        None
    };
    let inception = if e.inception {
        let path = e
            .inception_file
            .clone()
            .unwrap_or_else(Inception::default_path);
        let m = Inception::load(&path, device).map_err(|source| Error::Eval {
            what: "eval.inception".into(),
            source,
        })?;
        Some(Ok(m))
    } else {
        None
    };
    let test = load_images(reference_data)?;
    let (images, _) = test.to_tensors(Device::Cpu);
    // Paired data trained on random crops is compared at the crop's size (centre window).
    let crop = plan.crop.unwrap_or((test.height, test.width));
    let images = crate::family::pix2pix::center_crop(&images, crop);
    let n = match e.reference_images {
        0 => test.len(),
        r => r.min(test.len()),
    } as i64;
    let reference = Reference {
        name: format!("{} ({n} images)", test.source),
        images: images.narrow(0, 0, n),
    };
    let ev = Evaluator::new(
        classifier,
        inception,
        Some(&reference),
        &FeatureCache::default(),
        Default::default(),
        &mut |_, _, _| {},
    )
    .map_err(|source| Error::Eval {
        what: "reference features".into(),
        source,
    })?;
    Ok(Some(ev))
}

/// The value of `metric` in an evaluation record, if it has it. For two-way translation
/// (cyclegan) it is the mean over both directions: L1/PSNR/SSIM against the exact mapping,
/// the classifier scores against each direction's target domain.
pub fn metric_value(metric: BestMetric, rec: &EvalRecord) -> Option<f64> {
    if !rec.directions.is_empty() {
        let values: Option<Vec<f64>> = rec
            .directions
            .iter()
            .map(|d| match metric {
                BestMetric::L1 => d.exact.as_ref().map(|t| t.l1),
                BestMetric::Psnr => d.exact.as_ref().map(|t| t.psnr),
                BestMetric::Ssim => d.exact.as_ref().map(|t| t.ssim),
                _ => score_value(metric, None, d.scores.as_ref()),
            })
            .collect();
        let values = values?;
        return Some(values.iter().sum::<f64>() / values.len() as f64);
    }
    let t = rec.translation.as_ref().map(|t| &t.scores);
    match metric {
        BestMetric::L1 => t.map(|t| t.l1),
        BestMetric::Psnr => t.map(|t| t.psnr),
        BestMetric::Ssim => t.map(|t| t.ssim),
        _ => score_value(metric, rec.modes.as_ref(), rec.scores.as_ref()),
    }
}

fn score_value(
    metric: BestMetric,
    modes: Option<&ModeMetrics>,
    scores: Option<&ImageReport>,
) -> Option<f64> {
    let inc = scores.and_then(|s| s.inception.as_ref());
    let cls = scores.and_then(|s| s.classifier.as_ref());
    match metric {
        BestMetric::None => None,
        BestMetric::Fid => inc?.features.as_ref().map(|f| f.frechet_distance),
        BestMetric::Kid => inc?.features.as_ref().map(|f| f.kid),
        BestMetric::InceptionScore => inc.map(|m| m.inception_score),
        BestMetric::Fcd => cls?.features.as_ref().map(|f| f.frechet_distance),
        BestMetric::ClassifierKid => cls?.features.as_ref().map(|f| f.kid),
        BestMetric::ClassifierScore => cls.map(|c| c.scores.classifier_score),
        BestMetric::StackedModes => cls?.stacked.as_ref().map(|s| s.modes_covered as f64),
        BestMetric::HighQuality => modes.map(|m| m.high_quality_fraction),
        BestMetric::ReverseKl => modes.map(|m| m.reverse_kl),
        BestMetric::L1 | BestMetric::Psnr | BestMetric::Ssim => None,
    }
}

/// `<run>/best/best.json`: which checkpoint is the best so far, by what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// The score's name (`fid`, `fcd`, ...).
    pub metric: String,
    /// Its value at that step.
    pub value: f64,
    /// The step.
    pub step: u64,
    /// The checkpoint folder. On disk it is stored relative to the run folder
    /// (`best/step-NNNNNNNNN`), so a moved or copied run keeps working; [`BestRecord::read`]
    /// returns it resolved against the folder read from.
    pub checkpoint: PathBuf,
}

impl BestRecord {
    /// The record in `best_dir`, if there is one (an unreadable one is an error naming it).
    /// `checkpoint` comes back as `best_dir/<its folder name>`, whatever path was stored (older
    /// runs stored the path as given at train time, which breaks when the run moves).
    pub fn read(best_dir: &Path) -> Result<Option<Self>> {
        let path = best_dir.join("best.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let mut rec: BestRecord = serde_json::from_str(&text).map_err(|e| Error::Config {
            key: path.display().to_string(),
            message: format!("not a best-checkpoint record: {e}"),
        })?;
        let Some(name) = rec.checkpoint.file_name().map(|n| n.to_owned()) else {
            return Err(Error::Config {
                key: path.display().to_string(),
                message: format!(
                    "`checkpoint` is {:?}, not a checkpoint folder",
                    rec.checkpoint
                ),
            });
        };
        rec.checkpoint = best_dir.join(name);
        Ok(Some(rec))
    }

    /// Writes the record into `best_dir`, storing the checkpoint relative to the run folder.
    pub fn write(&self, best_dir: &Path) -> Result<()> {
        let mut stored = self.clone();
        if let Some(name) = self.checkpoint.file_name() {
            let best = best_dir.file_name().unwrap_or_else(|| "best".as_ref());
            stored.checkpoint = Path::new(best).join(name);
        }
        let json = serde_json::to_string_pretty(&stored).expect("BestRecord serialises");
        gan_tensor::write_atomic(&best_dir.join("best.json"), json.as_bytes())?;
        Ok(())
    }

    /// Whether `value` improves on this record for `metric`.
    pub fn improved_by(&self, metric: BestMetric, value: f64) -> bool {
        if metric.higher_is_better() {
            value > self.value
        } else {
            value < self.value
        }
    }
}

#[cfg(test)]
mod missing_classifier_tests {
    use crate::{DataConfig, TrainConfig};
    use gan_data::Split;

    fn fashion(pad: usize) -> TrainConfig {
        let text = format!(
            "[data]\nkind = \"fashion-mnist\"\npad = {pad}\n[generator]\narch = \"dcgan\"\n\
             [discriminator]\narch = \"dcgan\"\n[eval]\nclassifier_scores = true\n"
        );
        TrainConfig::from_toml_str(&text, std::path::Path::new("t.toml")).unwrap()
    }

    /// A preset whose `[eval]` needs the default classifier, where none was trained (tests
    /// run in the crate folder, which has no `classifiers/`): named with the data to train it
    /// on, so `gan train` can train it first. Not asked for, or named by hand: nothing to do.
    #[test]
    fn the_missing_default_classifier_is_named_with_its_data() {
        let (data, dir) = super::missing_default_classifier(&fashion(2))
            .unwrap()
            .unwrap();
        assert_eq!(dir, std::path::Path::new("classifiers/fashion-mnist-32x32"));
        assert!(matches!(
            data,
            DataConfig::FashionMnist {
                pad: 2,
                split: Split::Train,
                ..
            }
        ));
        let mut off = fashion(2);
        off.eval.classifier_scores = false;
        assert_eq!(super::missing_default_classifier(&off).unwrap(), None);
        let mut named = fashion(2);
        named.eval.classifier = Some("my-classifier".into());
        assert_eq!(super::missing_default_classifier(&named).unwrap(), None);
        let ring = TrainConfig::new(DataConfig::Ring);
        assert_eq!(super::missing_default_classifier(&ring).unwrap(), None);
    }
}

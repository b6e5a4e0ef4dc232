//! `gan eval` for images: domain-classifier scores of a run's samples or of a `.npy` file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::npy;
use gan_eval::{classifier_scores, Classifier, ClassifierScores};
use gan_tensor::DeviceSpec;
use gan_train::TrainedGenerator;
use serde::Serialize;
use tch::{Kind, Tensor};

use super::sample::{generate_images, labels_for};

/// The options of `gan eval` that image scoring uses.
pub struct ImageArgs {
    pub labels: Option<PathBuf>,
    pub classifier: Option<PathBuf>,
    pub n: i64,
    pub seed: i64,
    pub out: Option<PathBuf>,
    pub device: DeviceSpec,
}

#[derive(Serialize)]
struct ClassifierInfo {
    dir: String,
    weights_sha256: String,
    test_accuracy: f64,
    test_data: String,
    train_data: String,
}

#[derive(Serialize)]
struct Report {
    source: String,
    step: Option<u64>,
    n_samples: usize,
    conditional: bool,
    classifier: ClassifierInfo,
    class_names: Vec<String>,
    #[serde(flatten)]
    scores: ClassifierScores,
}

/// The default classifier folder for images of `name` and `shape` `[C, H, W]`.
pub fn default_classifier(name: &str, shape: &[i64]) -> PathBuf {
    Classifier::default_dir(&format!("{name}-{}x{}", shape[1], shape[2]))
}

fn load_classifier(dir: &Path, device: DeviceSpec) -> Result<Classifier> {
    Classifier::load(dir, device.resolve()?).with_context(|| {
        format!(
            "cannot load the classifier in {} (train one with `gan classifier train`, or pass \
             --classifier DIR)",
            dir.display()
        )
    })
}

/// Scores `n` samples of an image run.
pub fn run(args: &ImageArgs, run: &Path, g: &TrainedGenerator) -> Result<()> {
    if args.n < 1 {
        bail!("--n must be at least 1 (got {})", args.n);
    }
    let dir = args
        .classifier
        .clone()
        .unwrap_or_else(|| default_classifier(&g.info.name, &g.info.shape));
    let classifier = load_classifier(&dir, args.device)?;
    let labels = labels_for(g, args.n, None)?;
    let x = generate_images(g, args.n, args.seed, labels.as_ref())?;
    let labels: Option<Vec<i64>> = labels.as_ref().map(Vec::<i64>::try_from).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| run.join("eval.json"));
    score(
        &classifier,
        &dir,
        &x,
        labels.as_deref(),
        g.checkpoint.display().to_string(),
        Some(g.step),
        &out,
    )
}

/// Scores the images of a `.npy` file.
pub fn samples_file(args: &ImageArgs, file: &Path) -> Result<()> {
    let Some(dir) = args.classifier.clone() else {
        bail!(
            "--samples {}: scoring images needs --classifier DIR (train one with `gan classifier \
             train`)",
            file.display()
        );
    };
    let classifier = load_classifier(&dir, args.device)?;
    let arr = npy::read_u8(file)?;
    if arr.shape.len() != 4 {
        bail!(
            "{}: expected uint8 images of shape (N, C, H, W), got shape {:?}",
            file.display(),
            arr.shape
        );
    }
    let shape: Vec<i64> = arr.shape.iter().map(|&d| d as i64).collect();
    let x = Tensor::from_slice(&arr.data).view(shape.as_slice());
    let x = x.to_kind(Kind::Float) / 127.5 - 1.0;
    let labels_path = args
        .labels
        .clone()
        .or_else(|| Some(file.with_extension("labels.npy")).filter(|p| p.exists()));
    let labels = match &labels_path {
        Some(p) => {
            let l = npy::read_i64(p)?;
            if l.shape != [arr.shape[0]] {
                bail!(
                    "{}: expected {} labels (shape ({},)), got shape {:?}",
                    p.display(),
                    arr.shape[0],
                    arr.shape[0],
                    l.shape
                );
            }
            eprintln!("labels from {}", p.display());
            Some(l.data)
        }
        None => None,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| file.with_extension("eval.json"));
    score(
        &classifier,
        &dir,
        &x,
        labels.as_deref(),
        file.display().to_string(),
        None,
        &out,
    )
}

fn score(
    classifier: &Classifier,
    dir: &Path,
    x: &Tensor,
    labels: Option<&[i64]>,
    source: String,
    step: Option<u64>,
    out: &Path,
) -> Result<()> {
    let (probs, _features) = classifier.predict(x)?;
    let scores = classifier_scores(&probs, labels, 10)?;
    let m = &classifier.meta;
    let report = Report {
        source,
        step,
        n_samples: scores.n_samples,
        conditional: labels.is_some(),
        classifier: ClassifierInfo {
            dir: dir.display().to_string(),
            weights_sha256: m.weights_sha256.clone(),
            test_accuracy: m.test_accuracy,
            test_data: m.test_data.clone(),
            train_data: m.train_data.clone(),
        },
        class_names: m.class_names.clone(),
        scores,
    };
    let md = markdown(&report);
    print!("{md}");
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out, json + "\n").with_context(|| format!("cannot write {}", out.display()))?;
    let md_path = out.with_extension("md");
    std::fs::write(&md_path, &md).with_context(|| format!("cannot write {}", md_path.display()))?;
    println!("wrote {} and {}", out.display(), md_path.display());
    Ok(())
}

fn markdown(r: &Report) -> String {
    let s = &r.scores;
    let mut t = String::new();
    t += &format!("Scores of {}", r.source);
    if let Some(step) = r.step {
        t += &format!(" (step {step})");
    }
    t += &format!(
        "\n\nclassifier {} (test accuracy {:.2}% on {}; weights sha256 {}...)\n\n",
        r.classifier.dir,
        100.0 * r.classifier.test_accuracy,
        r.classifier.test_data,
        &r.classifier.weights_sha256[..r.classifier.weights_sha256.len().min(12)]
    );
    t += "| score | value |\n|---|---|\n";
    t += &format!("| samples | {} |\n", s.n_samples);
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
    t += "\n| class | predicted | share |";
    if s.per_class_accuracy.is_some() {
        t += " conditional accuracy |";
    }
    t += "\n|---|---|---|";
    if s.per_class_accuracy.is_some() {
        t += "---|";
    }
    t += "\n";
    for (k, &c) in s.class_histogram.iter().enumerate() {
        let name = r
            .class_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string());
        t += &format!(
            "| {name} | {c} | {:.1}% |",
            100.0 * c as f64 / s.n_samples as f64
        );
        if let Some(per) = &s.per_class_accuracy {
            t += &format!(" {:.1}% |", 100.0 * per[k]);
        }
        t += "\n";
    }
    t
}

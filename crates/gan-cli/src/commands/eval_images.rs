//! `gan eval` for images: classifier scores, Inception scores and, against a reference
//! split of real images, FID/FCD, KID, precision/recall and density/coverage of a run's
//! samples or of a `.npy` file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use gan_data::ImageDataset;
use gan_data::{npy, Split};
use gan_eval::{
    gan_train_test, Classifier, Evaluator, FeatureCache, GanTrainTest, ImageReport, Inception,
    Reference, TrainEvent,
};
use gan_tensor::DeviceSpec;
use gan_train::{
    classifier_view, default_classifier_dir, load_images, plot, DataConfig, TestMode,
    TrainedGenerator, TrainedTranslator, Way, WhichCheckpoint,
};
use serde::Serialize;
use tch::{Device, Tensor};

use super::sample::labels_for;

/// The options of `gan eval` that image scoring uses.
pub struct ImageArgs {
    pub labels: Option<PathBuf>,
    pub targets: Option<PathBuf>,
    pub mode: Option<gan_train::TestMode>,
    pub classifier: Option<PathBuf>,
    pub no_classifier: bool,
    pub inception: Option<PathBuf>,
    pub no_inception: bool,
    pub reference: Option<String>,
    pub reference_images: usize,
    pub gan_train: bool,
    pub gan_train_epochs: Option<u64>,
    pub n: i64,
    pub seed: i64,
    pub out: Option<PathBuf>,
    pub device: DeviceSpec,
}

#[derive(Serialize)]
struct Report {
    source: String,
    step: Option<u64>,
    seed: Option<i64>,
    conditional: bool,
    reference: Option<String>,
    /// Translation runs: L1/PSNR/SSIM against the true targets of held-out pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    translation: Option<Translation>,
    #[serde(flatten)]
    scores: Option<ImageReport>,
    /// GAN-train / GAN-test (with --gan-train).
    gan_train_test: Option<GanTrainTest>,
}

/// The translation section of a translation run's report.
#[derive(Serialize)]
pub struct Translation {
    /// Against the true targets (absent when they are unknown: unpaired folders).
    #[serde(flatten)]
    scores: Option<gan_eval::TranslationScores>,
    /// Two-way runs: the cycle reconstruction `F(G(x))` against `x`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle: Option<gan_eval::TranslationScores>,
    test_mode: &'static str,
    test_batch: i64,
    /// Label preservation: how often the domain classifier gives a translation the class of
    /// its pair (the classifier's conditional accuracy on the translations).
    label_preservation: Option<f64>,
}

fn load_classifier(dir: &Path, device: Device) -> Result<Classifier> {
    Classifier::load(dir, device).with_context(|| {
        format!(
            "cannot load the classifier in {} (train one with `gan classifier train`, pass \
             --classifier DIR, or --no-classifier)",
            dir.display()
        )
    })
}

/// A reference named on the command line: `NAME:SPLIT` with NAME one of fashion-mnist,
/// mnist, cifar10, stacked-fashion-mnist; grey images are padded to the samples' size.
/// `sample_shape` is the samples' `[N, C, H, W]`.
fn parse_reference(spec: &str, sample_shape: &[i64]) -> Result<DataConfig> {
    let (name, split) = spec.split_once(':').unwrap_or((spec, "test"));
    let split = match split {
        "test" => Split::Test,
        "train" => Split::Train,
        other => bail!("--reference {spec}: unknown split `{other}` (test or train)"),
    };
    let h = sample_shape[2];
    let pad = |base: i64| -> Result<usize> {
        if h < base || (h - base) % 2 != 0 {
            bail!(
                "--reference {spec}: samples are {h}x{} and {name} is {base}x{base}; cannot pad \
                 one to the other",
                sample_shape[3]
            );
        }
        Ok(((h - base) / 2) as usize)
    };
    Ok(match name {
        "fashion-mnist" => DataConfig::FashionMnist {
            dir: None,
            split,
            pad: pad(28)?,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        "mnist" => DataConfig::Mnist {
            dir: None,
            split,
            pad: pad(28)?,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        "stacked-fashion-mnist" => DataConfig::StackedFashionMnist {
            dir: None,
            split,
            pad: pad(28)?,
            images: 60_000,
            seed: 1,
        },
        "cifar10" => DataConfig::Cifar10 {
            dir: None,
            split,
            classes: None,
            subset: None,
            subset_seed: 0,
        },
        other => bail!(
            "--reference {spec}: unknown data set `{other}` (fashion-mnist, mnist, cifar10, \
             stacked-fashion-mnist)"
        ),
    })
}

/// Loads the reference images (`u8`, the first `limit`, 0 = all) and checks they have the
/// samples' shape.
fn load_reference(
    data: &DataConfig,
    limit: usize,
    sample_shape: &[i64],
) -> Result<(Reference, ImageDataset)> {
    let ds = load_images(data).context("cannot load the reference images")?;
    let (images, _) = ds.to_tensors(Device::Cpu);
    let n = if limit == 0 {
        ds.len()
    } else {
        limit.min(ds.len())
    } as i64;
    let images = images.narrow(0, 0, n);
    if images.size()[1..] != sample_shape[1..] {
        bail!(
            "the reference {} holds images {:?}, the samples are {:?}",
            ds.source,
            &images.size()[1..],
            &sample_shape[1..]
        );
    }
    Ok((
        Reference {
            name: format!("{} ({n} of {} images)", ds.source, ds.len()),
            images,
        },
        ds,
    ))
}

/// Prints feature-extraction progress to stderr at most every 2 seconds.
fn progress_printer() -> impl FnMut(&str, i64, i64) {
    let start = Instant::now();
    let mut last = 0.0f64;
    move |what, done, total| {
        let t = start.elapsed().as_secs_f64();
        if done == total || t - last > 2.0 {
            last = t;
            eprintln!(
                "{what}: {done}/{total} images, {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
}

/// The real images scores compare with: a data set to load, or images already at hand.
pub enum ReferenceSpec {
    /// Load this data set (the first `--reference-images`).
    Data(DataConfig),
    /// These images (a translation run's held-out targets).
    Images(Reference),
}

/// Scores `u8` samples and writes the JSON and Markdown reports.
#[allow(clippy::too_many_arguments)]
fn score(
    args: &ImageArgs,
    images: &Tensor,
    labels: Option<&[i64]>,
    classifier_dir: Option<PathBuf>,
    reference: Option<ReferenceSpec>,
    source: String,
    step: Option<u64>,
    out: &Path,
    mut translation: Option<Translation>,
) -> Result<()> {
    let device = args.device.resolve()?;
    let shape = images.size();
    let classifier = match classifier_dir {
        Some(dir) => Some((load_classifier(&dir, device)?, dir)),
        None => None,
    };
    let inception = if args.no_inception {
        None
    } else {
        let path = args
            .inception
            .clone()
            .unwrap_or_else(Inception::default_path);
        let loaded = Inception::load(&path, device);
        if let (Some(_), Err(e)) = (&args.inception, &loaded) {
            // An extractor asked for by name must load.
            bail!("--inception {}: {e}", path.display());
        }
        Some(loaded)
    };
    let nothing = classifier.is_none() && !matches!(inception, Some(Ok(_)));
    if nothing && translation.is_none() {
        bail!(
            "nothing to score with: no classifier (--classifier DIR) and no InceptionV3 \
             extractor ({})",
            gan_eval::FETCH_HINT
        );
    }
    let (reference, reference_ds) = match reference {
        // Without an extractor there is nothing to compare with the reference.
        _ if nothing => (None, None),
        Some(ReferenceSpec::Data(data)) => {
            let (r, ds) = load_reference(&data, args.reference_images, &shape)?;
            (Some(r), Some(ds))
        }
        Some(ReferenceSpec::Images(r)) => (Some(r), None),
        None => (None, None),
    };
    if args.gan_train && (labels.is_none() || classifier.is_none() || reference_ds.is_none()) {
        bail!(
            "--gan-train needs class-conditional samples (labels), a classifier and a \
             reference split with labels"
        );
    }
    let mut progress = progress_printer();
    let start = Instant::now();
    let ev = if nothing {
        None
    } else {
        Some(Evaluator::new(
            classifier,
            inception,
            reference.as_ref(),
            &FeatureCache::default(),
            Default::default(),
            &mut progress,
        )?)
    };
    let scores = match &ev {
        Some(ev) => Some(ev.evaluate(images, labels, &mut progress)?),
        None => None,
    };
    if let (Some(t), Some(s)) = (&mut translation, &scores) {
        t.label_preservation = s
            .classifier
            .as_ref()
            .and_then(|c| c.scores.conditional_accuracy);
    }
    let gan_train_test = match (
        args.gan_train,
        ev.as_ref().and_then(|e| e.classifier()),
        &reference_ds,
        labels,
    ) {
        (true, Some(c), Some(real), Some(labels)) => {
            let generated = ImageDataset::from_parts(
                Vec::<u8>::try_from(images.contiguous().view([-1]))?,
                labels.to_vec(),
                [shape[1], shape[2], shape[3]].map(|d| d as usize),
                c.meta.class_names.clone(),
                "generated samples",
            )?;
            eprintln!(
                "GAN-train: training a classifier on {} generated images, testing on {}",
                generated.len(),
                real.source
            );
            let t0 = Instant::now();
            let mut on_event = |e: TrainEvent| {
                if let TrainEvent::Epoch {
                    epoch,
                    test_accuracy,
                } = e
                {
                    eprintln!(
                        "GAN-train epoch {epoch}: real test accuracy {:.2}% ({:.0} s)",
                        100.0 * test_accuracy,
                        t0.elapsed().as_secs_f64()
                    );
                }
            };
            Some(gan_train_test(
                c,
                &generated,
                real,
                args.gan_train_epochs,
                device,
                &mut on_event,
            )?)
        }
        _ => None,
    };
    let report = Report {
        source,
        step,
        seed: step.map(|_| args.seed),
        conditional: labels.is_some(),
        reference: reference.as_ref().map(|r| r.name.clone()),
        translation,
        scores,
        gan_train_test,
    };
    let mut title = format!("Scores of {}", report.source);
    if let Some(s) = report.step {
        title += &format!(" (step {s})");
    }
    if let Some(r) = &report.reference {
        title += &format!(" against {r}");
    }
    let mut md = match &report.scores {
        Some(s) => s.markdown(&title),
        None => format!("{title}\n"),
    };
    if let Some(t) = &report.translation {
        if let Some(s) = &t.scores {
            md += &format!(
                "\n{}",
                s.markdown(&format!(
                    "Translations ({} mode, {} at a time) against the true targets",
                    t.test_mode, t.test_batch
                ))
            );
        }
        if let Some(p) = t.label_preservation {
            md += &format!("\n| label preservation | {:.2}% |\n|---|---|\n", 100.0 * p);
        }
        if let Some(c) = &t.cycle {
            md += &format!(
                "\n{}",
                c.markdown("Cycle reconstructions F(G(x)) against x")
            );
        }
    }
    if let Some(g) = &report.gan_train_test {
        md += &format!(
            "\n| GAN-train / GAN-test (Shmelkov et al. 2018) | accuracy |\n|---|---|\n| GAN-train \
             (train on {} generated, test on {} real) | {:.2}% |\n| GAN-test (real-trained \
             classifier on generated) | {:.2}% |\n| real (train on real, test on real) | \
             {:.2}% |\n",
            g.n_generated,
            g.n_real_test,
            100.0 * g.gan_train,
            100.0 * g.gan_test,
            100.0 * g.real_accuracy
        );
    }
    print!("{md}");
    let json = serde_json::to_string_pretty(&report)?;
    gan_tensor::write_atomic(out, (json + "\n").as_bytes())?;
    let md_path = out.with_extension("md");
    gan_tensor::write_atomic(&md_path, md.as_bytes())?;
    println!(
        "wrote {} and {} ({:.1} s in all)",
        out.display(),
        md_path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Scores `n` samples of an image run against its data set's test split (or --reference).
pub fn run(args: &ImageArgs, run: &Path, g: &TrainedGenerator) -> Result<()> {
    if args.n < 2 {
        bail!("--n must be at least 2 (got {})", args.n);
    }
    let classifier = (!args.no_classifier).then(|| {
        args.classifier
            .clone()
            .unwrap_or_else(|| default_classifier_dir(&g.info.name, &g.info.shape))
    });
    let labels = labels_for(g, args.n, None)?;
    let x = plot::to_u8(&g.generate_images(args.n, args.seed, labels.as_ref())?);
    let reference = match &args.reference {
        Some(spec) if spec == "none" => None,
        Some(spec) => Some(parse_reference(spec, &x.size())?),
        None => g.config.data.with_split(Split::Test).ok(),
    }
    .map(ReferenceSpec::Data);
    let labels: Option<Vec<i64>> = labels.as_ref().map(Vec::<i64>::try_from).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| run.join("eval.json"));
    score(
        args,
        &x,
        labels.as_deref(),
        classifier,
        reference,
        g.checkpoint.display().to_string(),
        Some(g.step),
        &out,
        None,
    )
}

/// Scores a translation run on its held-out pairs: translates the first `n` inputs (in the
/// run's test mode), compares them with their true targets (L1, PSNR, SSIM) and, with the
/// domain classifier, scores them against the real target domain (FCD, KID, ...) and counts
/// how often they keep their class (label preservation).
pub fn translation_run(args: &ImageArgs, run: &Path, t: &TrainedTranslator) -> Result<()> {
    if args.n < 2 {
        bail!("--n must be at least 2 (got {})", args.n);
    }
    let (a, b, labels) = t
        .held_out()
        .with_context(|| format!("{} has no held-out pairs to score", run.display()))?;
    let n = args.n.min(a.size()[0]);
    let mode = args.mode.unwrap_or(t.test_mode);
    eprintln!(
        "translating {n} held-out pairs ({} mode, {} at a time)",
        mode.name(),
        t.test_batch
    );
    let t0 = Instant::now();
    let out_images = t.translate(&a.narrow(0, 0, n), mode, args.seed)?;
    eprintln!("translated in {:.1} s", t0.elapsed().as_secs_f64());
    let scores = gan_eval::translation_scores(&out_images, &b.narrow(0, 0, n))?;
    let labels = labels.map(|l| l[..n as usize].to_vec());
    let classifier = (!args.no_classifier).then(|| {
        args.classifier
            .clone()
            .unwrap_or_else(|| default_classifier_dir(&t.info.name, &t.info.shape))
    });
    let classifier = classifier.filter(|dir| {
        let ok = dir.join("classifier.json").exists() || args.classifier.is_some();
        if !ok {
            eprintln!(
                "note: no domain classifier in {} (train one with `gan classifier train`); \
                 label preservation and FCD are skipped",
                dir.display()
            );
        }
        ok
    });
    let reference = match &args.reference {
        Some(spec) if spec == "none" => None,
        Some(spec) => Some(ReferenceSpec::Data(parse_reference(
            spec,
            &out_images.size(),
        )?)),
        // The true targets of the held-out pairs (as the translations see them).
        None => {
            let limit = match args.reference_images {
                0 => b.size()[0],
                r => (r as i64).min(b.size()[0]),
            };
            Some(ReferenceSpec::Images(Reference {
                name: format!("the held-out targets of {} ({limit} images)", run.display()),
                images: b.narrow(0, 0, limit),
            }))
        }
    };
    let out = args.out.clone().unwrap_or_else(|| run.join("eval.json"));
    let translation = Translation {
        scores: Some(scores),
        cycle: None,
        test_mode: mode.name(),
        test_batch: t.test_batch,
        label_preservation: None,
    };
    score(
        args,
        &out_images,
        labels.as_deref(),
        classifier,
        reference,
        t.checkpoint.display().to_string(),
        Some(t.step),
        &out,
        Some(translation),
    )
}

/// Scores both directions of a cyclegan run on its held-out images, into
/// `eval-a-to-b.json` and `eval-b-to-a.json` (with `--out FILE`: `FILE` with `-a-to-b` and
/// `-b-to-a` before the extension): the cycle reconstruction error, the error against the
/// exact mapping (the `hot` task), and with the domain classifier the FCD/KID of the
/// translations against the real target domain and label preservation. On the `hot` task
/// one Fashion-MNIST classifier serves both domains: it judges a hot image through the exact
/// inverse of the colour map, `(R + G + B) / 3` ([`gan_train::classifier_view`]).
pub fn cyclegan_run(args: &ImageArgs, run: &Path, which: &WhichCheckpoint) -> Result<()> {
    if args.n < 2 {
        bail!("--n must be at least 2 (got {})", args.n);
    }
    let device = args.device.resolve()?;
    for way in [Way::AToB, Way::BToA] {
        let back_way = match way {
            Way::AToB => Way::BToA,
            Way::BToA => Way::AToB,
        };
        let load = |w| {
            TrainedTranslator::load_direction(run, which, w, device)
                .with_context(|| format!("cannot load a translator from {}", run.display()))
        };
        let (t, back) = (load(way)?, load(back_way)?);
        if way == Way::AToB {
            super::warn_rejected(&t.rejected);
        }
        let (x, target, labels) = t
            .held_out()
            .with_context(|| format!("{} has no held-out images to score", run.display()))?;
        let n = args.n.min(x.size()[0]);
        eprintln!(
            "{}: translating {n} held-out images and back ({} at a time)",
            way.name(),
            t.test_batch
        );
        let t0 = Instant::now();
        let x = x.narrow(0, 0, n);
        let y = t.translate(&x, TestMode::Eval, args.seed)?;
        let rec = back.translate(&y, TestMode::Eval, args.seed)?;
        eprintln!("translated in {:.1} s", t0.elapsed().as_secs_f64());
        let exact = if t.exact_targets() {
            Some(gan_eval::translation_scores(&y, &target.narrow(0, 0, n))?)
        } else {
            None
        };
        let labels = labels.map(|l| l[..n as usize].to_vec());
        let hot = matches!(t.config.data, DataConfig::Hot { .. });
        let classifier = (!args.no_classifier && hot).then(|| {
            args.classifier.clone().unwrap_or_else(|| {
                default_classifier_dir(&t.info.name, &[1, t.info.shape[1], t.info.shape[2]])
            })
        });
        let classifier = classifier.filter(|dir| {
            let ok = dir.join("classifier.json").exists() || args.classifier.is_some();
            if !ok {
                eprintln!(
                    "note: no domain classifier in {} (train one with `gan classifier train \
                     --data fashion-mnist --pad 2`); label preservation and FCD are skipped",
                    dir.display()
                );
            }
            ok
        });
        let limit = match args.reference_images {
            0 => target.size()[0],
            r => (r as i64).min(target.size()[0]),
        };
        let reference = Some(ReferenceSpec::Images(Reference {
            name: format!(
                "the held-out images of the target domain of {} ({limit} images)",
                run.display()
            ),
            images: classifier_view(&target.narrow(0, 0, limit)),
        }));
        let out = match &args.out {
            Some(o) => {
                let stem = o.file_stem().and_then(|s| s.to_str()).unwrap_or("eval");
                o.with_file_name(format!("{stem}-{}.json", way.name()))
            }
            None => run.join(format!("eval-{}.json", way.name())),
        };
        let translation = Translation {
            scores: exact,
            cycle: Some(gan_eval::translation_scores(&rec, &x)?),
            test_mode: TestMode::Eval.name(),
            test_batch: t.test_batch,
            label_preservation: None,
        };
        score(
            args,
            &classifier_view(&y),
            labels.as_deref(),
            classifier,
            reference,
            format!("{} ({})", t.checkpoint.display(), way.name()),
            Some(t.step),
            &out,
            Some(translation),
        )?;
    }
    Ok(())
}

/// Scores the images of a `.npy` file.
pub fn samples_file(args: &ImageArgs, file: &Path) -> Result<()> {
    let arr = npy::read_u8(file)?;
    if arr.shape.len() != 4 || !(arr.shape[1] == 1 || arr.shape[1] == 3) || arr.shape[0] < 2 {
        bail!(
            "{}: expected uint8 images of shape (N >= 2, 1 or 3, H, W), got shape {:?}",
            file.display(),
            arr.shape
        );
    }
    let shape: Vec<i64> = arr.shape.iter().map(|&d| d as i64).collect();
    let x = Tensor::from_slice(&arr.data).view(shape.as_slice());
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
    let reference = match &args.reference {
        Some(spec) if spec != "none" => Some(ReferenceSpec::Data(parse_reference(spec, &shape)?)),
        _ => None,
    };
    // The same default as for runs: with a real reference, that data set's classifier for the
    // samples' size (classifiers/<data>-<H>x<W>) when one has been trained.
    let classifier = if args.no_classifier {
        None
    } else {
        args.classifier.clone().or_else(|| {
            let spec = args.reference.as_deref().filter(|s| *s != "none")?;
            let name = spec.split_once(':').map_or(spec, |(n, _)| n);
            let dir = default_classifier_dir(name, &shape[1..]);
            dir.join("classifier.json").exists().then(|| {
                eprintln!(
                    "classifier: {} (the default for {name}; --no-classifier skips it)",
                    dir.display()
                );
                dir
            })
        })
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| file.with_extension("eval.json"));
    let translation = match &args.targets {
        Some(t) => {
            let arr = npy::read_u8(t)?;
            if arr.shape != shape.iter().map(|&d| d as usize).collect::<Vec<_>>() {
                bail!(
                    "--targets {}: shape {:?}, the samples are {:?}",
                    t.display(),
                    arr.shape,
                    shape
                );
            }
            let targets = Tensor::from_slice(&arr.data).view(shape.as_slice());
            Some(Translation {
                scores: Some(gan_eval::translation_scores(&x, &targets)?),
                cycle: None,
                test_mode: "as given",
                test_batch: 0,
                label_preservation: None,
            })
        }
        None => None,
    };
    score(
        args,
        &x,
        labels.as_deref(),
        classifier,
        reference,
        file.display().to_string(),
        None,
        &out,
        translation,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_specs_pad_grey_data_to_the_samples_and_reject_the_rest() {
        let pad_of = |spec, shape: &[i64]| match parse_reference(spec, shape).unwrap() {
            DataConfig::FashionMnist { pad, split, .. } => (pad, split),
            DataConfig::StackedFashionMnist { pad, split, .. } => (pad, split),
            DataConfig::Mnist { pad, split, .. } => (pad, split),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pad_of("fashion-mnist:test", &[9, 1, 32, 32]),
            (2, Split::Test)
        );
        assert_eq!(pad_of("mnist:train", &[9, 1, 28, 28]), (0, Split::Train));
        assert_eq!(pad_of("fashion-mnist", &[9, 1, 32, 32]), (2, Split::Test));
        assert_eq!(
            pad_of("stacked-fashion-mnist:test", &[9, 3, 32, 32]),
            (2, Split::Test)
        );
        for bad in ["fashion-mnist:val", "imagenet:test"] {
            assert!(parse_reference(bad, &[9, 1, 32, 32]).is_err(), "{bad}");
        }
        let e = parse_reference("fashion-mnist:test", &[9, 1, 27, 27]).unwrap_err();
        assert!(e.to_string().contains("27x27"), "{e}");
    }
}

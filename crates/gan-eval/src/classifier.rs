//! A domain classifier trained by the toolkit on a labelled image data set: a small VGG-style
//! CNN whose predictions score generated samples (class histogram, classifier score,
//! conditional accuracy) and whose penultimate features serve distance scores.
//!
//! A classifier folder holds `classifier.safetensors` and `classifier.json` ([`ClassifierMeta`]:
//! the input shape, class names, the data it was trained on, its test accuracy and the SHA-256
//! of the weights file, so every score can say which classifier made it).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gan_data::{EpochBatcher, ImageDataset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Version of the classifier folder format.
pub const FORMAT_VERSION: u32 = 1;

/// How to train a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Channels of the first convolutions (doubled after the first pooling).
    pub width: i64,
    /// Units of the penultimate (feature) layer.
    pub feature_dim: i64,
    /// Passes over the training set.
    pub epochs: u64,
    /// Images per step.
    pub batch_size: usize,
    /// Adam learning rate (decayed linearly to zero over the last epoch).
    pub lr: f64,
    /// Seed of the weights and the shuffling.
    pub seed: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            width: 32,
            feature_dim: 128,
            epochs: 3,
            batch_size: 128,
            lr: 1e-3,
            seed: 0,
        }
    }
}

/// What a classifier folder says about its network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMeta {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Input shape `[C, H, W]` (images in [-1, 1]).
    pub shape: Vec<i64>,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// The training settings.
    pub config: ClassifierConfig,
    /// The training data (files and split).
    pub train_data: String,
    /// The data the accuracy below was measured on.
    pub test_data: String,
    /// Accuracy on `test_data`.
    pub test_accuracy: f64,
    /// Seconds spent training.
    pub train_seconds: f64,
    /// SHA-256 of `classifier.safetensors` (hex), filled in when saved.
    pub weights_sha256: String,
}

/// The network: two blocks of two 3x3 conv + BN + ReLU with 2x2 max-pooling, a feature layer,
/// and a linear head.
#[derive(Debug)]
struct Net {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    fc: nn::Linear,
    bn_fc: nn::BatchNorm,
    head: nn::Linear,
}

impl Net {
    fn new(p: &nn::Path, shape: &[i64], classes: i64, width: i64, feature_dim: i64) -> Self {
        let conv = |name: &str, i, o| {
            let c = nn::ConvConfig {
                padding: 1,
                bias: false,
                ..Default::default()
            };
            (
                nn::conv2d(p / name, i, o, 3, c),
                nn::batch_norm2d(p / format!("{name}_bn"), o, Default::default()),
            )
        };
        let (c, h, w) = (shape[0], shape[1], shape[2]);
        let convs = vec![
            conv("conv1", c, width),
            conv("conv2", width, width),
            conv("conv3", width, 2 * width),
            conv("conv4", 2 * width, 2 * width),
        ];
        let flat = 2 * width * (h / 4) * (w / 4);
        Net {
            convs,
            fc: nn::linear(p / "fc", flat, feature_dim, Default::default()),
            bn_fc: nn::batch_norm1d(p / "fc_bn", feature_dim, Default::default()),
            head: nn::linear(p / "head", feature_dim, classes, Default::default()),
        }
    }

    /// Features `[N, feature_dim]` and logits `[N, K]`.
    fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let mut h = x.shallow_clone();
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            h = h.apply(conv).apply_t(bn, train).relu();
            if i % 2 == 1 {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        let f = h
            .flatten(1, -1)
            .apply(&self.fc)
            .apply_t(&self.bn_fc, train)
            .relu();
        let logits = f.dropout(0.3, train).apply(&self.head);
        (f, logits)
    }
}

/// Progress of [`Classifier::train`].
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// A step finished.
    Step {
        /// Steps done.
        step: u64,
        /// Steps in total.
        total: u64,
        /// Mean training loss over the last 100 steps.
        loss: f64,
    },
    /// An epoch finished, with the test accuracy.
    Epoch {
        /// Epochs done.
        epoch: u64,
        /// Accuracy on the test set.
        test_accuracy: f64,
    },
}

/// A trained classifier, ready to score images.
#[derive(Debug)]
pub struct Classifier {
    vs: nn::VarStore,
    net: Net,
    /// What it is.
    pub meta: ClassifierMeta,
}

/// Images scored per forward pass.
const EVAL_BATCH: i64 = 500;

fn check_shape(what: &str, x: &Tensor, shape: &[i64]) -> Result<()> {
    let s = x.size();
    if s.len() != 4 || s[1..] != *shape {
        return Err(Error::Shape(format!(
            "{what}: expected images [N, {}, {}, {}], got {s:?}",
            shape[0], shape[1], shape[2]
        )));
    }
    Ok(())
}

impl Classifier {
    /// Trains a classifier on `train` and measures it on `test` (same image shape and
    /// classes), on `device`. Deterministic for a seed on the CPU.
    pub fn train(
        cfg: &ClassifierConfig,
        train: &ImageDataset,
        test: &ImageDataset,
        device: Device,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<Self> {
        let shape = [train.channels, train.height, train.width].map(|d| d as i64);
        let test_shape = [test.channels, test.height, test.width].map(|d| d as i64);
        if shape != test_shape || train.class_names.len() != test.class_names.len() {
            return Err(Error::Shape(format!(
                "train data {shape:?} with {} classes and test data {test_shape:?} with {} \
                 classes differ",
                train.class_names.len(),
                test.class_names.len()
            )));
        }
        if train.class_names.len() < 2 {
            return Err(Error::Shape(format!(
                "{} has {} class: a classifier needs labelled data",
                train.source,
                train.class_names.len()
            )));
        }
        if shape[1] < 4 || shape[2] < 4 {
            return Err(Error::Shape(format!(
                "images {shape:?} are too small (< 4x4)"
            )));
        }
        let start = Instant::now();
        tch::manual_seed(cfg.seed as i64);
        let vs = nn::VarStore::new(device);
        let classes = train.class_names.len() as i64;
        let net = Net::new(&vs.root(), &shape, classes, cfg.width, cfg.feature_dim);
        let mut opt = nn::Adam::default().build(&vs, cfg.lr)?;
        let data = train.to_device(device);
        // A data set smaller than a batch trains on whole-set batches.
        let batch = cfg.batch_size.min(train.len());
        let mut batcher = EpochBatcher::new(train.len(), batch, cfg.seed)?;
        let per_epoch = batcher.batches_per_epoch();
        let total = per_epoch * cfg.epochs;
        let mut meta = ClassifierMeta {
            format_version: FORMAT_VERSION,
            shape: shape.to_vec(),
            class_names: train.class_names.clone(),
            config: cfg.clone(),
            train_data: train.source.clone(),
            test_data: test.source.clone(),
            test_accuracy: f64::NAN,
            train_seconds: 0.0,
            weights_sha256: String::new(),
        };
        let mut classifier = Classifier {
            vs,
            net,
            meta: meta.clone(),
        };
        let mut window = Vec::new();
        for step in 0..total {
            // Constant rate, then linear decay to zero over the last epoch.
            let left = (total - step) as f64 / per_epoch.max(1) as f64;
            opt.set_lr(cfg.lr * left.min(1.0));
            let (x, y) = data.batch(&batcher.indices(step));
            let (_, logits) = classifier.net.forward(&x, true);
            let loss = logits.cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            window.push(loss.detach());
            if window.len() == 100 || step + 1 == total {
                let mean = Tensor::stack(&window, 0)
                    .mean(Kind::Float)
                    .double_value(&[]);
                window.clear();
                on_event(TrainEvent::Step {
                    step: step + 1,
                    total,
                    loss: mean,
                });
            }
            if (step + 1) % per_epoch == 0 {
                let acc = classifier.accuracy(test)?;
                on_event(TrainEvent::Epoch {
                    epoch: (step + 1) / per_epoch,
                    test_accuracy: acc,
                });
                meta.test_accuracy = acc;
            }
        }
        if total == 0 || !total.is_multiple_of(per_epoch) {
            meta.test_accuracy = classifier.accuracy(test)?;
        }
        meta.train_seconds = start.elapsed().as_secs_f64();
        classifier.meta = meta;
        Ok(classifier)
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Class probabilities `[N, K]` and features `[N, feature_dim]` (both on the CPU) of
    /// images `[N, C, H, W]` in [-1, 1], scored in batches on the classifier's device.
    pub fn predict(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        check_shape("classifier input", x, &self.meta.shape)?;
        let n = x.size()[0];
        let (mut probs, mut feats) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < n {
            let len = EVAL_BATCH.min(n - start);
            let xb = x
                .narrow(0, start, len)
                .to_device(self.device())
                .to_kind(Kind::Float);
            let (f, logits) = tch::no_grad(|| self.net.forward(&xb, false));
            probs.push(logits.softmax(-1, Kind::Float).to_device(Device::Cpu));
            feats.push(f.to_device(Device::Cpu));
            start += len;
        }
        Ok((Tensor::cat(&probs, 0), Tensor::cat(&feats, 0)))
    }

    /// Probabilities and features of `u8` images `[N, C, H, W]` (as `.npy` samples hold them).
    pub fn predict_u8(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        self.predict(&(x.to_kind(Kind::Float) / 127.5 - 1.0))
    }

    /// Top-1 accuracy on a labelled data set.
    pub fn accuracy(&self, ds: &ImageDataset) -> Result<f64> {
        let (x, y) = ds.to_tensors(Device::Cpu);
        let (p, _) = self.predict_u8(&x)?;
        let correct = p
            .argmax(-1, false)
            .eq_tensor(&y)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        Ok(correct)
    }

    /// Writes `classifier.safetensors` and `classifier.json` into `dir` (created), weights
    /// first and metadata last, each through a temporary file and a rename.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let weights = dir.join("classifier.safetensors");
        // VarStore::save picks the format from the extension, which the temporary name keeps.
        gan_tensor::write_atomic_with(&weights, |tmp| self.vs.save(tmp))?;
        self.meta.weights_sha256 = sha256(&weights)?;
        let json = dir.join("classifier.json");
        let text = serde_json::to_string_pretty(&self.meta).expect("metadata serialises");
        gan_tensor::write_atomic(&json, (text + "\n").as_bytes())?;
        Ok(())
    }

    /// Loads a classifier folder onto `device`, checking the weights against the metadata
    /// (hash, names and shapes).
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let json = dir.join("classifier.json");
        let text = fs::read_to_string(&json).map_err(|source| Error::Io {
            action: "cannot read",
            path: json.clone(),
            source,
        })?;
        let meta: ClassifierMeta =
            serde_json::from_str(&text).map_err(|source| Error::Json { path: json, source })?;
        let bad = |message: String| Error::BadClassifier {
            path: dir.to_path_buf(),
            message,
        };
        if meta.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                meta.format_version
            )));
        }
        let weights = dir.join("classifier.safetensors");
        let hash = sha256(&weights)?;
        if hash != meta.weights_sha256 {
            return Err(bad(format!(
                "classifier.safetensors has SHA-256 {hash}, classifier.json says {}",
                meta.weights_sha256
            )));
        }
        if meta.shape.len() != 3 || meta.class_names.len() < 2 {
            return Err(bad(format!(
                "shape {:?} / {} classes in classifier.json",
                meta.shape,
                meta.class_names.len()
            )));
        }
        let vs = nn::VarStore::new(device);
        let net = Net::new(
            &vs.root(),
            &meta.shape,
            meta.class_names.len() as i64,
            meta.config.width,
            meta.config.feature_dim,
        );
        // VarStore::load would broadcast mismatched shapes and ignore extra keys: check first.
        let stored: Vec<(String, Tensor)> = Tensor::read_safetensors(&weights)?;
        let ours = vs.variables();
        let mut problems = Vec::new();
        for (name, t) in &stored {
            match ours.get(name) {
                Some(v) if v.size() == t.size() => {}
                Some(v) => problems.push(format!("{name}: {:?} vs {:?}", t.size(), v.size())),
                None => problems.push(format!("{name}: not in the network")),
            }
        }
        for name in ours.keys() {
            if !stored.iter().any(|(n, _)| n == name) {
                problems.push(format!("{name}: missing"));
            }
        }
        if !problems.is_empty() {
            return Err(bad(format!("weights do not fit: {}", problems.join("; "))));
        }
        tch::no_grad(|| -> Result<()> {
            for (name, t) in &stored {
                ours[name].shallow_clone().f_copy_(t)?;
            }
            Ok(())
        })?;
        Ok(Classifier { vs, net, meta })
    }

    /// Where a classifier for data set `name` lives by default: `classifiers/<name>`.
    pub fn default_dir(name: &str) -> PathBuf {
        PathBuf::from("classifiers").join(name)
    }
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

//! The training data as the loop sees it: a 2D mixture sampled on the device, or an image data
//! set held on the device as `u8` and batched by a seeded per-epoch shuffle (batch `k` is a
//! function of `(seed, k)`, so a resumed run draws the same batches).

use std::path::{Path, PathBuf};

use gan_data::{
    DeviceImages, EpochBatcher, FolderOptions, ImageDataset, Mixture2d, MixtureSampler,
    PairedDataset, PairedOptions, UnpairedDataset, UnpairedOptions,
};
use gan_models::DataSpec;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::config::DataConfig;
use crate::error::{io_err, Error, Result};
use crate::plan::DataPlan;

/// What a run trains on, saved as `data.json` in the run folder so that a trained generator
/// can be rebuilt (and its samples labelled) without loading the data again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// `ring`, `grid`, `fashion-mnist`, `mnist`, `cifar10` or `folder`.
    pub name: String,
    /// Where the data came from (files and split).
    pub source: String,
    /// Shape of one sample: `[2]` or `[C, H, W]`.
    pub shape: Vec<i64>,
    /// Class names (empty for unlabelled data).
    pub class_names: Vec<String>,
    /// Number of training samples (0 for the infinite 2D mixtures).
    pub n_samples: usize,
    /// Bytes the data set holds in memory.
    pub bytes: usize,
    /// Files skipped because they did not decode (`skip_bad`).
    pub skipped: usize,
    /// Paired data: the shape `[C, H, W]` of the input side A (`shape` is then B's, the
    /// side the translator produces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<i64>>,
}

impl DataInfo {
    /// The networks' view of the data.
    pub fn spec(&self) -> DataSpec {
        DataSpec {
            shape: self.shape.clone(),
            n_classes: self.class_names.len() as i64,
        }
    }

    /// Whether samples are images `[C, H, W]`.
    pub fn is_images(&self) -> bool {
        self.shape.len() == 3
    }

    /// Reads `data.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err("cannot read", path))?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Fashion-MNIST's labels 0..9 (Xiao et al. 2017).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Loads the image data set `cfg` names (an error for the 2D mixtures), looking in
/// [`DataConfig::search_dirs`] when no folder is given.
pub fn load_images(cfg: &DataConfig) -> Result<ImageDataset> {
    let find = |dir: &Option<PathBuf>, load: &dyn Fn(&Path) -> gan_data::Result<ImageDataset>| {
        if let Some(dir) = dir {
            return Ok(load(dir)?);
        }
        let candidates = cfg.search_dirs();
        for d in &candidates {
            if d.is_dir() {
                match load(d) {
                    Err(gan_data::Error::MissingFiles { .. }) => continue,
                    other => return Ok(other?),
                }
            }
        }
        Err(Error::DataNotFound {
            name: cfg.name(),
            looked: candidates,
        })
    };
    match cfg {
        // Paired data as images: its target side B (what a translator's outputs are
        // compared with).
        DataConfig::Edges { .. }
        | DataConfig::Aligned { .. }
        | DataConfig::PairedFolders { .. }
        | DataConfig::SyntheticPairs { .. } => Ok(load_pairs(cfg)?.side_b()?),
        // Unpaired data as images: domain B (the target of A -> B).
        DataConfig::Hot { .. } | DataConfig::Unpaired { .. } => {
            Ok(load_unpaired(cfg)?.side_b().clone())
        }
        DataConfig::Ring | DataConfig::Grid => Err(Error::Config {
            key: "data.kind".into(),
            message: format!("{} is a 2D mixture, not an image data set", cfg.name()),
        }),
        DataConfig::FashionMnist {
            dir,
            split,
            pad,
            classes,
            subset,
            subset_seed,
        } => {
            let mut ds = find(dir, &|d| ImageDataset::mnist_dir(d, *split))?.pad(*pad);
            if ds.n_classes() == FASHION_MNIST_CLASSES.len() {
                ds.class_names = FASHION_MNIST_CLASSES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            }
            select(ds, classes, *subset, *subset_seed)
        }
        DataConfig::StackedFashionMnist {
            dir,
            split,
            pad,
            images,
            seed,
        } => {
            let base = load_images(&DataConfig::FashionMnist {
                dir: dir.clone(),
                split: *split,
                pad: *pad,
                classes: None,
                subset: None,
                subset_seed: 0,
            })?;
            Ok(ImageDataset::stacked(&base, *images, *seed)?)
        }
        DataConfig::Mnist {
            dir,
            split,
            pad,
            classes,
            subset,
            subset_seed,
        } => {
            let ds = find(dir, &|d| ImageDataset::mnist_dir(d, *split))?.pad(*pad);
            select(ds, classes, *subset, *subset_seed)
        }
        DataConfig::Cifar10 {
            dir,
            split,
            classes,
            subset,
            subset_seed,
        } => {
            let ds = find(dir, &|d| ImageDataset::cifar10_dir(d, *split))?;
            select(ds, classes, *subset, *subset_seed)
        }
        DataConfig::Synthetic {
            images,
            channels,
            height,
            width,
            classes,
            seed,
        } => Ok(ImageDataset::synthetic(
            *images,
            [*channels, *height, *width],
            *classes,
            *seed,
        )?),
        DataConfig::Folder {
            path,
            height,
            width,
            channels,
            skip_bad,
        } => {
            let opts = FolderOptions {
                height: *height,
                width: *width,
                channels: *channels,
                skip_bad: *skip_bad,
            };
            Ok(ImageDataset::folder(path, &opts)?)
        }
    }
}

/// `[data] classes` then `subset` applied to a loaded data set (errors name the key).
fn select(
    ds: ImageDataset,
    classes: &Option<Vec<i64>>,
    subset: Option<usize>,
    seed: u64,
) -> Result<ImageDataset> {
    let key_err = |key: &str| {
        let key = key.to_string();
        move |e: gan_data::Error| Error::Config {
            key: key.clone(),
            message: e.to_string(),
        }
    };
    let ds = match classes {
        Some(c) => ds.select_classes(c).map_err(key_err("data.classes"))?,
        None => ds,
    };
    match subset {
        Some(n) => Ok(ds
            .balanced_subset(n, seed)
            .map_err(key_err("data.subset"))?),
        None => Ok(ds),
    }
}

/// Loads the unpaired data set `cfg` names (an error naming `data.kind` for other data),
/// before any jitter.
pub fn load_unpaired(cfg: &DataConfig) -> Result<UnpairedDataset> {
    match cfg {
        DataConfig::Hot { dir, split, .. } => {
            let fm = load_images(&DataConfig::FashionMnist {
                dir: dir.clone(),
                split: *split,
                pad: 2,
                classes: None,
                subset: None,
                subset_seed: 0,
            })?;
            Ok(UnpairedDataset::hot(fm, *split)?)
        }
        DataConfig::Unpaired {
            path,
            split,
            height,
            width,
            channels_a,
            channels_b,
            ..
        } => {
            let opts = UnpairedOptions {
                height: *height,
                width: *width,
                channels_a: *channels_a,
                channels_b: *channels_b,
            };
            Ok(UnpairedDataset::folders(path, *split, &opts)?)
        }
        other => Err(Error::Config {
            key: "data.kind".into(),
            message: format!(
                "`{}` is not unpaired data (use hot or unpaired)",
                other.name()
            ),
        }),
    }
}

/// Loads the paired data set `cfg` names (an error naming `data.kind` for other data), before
/// any jitter.
pub fn load_pairs(cfg: &DataConfig) -> Result<PairedDataset> {
    match cfg {
        DataConfig::Edges { dir, split, .. } => {
            let fm = load_images(&DataConfig::FashionMnist {
                dir: dir.clone(),
                split: *split,
                pad: 0,
                classes: None,
                subset: None,
                subset_seed: 0,
            })?;
            let mut pairs = PairedDataset::edges(fm.clone())?;
            if pairs.class_names.len() == fm.class_names.len() {
                pairs.class_names = fm.class_names;
            }
            Ok(pairs)
        }
        DataConfig::Aligned {
            path,
            height,
            width,
            channels_a,
            channels_b,
            direction,
            ..
        } => {
            let opts = PairedOptions {
                load_size: (*height, *width),
                channels_a: *channels_a,
                channels_b: *channels_b,
                direction: *direction,
            };
            Ok(PairedDataset::aligned(path, &opts)?)
        }
        DataConfig::PairedFolders {
            a,
            b,
            height,
            width,
            channels_a,
            channels_b,
            ..
        } => {
            let opts = PairedOptions {
                load_size: (*height, *width),
                channels_a: *channels_a,
                channels_b: *channels_b,
                direction: Default::default(),
            };
            Ok(PairedDataset::folders(a, b, &opts)?)
        }
        DataConfig::SyntheticPairs {
            images,
            channels_a,
            channels_b,
            height,
            width,
            seed,
        } => {
            let a = ImageDataset::synthetic(*images, [*channels_a, *height, *width], 0, *seed)?;
            let plane = height * width;
            let mut b = Vec::with_capacity(images * channels_b * plane);
            for img in a.images.chunks_exact(channels_a * plane) {
                for c in 0..*channels_b {
                    let src = if channels_a == channels_b {
                        &img[c * plane..(c + 1) * plane]
                    } else {
                        &img[..plane]
                    };
                    b.extend(src.iter().map(|v| 255 - v));
                }
            }
            Ok(PairedDataset::from_parts(
                a.images,
                [*channels_a, *height, *width],
                b,
                [*channels_b, *height, *width],
                None,
                Vec::new(),
                format!("synthetic pairs ({images} of {height}x{width}, seed {seed})"),
            )?)
        }
        other => Err(Error::Config {
            key: "data.kind".into(),
            message: format!(
                "`{}` is not paired data (use edges, aligned or paired-folders)",
                other.name()
            ),
        }),
    }
}

/// Real samples for the loop.
pub(crate) enum Source {
    /// A 2D mixture, sampled from torch's (step-seeded) generator.
    Mixture {
        data: Mixture2d,
        sampler: MixtureSampler,
    },
    /// An image data set on the device.
    Images {
        images: DeviceImages,
        batcher: EpochBatcher,
    },
}

impl Source {
    /// Loads the data the plan names onto `device`, with its batch size and shuffling seeded
    /// by its seed.
    pub(crate) fn load(plan: &DataPlan, device: Device) -> Result<(Self, DataInfo)> {
        let (cfg, batch, seed) = (&plan.config, plan.batch_size, plan.seed);
        if let Some(kind) = cfg.mixture_kind() {
            let data = Mixture2d::new(kind);
            let info = DataInfo {
                name: cfg.name().into(),
                source: format!("{} (2D Gaussian mixture)", cfg.name()),
                shape: vec![2],
                class_names: Vec::new(),
                n_samples: 0,
                bytes: 0,
                skipped: 0,
                input_shape: None,
            };
            let sampler = data.sampler(device);
            return Ok((Source::Mixture { data, sampler }, info));
        }
        let ds = load_images(cfg)?;
        let info = DataInfo {
            name: cfg.name().into(),
            source: ds.source.clone(),
            shape: vec![ds.channels as i64, ds.height as i64, ds.width as i64],
            // One class is no class: unlabelled folders train unconditional models.
            class_names: if ds.n_classes() > 1 {
                ds.class_names.clone()
            } else {
                Vec::new()
            },
            n_samples: ds.len(),
            bytes: ds.bytes(),
            skipped: ds.skipped.len(),
            input_shape: None,
        };
        if batch as usize > ds.len() {
            return Err(Error::Config {
                key: "train.batch_size".into(),
                message: format!(
                    "{batch} is larger than the data set ({} images in {})",
                    ds.len(),
                    ds.source
                ),
            });
        }
        let batcher = EpochBatcher::new(ds.len(), batch as usize, seed)?;
        let images = ds.to_device(device);
        Ok((Source::Images { images, batcher }, info))
    }

    /// The `draw`-th real batch of the run (`draw` counts discriminator steps), with labels
    /// for image data.
    pub(crate) fn real(&mut self, b: i64, draw: u64) -> (Tensor, Option<Tensor>) {
        match self {
            Source::Mixture { sampler, .. } => (sampler.sample(b), None),
            Source::Images { images, batcher } => {
                let idx = batcher.indices(draw);
                let (x, y) = images.batch(&idx);
                (x, Some(y))
            }
        }
    }

    /// The mixture, for 2D runs.
    pub(crate) fn mixture(&self) -> Option<&Mixture2d> {
        match self {
            Source::Mixture { data, .. } => Some(data),
            Source::Images { .. } => None,
        }
    }
}

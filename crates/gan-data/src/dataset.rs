//! Image data sets held in memory as bytes, and their copy on the device.

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::folder::{self, FolderOptions};
use crate::{cifar, idx, Error, Result};

/// Which part of a standard data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// The training images.
    #[default]
    Train,
    /// The held-out test images.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A whole image data set in host memory, as `u8`.
///
/// Invariants (checked by every constructor): at least one image, `images.len() ==
/// len() * channels * height * width`, and every label is in `0..class_names.len()`.
#[derive(Clone)]
pub struct ImageDataset {
    /// Pixels, `[N, C, H, W]` row-major.
    pub images: Vec<u8>,
    /// One label per image, in `0..class_names.len()`.
    pub labels: Vec<i64>,
    /// C: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// H, in pixels.
    pub height: usize,
    /// W, in pixels.
    pub width: usize,
    /// The name of each label.
    pub class_names: Vec<String>,
    /// Where the data came from, for people: a path, and the split if any.
    pub source: String,
    /// Files left out by [`FolderOptions::skip_bad`], with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl fmt::Debug for ImageDataset {
    /// A summary: the pixels themselves are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageDataset")
            .field("source", &self.source)
            .field("len", &self.len())
            .field("channels", &self.channels)
            .field("height", &self.height)
            .field("width", &self.width)
            .field("class_names", &self.class_names)
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

impl ImageDataset {
    /// A data set from its parts, checking the invariants; `shape` is `[C, H, W]`.
    pub fn from_parts(
        images: Vec<u8>,
        labels: Vec<i64>,
        shape: [usize; 3],
        class_names: Vec<String>,
        source: impl Into<String>,
    ) -> Result<Self> {
        let [channels, height, width] = shape;
        if labels.is_empty() {
            return Err(Error::Options("a data set needs at least one image".into()));
        }
        let expected = shape
            .iter()
            .try_fold(labels.len(), |acc, &d| acc.checked_mul(d));
        if expected != Some(images.len()) || images.is_empty() {
            return Err(Error::Options(format!(
                "{} bytes of pixels do not make {} images of shape {shape:?}",
                images.len(),
                labels.len()
            )));
        }
        let n_classes = class_names.len() as i64;
        if let Some(i) = labels.iter().position(|&l| !(0..n_classes).contains(&l)) {
            return Err(Error::Options(format!(
                "label {} of image {i} is not in 0..{n_classes} (the number of class names)",
                labels[i]
            )));
        }
        Ok(ImageDataset {
            images,
            labels,
            channels,
            height,
            width,
            class_names,
            source: source.into(),
            skipped: Vec::new(),
        })
    }

    /// A grey data set from an IDX image file (`[N, H, W]`) and an IDX label file (`[N]`),
    /// each raw or gzipped. The classes are named `"0"` to the largest label.
    pub fn idx(images_path: impl AsRef<Path>, labels_path: impl AsRef<Path>) -> Result<Self> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = idx::read_idx(images_path)?;
        let labels = idx::read_idx(labels_path)?;
        let &[n_images, height, width] = images.dims.as_slice() else {
            return Err(Error::Format {
                path: images_path.to_path_buf(),
                reason: format!(
                    "expected 3-D images [N, H, W], found dimensions {:?}",
                    images.dims
                ),
            });
        };
        let &[n_labels] = labels.dims.as_slice() else {
            return Err(Error::Format {
                path: labels_path.to_path_buf(),
                reason: format!(
                    "expected 1-D labels [N], found dimensions {:?}",
                    labels.dims
                ),
            });
        };
        if n_images != n_labels {
            return Err(Error::Mismatch {
                images: images_path.to_path_buf(),
                n_images,
                labels: labels_path.to_path_buf(),
                n_labels,
            });
        }
        if n_images == 0 || height == 0 || width == 0 {
            return Err(Error::NoImages {
                path: images_path.to_path_buf(),
                reason: format!("the IDX file holds {n_images} images of {height}x{width}"),
            });
        }
        let max_label = labels.data.iter().copied().max().unwrap_or(0);
        ImageDataset::from_parts(
            images.data,
            labels.data.into_iter().map(i64::from).collect(),
            [1, height, width],
            (0..=max_label).map(|k| k.to_string()).collect(),
            images_path.display().to_string(),
        )
    }

    /// MNIST or Fashion-MNIST from a folder holding `{train,t10k}-images-idx3-ubyte` and
    /// `{train,t10k}-labels-idx1-ubyte`, each raw or with `.gz`.
    pub fn mnist_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for kind in ["images-idx3", "labels-idx1"] {
            let name = format!("{prefix}-{kind}-ubyte");
            let gz = format!("{name}.gz");
            let path = [&name, &gz]
                .into_iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file());
            match path {
                Some(path) => found.push(path),
                None => missing.push(format!("{name} (or {gz})")),
            }
        }
        if !missing.is_empty() {
            return Err(Error::MissingFiles {
                dir: dir.to_path_buf(),
                missing,
                hint:
                    "Put MNIST or Fashion-MNIST there, e.g. with `cargo xtask data fashion-mnist`"
                        .into(),
            });
        }
        let mut data = ImageDataset::idx(&found[0], &found[1])?;
        data.source = format!("{} ({split})", dir.display());
        Ok(data)
    }

    /// CIFAR-10 from the folder of its binary version (`cifar-10-batches-bin`): the train
    /// split is `data_batch_1.bin`..`data_batch_5.bin`, the test split `test_batch.bin`; class
    /// names come from `batches.meta.txt` when present.
    pub fn cifar10_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let names: Vec<String> = match split {
            Split::Train => (1..=5).map(|k| format!("data_batch_{k}.bin")).collect(),
            Split::Test => vec!["test_batch.bin".into()],
        };
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !dir.join(n).is_file())
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingFiles {
                dir: dir.to_path_buf(),
                missing,
                hint: "Download the binary version (cifar-10-binary.tar.gz) from \
                       https://www.cs.toronto.edu/~kriz/cifar.html and point to its \
                       cifar-10-batches-bin folder"
                    .into(),
            });
        }
        let class_names = cifar::read_class_names(dir)?;
        // `collect` keeps the file order.
        let batches = names
            .par_iter()
            .map(|n| cifar::read_batch(&dir.join(n)))
            .collect::<Result<Vec<_>>>()?;
        let mut images = Vec::with_capacity(batches.iter().map(|b| b.images.len()).sum());
        let mut labels = Vec::with_capacity(batches.iter().map(|b| b.labels.len()).sum());
        for b in batches {
            images.extend_from_slice(&b.images);
            labels.extend_from_slice(&b.labels);
        }
        ImageDataset::from_parts(
            images,
            labels,
            [3, 32, 32],
            class_names,
            format!("{} ({split})", dir.display()),
        )
    }

    /// The images of a folder, resized and cropped to one size (see [`folder`](crate::folder)
    /// for the layout rules and [`FolderOptions`] for the settings).
    ///
    /// Each image is converted to RGB or luma, resized with a Triangle filter so that it
    /// covers `height` x `width` with its aspect ratio kept, then centre-cropped. Files are
    /// decoded in parallel and kept in sorted path order.
    pub fn folder(root: impl AsRef<Path>, opts: &FolderOptions) -> Result<Self> {
        folder::load(root.as_ref(), opts)
    }

    /// The images of the given classes only, relabelled `0..classes.len()` in the order
    /// given (class names follow), e.g. `[5, 8]` keeps Fashion-MNIST's sandals (now 0) and
    /// bags (1). Unknown or repeated classes are an error.
    pub fn select_classes(&self, classes: &[i64]) -> Result<Self> {
        let k = self.n_classes() as i64;
        for (i, &c) in classes.iter().enumerate() {
            if !(0..k).contains(&c) {
                return Err(Error::Options(format!(
                    "class {c} is not in 0..{k} ({})",
                    self.class_names.join(", ")
                )));
            }
            if classes[..i].contains(&c) {
                return Err(Error::Options(format!("class {c} is listed twice")));
            }
        }
        if classes.is_empty() {
            return Err(Error::Options("no classes selected".into()));
        }
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| classes.contains(&self.labels[i]))
            .collect();
        let names = classes
            .iter()
            .map(|&c| self.class_names[c as usize].clone())
            .collect();
        let labels = keep
            .iter()
            .map(|&i| {
                classes
                    .iter()
                    .position(|&c| c == self.labels[i])
                    .expect("kept") as i64
            })
            .collect();
        let mut out = self.gather(&keep, labels, names)?;
        out.source = format!("{}, classes {classes:?}", self.source);
        Ok(out)
    }

    /// A class-balanced subset of `n` images drawn with `seed` (`n / K` of each class, the
    /// first `n % K` classes one more; unlabelled data: any `n`), in the original order.
    /// Asking for more images of a class than it has is an error.
    pub fn balanced_subset(&self, n: usize, seed: u64) -> Result<Self> {
        if n == 0 || n > self.len() {
            return Err(Error::Options(format!(
                "a subset of {n} images from {} (it has {})",
                self.source,
                self.len()
            )));
        }
        let k = self.n_classes().max(1);
        let mut keep = Vec::with_capacity(n);
        let mut rng = crate::batcher::SplitMix64(crate::batcher::mix(seed ^ 0x7375_6273_6574));
        for class in 0..k {
            let mut members: Vec<usize> = (0..self.len())
                .filter(|&i| self.n_classes() == 0 || self.labels[i] == class as i64)
                .collect();
            let want = n / k + usize::from(class < n % k);
            if want > members.len() {
                return Err(Error::Options(format!(
                    "a class-balanced subset of {n} images needs {want} of class {} but it                      has {}",
                    self.class_names.get(class).map_or("0", |s| s.as_str()),
                    members.len()
                )));
            }
            // A partial Fisher-Yates shuffle picks `want` of the class.
            for i in 0..want {
                let j = i + rng.below((members.len() - i) as u64) as usize;
                members.swap(i, j);
            }
            keep.extend_from_slice(&members[..want]);
        }
        keep.sort_unstable();
        let labels = keep.iter().map(|&i| self.labels[i]).collect();
        let mut out = self.gather(&keep, labels, self.class_names.clone())?;
        out.source = format!("{}, subset of {n} (seed {seed})", self.source);
        Ok(out)
    }

    /// The images at `indices`, with `labels` and `class_names`.
    fn gather(
        &self,
        indices: &[usize],
        labels: Vec<i64>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let size = self.channels * self.height * self.width;
        let mut images = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            images.extend_from_slice(&self.images[i * size..(i + 1) * size]);
        }
        ImageDataset::from_parts(
            images,
            labels,
            [self.channels, self.height, self.width],
            class_names,
            self.source.clone(),
        )
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image (never true for a data set built by a constructor).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes (1 for an unlabelled folder).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &l in &self.labels {
            if let Some(c) = usize::try_from(l).ok().and_then(|l| counts.get_mut(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// Bytes held by the pixels and the labels.
    pub fn bytes(&self) -> usize {
        self.images.len() + self.labels.len() * std::mem::size_of::<i64>()
    }

    /// The images as a `u8` tensor `[N, C, H, W]` and the labels as an `i64` tensor `[N]`, on
    /// `device`.
    ///
    /// # Panics
    /// If the public fields were changed so that the invariants no longer hold.
    pub fn to_tensors(&self, device: Device) -> (Tensor, Tensor) {
        let shape = [self.len(), self.channels, self.height, self.width].map(|d| d as i64);
        let images = Tensor::from_slice(&self.images)
            .view(shape)
            .to_device(device);
        let labels = Tensor::from_slice(&self.labels).to_device(device);
        (images, labels)
    }

    /// A synthetic labelled data set for tests and benchmarks, a pure function of its
    /// arguments: `n` images of `shape` `[C, H, W]` whose pixels are dim noise (0..64) with a
    /// bright (200..255) horizontal band whose position gives the class (`i % classes`), so a
    /// classifier can learn it. `classes < 2` gives one unnamed class.
    pub fn synthetic(n: usize, shape: [usize; 3], classes: usize, seed: u64) -> Result<Self> {
        let [c, h, w] = shape;
        let k = classes.max(1);
        if n == 0 || c == 0 || h < k || w == 0 {
            return Err(Error::Options(format!(
                "a synthetic data set needs n > 0 images of [C > 0, H >= classes, W > 0]; got \
                 n = {n}, shape {shape:?}, {classes} classes"
            )));
        }
        let mut images = vec![0u8; n * c * h * w];
        let mut labels = Vec::with_capacity(n);
        for (i, img) in images.chunks_exact_mut(c * h * w).enumerate() {
            let class = i % k;
            labels.push(class as i64);
            let band = class * h / k..(class + 1) * h / k;
            for (j, px) in img.iter_mut().enumerate() {
                let noise =
                    crate::batcher::mix(seed ^ crate::batcher::mix((i * c * h * w + j) as u64));
                let row = (j / w) % h;
                *px = if band.contains(&row) {
                    200 + (noise % 56) as u8
                } else {
                    (noise % 64) as u8
                };
            }
        }
        let class_names = if classes < 2 {
            vec![String::new()]
        } else {
            (0..k).map(|c| c.to_string()).collect()
        };
        Self::from_parts(
            images,
            labels,
            shape,
            class_names,
            format!("synthetic ({n} images {shape:?}, {classes} classes, seed {seed})"),
        )
    }

    /// Stacked data (Stacked MNIST, Metz et al. 2017; PacGAN and VEEGAN): `n` RGB images whose
    /// three channels are three images of the grey data set `base` drawn at random (a pure
    /// function of `seed`). The label is `100 a + 10 b + c` for channel classes `a, b, c`
    /// (generally `K^2 a + K b + c` for `K` base classes), so a 10-class base gives 1000 modes.
    pub fn stacked(base: &ImageDataset, n: usize, seed: u64) -> Result<Self> {
        let k = base.n_classes();
        if base.channels != 1 || n == 0 || base.is_empty() || k < 2 {
            return Err(Error::Options(format!(
                "stacking needs a labelled grey data set and n > 0; got {} channels, {} \
                 images, {k} classes, n = {n}",
                base.channels,
                base.len()
            )));
        }
        let plane = base.height * base.width;
        let mut images = vec![0u8; n * 3 * plane];
        let mut labels = Vec::with_capacity(n);
        for (i, img) in images.chunks_exact_mut(3 * plane).enumerate() {
            let mut label = 0i64;
            for (ch, dst) in img.chunks_exact_mut(plane).enumerate() {
                let r = crate::batcher::mix(seed ^ crate::batcher::mix((3 * i + ch) as u64));
                let j = (r % base.len() as u64) as usize;
                dst.copy_from_slice(&base.images[j * plane..(j + 1) * plane]);
                label = label * k as i64 + base.labels[j];
            }
            labels.push(label);
        }
        let names = |c: usize| base.class_names[c].clone();
        let class_names = (0..k * k * k)
            .map(|m| {
                format!(
                    "{}|{}|{}",
                    names(m / (k * k)),
                    names(m / k % k),
                    names(m % k)
                )
            })
            .collect();
        Self::from_parts(
            images,
            labels,
            [3, base.height, base.width],
            class_names,
            format!("stacked {} ({n} images, seed {seed})", base.source),
        )
    }

    /// The data set with `p` zero (black) pixels added on every side: 28x28 MNIST-style
    /// images become 32x32 with `p = 2`, as DCGAN-32 expects.
    pub fn pad(self, p: usize) -> Self {
        if p == 0 {
            return self;
        }
        let (c, h, w) = (self.channels, self.height, self.width);
        let (ph, pw) = (h + 2 * p, w + 2 * p);
        let mut out = vec![0u8; self.len() * c * ph * pw];
        for (src, dst) in self
            .images
            .chunks_exact(h * w)
            .zip(out.chunks_exact_mut(ph * pw))
        {
            for (row, dst_row) in src.chunks_exact(w).zip(dst.chunks_exact_mut(pw).skip(p)) {
                dst_row[p..p + w].copy_from_slice(row);
            }
        }
        ImageDataset {
            images: out,
            height: ph,
            width: pw,
            ..self
        }
    }

    /// Copies the data set to `device` once, to draw batches there (see [`DeviceImages`]).
    ///
    /// # Panics
    /// As [`to_tensors`](Self::to_tensors).
    pub fn to_device(&self, device: Device) -> DeviceImages {
        let (images, labels) = self.to_tensors(device);
        DeviceImages { images, labels }
    }
}

/// An image data set on the device, as `u8`, from [`ImageDataset::to_device`].
#[derive(Debug)]
pub struct DeviceImages {
    /// `u8` pixels, `[N, C, H, W]`.
    pub images: Tensor,
    /// `i64` labels, `[N]`.
    pub labels: Tensor,
}

impl DeviceImages {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.size().first().map_or(0, |&n| n as usize)
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the tensors live.
    pub fn device(&self) -> Device {
        self.images.device()
    }

    /// The images at `idx` as floats in `[-1, 1]` (`x / 127.5 - 1`), `[B, C, H, W]`, and
    /// their labels, `[B]`. The gather happens on the device: the only host-to-device copy
    /// is `idx` itself.
    ///
    /// # Panics
    /// If an index is outside `0..len()` (checked on the host, before anything reaches the
    /// device).
    pub fn batch(&self, idx: &[i64]) -> (Tensor, Tensor) {
        let n = self.len() as i64;
        if let Some(bad) = idx.iter().find(|&&i| !(0..n).contains(&i)) {
            panic!("batch index {bad} is out of range for {n} images");
        }
        let idx = Tensor::from_slice(idx).to_device(self.device());
        let x = self.images.index_select(0, &idx).to_kind(Kind::Float) / 127.5 - 1.0;
        let y = self.labels.index_select(0, &idx);
        (x, y)
    }
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    fn numbered(n: usize, k: usize) -> ImageDataset {
        // Image i is one pixel of value i; its label is i % k.
        ImageDataset::from_parts(
            (0..n as u8).collect(),
            (0..n as i64).map(|i| i % k as i64).collect(),
            [1, 1, 1],
            (0..k).map(|c| format!("c{c}")).collect(),
            "numbered",
        )
        .unwrap()
    }

    #[test]
    fn classes_are_selected_and_relabelled_in_the_order_given() {
        let ds = numbered(30, 10).select_classes(&[8, 5]).unwrap();
        assert_eq!(ds.images, vec![5, 8, 15, 18, 25, 28]);
        assert_eq!(ds.labels, vec![1, 0, 1, 0, 1, 0]);
        assert_eq!(ds.class_names, vec!["c8", "c5"]);
        assert!(numbered(30, 10)
            .select_classes(&[10])
            .unwrap_err()
            .to_string()
            .contains("0..10"));
        assert!(numbered(30, 10).select_classes(&[1, 1]).is_err());
    }

    #[test]
    fn subsets_are_balanced_seeded_and_checked() {
        let ds = numbered(100, 4);
        let a = ds.balanced_subset(10, 3).unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(a.class_counts(), vec![3, 3, 2, 2]);
        assert_eq!(a.images, ds.balanced_subset(10, 3).unwrap().images);
        assert_ne!(a.images, ds.balanced_subset(10, 4).unwrap().images);
        // Sorted, distinct, and each image keeps its label.
        assert!(a.images.windows(2).all(|w| w[0] < w[1]));
        assert!(a
            .images
            .iter()
            .zip(&a.labels)
            .all(|(&p, &l)| p as i64 % 4 == l));
        let err = ds.balanced_subset(101, 0).unwrap_err().to_string();
        assert!(err.contains("101"), "{err}");
        // Classes 2 (two images) and 0 (three), in that order: 5 = 3 + 2 needs 3 of class 2.
        let err = numbered(10, 4)
            .select_classes(&[2, 0])
            .unwrap()
            .balanced_subset(5, 0);
        assert!(err.unwrap_err().to_string().contains("needs 3 of class c2"));
    }
}

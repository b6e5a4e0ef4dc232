//! Unpaired images for CycleGAN: two domains, A and B, held in memory as `u8`, with no
//! correspondence between the `i`-th image of one and of the other.
//!
//! Each domain is an [`ImageDataset`] of its own: its own number of images, its own channel
//! count (grey <-> RGB is fine), its own labels; the two share one height x width. Two
//! sources:
//! - [`UnpairedDataset::folders`]: CycleGAN's layout, `root/trainA` + `root/trainB` (train
//!   split) or `root/testA` + `root/testB` (test split). Each folder is listed as by
//!   [`folder::list_images`] (PNG/JPEG, recursive, sorted; labelled by class sub-folder,
//!   unlabelled when the images sit directly in it), and each image is stretched to
//!   [`UnpairedOptions`]' `height` x `width` with a Triangle filter (none when the size
//!   already matches), as pix2pix's loader does ([`PairedDataset`](crate::PairedDataset)).
//! - [`UnpairedDataset::hot`] / [`UnpairedDataset::hot_dir`]: the built-in `hot` task,
//!   Fashion-MNIST (grey) <-> its "hot" colour map (RGB, [`hot_pixel`]), made on the host, no
//!   download. The train split takes A and B from disjoint halves of the train images, so no
//!   pair is ever seen; the test split pairs every test image with its map, so evaluation
//!   knows the exact target of both directions.
//!
//! # Batching from `(seed, step)`
//!
//! The domains have different lengths, so each has its own epoch order: an
//! [`EpochBatcher`] per domain on streams [`STREAM_A`] and [`STREAM_B`]
//! ([`EpochBatcher::with_stream`]). The random crop and flip are drawn independently per
//! domain too, on the jitter streams of the same numbers ([`Jitter::params_stream`]), so A's
//! and B's windows and flips differ within a step. Everything is a pure function of `(seed,
//! step)`: a resumed run replays an uninterrupted one. [`UnpairedBatcher`] bundles the four
//! streams; on the device, [`DeviceUnpaired::batch_a`] / [`batch_b`](DeviceUnpaired::batch_b)
//! crop, flip and scale each side with one gather, as [`DevicePairs`](crate::DevicePairs)
//! does.
//!
//! ```
//! use gan_data::{ImageDataset, Jitter, Split, UnpairedBatcher, UnpairedDataset};
//! // 10 synthetic grey 6x6 images in 2 classes: A = the first 5, B = hot maps of the last 5.
//! let grey = ImageDataset::synthetic(10, [1, 6, 6], 2, 0)?;
//! let data = UnpairedDataset::hot(grey, Split::Train)?;
//! assert_eq!((data.len_a(), data.len_b(), data.channels()), (5, 5, (1, 3)));
//!
//! let jitter = Jitter { crop: Some((4, 4)), flip: true };
//! let (seed, step) = (7, 3);
//! let mut batcher = UnpairedBatcher::new(data.len_a(), data.len_b(), 2, seed, jitter, data.size())?;
//! let s = batcher.step(step)?;
//! assert_ne!((&s.jitter_a.top, &s.jitter_a.left), (&s.jitter_b.top, &s.jitter_b.left));
//!
//! let on_device = data.to_device(tch::Device::Cpu);
//! let (a, b) = on_device.batches(&s);
//! assert_eq!((a.size(), b.size()), (vec![2, 1, 4, 4], vec![2, 3, 4, 4]));
//! assert!(b.min().double_value(&[]) >= -1.0 && b.max().double_value(&[]) <= 1.0);
//! // A resumed run asks for step 3 first and gets the same images and the same jitter.
//! let again = UnpairedBatcher::new(5, 5, 2, seed, jitter, (6, 6))?.step(step)?;
//! assert_eq!(again, s);
//! # Ok::<(), gan_data::Error>(())
//! ```

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::folder;
use crate::jitter::gather_jittered;
use crate::paired::write_side;
use crate::{EpochBatcher, Error, ImageDataset, Jitter, JitterParams, Result, Split};

/// The stream of domain A: its epoch order ([`EpochBatcher::with_stream`]) and its jitter
/// ([`Jitter::params_stream`]). Changing it changes the batches of existing runs.
pub const STREAM_A: u64 = 0xA;

/// The stream of domain B (see [`STREAM_A`]).
pub const STREAM_B: u64 = 0xB;

/// How [`UnpairedDataset::folders`] turns files into the two domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnpairedOptions {
    /// Height every image is stretched to (CycleGAN's `load_size`).
    pub height: usize,
    /// Width every image is stretched to.
    pub width: usize,
    /// Channels of domain A: 1 (luma) or 3 (RGB).
    pub channels_a: usize,
    /// Channels of domain B: 1 (luma) or 3 (RGB).
    pub channels_b: usize,
}

impl Default for UnpairedOptions {
    /// 256x256 RGB on both sides.
    fn default() -> Self {
        UnpairedOptions {
            height: 256,
            width: 256,
            channels_a: 3,
            channels_b: 3,
        }
    }
}

impl UnpairedOptions {
    /// Checks that the size is positive (and fits in `u32`) and that each domain has 1 or 3
    /// channels.
    pub fn validate(&self) -> Result<()> {
        for (name, c) in [
            ("channels_a", self.channels_a),
            ("channels_b", self.channels_b),
        ] {
            if c != 1 && c != 3 {
                return Err(Error::Options(format!(
                    "{name} must be 1 (luma) or 3 (RGB), got {c}"
                )));
            }
        }
        for (name, v) in [("height", self.height), ("width", self.width)] {
            if v == 0 || u32::try_from(v).is_err() {
                return Err(Error::Options(format!(
                    "{name} must be in 1..={}, got {v}",
                    u32::MAX
                )));
            }
        }
        Ok(())
    }
}

/// Two image domains in host memory, as `u8`, for unpaired translation (CycleGAN).
///
/// Invariants (checked by every constructor): each side is a valid [`ImageDataset`] (at
/// least one image) and both have the same height and width. The channel counts and the
/// numbers of images may differ. An unlabelled side (a folder of images without class
/// sub-folders) has label 0 and the single class name `""` for every image, as
/// [`ImageDataset::folder`] gives it; [`labels_a`](Self::labels_a) then answers `None`.
#[derive(Debug, Clone)]
pub struct UnpairedDataset {
    /// Domain A (the input of `G_A: A -> B`), `[Na, Ca, H, W]`.
    pub a: ImageDataset,
    /// Domain B (the input of `G_B: B -> A`), `[Nb, Cb, H, W]`.
    pub b: ImageDataset,
    /// Where the data came from, for people: paths or task, split.
    pub source: String,
}

impl UnpairedDataset {
    /// Two domains from their data sets, checking that they have the same height and width.
    pub fn from_sides(a: ImageDataset, b: ImageDataset, source: impl Into<String>) -> Result<Self> {
        if (a.height, a.width) != (b.height, b.width) || a.is_empty() || b.is_empty() {
            return Err(Error::Options(format!(
                "the two domains need images of one height and width and at least one image \
                 each; got A {} images of {}x{} ({}) and B {} images of {}x{} ({})",
                a.len(),
                a.height,
                a.width,
                a.source,
                b.len(),
                b.height,
                b.width,
                b.source
            )));
        }
        Ok(UnpairedDataset {
            a,
            b,
            source: source.into(),
        })
    }

    /// CycleGAN's layout: domain A from `root/trainA` and B from `root/trainB` for
    /// [`Split::Train`], `root/testA` and `root/testB` for [`Split::Test`].
    ///
    /// Each folder is listed and labelled as by [`folder::list_images`] (recursive, sorted;
    /// labelled by class sub-folder, unlabelled when the images sit directly in it) and
    /// decoded in parallel; each image is converted to its side's channels and stretched to
    /// `opts.height` x `opts.width` (Triangle filter; aspect ratio not kept, as CycleGAN's
    /// `resize`). Errors name the folder: a missing or image-less domain folder
    /// ([`Error::NoImages`]); and the file: one that cannot be decoded ([`Error::Decode`]).
    pub fn folders(root: impl AsRef<Path>, split: Split, opts: &UnpairedOptions) -> Result<Self> {
        let root = root.as_ref();
        opts.validate()?;
        let size = (opts.height, opts.width);
        let dir_a = root.join(format!("{}A", split.name()));
        let dir_b = root.join(format!("{}B", split.name()));
        let a = load_domain(root, &dir_a, opts.channels_a, size)?;
        let b = load_domain(root, &dir_b, opts.channels_b, size)?;
        let source = format!("{} | {} ({split})", dir_a.display(), dir_b.display());
        UnpairedDataset::from_sides(a, b, source)
    }

    /// The built-in `hot` task on a grey data set (for the task proper, Fashion-MNIST padded
    /// to 32x32, as [`hot_dir`](Self::hot_dir) reads it; `images` is used as it is, at its
    /// own size). Domain A is grey images, domain B the [`hot_map`] of grey images (RGB);
    /// labels and class names are kept on both sides.
    ///
    /// - [`Split::Train`]: with `n` images, A = images `0..n / 2` and B = the hot maps of
    ///   images `n / 2..n` (Fashion-MNIST: A = train images 0..=29,999, B = the maps of
    ///   30,000..=59,999), so no image is seen in both domains and no pair is ever seen.
    /// - [`Split::Test`]: A = all the images and B = their hot maps, in the same order, so
    ///   `B[i]` is the exact translation of `A[i]` (and `A[i]` of `B[i]`): evaluation scores
    ///   both directions against the exact mapping.
    ///
    /// Fails unless `images` is grey (one channel), or with fewer than 2 images for the train
    /// split.
    pub fn hot(images: ImageDataset, split: Split) -> Result<Self> {
        if images.channels != 1 {
            return Err(Error::Options(format!(
                "the hot task needs a grey data set, got {} channels ({})",
                images.channels, images.source
            )));
        }
        let n = images.len();
        match split {
            Split::Train => {
                let half = n / 2;
                if half == 0 {
                    return Err(Error::Options(format!(
                        "the hot task's train split halves the images, which needs at least 2; \
                         got {n} ({})",
                        images.source
                    )));
                }
                let source = format!(
                    "hot of {}: A = images 0..{half}, B = hot maps of images {half}..{n}",
                    images.source
                );
                let a = take_range(&images, 0..half)?;
                let b = hot_map(&take_range(&images, half..n)?)?;
                UnpairedDataset::from_sides(a, b, source)
            }
            Split::Test => {
                let source = format!(
                    "hot of {}: A = the {n} images, B = their hot maps (paired)",
                    images.source
                );
                let b = hot_map(&images)?;
                UnpairedDataset::from_sides(images, b, source)
            }
        }
    }

    /// [`hot`](Self::hot) of the MNIST / Fashion-MNIST IDX files in `dir` (see
    /// [`ImageDataset::mnist_dir`]), padded with 2 black pixels on every side (28x28 becomes
    /// 32x32, [`ImageDataset::pad`]): for Fashion-MNIST, 30,000 + 30,000 images of 32x32 for
    /// the train split, 10,000 pairs for the test split.
    pub fn hot_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        UnpairedDataset::hot(ImageDataset::mnist_dir(dir, split)?.pad(2), split)
    }

    /// Number of images of domain A.
    pub fn len_a(&self) -> usize {
        self.a.len()
    }

    /// Number of images of domain B.
    pub fn len_b(&self) -> usize {
        self.b.len()
    }

    /// `(height, width)` of both domains.
    pub fn size(&self) -> (usize, usize) {
        (self.a.height, self.a.width)
    }

    /// `(Ca, Cb)`: the channels of domains A and B.
    pub fn channels(&self) -> (usize, usize) {
        (self.a.channels, self.b.channels)
    }

    /// Ca: the channels of domain A.
    pub fn channels_a(&self) -> usize {
        self.a.channels
    }

    /// Cb: the channels of domain B.
    pub fn channels_b(&self) -> usize {
        self.b.channels
    }

    /// Bytes held by the pixels and labels of both domains.
    pub fn bytes(&self) -> usize {
        self.a.bytes() + self.b.bytes()
    }

    /// Domain A.
    pub fn side_a(&self) -> &ImageDataset {
        &self.a
    }

    /// Domain B.
    pub fn side_b(&self) -> &ImageDataset {
        &self.b
    }

    /// The labels of domain A, or `None` when it is unlabelled (its class names are `[""]`).
    pub fn labels_a(&self) -> Option<&[i64]> {
        labels_of(&self.a)
    }

    /// The labels of domain B, or `None` when it is unlabelled.
    pub fn labels_b(&self) -> Option<&[i64]> {
        labels_of(&self.b)
    }

    /// The class names the two domains share: those of A when both are labelled with the
    /// same names (the `hot` task: Fashion-MNIST's 10 classes), else empty.
    pub fn class_names(&self) -> Vec<String> {
        match (self.labels_a(), self.labels_b()) {
            (Some(_), Some(_)) if self.a.class_names == self.b.class_names => {
                self.a.class_names.clone()
            }
            _ => Vec::new(),
        }
    }

    /// Number of shared classes (0 unless [`class_names`](Self::class_names) has some).
    pub fn n_classes(&self) -> usize {
        self.class_names().len()
    }

    /// Both domains' pixels as `u8` tensors on the CPU: A `[Na, Ca, H, W]`, B
    /// `[Nb, Cb, H, W]`.
    ///
    /// # Panics
    /// If the public fields were changed so that the invariants no longer hold.
    pub fn to_tensors(&self) -> (Tensor, Tensor) {
        (pixels(&self.a), pixels(&self.b))
    }

    /// Copies both domains' pixels to `device` once, to draw batches there (see
    /// [`DeviceUnpaired`]). The labels stay on the host.
    ///
    /// # Panics
    /// As [`to_tensors`](Self::to_tensors).
    pub fn to_device(&self, device: Device) -> DeviceUnpaired {
        let (a, b) = self.to_tensors();
        DeviceUnpaired {
            a: a.to_device(device),
            b: b.to_device(device),
        }
    }
}

/// The labels of `side`, unless it is unlabelled (class names `[""]`).
fn labels_of(side: &ImageDataset) -> Option<&[i64]> {
    (side.class_names != [String::new()]).then_some(side.labels.as_slice())
}

/// The pixels of `side` as a CPU `u8` tensor `[N, C, H, W]`.
fn pixels(side: &ImageDataset) -> Tensor {
    let shape = [side.len(), side.channels, side.height, side.width].map(|d| d as i64);
    Tensor::from_slice(&side.images).view(shape)
}

/// Images `range` of `data` (labels and class names kept).
fn take_range(data: &ImageDataset, range: std::ops::Range<usize>) -> Result<ImageDataset> {
    let chw = data.channels * data.height * data.width;
    ImageDataset::from_parts(
        data.images[range.start * chw..range.end * chw].to_vec(),
        data.labels[range.clone()].to_vec(),
        [data.channels, data.height, data.width],
        data.class_names.clone(),
        format!("{} [{}..{}]", data.source, range.start, range.end),
    )
}

/// One domain folder of [`UnpairedDataset::folders`], stretched to `(height, width)`.
fn load_domain(
    root: &Path,
    dir: &Path,
    channels: usize,
    (height, width): (usize, usize),
) -> Result<ImageDataset> {
    if let Err(e) = std::fs::metadata(dir) {
        if e.kind() == std::io::ErrorKind::NotFound {
            let r = root.display();
            return Err(Error::NoImages {
                path: dir.to_path_buf(),
                reason: format!(
                    "no such folder; CycleGAN's layout is {r}/trainA and {r}/trainB for the \
                     train split, {r}/testA and {r}/testB for the test split"
                ),
            });
        }
    }
    let listing = folder::list_images(dir)?;
    let chw = channels * height * width;
    let total = listing.files.len().checked_mul(chw).ok_or_else(|| {
        Error::Options(format!(
            "{} images of {chw} bytes do not fit in memory",
            listing.files.len()
        ))
    })?;
    let mut images = vec![0u8; total];
    // `UnpairedOptions::validate` checked that both fit in u32.
    let size = (height as u32, width as u32);
    // `collect` keeps the order of `files`, whatever order the threads finish in, so the
    // first error in file order wins.
    let results: Vec<Result<()>> = images
        .par_chunks_mut(chw)
        .zip(listing.files.par_iter())
        .map(|(out, (path, _))| {
            write_side(folder::decode(path)?, channels, size, out);
            Ok(())
        })
        .collect();
    results.into_iter().collect::<Result<()>>()?;
    let labels = listing.files.iter().map(|&(_, l)| l).collect();
    ImageDataset::from_parts(
        images,
        labels,
        [channels, height, width],
        listing.class_names,
        dir.display().to_string(),
    )
}

/// The "hot" colour map of one grey pixel value `p`, as `[R, G, B]`.
///
/// The definition: with `g = p / 255`, `R = clamp(3g, 0, 1)`, `G = clamp(3g - 1, 0, 1)`,
/// `B = clamp(3g - 2, 0, 1)`, each stored as `round(255 v)` (`u8`, halves rounded away from
/// zero). `255 v` is then the integer `clamp(3p - 255 k, 0, 255)` for channel `k`, so no
/// rounding ever happens and the map is computed exactly in integers: `R = min(3p, 255)`,
/// `G = clamp(3p - 255, 0, 255)`, `B = clamp(3p - 510, 0, 255)`. The channels sum to `3p`,
/// so `(R + G + B) / 3` inverts it.
pub fn hot_pixel(p: u8) -> [u8; 3] {
    let p3 = 3 * i32::from(p);
    [0, 1, 2].map(|k| (p3 - 255 * k).clamp(0, 255) as u8)
}

/// The hot colour map ([`hot_pixel`]) of grey images given as planes of `plane` pixels
/// (`[N, 1, H, W]` or `[N, H, W]` row-major, `plane = H * W`): `[N, 3, H, W]`, the R, G and
/// B planes of each image in turn.
///
/// Fails unless `grey.len()` is a multiple of a positive `plane`.
pub fn hot_planes(grey: &[u8], plane: usize) -> Result<Vec<u8>> {
    if plane == 0 || !grey.len().is_multiple_of(plane) {
        return Err(Error::Options(format!(
            "{} grey pixels are not whole planes of {plane}",
            grey.len()
        )));
    }
    let lut: Vec<[u8; 3]> = (0..=255).map(hot_pixel).collect();
    let mut out = vec![0u8; 3 * grey.len()];
    out.par_chunks_mut(3 * plane)
        .zip(grey.par_chunks(plane))
        .with_min_len(64)
        .for_each(|(dst, src)| {
            for (k, dst) in dst.chunks_exact_mut(plane).enumerate() {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = lut[usize::from(s)][k];
                }
            }
        });
    Ok(out)
}

/// The hot colour map ([`hot_pixel`]) of a grey data set: the RGB data set of the same
/// images, labels and class names, e.g. the exact target of a translation of grey images.
///
/// Fails unless `grey` has one channel.
pub fn hot_map(grey: &ImageDataset) -> Result<ImageDataset> {
    if grey.channels != 1 {
        return Err(Error::Options(format!(
            "the hot map needs grey images, got {} channels ({})",
            grey.channels, grey.source
        )));
    }
    ImageDataset::from_parts(
        hot_planes(&grey.images, grey.height * grey.width)?,
        grey.labels.clone(),
        [3, grey.height, grey.width],
        grey.class_names.clone(),
        format!("hot map of {}", grey.source),
    )
}

/// The hot colour map ([`hot_pixel`]) of `u8` grey images `[N, 1, H, W]` on any device:
/// `u8` `[N, 3, H, W]` on the same device, computed there in integers (the same values as
/// [`hot_map`]).
///
/// Fails unless `grey` is `u8` of shape `[N, 1, H, W]`.
pub fn hot_tensor(grey: &Tensor) -> Result<Tensor> {
    let size = grey.size();
    if grey.kind() != Kind::Uint8 || size.len() != 4 || size[1] != 1 {
        return Err(Error::Options(format!(
            "the hot map needs u8 grey images [N, 1, H, W], got {:?} of shape {size:?}",
            grey.kind()
        )));
    }
    let p3 = grey.to_kind(Kind::Int) * 3;
    let planes: Vec<Tensor> = (0..3i64).map(|k| (&p3 - 255 * k).clamp(0, 255)).collect();
    Ok(Tensor::f_cat(&planes, 1)?.to_kind(Kind::Uint8))
}

/// Both domains of an [`UnpairedDataset`] on the device, as `u8`, from
/// [`UnpairedDataset::to_device`].
#[derive(Debug)]
pub struct DeviceUnpaired {
    /// `u8` images of domain A, `[Na, Ca, H, W]`.
    pub a: Tensor,
    /// `u8` images of domain B, `[Nb, Cb, H, W]`.
    pub b: Tensor,
}

impl DeviceUnpaired {
    /// Number of images of domain A.
    pub fn len_a(&self) -> usize {
        self.a.size().first().map_or(0, |&n| n as usize)
    }

    /// Number of images of domain B.
    pub fn len_b(&self) -> usize {
        self.b.size().first().map_or(0, |&n| n as usize)
    }

    /// Where the tensors live.
    pub fn device(&self) -> Device {
        self.a.device()
    }

    /// `(height, width)` of both domains.
    pub fn size(&self) -> (usize, usize) {
        match self.a.size()[..] {
            [_, _, h, w] => (h as usize, w as usize),
            _ => (0, 0),
        }
    }

    /// The A images at `idx`, cropped and flipped by `jitter`, as floats in `[-1, 1]`
    /// (`x / 127.5 - 1`, as [`DevicePairs::batch`](crate::DevicePairs::batch)):
    /// `[B, Ca, crop_h, crop_w]`. One gather on the device; the only host-to-device copy is
    /// `idx` and the jitter (`4 * B` integers).
    ///
    /// # Panics
    /// If an index is outside `0..len_a()`, or `jitter` was not made for `idx.len()` images of
    /// this size (both checked on the host, before anything reaches the device).
    pub fn batch_a(&self, idx: &[i64], jitter: &JitterParams) -> Tensor {
        side_batch(&self.a, "A", idx, jitter)
    }

    /// The B images at `idx`, as [`batch_a`](Self::batch_a): `[B, Cb, crop_h, crop_w]`.
    ///
    /// # Panics
    /// As [`batch_a`](Self::batch_a), with `len_b()`.
    pub fn batch_b(&self, idx: &[i64], jitter: &JitterParams) -> Tensor {
        side_batch(&self.b, "B", idx, jitter)
    }

    /// Both batches of one step of an [`UnpairedBatcher`]: `(batch_a, batch_b)` of its
    /// indices and jitters.
    ///
    /// # Panics
    /// As [`batch_a`](Self::batch_a) and [`batch_b`](Self::batch_b).
    pub fn batches(&self, step: &UnpairedStep) -> (Tensor, Tensor) {
        (
            self.batch_a(&step.idx_a, &step.jitter_a),
            self.batch_b(&step.idx_b, &step.jitter_b),
        )
    }
}

/// [`DeviceUnpaired::batch_a`] of one side.
fn side_batch(images: &Tensor, name: &str, idx: &[i64], jitter: &JitterParams) -> Tensor {
    let n = images.size().first().copied().unwrap_or(0);
    if let Some(bad) = idx.iter().find(|&&i| !(0..n).contains(&i)) {
        panic!("batch index {bad} is out of range for the {n} images of domain {name}");
    }
    let size = match images.size()[..] {
        [_, _, h, w] => (h as usize, w as usize),
        _ => (0, 0),
    };
    if let Err(why) = jitter.check(idx.len(), size) {
        panic!("domain {name}: {why}");
    }
    let (_, [x]) = gather_jittered(idx, jitter, [images]);
    x
}

/// The indices and jitters of one training step of unpaired data (from
/// [`UnpairedBatcher::step`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpairedStep {
    /// Indices into domain A.
    pub idx_a: Vec<i64>,
    /// The crop and flip of each A image.
    pub jitter_a: JitterParams,
    /// Indices into domain B.
    pub idx_b: Vec<i64>,
    /// The crop and flip of each B image, drawn independently of A's.
    pub jitter_b: JitterParams,
}

/// The batches of training on unpaired data: per domain, its own epoch order and its own
/// jitter, all a pure function of `(seed, step)`.
///
/// Domain A's indices are those of `EpochBatcher::with_stream(len_a, batch, seed, STREAM_A)`
/// and its jitter `jitter.params_stream(seed, step, batch, size, STREAM_A)`; domain B's the
/// same with `len_b` and [`STREAM_B`]. So the two domains go through their epochs at their
/// own pace (`len_a / batch` and `len_b / batch` batches an epoch), A's and B's crops and
/// flips differ within a step, and a run resumed at step `k` replays an uninterrupted one.
/// Changing the streams changes the batches of existing runs.
#[derive(Debug, Clone)]
pub struct UnpairedBatcher {
    a: EpochBatcher,
    b: EpochBatcher,
    jitter: Jitter,
    size: (usize, usize),
}

impl UnpairedBatcher {
    /// Batches of `batch` images from each domain (`len_a` and `len_b` images of `size`
    /// `(height, width)`), shuffled and jittered from `seed`.
    ///
    /// Fails unless `1 <= batch <= min(len_a, len_b)` and `jitter` fits `size`.
    pub fn new(
        len_a: usize,
        len_b: usize,
        batch: usize,
        seed: u64,
        jitter: Jitter,
        size: (usize, usize),
    ) -> Result<Self> {
        jitter.validate(size)?;
        Ok(UnpairedBatcher {
            a: EpochBatcher::with_stream(len_a, batch, seed, STREAM_A)?,
            b: EpochBatcher::with_stream(len_b, batch, seed, STREAM_B)?,
            jitter,
            size,
        })
    }

    /// Domain A's epoch order.
    pub fn batcher_a(&self) -> &EpochBatcher {
        &self.a
    }

    /// Domain B's epoch order.
    pub fn batcher_b(&self) -> &EpochBatcher {
        &self.b
    }

    /// The jitter drawn for both domains.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// `(height, width)` of the images before the jitter.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// The indices and jitters of both domains at training step `step`.
    pub fn step(&mut self, step: u64) -> Result<UnpairedStep> {
        let seed = self.a.seed();
        let batch = self.a.batch_size();
        Ok(UnpairedStep {
            idx_a: self.a.indices(step),
            jitter_a: self
                .jitter
                .params_stream(seed, step, batch, self.size, STREAM_A)?,
            idx_b: self.b.indices(step),
            jitter_b: self
                .jitter
                .params_stream(seed, step, batch, self.size, STREAM_B)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_integer_hot_map_is_the_float_definition() {
        for p in 0..=255u8 {
            let g = f64::from(p) / 255.0;
            let want = [0.0, 1.0, 2.0].map(|k| (255.0 * (3.0 * g - k).clamp(0.0, 1.0)).round());
            let got = hot_pixel(p).map(f64::from);
            assert_eq!(got, want, "p = {p}");
            let [r, gr, b] = hot_pixel(p).map(u32::from);
            assert_eq!(r + gr + b, 3 * u32::from(p), "p = {p}");
        }
        assert_eq!(hot_pixel(0), [0, 0, 0]);
        assert_eq!(hot_pixel(85), [255, 0, 0]);
        assert_eq!(hot_pixel(86), [255, 3, 0]);
        assert_eq!(hot_pixel(170), [255, 255, 0]);
        assert_eq!(hot_pixel(255), [255, 255, 255]);
    }

    #[test]
    fn planes_and_tensors_agree_with_the_pixel_map() {
        let grey: Vec<u8> = (0..=255).collect();
        let planes = hot_planes(&grey, 64).unwrap();
        for (i, &p) in grey.iter().enumerate() {
            let (img, j) = (i / 64, i % 64);
            for k in 0..3 {
                assert_eq!(planes[img * 192 + k * 64 + j], hot_pixel(p)[k]);
            }
        }
        let t = hot_tensor(&Tensor::from_slice(&grey).view([4, 1, 8, 8])).unwrap();
        assert_eq!(t.size(), [4, 3, 8, 8]);
        assert_eq!(t.kind(), Kind::Uint8);
        assert_eq!(Vec::<u8>::try_from(t.reshape([-1])).unwrap(), planes);
        assert!(hot_planes(&grey, 0).is_err());
        assert!(hot_planes(&grey, 100).is_err());
        assert!(hot_tensor(&Tensor::zeros([2, 3, 4, 4], (Kind::Uint8, Device::Cpu))).is_err());
        assert!(hot_tensor(&Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu))).is_err());
    }

    #[test]
    fn options_are_checked() {
        assert!(UnpairedOptions::default().validate().is_ok());
        for bad in [
            UnpairedOptions {
                channels_a: 2,
                ..Default::default()
            },
            UnpairedOptions {
                width: 0,
                ..Default::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Options(_))));
        }
    }

    #[test]
    fn sides_must_agree_on_the_size() {
        let a = ImageDataset::synthetic(3, [1, 4, 4], 1, 0).unwrap();
        let b = ImageDataset::synthetic(5, [3, 4, 5], 1, 0).unwrap();
        assert!(matches!(
            UnpairedDataset::from_sides(a.clone(), b, "t"),
            Err(Error::Options(_))
        ));
        let b = ImageDataset::synthetic(5, [3, 4, 4], 1, 0).unwrap();
        let d = UnpairedDataset::from_sides(a, b, "t").unwrap();
        assert_eq!((d.len_a(), d.len_b(), d.channels()), (3, 5, (1, 3)));
        assert_eq!((d.labels_a(), d.labels_b(), d.n_classes()), (None, None, 0));
        assert_eq!(d.bytes(), 3 * 16 + 5 * 48 + 8 * 8);
    }

    #[test]
    fn hot_needs_grey_and_two_train_images() {
        let rgb = ImageDataset::synthetic(4, [3, 4, 4], 2, 0).unwrap();
        assert!(UnpairedDataset::hot(rgb.clone(), Split::Test).is_err());
        assert!(hot_map(&rgb).is_err());
        let one = ImageDataset::synthetic(1, [1, 4, 4], 1, 0).unwrap();
        assert!(UnpairedDataset::hot(one.clone(), Split::Train).is_err());
        assert_eq!(UnpairedDataset::hot(one, Split::Test).unwrap().len_b(), 1);
    }
}

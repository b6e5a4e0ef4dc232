//! `gan-data`: where training samples come from.
//!
//! - 2D Gaussian mixtures of the PacGAN / VEEGAN / Unrolled-GAN papers ([`Mixture2d`]:
//!   `ring`, 8 modes, and `grid`, 25 modes), sampled on any device from torch's generator (so
//!   a seeded step draws the same batch every time), and their mode metrics ([`ModeMetrics`]:
//!   modes captured, high-quality fraction, reverse KL).
//! - Image data sets held in memory as `u8` ([`ImageDataset`], `[N, C, H, W]`): MNIST and
//!   Fashion-MNIST IDX files, raw or gzipped ([`ImageDataset::mnist_dir`], [`idx`]), CIFAR-10
//!   binary batches ([`ImageDataset::cifar10_dir`], [`cifar`]) and folders of PNG/JPEG files,
//!   labelled by sub-folder, resized and centre-cropped ([`ImageDataset::folder`],
//!   [`folder`]). [`ImageDataset::to_device`] copies one to the device once; batches are then
//!   gathered there and scaled to `[-1, 1]` ([`DeviceImages::batch`]).
//! - Paired images for image-to-image translation ([`PairedDataset`], A `[N, Ca, H, W]` and B
//!   `[N, Cb, H, W]`, optionally labelled; [`paired`]): pix2pix's aligned A|B files
//!   ([`PairedDataset::aligned`]), two folders paired by file name
//!   ([`PairedDataset::folders`]) and the built-in `edges` task, Sobel edges to Fashion-MNIST
//!   ([`PairedDataset::edges_dir`]). On the device ([`DevicePairs`]) a batch gets pix2pix's
//!   random crop and flip, the same for both sides of a pair, drawn on the host from
//!   `(seed, k)` ([`Jitter::params`]).
//! - Unpaired images for CycleGAN ([`UnpairedDataset`], two domains A `[Na, Ca, H, W]` and B
//!   `[Nb, Cb, H, W]`, each an [`ImageDataset`] with its own length, channels and labels;
//!   [`unpaired`]): CycleGAN's `trainA`/`trainB` (`testA`/`testB`) folders
//!   ([`UnpairedDataset::folders`]) and the built-in `hot` task, Fashion-MNIST to its hot
//!   colour map ([`UnpairedDataset::hot_dir`], [`hot_map`]), from disjoint halves for
//!   training and paired for testing. On the device ([`DeviceUnpaired`]) each domain gets its
//!   own epoch order and its own crop and flip, all from `(seed, k)` ([`UnpairedBatcher`]).
//! - [`EpochBatcher`]: seeded per-epoch shuffles whose batch `k` is a function of
//!   `(seed, k)` alone, so a resumed run replays an uninterrupted one.
//!
//! Errors ([`Error`]) name the file and the reason; parsers never panic on bad bytes.
//!
//! ```
//! use gan_data::{Mixture2d, MixtureKind};
//! let ring = Mixture2d::new(MixtureKind::Ring);
//! let x = ring.sample_seeded(2500, 0, tch::Device::Cpu);
//! let pts: Vec<[f32; 2]> = gan_data::points(&x)?;
//! let m = ring.evaluate(&pts)?;
//! assert_eq!(m.modes_captured, 8);
//! assert!(m.high_quality_fraction > 0.98); // 3 std holds 98.9% of a 2D Gaussian
//! # Ok::<(), gan_data::Error>(())
//! ```
//!
//! Batches of an image data set (here 10 synthetic 2x2 grey images, image `i` filled with
//! `25 * i`):
//!
//! ```
//! use gan_data::{EpochBatcher, ImageDataset};
//! let images: Vec<u8> = (0..10u8).flat_map(|i| [25 * i; 4]).collect();
//! let labels: Vec<i64> = (0..10).map(|i| i % 2).collect();
//! let names = vec!["even".to_string(), "odd".to_string()];
//! let data = ImageDataset::from_parts(images, labels, [1, 2, 2], names, "synthetic")?;
//! let on_device = data.to_device(tch::Device::Cpu);
//!
//! let mut batcher = EpochBatcher::new(data.len(), 4, 7)?;
//! assert_eq!(batcher.batches_per_epoch(), 2); // 10 / 4: 2 images sit out each epoch
//! let idx = batcher.indices(3); // epoch 1, its second batch
//! let (x, y) = on_device.batch(&idx);
//! assert_eq!((x.size(), y.size()), (vec![4, 1, 2, 2], vec![4]));
//! assert!(x.min().double_value(&[]) >= -1.0 && x.max().double_value(&[]) <= 1.0);
//! // A resumed run asks for step 3 first and gets the same batch.
//! assert_eq!(EpochBatcher::new(10, 4, 7)?.indices(3), idx);
//! # Ok::<(), gan_data::Error>(())
//! ```
//!
//! Jittered batches of paired images (here 6 pairs of 4x6 images, grey A and RGB B = 255 -
//! A), cropped to 3x5 and flipped, the same for both sides:
//!
//! ```
//! use gan_data::{EpochBatcher, Jitter, PairedDataset};
//! let a: Vec<u8> = (0..6 * 24).map(|v| v as u8).collect();
//! let b: Vec<u8> = a.chunks(24).flat_map(|img| img.repeat(3)).map(|v| 255 - v).collect();
//! let pairs = PairedDataset::from_parts(a, [1, 4, 6], b, [3, 4, 6], None, vec![], "demo")?;
//! let on_device = pairs.to_device(tch::Device::Cpu);
//!
//! let jitter = Jitter { crop: Some((3, 5)), flip: true };
//! let (seed, step) = (7, 3);
//! let idx = EpochBatcher::new(pairs.len(), 4, seed)?.indices(step);
//! let params = jitter.params(seed, step, idx.len(), pairs.size())?;
//! let (x, y, labels) = on_device.batch(&idx, &params);
//! assert_eq!((x.size(), y.size()), (vec![4, 1, 3, 5], vec![4, 3, 3, 5]));
//! assert!(labels.is_none());
//! // B = 255 - A pixel for pixel survives the jitter: in [-1, 1], y = -x on every channel.
//! assert!((y + x).abs().max().double_value(&[]) < 1e-6);
//! // The same step gives the same jitter.
//! assert_eq!(jitter.params(seed, step, 4, pairs.size())?, params);
//! # Ok::<(), gan_data::Error>(())
//! ```

mod batcher;
pub mod cifar;
mod dataset;
mod error;
pub mod folder;
pub mod idx;
mod jitter;
mod mixture;
pub mod npy;
pub mod paired;
pub mod unpaired;

pub use batcher::EpochBatcher;
pub use dataset::{DeviceImages, ImageDataset, Split};
pub use error::{Error, Result};
pub use folder::FolderOptions;
pub use jitter::{DevicePairs, Jitter, JitterParams};
pub use mixture::{points, Mixture2d, MixtureKind, MixtureSampler, ModeMetrics};
pub use paired::{Direction, PairedDataset, PairedOptions};
pub use unpaired::{
    hot_map, hot_pixel, hot_planes, hot_tensor, DeviceUnpaired, UnpairedBatcher, UnpairedDataset,
    UnpairedOptions, UnpairedStep,
};

//! Paired images for image-to-image translation (pix2pix): an A image and a B image of the
//! same size per sample, held in memory as `u8`.
//!
//! Three sources:
//! - [`PairedDataset::aligned`]: pix2pix's format, a folder of PNG/JPEG files each holding A
//!   and B side by side (split at `w / 2`: A on the left, B on the right).
//! - [`PairedDataset::folders`]: two folders whose images pair by name (`x.png` in the first
//!   with `x.png`, `x.jpg` or `x.jpeg` in the second).
//! - [`PairedDataset::edges`]: a built-in task, Sobel edge maps (A) to Fashion-MNIST images
//!   (B), made on the host from the IDX files, no download.
//!
//! File images are stretched to [`PairedOptions::load_size`] (pix2pix's `resize`, which does
//! not keep the aspect ratio, so that the two sides of a pair keep their pixel
//! correspondence), with a Triangle filter (none when the size already matches). Files are
//! listed as by [`folder::list_images`]: recursively, in sorted path order, labelled by
//! first-level sub-folder when the folder is laid out in class sub-folders (unlabelled when
//! the images sit directly in it). The random crop and flip of training are applied on the
//! device, per batch: see [`Jitter`](crate::Jitter) and [`DevicePairs`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, Pixel};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::folder::{self, FolderListing};
use crate::{DevicePairs, Error, ImageDataset, Result, Split};

/// Which side of the stored pair is the input (A) of the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// A is the left half (or the first folder), B the right half (or the second folder).
    #[default]
    AToB,
    /// The sides swapped: A is the right half (or the second folder).
    BToA,
}

impl Direction {
    /// `"a-to-b"` or `"b-to-a"`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::AToB => "a-to-b",
            Direction::BToA => "b-to-a",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How [`PairedDataset::aligned`] and [`PairedDataset::folders`] turn files into pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairedOptions {
    /// `(height, width)` each side is stretched to (pix2pix's `load_size`).
    pub load_size: (usize, usize),
    /// Channels of the returned A side (after `direction`): 1 (luma) or 3 (RGB).
    pub channels_a: usize,
    /// Channels of the returned B side (after `direction`): 1 (luma) or 3 (RGB).
    pub channels_b: usize,
    /// Which stored side is A.
    pub direction: Direction,
}

impl Default for PairedOptions {
    /// 256x256 RGB on both sides, A to B.
    fn default() -> Self {
        PairedOptions {
            load_size: (256, 256),
            channels_a: 3,
            channels_b: 3,
            direction: Direction::AToB,
        }
    }
}

impl PairedOptions {
    /// Checks that the size is positive (and fits in `u32`) and that each side has 1 or 3
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
        let (h, w) = self.load_size;
        for (name, v) in [("height", h), ("width", w)] {
            if v == 0 || u32::try_from(v).is_err() {
                return Err(Error::Options(format!(
                    "the load_size {name} must be in 1..={}, got {v}",
                    u32::MAX
                )));
            }
        }
        Ok(())
    }

    /// The channels of the stored (left / first, right / second) sides: `direction` swaps them.
    fn stored_channels(&self) -> (usize, usize) {
        match self.direction {
            Direction::AToB => (self.channels_a, self.channels_b),
            Direction::BToA => (self.channels_b, self.channels_a),
        }
    }
}

/// A whole paired data set in host memory, as `u8`: sample `i` is the pair
/// (`a[i]`, `b[i]`), two images of the same height and width whose channel counts may differ
/// (grey <-> RGB).
///
/// Invariants (checked by every constructor): at least one pair, `a.len() == len() *
/// channels_a * height * width`, `b.len() == len() * channels_b * height * width`, and, with
/// labels, one label per pair in `0..class_names.len()` (without, `class_names` is empty).
#[derive(Clone)]
pub struct PairedDataset {
    /// A (the translation's input), `[N, Ca, H, W]` row-major.
    pub a: Vec<u8>,
    /// B (the target), `[N, Cb, H, W]` row-major.
    pub b: Vec<u8>,
    /// Ca: 1 (grey) or 3 (RGB).
    pub channels_a: usize,
    /// Cb: 1 (grey) or 3 (RGB).
    pub channels_b: usize,
    /// H, in pixels, of both sides.
    pub height: usize,
    /// W, in pixels, of both sides.
    pub width: usize,
    /// One class per pair (e.g. to score whether a translation keeps the class), if known.
    pub labels: Option<Vec<i64>>,
    /// The name of each label; empty without labels.
    pub class_names: Vec<String>,
    /// Where the data came from, for people: paths, direction, split.
    pub source: String,
}

impl fmt::Debug for PairedDataset {
    /// A summary: the pixels themselves are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairedDataset")
            .field("source", &self.source)
            .field("len", &self.len())
            .field("channels_a", &self.channels_a)
            .field("channels_b", &self.channels_b)
            .field("height", &self.height)
            .field("width", &self.width)
            .field("labelled", &self.labels.is_some())
            .field("class_names", &self.class_names)
            .finish()
    }
}

impl PairedDataset {
    /// A paired data set from its parts, checking the invariants; `shape_a` and `shape_b` are
    /// `[C, H, W]` and must agree on `H` and `W`. `class_names` must be empty without labels.
    pub fn from_parts(
        a: Vec<u8>,
        shape_a: [usize; 3],
        b: Vec<u8>,
        shape_b: [usize; 3],
        labels: Option<Vec<i64>>,
        class_names: Vec<String>,
        source: impl Into<String>,
    ) -> Result<Self> {
        let ([ca, h, w], [cb, hb, wb]) = (shape_a, shape_b);
        if (h, w) != (hb, wb) || ca == 0 || cb == 0 || h == 0 || w == 0 {
            return Err(Error::Options(format!(
                "the two sides of a pair need the same positive height and width and at least \
                 one channel; got A {shape_a:?} and B {shape_b:?}"
            )));
        }
        let chw_a = ca.checked_mul(h).and_then(|x| x.checked_mul(w));
        let chw_b = cb.checked_mul(h).and_then(|x| x.checked_mul(w));
        let (Some(chw_a), Some(chw_b)) = (chw_a, chw_b) else {
            return Err(Error::Options(format!(
                "image shapes {shape_a:?} / {shape_b:?} are too large"
            )));
        };
        let n = a.len() / chw_a;
        if a.is_empty() || !a.len().is_multiple_of(chw_a) || n.checked_mul(chw_b) != Some(b.len()) {
            return Err(Error::Options(format!(
                "{} bytes of A and {} bytes of B do not make the same positive number of pairs \
                 of shapes {shape_a:?} and {shape_b:?}",
                a.len(),
                b.len()
            )));
        }
        match &labels {
            Some(labels) => {
                if labels.len() != n {
                    return Err(Error::Options(format!(
                        "{} labels for {n} pairs",
                        labels.len()
                    )));
                }
                let k = class_names.len() as i64;
                if let Some(i) = labels.iter().position(|&l| !(0..k).contains(&l)) {
                    return Err(Error::Options(format!(
                        "label {} of pair {i} is not in 0..{k} (the number of class names)",
                        labels[i]
                    )));
                }
            }
            None if !class_names.is_empty() => {
                return Err(Error::Options(format!(
                    "{} class names but no labels",
                    class_names.len()
                )));
            }
            None => {}
        }
        Ok(PairedDataset {
            a,
            b,
            channels_a: ca,
            channels_b: cb,
            height: h,
            width: w,
            labels,
            class_names,
            source: source.into(),
        })
    }

    /// pix2pix's aligned format: every image under `root` holds A and B side by side; it is
    /// split at `w / 2` (the left half is A, the right half B, or the other way round with
    /// [`Direction::BToA`]) and each half is stretched to `opts.load_size` and converted to
    /// its side's channels.
    ///
    /// Files are listed and labelled as by [`folder::list_images`] (recursive, sorted;
    /// labelled by class sub-folder, unlabelled when the images sit directly in `root`) and
    /// decoded in parallel. Errors name the file: one that cannot be decoded
    /// ([`Error::Decode`]), an odd width, which has no two halves of equal size
    /// ([`Error::Format`]); and the folder when it has no image ([`Error::NoImages`]).
    pub fn aligned(root: impl AsRef<Path>, opts: &PairedOptions) -> Result<Self> {
        let root = root.as_ref();
        opts.validate()?;
        let listing = folder::list_images(root)?;
        let files: Vec<&Path> = listing.files.iter().map(|(p, _)| p.as_path()).collect();
        let (c1, c2) = opts.stored_channels();
        let (first, second) = load_pairs(&files, (c1, c2), opts.load_size, |path| {
            let img = folder::decode(path)?;
            let (w, h) = (img.width(), img.height());
            if !w.is_multiple_of(2) {
                return Err(Error::Format {
                    path: path.to_path_buf(),
                    reason: format!(
                        "width {w} is odd: an aligned image holds A and B side by side, two \
                         halves of equal width (split at w / 2)"
                    ),
                });
            }
            Ok((
                img.crop_imm(0, 0, w / 2, h),
                img.crop_imm(w / 2, 0, w / 2, h),
            ))
        })?;
        let source = format!("{} (aligned, {})", root.display(), opts.direction);
        finish(first, second, (c1, c2), opts, listing, source)
    }

    /// Two folders whose images pair by name: `x.png` below `dir_a` pairs with `x.png`,
    /// `x.jpg` or `x.jpeg` at the same relative path below `dir_b` (the name is the path
    /// relative to the folder without its extension). Both images are stretched to
    /// `opts.load_size`, so their sizes need not agree. [`Direction::BToA`] makes `dir_b`'s
    /// images the A side.
    ///
    /// Pairs come in the sorted order of `dir_a`'s files, labelled by `dir_a`'s class
    /// sub-folders if it has them (see [`folder::list_images`]). Errors: an image on one side
    /// only ([`Error::Unpaired`], naming it and the folder that lacks it), two images of one
    /// name in one folder ([`Error::Format`]), a folder without images
    /// ([`Error::NoImages`]), a file that cannot be decoded ([`Error::Decode`]).
    pub fn folders(
        dir_a: impl AsRef<Path>,
        dir_b: impl AsRef<Path>,
        opts: &PairedOptions,
    ) -> Result<Self> {
        let (dir_a, dir_b) = (dir_a.as_ref(), dir_b.as_ref());
        opts.validate()?;
        let listing_a = folder::list_images(dir_a)?;
        let listing_b = folder::list_images(dir_b)?;
        let names_a = names(dir_a, &listing_a)?;
        let mut names_b = names(dir_b, &listing_b)?;
        let mut files = Vec::with_capacity(listing_a.files.len());
        for (name, path_a) in &names_a {
            let Some(path_b) = names_b.remove(name) else {
                return Err(Error::Unpaired {
                    file: path_a.to_path_buf(),
                    name: name.clone(),
                    missing_in: dir_b.to_path_buf(),
                });
            };
            files.push((*path_a, path_b));
        }
        if let Some((name, path_b)) = names_b.into_iter().next() {
            return Err(Error::Unpaired {
                file: path_b.to_path_buf(),
                name,
                missing_in: dir_a.to_path_buf(),
            });
        }
        // Back to `dir_a`'s listing order (the map is in name order), so labels line up.
        let order: BTreeMap<&Path, usize> = listing_a
            .files
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.as_path(), i))
            .collect();
        files.sort_by_key(|(a, _)| order.get(a).copied());
        let (c1, c2) = opts.stored_channels();
        let (first, second) = load_pairs(&files, (c1, c2), opts.load_size, |&(a, b)| {
            Ok((folder::decode(a)?, folder::decode(b)?))
        })?;
        let source = format!(
            "{} | {} (paired by name, {})",
            dir_a.display(),
            dir_b.display(),
            opts.direction
        );
        finish(first, second, (c1, c2), opts, listing_a, source)
    }

    /// The built-in `edges` task: Sobel edge maps (A) to the images (B) of a grey data set
    /// such as Fashion-MNIST, with its labels. No file is read.
    ///
    /// Each image is padded with 2 black pixels on every side ([`ImageDataset::pad`]: 28x28
    /// becomes 32x32); that is B. With `x = B / 255`, `gx` and `gy` are the 3x3
    /// cross-correlations of `x` with `Kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]` and
    /// `Ky = Kx^T = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]`, zero padding 1 (outside pixels
    /// count as 0), and
    ///
    /// `A = round(255 * clamp(sqrt(gx^2 + gy^2) / 4, 0, 1))` as `u8`, one channel,
    ///
    /// with halves rounded away from zero. It is evaluated exactly, in `f64` on the host:
    /// `255 gx` and `255 gy` are integer sums of the pixel values `Gx`, `Gy`, so
    /// `A = min(round(sqrt(Gx^2 + Gy^2) / 4), 255)`, whose only rounding is that of `sqrt`
    /// (exact for the perfect squares where a half can occur). A NumPy equivalent on the
    /// integer gradients is `np.minimum(np.floor(np.sqrt(Gx**2 + Gy**2) / 4 + 0.5), 255)`
    /// (not `np.round`, which rounds halves to even, nor `x = B / 255` in floating point,
    /// which can land a hair below a half).
    ///
    /// Use the train split for training and the test split (10,000 pairs) for evaluation
    /// ([`edges_dir`](Self::edges_dir)). Fails unless `data` is grey (one channel).
    pub fn edges(data: ImageDataset) -> Result<Self> {
        if data.channels != 1 {
            return Err(Error::Options(format!(
                "the edges task needs a grey data set, got {} channels ({})",
                data.channels, data.source
            )));
        }
        let source = format!("edges of {}", data.source);
        let padded = data.pad(2);
        let (h, w) = (padded.height, padded.width);
        let mut a = vec![0u8; padded.images.len()];
        a.par_chunks_mut(h * w)
            .zip(padded.images.par_chunks(h * w))
            .with_min_len(64)
            .for_each_init(Vec::new, |buf, (dst, src)| sobel_into(src, h, w, buf, dst));
        PairedDataset::from_parts(
            a,
            [1, h, w],
            padded.images,
            [1, h, w],
            Some(padded.labels),
            padded.class_names,
            source,
        )
    }

    /// [`edges`](Self::edges) of the MNIST / Fashion-MNIST IDX files in `dir` (see
    /// [`ImageDataset::mnist_dir`]): 60,000 pairs of 1x32x32 for the train split of
    /// Fashion-MNIST, 10,000 for the test split.
    pub fn edges_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        PairedDataset::edges(ImageDataset::mnist_dir(dir, split)?)
    }

    /// The same pairs with A and B exchanged (what [`Direction::BToA`] does at load time).
    pub fn swapped(self) -> Self {
        PairedDataset {
            a: self.b,
            b: self.a,
            channels_a: self.channels_b,
            channels_b: self.channels_a,
            source: format!("{} (swapped)", self.source),
            ..self
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        match self.channels_a * self.height * self.width {
            0 => 0,
            chw => self.a.len() / chw,
        }
    }

    /// Whether there is no pair (never true for a data set built by a constructor).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(height, width)` of both sides.
    pub fn size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// Number of classes (0 without labels).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Bytes held by the pixels of both sides and the labels.
    pub fn bytes(&self) -> usize {
        self.a.len()
            + self.b.len()
            + self.labels.as_ref().map_or(0, Vec::len) * std::mem::size_of::<i64>()
    }

    /// The A side as an [`ImageDataset`] (a copy), e.g. to score it; without labels every
    /// image has label 0 and the single class name `""`.
    pub fn side_a(&self) -> Result<ImageDataset> {
        self.side(self.a.clone(), self.channels_a, "A")
    }

    /// The B side as an [`ImageDataset`] (a copy), e.g. as the reference of a translation's
    /// scores; labels as in [`side_a`](Self::side_a).
    pub fn side_b(&self) -> Result<ImageDataset> {
        self.side(self.b.clone(), self.channels_b, "B")
    }

    fn side(&self, images: Vec<u8>, channels: usize, name: &str) -> Result<ImageDataset> {
        let (labels, class_names) = match &self.labels {
            Some(l) => (l.clone(), self.class_names.clone()),
            None => (vec![0; self.len()], vec![String::new()]),
        };
        ImageDataset::from_parts(
            images,
            labels,
            [channels, self.height, self.width],
            class_names,
            format!("{} ({name})", self.source),
        )
    }

    /// Copies both sides (and the labels) to `device` once, to draw batches there (see
    /// [`DevicePairs`]).
    ///
    /// # Panics
    /// If the public fields were changed so that the invariants no longer hold.
    pub fn to_device(&self, device: Device) -> DevicePairs {
        let (n, h, w) = (self.len() as i64, self.height as i64, self.width as i64);
        let side = |pixels: &[u8], c: usize| {
            tch::Tensor::from_slice(pixels)
                .view([n, c as i64, h, w])
                .to_device(device)
        };
        DevicePairs {
            a: side(&self.a, self.channels_a),
            b: side(&self.b, self.channels_b),
            labels: self
                .labels
                .as_ref()
                .map(|l| tch::Tensor::from_slice(l).to_device(device)),
        }
    }
}

/// Each file's name (path relative to `root` without its extension), refusing two files of
/// one name.
fn names<'a>(root: &Path, listing: &'a FolderListing) -> Result<BTreeMap<String, &'a Path>> {
    let mut out: BTreeMap<String, &'a Path> = BTreeMap::new();
    for (path, _) in &listing.files {
        let rel = path.strip_prefix(root).unwrap_or(path);
        let name = rel.with_extension("").to_string_lossy().into_owned();
        if let Some(other) = out.insert(name.clone(), path) {
            return Err(Error::Format {
                path: root.to_path_buf(),
                reason: format!(
                    "{} and {} have the same name {name}: which one pairs is ambiguous",
                    other.display(),
                    path.display()
                ),
            });
        }
    }
    Ok(out)
}

/// Decodes the two sides of every item in parallel (`decode` gives the two images of one
/// item), stretches them to `size` and converts them to `channels`; the first error in item
/// order wins. Returns the two sides' pixels, `[N, C, H, W]` each.
fn load_pairs<T: Sync>(
    items: &[T],
    channels: (usize, usize),
    size: (usize, usize),
    decode: impl Fn(&T) -> Result<(DynamicImage, DynamicImage)> + Sync,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let plane = size.0 * size.1;
    let (chw1, chw2) = (channels.0 * plane, channels.1 * plane);
    let too_big = || Error::Options(format!("{} pairs do not fit in memory", items.len()));
    let mut first = vec![0u8; items.len().checked_mul(chw1).ok_or_else(too_big)?];
    let mut second = vec![0u8; items.len().checked_mul(chw2).ok_or_else(too_big)?];
    // `validate` checked that both fit in u32.
    let size = (size.0 as u32, size.1 as u32);
    // `collect` keeps the order of `items`, whatever order the threads finish in.
    let results: Vec<Result<()>> = first
        .par_chunks_mut(chw1)
        .zip(second.par_chunks_mut(chw2))
        .zip(items.par_iter())
        .map(|((out1, out2), item)| {
            let (img1, img2) = decode(item)?;
            write_side(img1, channels.0, size, out1);
            write_side(img2, channels.1, size, out2);
            Ok(())
        })
        .collect();
    results.into_iter().collect::<Result<()>>()?;
    Ok((first, second))
}

/// The data set of loaded sides: labels from `listing`, `direction` applied.
fn finish(
    first: Vec<u8>,
    second: Vec<u8>,
    (c1, c2): (usize, usize),
    opts: &PairedOptions,
    listing: FolderListing,
    source: String,
) -> Result<PairedDataset> {
    let (h, w) = opts.load_size;
    let (labels, class_names) = if listing.class_names == [String::new()] {
        (None, Vec::new())
    } else {
        let labels = listing.files.iter().map(|&(_, l)| l).collect();
        (Some(labels), listing.class_names)
    };
    let data = PairedDataset::from_parts(
        first,
        [c1, h, w],
        second,
        [c2, h, w],
        labels,
        class_names,
        "",
    )?;
    let mut data = match opts.direction {
        Direction::AToB => data,
        Direction::BToA => data.swapped(),
    };
    data.source = source;
    Ok(data)
}

/// Converts `img` to `channels` (1: luma, 3: RGB), stretches it to `(height, width)` and
/// writes it as planes into `out`.
pub(crate) fn write_side(img: DynamicImage, channels: usize, size: (u32, u32), out: &mut [u8]) {
    if channels == 1 {
        write_stretched(&img.into_luma8(), size, out);
    } else {
        write_stretched(&img.into_rgb8(), size, out);
    }
}

/// Resizes `img` to exactly `(height, width)` (Triangle filter; none when it has that size)
/// and writes it as planes.
fn write_stretched<P>(img: &ImageBuffer<P, Vec<u8>>, (height, width): (u32, u32), out: &mut [u8])
where
    P: Pixel<Subpixel = u8> + 'static,
{
    if img.dimensions() == (width, height) {
        folder::write_planes(img, out);
    } else {
        folder::write_planes(
            &imageops::resize(img, width, height, FilterType::Triangle),
            out,
        );
    }
}

/// The edge map of one `h` x `w` grey image (see [`PairedDataset::edges`]), in integers:
/// `Gx`, `Gy` are the Sobel responses on the pixel values, `out = min(round(|G| / 4), 255)`.
/// `buf` is scratch space (the image with a ring of zeros).
fn sobel_into(src: &[u8], h: usize, w: usize, buf: &mut Vec<i32>, out: &mut [u8]) {
    let pw = w + 2;
    buf.clear();
    buf.resize((h + 2) * pw, 0);
    for (row, dst) in src.chunks_exact(w).zip(buf.chunks_exact_mut(pw).skip(1)) {
        for (d, &s) in dst[1..=w].iter_mut().zip(row) {
            *d = i32::from(s);
        }
    }
    for y in 0..h {
        // Rows y - 1, y, y + 1 of the image are rows y, y + 1, y + 2 of `buf`.
        let (up, mid, down) = (
            &buf[y * pw..(y + 1) * pw],
            &buf[(y + 1) * pw..(y + 2) * pw],
            &buf[(y + 2) * pw..(y + 3) * pw],
        );
        for (x, o) in out[y * w..(y + 1) * w].iter_mut().enumerate() {
            // Columns x - 1, x, x + 1 are x, x + 1, x + 2 of `buf`.
            let gx = (up[x + 2] + 2 * mid[x + 2] + down[x + 2]) - (up[x] + 2 * mid[x] + down[x]);
            let gy =
                (down[x] + 2 * down[x + 1] + down[x + 2]) - (up[x] + 2 * up[x + 1] + up[x + 2]);
            let magnitude = f64::from(gx * gx + gy * gy).sqrt() / 4.0;
            *o = magnitude.round().min(255.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, literally: `x = v / 255` in f64, the two cross-correlations, the
    /// clamp and the rounding.
    fn sobel_reference(src: &[u8], h: usize, w: usize) -> Vec<f64> {
        let x = |y: isize, c: isize| -> f64 {
            if y < 0 || c < 0 || y >= h as isize || c >= w as isize {
                0.0
            } else {
                src[y as usize * w + c as usize] as f64 / 255.0
            }
        };
        let kx = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]];
        let ky = [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]];
        let mut out = Vec::new();
        for y in 0..h as isize {
            for c in 0..w as isize {
                let (mut gx, mut gy) = (0.0, 0.0);
                for (i, (rx, ry)) in kx.iter().zip(&ky).enumerate() {
                    for (j, (kx, ky)) in rx.iter().zip(ry).enumerate() {
                        let v = x(y + i as isize - 1, c + j as isize - 1);
                        gx += kx * v;
                        gy += ky * v;
                    }
                }
                out.push(255.0 * ((gx * gx + gy * gy).sqrt() / 4.0).clamp(0.0, 1.0));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn integer_sobel_matches_the_definition(
            (h, w, src) in (1usize..6, 1usize..6).prop_flat_map(|(h, w)| {
                (Just(h), Just(w), proptest::collection::vec(any::<u8>(), h * w))
            })
        ) {
            let mut out = vec![0; h * w];
            sobel_into(&src, h, w, &mut Vec::new(), &mut out);
            for (got, want) in out.iter().zip(sobel_reference(&src, h, w)) {
                // Equal after rounding, except that the float formula may fall a hair on
                // either side of a half.
                prop_assert!((*got as f64 - want).abs() <= 0.5 + 1e-9, "{got} vs {want}");
                if (want.fract() - 0.5).abs() > 1e-9 {
                    prop_assert_eq!(*got as f64, want.round());
                }
            }
        }
    }

    #[test]
    fn options_are_checked() {
        assert!(PairedOptions::default().validate().is_ok());
        for bad in [
            PairedOptions {
                channels_b: 2,
                ..Default::default()
            },
            PairedOptions {
                load_size: (0, 4),
                ..Default::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Options(_))));
        }
        let swapped = PairedOptions {
            channels_a: 1,
            direction: Direction::BToA,
            ..Default::default()
        };
        assert_eq!(swapped.stored_channels(), (3, 1));
    }

    #[test]
    fn parts_are_checked() {
        let ok = PairedDataset::from_parts(
            vec![0; 8],
            [1, 2, 2],
            vec![0; 24],
            [3, 2, 2],
            None,
            vec![],
            "t",
        )
        .unwrap();
        assert_eq!((ok.len(), ok.bytes()), (2, 32));
        let bad = [
            PairedDataset::from_parts(
                vec![0; 8],
                [1, 2, 2],
                vec![0; 8],
                [1, 2, 1],
                None,
                vec![],
                "t",
            ),
            PairedDataset::from_parts(
                vec![0; 8],
                [1, 2, 2],
                vec![0; 12],
                [3, 2, 2],
                None,
                vec![],
                "t",
            ),
            PairedDataset::from_parts(vec![], [1, 2, 2], vec![], [1, 2, 2], None, vec![], "t"),
            PairedDataset::from_parts(
                vec![0; 8],
                [1, 2, 2],
                vec![0; 8],
                [1, 2, 2],
                Some(vec![0]),
                vec!["x".into()],
                "t",
            ),
            PairedDataset::from_parts(
                vec![0; 8],
                [1, 2, 2],
                vec![0; 8],
                [1, 2, 2],
                Some(vec![0, 1]),
                vec!["x".into()],
                "t",
            ),
            PairedDataset::from_parts(
                vec![0; 8],
                [1, 2, 2],
                vec![0; 8],
                [1, 2, 2],
                None,
                vec!["x".into()],
                "t",
            ),
        ];
        for (i, b) in bad.into_iter().enumerate() {
            assert!(matches!(b, Err(Error::Options(_))), "case {i}: {b:?}");
        }
    }
}

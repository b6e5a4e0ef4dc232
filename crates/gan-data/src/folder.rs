//! Image folders: every `.png`, `.jpg` and `.jpeg` file under a root, labelled by sub-folder.
//!
//! Layout rules ([`list_images`]):
//! - Labelled: the root holds only class sub-folders. Each first-level sub-folder with at least
//!   one image (at any depth below it) is a class; classes are sorted by name and a class's
//!   label is its index in that order. Sub-folders without images are ignored.
//! - Unlabelled: the root holds the images directly and no sub-folder holds any; every image
//!   has label 0 and the single class name is `""`.
//! - Images directly in the root *and* in sub-folders is an error.
//!
//! Files are taken in sorted path order, so a run sees the same data set in the same order
//! on every machine. Symbolic links are followed; a folder reached twice is read once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, Pixel};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::io_err;
use crate::{Error, ImageDataset, Result};

/// How [`ImageDataset::folder`] turns image files into a data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FolderOptions {
    /// Output height in pixels.
    pub height: usize,
    /// Output width in pixels.
    pub width: usize,
    /// 3 for RGB, 1 for luma (grey).
    pub channels: usize,
    /// Skip files that cannot be read or decoded (listed in [`ImageDataset::skipped`])
    /// instead of failing.
    pub skip_bad: bool,
}

impl Default for FolderOptions {
    /// 64x64 RGB, failing on the first bad file.
    fn default() -> Self {
        FolderOptions {
            height: 64,
            width: 64,
            channels: 3,
            skip_bad: false,
        }
    }
}

impl FolderOptions {
    /// Checks that the size is positive and `channels` is 1 or 3.
    pub fn validate(&self) -> Result<()> {
        if self.channels != 1 && self.channels != 3 {
            return Err(Error::Options(format!(
                "channels must be 1 (luma) or 3 (RGB), got {}",
                self.channels
            )));
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

/// The image files of a folder, in load order, with their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// Each image file and its label, sorted by path.
    pub files: Vec<(PathBuf, i64)>,
    /// Class names (sub-folder names, sorted), or `[""]` for an unlabelled folder.
    pub class_names: Vec<String>,
}

/// Whether `path` has an image extension (`png`, `jpg`, `jpeg`, any case).
pub fn is_image_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Finds the images under `root` and their labels (see the module documentation for the
/// layout rules).
pub fn list_images(root: &Path) -> Result<FolderListing> {
    let meta = std::fs::metadata(root).map_err(io_err(root))?;
    if !meta.is_dir() {
        return Err(Error::Format {
            path: root.to_path_buf(),
            reason: "not a folder".into(),
        });
    }
    let mut visited = HashSet::new();
    visited.insert(std::fs::canonicalize(root).map_err(io_err(root))?);
    let mut root_images = Vec::new();
    let mut classes: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for path in sorted_entries(root)? {
        let meta = std::fs::metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut visited, &mut files)?;
            if !files.is_empty() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.sort();
                classes.push((name, files));
            }
        } else if meta.is_file() && is_image_path(&path) {
            root_images.push(path);
        }
    }
    match (root_images.first(), classes.first()) {
        (None, None) => Err(Error::NoImages {
            path: root.to_path_buf(),
            reason: "no .png, .jpg or .jpeg file in it or below it".into(),
        }),
        (Some(file), Some((class, _))) => Err(Error::Format {
            path: root.to_path_buf(),
            reason: format!(
                "mixed layout: images directly in the folder (e.g. {}) and class sub-folders \
                 with images (e.g. {class}/). Put every image in a class sub-folder (labelled), \
                 or all of them directly in the folder with no image in sub-folders (unlabelled)",
                file.file_name().unwrap_or_default().to_string_lossy()
            ),
        }),
        (Some(_), None) => Ok(FolderListing {
            files: root_images.into_iter().map(|p| (p, 0)).collect(),
            class_names: vec![String::new()],
        }),
        (None, Some(_)) => {
            let mut files = Vec::new();
            let mut class_names = Vec::new();
            for (label, (name, paths)) in classes.into_iter().enumerate() {
                files.extend(paths.into_iter().map(|p| (p, label as i64)));
                class_names.push(name);
            }
            Ok(FolderListing { files, class_names })
        }
    }
}

/// The entries of a folder, sorted.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        paths.push(entry.map_err(io_err(dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

/// Appends the image files below `dir`, in sorted order, skipping folders already visited.
fn walk(dir: &Path, visited: &mut HashSet<PathBuf>, out: &mut Vec<PathBuf>) -> Result<()> {
    if !visited.insert(std::fs::canonicalize(dir).map_err(io_err(dir))?) {
        return Ok(());
    }
    for path in sorted_entries(dir)? {
        let meta = std::fs::metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            walk(&path, visited, out)?;
        } else if meta.is_file() && is_image_path(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads the images under `root` (see [`ImageDataset::folder`]).
pub(crate) fn load(root: &Path, opts: &FolderOptions) -> Result<ImageDataset> {
    opts.validate()?;
    let listing = list_images(root)?;
    let chw = opts.channels * opts.height * opts.width;
    let total = listing.files.len().checked_mul(chw).ok_or_else(|| {
        Error::Options(format!(
            "{} images of {chw} bytes do not fit in memory",
            listing.files.len()
        ))
    })?;
    let mut images = vec![0u8; total];
    // `collect` keeps the order of `files`, whatever order the threads finish in.
    let results: Vec<Result<()>> = images
        .par_chunks_mut(chw)
        .zip(listing.files.par_iter())
        .map(|(out, (path, _))| load_into(path, opts, out))
        .collect();
    let mut labels = Vec::with_capacity(listing.files.len());
    let mut skipped = Vec::new();
    for (i, (result, (path, label))) in results.into_iter().zip(listing.files).enumerate() {
        match result {
            Ok(()) => {
                let kept = labels.len();
                if kept != i {
                    images.copy_within(i * chw..(i + 1) * chw, kept * chw);
                }
                labels.push(label);
            }
            Err(e) if opts.skip_bad => skipped.push((path, reason(&e))),
            Err(e) => return Err(e),
        }
    }
    if labels.is_empty() {
        let first = skipped
            .first()
            .map(|(p, why)| format!("; the first, {}: {why}", p.display()))
            .unwrap_or_default();
        return Err(Error::NoImages {
            path: root.to_path_buf(),
            reason: format!("all {} image files were skipped{first}", skipped.len()),
        });
    }
    images.truncate(labels.len() * chw);
    let mut data = ImageDataset::from_parts(
        images,
        labels,
        [opts.channels, opts.height, opts.width],
        listing.class_names,
        root.display().to_string(),
    )?;
    data.skipped = skipped;
    Ok(data)
}

/// The reason of an error without the file name (which the caller keeps).
fn reason(e: &Error) -> String {
    match e {
        Error::Format { reason, .. } => reason.clone(),
        Error::Io { source, .. } => source.to_string(),
        Error::Decode { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Decodes one image file (its format guessed from its bytes), refusing an empty image.
///
/// Errors name the file: [`Error::Io`], [`Error::Decode`] (with the decoder's reason) or
/// [`Error::Format`] for a 0-pixel image.
pub(crate) fn decode(path: &Path) -> Result<DynamicImage> {
    let img = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(io_err(path))?
        .decode()
        .map_err(|source| Error::Decode {
            path: path.to_path_buf(),
            source,
        })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("empty image ({}x{})", img.width(), img.height()),
        });
    }
    Ok(img)
}

/// Decodes one file into `out` (`[C, H, W]`, `out.len() == C * H * W`).
fn load_into(path: &Path, opts: &FolderOptions, out: &mut [u8]) -> Result<()> {
    let img = decode(path)?;
    // `validate` checked that both fit in u32.
    let (height, width) = (opts.height as u32, opts.width as u32);
    if opts.channels == 1 {
        write_planes(&cover_crop(&img.into_luma8(), height, width), out);
    } else {
        write_planes(&cover_crop(&img.into_rgb8(), height, width), out);
    }
    Ok(())
}

/// The size `(w, h)` to resize a `w` x `h` image to so that it covers `width` x `height`
/// with its aspect ratio kept (scale = max(height / h, width / w)), at least the target.
pub(crate) fn cover_size(w: u32, h: u32, width: u32, height: u32) -> (u32, u32) {
    let scale = f64::max(height as f64 / h as f64, width as f64 / w as f64);
    let nw = ((w as f64 * scale).round() as u32).max(width);
    let nh = ((h as f64 * scale).round() as u32).max(height);
    (nw, nh)
}

/// Resizes `img` (Triangle filter) to cover `width` x `height`, then crops the centre.
/// An image that already covers the target exactly at scale 1 is only cropped.
fn cover_crop<P>(img: &ImageBuffer<P, Vec<u8>>, height: u32, width: u32) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let (w, h) = img.dimensions();
    let (nw, nh) = cover_size(w, h, width, height);
    let resized;
    let src = if (nw, nh) == (w, h) {
        img
    } else {
        resized = imageops::resize(img, nw, nh, FilterType::Triangle);
        &resized
    };
    imageops::crop_imm(src, (nw - width) / 2, (nh - height) / 2, width, height).to_image()
}

/// Writes interleaved pixels as channel planes (`[C, H, W]`).
pub(crate) fn write_planes<P>(img: &ImageBuffer<P, Vec<u8>>, out: &mut [u8])
where
    P: Pixel<Subpixel = u8>,
{
    let c = P::CHANNEL_COUNT as usize;
    let plane = img.width() as usize * img.height() as usize;
    for (i, px) in img.as_raw().chunks_exact(c).enumerate() {
        for (k, &v) in px.iter().enumerate() {
            out[k * plane + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn cover_size_keeps_the_aspect_ratio_and_covers() {
        // 60x24 onto 40x24: already covers at scale 1.
        assert_eq!(cover_size(60, 24, 40, 24), (60, 24));
        // 100x50 onto 40x24: scale max(24/50, 40/100) = 0.48.
        assert_eq!(cover_size(100, 50, 40, 24), (48, 24));
        // 10x10 onto 40x24: scale 4.
        assert_eq!(cover_size(10, 10, 40, 24), (40, 40));
        // Rounding never leaves it smaller than the target.
        for (w, h) in [(3, 7), (7, 3), (999, 1), (1, 999), (33, 65)] {
            let (nw, nh) = cover_size(w, h, 17, 29);
            assert!(nw >= 17 && nh >= 29, "{w}x{h} -> {nw}x{nh}");
            assert!(nw == 17 || nh == 29, "{w}x{h} -> {nw}x{nh}");
        }
    }

    #[test]
    fn crop_takes_the_centre_and_planes_are_channel_first() {
        // 6 wide, 2 high; pixel (x, y) = (x, y, 7).
        let img = RgbImage::from_fn(6, 2, |x, y| Rgb([x as u8, y as u8, 7]));
        let out = cover_crop(&img, 2, 2);
        assert_eq!(out.dimensions(), (2, 2));
        assert_eq!(out.get_pixel(0, 0), &Rgb([2, 0, 7]));
        assert_eq!(out.get_pixel(1, 1), &Rgb([3, 1, 7]));
        let mut planes = vec![0; 12];
        write_planes(&out, &mut planes);
        assert_eq!(planes, [2, 3, 2, 3, 0, 0, 1, 1, 7, 7, 7, 7]);
    }

    #[test]
    fn options_are_checked() {
        assert!(FolderOptions::default().validate().is_ok());
        for bad in [
            FolderOptions {
                channels: 2,
                ..Default::default()
            },
            FolderOptions {
                height: 0,
                ..Default::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Options(_))));
        }
    }

    #[test]
    fn image_extensions() {
        for p in ["a.png", "b.JPG", "c/d.JpEg"] {
            assert!(is_image_path(Path::new(p)), "{p}");
        }
        for p in ["a.gif", "png", "a.png.txt", "a"] {
            assert!(!is_image_path(Path::new(p)), "{p}");
        }
    }
}

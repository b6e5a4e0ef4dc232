//! A disk cache of reference features and statistics (the real test split through an
//! extractor), so a data set's side of FID/KID/precision/recall is computed once.
//!
//! The key is the SHA-256 of the extractor's weights hash, the images' shape and the images'
//! bytes: a changed extractor, split, padding or data file is a different entry, never a stale
//! hit. Entries are safetensors files written through a temporary file and a rename, with a
//! JSON note beside them saying what they hold.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::inception::cache_dir;

/// A folder of cached reference tensors.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

/// Where a lookup's tensors came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Read from this file.
    Hit(PathBuf),
    /// Computed and written to this file.
    Stored(PathBuf),
    /// Computed; the cache could not be written (the reason).
    NotStored(String),
}

impl Default for FeatureCache {
    /// `<cache>/reference` (see [`cache_dir`]).
    fn default() -> Self {
        FeatureCache::new(cache_dir().join("reference"))
    }
}

impl FeatureCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FeatureCache { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache key of `images` (`u8`, any shape) seen through extractor `extractor_sha256`.
    pub fn key(extractor_sha256: &str, images: &Tensor) -> Result<String> {
        if images.kind() != Kind::Uint8 {
            return Err(Error::Shape(format!(
                "reference images must be uint8, got {:?}",
                images.kind()
            )));
        }
        let bytes = Vec::<u8>::try_from(images.contiguous().view([-1]))?;
        let mut h = Sha256::new();
        h.update(extractor_sha256.as_bytes());
        h.update(format!("{:?}", images.size()).as_bytes());
        h.update(&bytes);
        Ok(h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// The named tensors cached for `images` under `extractor_sha256`, or `compute()`'s, which
    /// are then stored. `note` (what the entry is: data set, split, extractor) goes into the
    /// JSON beside the entry. An unreadable entry is recomputed and replaced; a cache that
    /// cannot be written is reported in the outcome, not as an error.
    pub fn get_or_compute(
        &self,
        extractor_sha256: &str,
        images: &Tensor,
        note: &serde_json::Value,
        compute: impl FnOnce() -> Result<Vec<(String, Tensor)>>,
    ) -> Result<(Vec<(String, Tensor)>, CacheOutcome)> {
        let key = Self::key(extractor_sha256, images)?;
        let path = self.dir.join(format!("{key}.safetensors"));
        if path.is_file() {
            if let Ok(tensors) = Tensor::read_safetensors(&path) {
                return Ok((tensors, CacheOutcome::Hit(path)));
            }
        }
        let tensors = compute()?;
        let outcome = match self.store(&path, &tensors, note) {
            Ok(()) => CacheOutcome::Stored(path),
            Err(e) => CacheOutcome::NotStored(e.to_string()),
        };
        Ok((tensors, outcome))
    }

    fn store(
        &self,
        path: &Path,
        tensors: &[(String, Tensor)],
        note: &serde_json::Value,
    ) -> Result<()> {
        let io = |action, p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io {
                action,
                path: p,
                source,
            }
        };
        fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        let named: Vec<(&str, Tensor)> = tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.contiguous()))
            .collect();
        // The temporary name keeps the `.safetensors` extension.
        gan_tensor::write_atomic_with(path, |tmp| Tensor::write_safetensors(&named, tmp))?;
        let json = path.with_extension("json");
        let text = serde_json::to_string_pretty(note).expect("JSON value serialises");
        gan_tensor::write_atomic(&json, (text + "\n").as_bytes())?;
        Ok(())
    }
}

/// The tensor called `name` in a cache entry.
pub fn take(tensors: &[(String, Tensor)], name: &str, path_hint: &Path) -> Result<Tensor> {
    tensors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.shallow_clone())
        .ok_or_else(|| Error::BadCache {
            path: path_hint.to_path_buf(),
            message: format!("no tensor `{name}`"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn computes_once_then_hits_and_keys_on_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path().join("ref"));
        let imgs = Tensor::arange(24, (Kind::Uint8, Device::Cpu)).view([2, 1, 3, 4]);
        let note = serde_json::json!({"data": "test"});
        let calls = std::cell::Cell::new(0);
        let compute = || {
            calls.set(calls.get() + 1);
            Ok(vec![(
                "features".to_string(),
                Tensor::ones([2, 5], (Kind::Float, Device::Cpu)),
            )])
        };
        let (t, o) = cache.get_or_compute("abc", &imgs, &note, compute).unwrap();
        assert!(matches!(o, CacheOutcome::Stored(_)), "{o:?}");
        assert_eq!(t[0].1.size(), [2, 5]);
        let (t2, o2) = cache.get_or_compute("abc", &imgs, &note, compute).unwrap();
        assert!(matches!(o2, CacheOutcome::Hit(_)), "{o2:?}");
        assert_eq!(take(&t2, "features", dir.path()).unwrap().size(), [2, 5]);
        assert!(take(&t2, "nope", dir.path()).is_err());
        // Another extractor, or one changed pixel, is another entry.
        let (_, o3) = cache.get_or_compute("abd", &imgs, &note, compute).unwrap();
        assert!(matches!(o3, CacheOutcome::Stored(_)));
        let changed = imgs.copy();
        let _ = changed.get(0).get(0).get(0).get(0).fill_(200);
        let (_, o4) = cache
            .get_or_compute("abc", &changed, &note, compute)
            .unwrap();
        assert!(matches!(o4, CacheOutcome::Stored(_)));
        assert_eq!(calls.get(), 3);
        // A corrupt entry is recomputed.
        let CacheOutcome::Hit(path) = o2 else {
            unreachable!()
        };
        fs::write(&path, b"garbage").unwrap();
        let (_, o5) = cache.get_or_compute("abc", &imgs, &note, compute).unwrap();
        assert!(matches!(o5, CacheOutcome::Stored(_)));
        assert_eq!(calls.get(), 4);
        assert!(FeatureCache::key("x", &Tensor::ones([2], (Kind::Float, Device::Cpu))).is_err());
    }
}

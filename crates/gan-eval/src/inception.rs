//! InceptionV3 features through TorchScript, as FID, KID, IS and precision/recall use them.
//!
//! The network is not built in Rust: like stylegan2-ada's detector, it is a TorchScript
//! file loaded with tch's [`CModule`]. `cargo xtask fetch-inception` writes it from
//! pytorch-fid's weights (`pt_inception-2015-12-05-6726825d.pth`, the TF FID graph) with
//! `scripts/export_inception.py`. The file's contract:
//!
//! * `forward(x)`: float32 `[N, 3, H, W]` in `[0, 1]`, any size, returns
//!   `(features [N, D], logits [N, K])`; the module itself does pytorch-fid's preprocessing
//!   (bilinear resize to 299x299 with `align_corners=False`, then `2x - 1`), so the features are
//!   pytorch-fid's pool3 features (D = 2048) and the logits the 1008-way TF head (IS);
//! * `info()`: a JSON object ([`InceptionInfo`]) naming the network, the weights and their
//!   SHA-256, and the preprocessing, copied into every result.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{CModule, Device, IValue, Kind, Tensor};

use crate::classifier::sha256;
use crate::error::{Error, Result};

/// What an extractor file says about itself (`info()` of the TorchScript module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InceptionInfo {
    /// The network and weights, e.g. "pytorch-fid InceptionV3 (pt_inception-2015-12-05)".
    pub name: String,
    /// Resizing and normalisation done inside the module.
    pub preprocessing: String,
    /// The weights file the module was made from.
    #[serde(default)]
    pub weights_file: String,
    /// SHA-256 of that weights file.
    #[serde(default)]
    pub weights_sha256: String,
    /// Feature dimension (2048 for FID).
    pub features: i64,
    /// Number of logits (1008 for the TF graph's head).
    pub logits: i64,
    /// The torch version that exported it.
    #[serde(default)]
    pub torch: String,
    /// Whether these are the real FID weights (false for random stand-ins used in tests).
    pub fid_weights: bool,
}

/// A loaded TorchScript feature extractor (InceptionV3 for FID).
pub struct Inception {
    module: CModule,
    device: Device,
    /// What the file says about itself.
    pub info: InceptionInfo,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// SHA-256 of that file (results record it).
    pub sha256: String,
}

impl std::fmt::Debug for Inception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inception")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("device", &self.device)
            .finish()
    }
}

/// The per-user cache of the toolkit: `$GAN_TOOLKIT_CACHE`, else
/// `$XDG_CACHE_HOME/gan-toolkit` (if absolute), else `~/.cache/gan-toolkit` (as `cargo xtask
/// setup`).
pub fn cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = var("GAN_TOOLKIT_CACHE") {
        return PathBuf::from(dir);
    }
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored (as `cargo xtask setup`).
    if let Some(dir) = var("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return PathBuf::from(dir).join("gan-toolkit");
    }
    let home = var("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("gan-toolkit")
}

/// How to get the extractor file, for messages.
pub const FETCH_HINT: &str = "run `cargo xtask fetch-inception` (downloads pytorch-fid's \
    InceptionV3 weights, or takes them with --weights FILE.pth, and converts them to \
    TorchScript), or pass --inception FILE / set GAN_INCEPTION";

impl Inception {
    /// The environment variable naming the extractor file.
    pub const ENV: &'static str = "GAN_INCEPTION";

    /// Where the extractor is looked for: `$GAN_INCEPTION`, else
    /// `<cache>/inception/fid-inception-v3.pt` (see [`cache_dir`]).
    pub fn default_path() -> PathBuf {
        match std::env::var_os(Self::ENV).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => cache_dir().join("inception").join("fid-inception-v3.pt"),
        }
    }

    /// Loads a TorchScript extractor onto `device` and reads its `info()`.
    /// A missing file gives [`Error::MissingExtractor`], which says how to get it.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::MissingExtractor {
                path: path.to_path_buf(),
                hint: FETCH_HINT,
            });
        }
        let bad = |message: String| Error::BadExtractor {
            path: path.to_path_buf(),
            message,
        };
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| bad(format!("not a loadable TorchScript module: {e}")))?;
        module.f_set_eval()?;
        let info = match module.method_is::<IValue>("info", &[]) {
            Ok(IValue::String(s)) => serde_json::from_str::<InceptionInfo>(&s)
                .map_err(|e| bad(format!("info() is not the expected JSON ({e}): {s}")))?,
            Ok(other) => return Err(bad(format!("info() returned {other:?}, not a string"))),
            Err(e) => return Err(bad(format!("no info() method ({e})"))),
        };
        let sha256 = sha256(path)?;
        Ok(Inception {
            module,
            device,
            info,
            path: path.to_path_buf(),
            sha256,
        })
    }

    /// The device the module runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Features `[N, D]` and logits `[N, K]` (float32, on the CPU) of `u8` images
    /// `[N, C, H, W]` (C = 1 is repeated to RGB, as PIL's `convert('RGB')` does for pytorch-fid;
    /// C = 3 is used as is), scaled to `[0, 1]` and run through the module `batch` images at a
    /// time on its device. `progress(done, total)` is called after each batch.
    pub fn extract_u8(
        &self,
        images: &Tensor,
        batch: i64,
        progress: &mut dyn FnMut(i64, i64),
    ) -> Result<(Tensor, Tensor)> {
        let size = images.size();
        if size.len() != 4 || !(size[1] == 1 || size[1] == 3) || images.kind() != Kind::Uint8 {
            return Err(Error::Shape(format!(
                "Inception features need uint8 images [N, 1 or 3, H, W], got {:?} {:?}",
                images.kind(),
                size
            )));
        }
        let (n, batch) = (size[0], batch.max(1));
        let (mut feats, mut logits) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < n {
            let len = batch.min(n - start);
            let x = images
                .narrow(0, start, len)
                .to_device(self.device)
                .to_kind(Kind::Float)
                / 255.0;
            let x = if size[1] == 1 {
                x.repeat([1, 3, 1, 1])
            } else {
                x
            };
            let out = tch::no_grad(|| self.module.forward_is(&[IValue::Tensor(x)]))?;
            let (f, l) = match out {
                IValue::Tuple(mut v) if v.len() == 2 => match (v.remove(0), v.remove(0)) {
                    (IValue::Tensor(f), IValue::Tensor(l)) => (f, l),
                    other => return Err(self.bad_output(format!("{other:?}"))),
                },
                other => return Err(self.bad_output(format!("{other:?}"))),
            };
            if f.size() != [len, self.info.features] || l.size() != [len, self.info.logits] {
                return Err(self.bad_output(format!(
                    "shapes {:?} and {:?} for {len} images (info() says {} features, {} logits)",
                    f.size(),
                    l.size(),
                    self.info.features,
                    self.info.logits
                )));
            }
            feats.push(f.to_device(Device::Cpu).to_kind(Kind::Float));
            logits.push(l.to_device(Device::Cpu).to_kind(Kind::Float));
            start += len;
            progress(start, n);
        }
        if feats.is_empty() {
            return Err(Error::Shape("no images to extract features from".into()));
        }
        Ok((Tensor::cat(&feats, 0), Tensor::cat(&logits, 0)))
    }

    fn bad_output(&self, what: String) -> Error {
        Error::BadExtractor {
            path: self.path.clone(),
            message: format!("forward() must return (features [N, D], logits [N, K]); got {what}"),
        }
    }
}

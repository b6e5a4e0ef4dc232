//! Atomic, verified checkpoints.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNNN/` holding `state.safetensors` (every
//! tensor: networks, EMA, optimiser moments) and `meta.json`. It is written as
//! `.step-NNNNNNNNN.tmp/`, each file fsynced, then renamed into place and the parent fsynced:
//! a crash at any point leaves either the complete new checkpoint or none, and the older ones
//! untouched. Only folders with `meta.json` count. The newest `keep` are kept.
//!
//! Loading never trusts `VarStore::load` (which broadcasts shapes and ignores extra keys):
//! [`check_layout`] compares names, shapes and dtypes and lists every difference.
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{io_err, Error, Result};

/// Version of the on-disk layout.
pub const FORMAT_VERSION: u32 = 1;

/// What `meta.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// On-disk layout version.
    pub format_version: u32,
    /// Generator steps completed.
    pub step: u64,
    /// The run seed.
    pub seed: u64,
    /// Number of tensors in `state.safetensors`.
    pub tensors: usize,
    /// The model family that wrote it (`gan` for checkpoints older than the field).
    #[serde(default = "default_family")]
    pub family: String,
    /// The divergence guard's learning-rate multiplier in force (1 before any rollback).
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// Rollbacks the divergence guard has made in the run so far.
    #[serde(default)]
    pub rollbacks: u32,
}

fn default_family() -> String {
    "gan".into()
}

fn one() -> f64 {
    1.0
}

/// A checkpoint folder found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointDir {
    /// Its path.
    pub path: PathBuf,
    /// Its step.
    pub step: u64,
}

/// Where to fail a save on purpose (tests of crash safety).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// After half of the tensor file is on disk.
    MidTensors,
    /// After the tensors, before `meta.json`.
    BeforeMeta,
}

fn dir_name(step: u64) -> String {
    format!("step-{step:09}")
}

/// Lists complete checkpoints, oldest first.
pub fn list(checkpoints: &Path) -> Result<Vec<CheckpointDir>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(checkpoints) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err("cannot list", checkpoints)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("cannot list", checkpoints))?;
        let name = entry.file_name();
        let Some(step) = name
            .to_str()
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.path().join("meta.json").is_file() {
            out.push(CheckpointDir {
                path: entry.path(),
                step,
            });
        }
    }
    out.sort_by_key(|c| c.step);
    Ok(out)
}

/// The newest complete checkpoint, if any.
pub fn latest(checkpoints: &Path) -> Result<Option<CheckpointDir>> {
    Ok(list(checkpoints)?.pop())
}

fn fsync_dir(dir: &Path) -> Result<()> {
    Ok(gan_tensor::atomic::fsync_dir(dir)?)
}

/// Writes a checkpoint atomically and prunes to the newest `keep`. Returns its folder.
pub fn save(
    checkpoints: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
    keep: usize,
) -> Result<PathBuf> {
    save_with(checkpoints, meta, tensors, keep, None)
}

#[doc(hidden)]
pub fn save_with(
    checkpoints: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
    keep: usize,
    fail: Option<FailPoint>,
) -> Result<PathBuf> {
    fs::create_dir_all(checkpoints).map_err(io_err("cannot create", checkpoints))?;
    let final_dir = checkpoints.join(dir_name(meta.step));
    let tmp = checkpoints.join(format!(".{}.tmp", dir_name(meta.step)));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err("cannot remove stale", &tmp))?;
    }
    fs::create_dir(&tmp).map_err(io_err("cannot create", &tmp))?;

    let state = tmp.join("state.safetensors");
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.detach().to_device(tch::Device::Cpu).contiguous(),
            )
        })
        .collect();
    Tensor::write_safetensors(&cpu, &state)?;
    if fail == Some(FailPoint::MidTensors) {
        let len = fs::metadata(&state)
            .map_err(io_err("cannot stat", &state))?
            .len();
        File::options()
            .write(true)
            .open(&state)
            .and_then(|f| f.set_len(len / 2))
            .map_err(io_err("cannot truncate", &state))?;
        return Err(io_err("simulated crash while writing", &state)(
            std::io::Error::other("fail point"),
        ));
    }
    gan_tensor::atomic::fsync_file(&state)?;
    if fail == Some(FailPoint::BeforeMeta) {
        return Err(io_err(
            "simulated crash before writing",
            tmp.join("meta.json"),
        )(std::io::Error::other("fail point")));
    }

    let json = serde_json::to_vec_pretty(meta).expect("meta serialises");
    // Written last: the folder counts as a checkpoint once this file is in place.
    gan_tensor::write_atomic(&tmp.join("meta.json"), &json)?;

    if final_dir.exists() {
        // Re-saving the same step (e.g. an interrupt right after a periodic save).
        fs::remove_dir_all(&final_dir).map_err(io_err("cannot replace", &final_dir))?;
    }
    fs::rename(&tmp, &final_dir).map_err(io_err("cannot rename checkpoint into", &final_dir))?;
    fsync_dir(checkpoints)?;

    let all = list(checkpoints)?;
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            fs::remove_dir_all(&old.path).map_err(io_err("cannot prune", &old.path))?;
        }
    }
    Ok(final_dir)
}

/// A loaded checkpoint: its metadata and tensors by name (on the CPU).
#[derive(Debug)]
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// Its metadata.
    pub meta: CheckpointMeta,
    /// Its tensors.
    pub tensors: BTreeMap<String, Tensor>,
}

/// Reads a checkpoint folder.
pub fn load(dir: &Path) -> Result<Loaded> {
    let meta_path = dir.join("meta.json");
    let text = fs::read_to_string(&meta_path).map_err(io_err("cannot read", &meta_path))?;
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: meta_path.clone(),
        source,
    })?;
    if meta.format_version != FORMAT_VERSION {
        return Err(Error::IncompatibleCheckpoint {
            path: dir.to_path_buf(),
            differences: vec![format!(
                "format_version {} (this build reads {FORMAT_VERSION})",
                meta.format_version
            )],
        });
    }
    let state = dir.join("state.safetensors");
    let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(&state)?.into_iter().collect();
    Ok(Loaded {
        path: dir.to_path_buf(),
        meta,
        tensors,
    })
}

/// Lists every way `tensors` differs from the `expected` names, shapes and kinds.
pub fn check_layout(
    dir: &Path,
    expected: &BTreeMap<String, (Vec<i64>, Kind)>,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    let mut diffs = Vec::new();
    for (name, (shape, kind)) in expected {
        match tensors.get(name) {
            None => diffs.push(format!(
                "missing tensor `{name}` (model expects shape {shape:?}, {kind:?})"
            )),
            Some(t) => {
                if &t.size() != shape {
                    diffs.push(format!(
                        "`{name}`: checkpoint shape {:?}, model shape {shape:?}",
                        t.size()
                    ));
                }
                if t.kind() != *kind {
                    diffs.push(format!(
                        "`{name}`: checkpoint dtype {:?}, model dtype {kind:?}",
                        t.kind()
                    ));
                }
            }
        }
    }
    for (name, t) in tensors {
        if !expected.contains_key(name) {
            diffs.push(format!(
                "unexpected tensor `{name}` (shape {:?}) not in the model",
                t.size()
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::IncompatibleCheckpoint {
            path: dir.to_path_buf(),
            differences: diffs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn tensors(v: f32) -> Vec<(String, Tensor)> {
        vec![
            (
                "g.w".into(),
                Tensor::full([64, 64], v as f64, (Kind::Float, Device::Cpu)),
            ),
            (
                "d.w".into(),
                Tensor::full([8], v as f64 * 2.0, (Kind::Float, Device::Cpu)),
            ),
        ]
    }

    fn meta(step: u64) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            step,
            seed: 1,
            tensors: 2,
            family: "gan".into(),
            lr_scale: 1.0,
            rollbacks: 0,
        }
    }

    #[test]
    fn save_load_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        for step in [10, 20, 30] {
            save(dir.path(), &meta(step), &tensors(step as f32), 2).unwrap();
        }
        let all = list(dir.path()).unwrap();
        assert_eq!(all.iter().map(|c| c.step).collect::<Vec<_>>(), vec![20, 30]);
        let l = load(&latest(dir.path()).unwrap().unwrap().path).unwrap();
        assert_eq!(l.meta.step, 30);
        assert_eq!(l.tensors["d.w"].double_value(&[0]), 60.0);
    }

    #[test]
    fn a_crash_mid_write_leaves_the_previous_checkpoint_loadable() {
        for fail in [FailPoint::MidTensors, FailPoint::BeforeMeta] {
            let dir = tempfile::tempdir().unwrap();
            save(dir.path(), &meta(10), &tensors(1.0), 2).unwrap();
            let err = save_with(dir.path(), &meta(20), &tensors(2.0), 2, Some(fail)).unwrap_err();
            assert!(err.to_string().contains("simulated crash"), "{err}");
            // The half-written folder is not a checkpoint; the previous one loads intact.
            let newest = latest(dir.path()).unwrap().unwrap();
            assert_eq!(newest.step, 10);
            let l = load(&newest.path).unwrap();
            assert_eq!(l.tensors["g.w"].double_value(&[3, 3]), 1.0);
            // The next save cleans up and succeeds.
            save(dir.path(), &meta(20), &tensors(2.0), 2).unwrap();
            assert_eq!(latest(dir.path()).unwrap().unwrap().step, 20);
            assert!(fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")));
        }
    }

    #[test]
    fn layout_differences_are_all_listed() {
        let expected: BTreeMap<String, (Vec<i64>, Kind)> = [
            ("g.w".to_string(), (vec![64, 32], Kind::Float)),
            ("g.b".to_string(), (vec![64], Kind::Float)),
            ("d.w".to_string(), (vec![8], Kind::Double)),
        ]
        .into_iter()
        .collect();
        let mut got: BTreeMap<String, Tensor> = tensors(1.0).into_iter().collect();
        got.insert(
            "extra".into(),
            Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        );
        let err = check_layout(Path::new("ck"), &expected, &got)
            .unwrap_err()
            .to_string();
        for needle in [
            "missing tensor `g.b`",
            "`g.w`: checkpoint shape [64, 64], model shape [64, 32]",
            "`d.w`: checkpoint dtype Float",
            "unexpected tensor `extra`",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }
}

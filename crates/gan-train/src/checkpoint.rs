//! Atomic, verified checkpoints.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNNN/` holding `state.safetensors` (every
//! tensor: networks, EMA, optimiser moments, family state) and `meta.json`. It is written as
//! `.step-NNNNNNNNN.tmp/`, each file fsynced, then renamed into place and the parent fsynced:
//! a crash at any point leaves either the complete new checkpoint or none, and the older ones
//! untouched. A failed write removes its temporary folder. Pruning renames a folder to a
//! hidden `.step-N.prune` before deleting it, so a crash mid-prune never leaves a half-deleted
//! `step-N/`; [`clean_stale`] removes such leftovers.
//!
//! `meta.json` is written last and records the size and SHA-256 of every other file and a
//! digest of its own fields. [`verify`] checks all of it, and that the step matches the folder
//! name, before anything is used: a checkpoint that fails is reported with the reason, never
//! used and never deleted ([`quarantine`] moves it to `checkpoints/rejected/` on resume).
//! Checkpoints of format 1 (written before checksums) still load, checked for their step and
//! tensor count only.
//!
//! Loading never trusts `VarStore::load` (which broadcasts shapes and ignores extra keys):
//! [`check_layout`] compares names, shapes and dtypes and lists every difference.
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

use crate::error::{io_err, Error, Result};

/// Version of the on-disk layout this build writes (2: with checksums).
pub const FORMAT_VERSION: u32 = 2;
/// The layout before checksums: still readable, checked for step and tensor count only.
pub const LEGACY_FORMAT_VERSION: u32 = 1;
/// The tensor file of a checkpoint.
pub const STATE_FILE: &str = "state.safetensors";
/// The metadata file, written last.
pub const META_FILE: &str = "meta.json";
/// Where resume moves checkpoints that fail verification (inside `checkpoints/`).
pub const REJECTED_DIR: &str = "rejected";

/// The size and SHA-256 of one file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Its length in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

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
    /// The total steps the learning-rate schedule was computed for when this was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_steps: Option<u64>,
    /// Size and SHA-256 of every other file of the checkpoint (filled in by [`save`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileDigest>,
    /// SHA-256 of this record's other fields (filled in by [`save`]): an edited `meta.json`
    /// fails verification.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

fn default_family() -> String {
    "gan".into()
}

fn one() -> f64 {
    1.0
}

impl CheckpointMeta {
    /// The digest of every field but `digest` itself.
    fn compute_digest(&self) -> String {
        let mut bare = self.clone();
        bare.digest.clear();
        let bytes = serde_json::to_vec(&bare).expect("meta serialises");
        hex(&Sha256::digest(&bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Size and SHA-256 of a file, read in chunks.
pub fn file_digest(path: &Path) -> Result<FileDigest> {
    let mut f = File::open(path).map_err(io_err("cannot read", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err("cannot read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileDigest {
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

/// A checkpoint folder found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointDir {
    /// Its path.
    pub path: PathBuf,
    /// Its step.
    pub step: u64,
}

/// A checkpoint that failed verification, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The checkpoint folder (where it was found).
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
    /// Where it was moved to, if it was ([`quarantine`]).
    pub moved_to: Option<PathBuf>,
}

/// Where to fail a save on purpose (tests of crash safety).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// After half of the tensor file is on disk.
    MidTensors,
    /// After the tensors, before `meta.json`.
    BeforeMeta,
    /// The disk fills up while the tensors are written (ENOSPC): a real error, cleaned up.
    DiskFull,
}

/// The folder name of the checkpoint of `step`.
pub fn dir_name(step: u64) -> String {
    format!("step-{step:09}")
}

/// Parses a checkpoint named on the command line: `step-N` (any zero padding, so `step-600`
/// is `step-000000600`) or the path of a folder (it must exist, or contain a path separator
/// to say it is meant as a path). Anything else is an error listing the choices, so that a
/// typo such as `lates` is not taken for a folder name.
pub fn parse_name(s: &str) -> std::result::Result<PathBuf, String> {
    if let Some(step) = parse_step(s) {
        return Ok(PathBuf::from(dir_name(step)));
    }
    let path = Path::new(s);
    if path.is_dir() || s.contains('/') || s.contains(std::path::MAIN_SEPARATOR) {
        return Ok(path.to_path_buf());
    }
    Err(format!(
        "`{s}` is not a checkpoint: use latest, best, step-N (e.g. step-600) or the path of a \
         checkpoint folder"
    ))
}

/// The step a folder name `step-N` stands for.
fn parse_step(name: &str) -> Option<u64> {
    name.strip_prefix("step-")
        .and_then(|s| s.parse::<u64>().ok())
}

/// Every `step-N` folder, complete or not, oldest first.
fn step_dirs(checkpoints: &Path) -> Result<Vec<CheckpointDir>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(checkpoints) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err("cannot list", checkpoints)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("cannot list", checkpoints))?;
        let Some(step) = entry.file_name().to_str().and_then(parse_step) else {
            continue;
        };
        if entry.path().is_dir() {
            out.push(CheckpointDir {
                path: entry.path(),
                step,
            });
        }
    }
    out.sort_by_key(|c| c.step);
    Ok(out)
}

/// Lists the checkpoints that have a `meta.json` (not yet verified), oldest first.
pub fn list(checkpoints: &Path) -> Result<Vec<CheckpointDir>> {
    Ok(step_dirs(checkpoints)?
        .into_iter()
        .filter(|c| c.path.join(META_FILE).is_file())
        .collect())
}

/// The newest checkpoint with a `meta.json`, if any (not yet verified: see [`newest_verified`]).
pub fn latest(checkpoints: &Path) -> Result<Option<CheckpointDir>> {
    Ok(list(checkpoints)?.pop())
}

/// Loads the newest checkpoint in `checkpoints` that verifies. Every newer `step-N` folder
/// that fails (including one without `meta.json`) is returned as rejected, newest first.
pub fn newest_verified(checkpoints: &Path) -> Result<(Option<Loaded>, Vec<Rejected>)> {
    let mut rejected = Vec::new();
    for c in step_dirs(checkpoints)?.into_iter().rev() {
        match load(&c.path) {
            Ok(l) => return Ok((Some(l), rejected)),
            Err(Error::CorruptCheckpoint { path, reason }) => rejected.push(Rejected {
                path,
                reason,
                moved_to: None,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((None, rejected))
}

/// `into/name`, or `into/name.2`, `name.3`, ... if taken: a move never replaces anything.
fn unused_name(into: &Path, name: &str) -> PathBuf {
    let mut to = into.join(name);
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = into.join(format!("{name}.{n}"));
    }
    to
}

/// A checkpoint a user names: a folder that exists (or an absolute path) as given, else a
/// name under `checkpoints` such as `step-000000600`.
pub fn resolve(checkpoints: &Path, which: &Path) -> PathBuf {
    if which.is_dir() || which.is_absolute() {
        which.to_path_buf()
    } else {
        checkpoints.join(which)
    }
}

/// Moves a rejected checkpoint to `checkpoints/rejected/` (a fresh name there), so that it is
/// kept for inspection but never listed, used or pruned again.
pub fn quarantine(checkpoints: &Path, rejected: &mut Rejected) -> Result<()> {
    let into = checkpoints.join(REJECTED_DIR);
    fs::create_dir_all(&into).map_err(io_err("cannot create", &into))?;
    let name = rejected
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let to = unused_name(&into, &name);
    fs::rename(&rejected.path, &to).map_err(io_err("cannot move a rejected checkpoint to", &to))?;
    fsync_dir(checkpoints)?;
    rejected.moved_to = Some(to);
    Ok(())
}

/// Moves checkpoints newer than `step` to `checkpoints/set-aside/` (a resume from an older
/// checkpoint would otherwise overwrite or prune them). Returns `(from, to)` for each.
pub fn set_aside_newer(checkpoints: &Path, step: u64) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut moved = Vec::new();
    let newer: Vec<_> = step_dirs(checkpoints)?
        .into_iter()
        .filter(|c| c.step > step)
        .collect();
    if newer.is_empty() {
        return Ok(moved);
    }
    let into = checkpoints.join("set-aside");
    fs::create_dir_all(&into).map_err(io_err("cannot create", &into))?;
    for c in newer {
        let to = unused_name(&into, &dir_name(c.step));
        fs::rename(&c.path, &to).map_err(io_err("cannot move a newer checkpoint to", &to))?;
        moved.push((c.path, to));
    }
    fsync_dir(checkpoints)?;
    Ok(moved)
}

/// Removes what an interrupted save (`.step-N.tmp/`) or prune (`.step-N.prune/`) left behind.
/// Returns the folders removed.
pub fn clean_stale(checkpoints: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(checkpoints) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(io_err("cannot list", checkpoints)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("cannot list", checkpoints))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp").or_else(|| n.strip_suffix(".prune")))
            .and_then(parse_step)
            .is_some();
        if ours && entry.path().is_dir() {
            fs::remove_dir_all(entry.path())
                .map_err(io_err("cannot remove stale", entry.path()))?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    Ok(gan_tensor::atomic::fsync_dir(dir)?)
}

/// Removes a checkpoint folder crash-safely: renamed to a hidden `.step-N.prune` first.
pub fn remove(dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let doomed = dir.with_file_name(format!(".{name}.prune"));
    if doomed.exists() {
        fs::remove_dir_all(&doomed).map_err(io_err("cannot remove stale", &doomed))?;
    }
    fs::rename(dir, &doomed).map_err(io_err("cannot prune", dir))?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    fs::remove_dir_all(&doomed).map_err(io_err("cannot prune", &doomed))
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
    let written = match write_contents(&tmp, meta, tensors, fail) {
        Ok(()) => Ok(()),
        // A simulated crash leaves its debris, as a real one would.
        Err(e) if matches!(fail, Some(FailPoint::MidTensors | FailPoint::BeforeMeta)) => {
            return Err(e)
        }
        Err(e) => {
            // A full disk or another failure: leave nothing behind (best effort; the error
            // that matters is the write's).
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    };
    written?;

    if final_dir.exists() {
        // Re-saving the same step (e.g. an interrupt right after a periodic save).
        remove(&final_dir)?;
    }
    fs::rename(&tmp, &final_dir).map_err(io_err("cannot rename checkpoint into", &final_dir))?;
    fsync_dir(checkpoints)?;

    let all = list(checkpoints)?;
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            remove(&old.path)?;
        }
    }
    Ok(final_dir)
}

/// Writes the tensors and then `meta.json` (with checksums and digest) into `tmp`.
fn write_contents(
    tmp: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
    fail: Option<FailPoint>,
) -> Result<()> {
    let state = tmp.join(STATE_FILE);
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
    if fail == Some(FailPoint::DiskFull) {
        return Err(io_err("cannot write", &state)(
            std::io::Error::from_raw_os_error(28),
        ));
    }
    gan_tensor::atomic::fsync_file(&state)?;
    if fail == Some(FailPoint::BeforeMeta) {
        return Err(io_err(
            "simulated crash before writing",
            tmp.join(META_FILE),
        )(std::io::Error::other("fail point")));
    }
    let mut meta = meta.clone();
    meta.format_version = FORMAT_VERSION;
    meta.tensors = tensors.len();
    meta.files = [(STATE_FILE.to_string(), file_digest(&state)?)]
        .into_iter()
        .collect();
    meta.digest = meta.compute_digest();
    let json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
    // Written last: the folder counts as a checkpoint once this file is in place.
    gan_tensor::write_atomic(&tmp.join(META_FILE), &json)?;
    Ok(())
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
    /// Whether its checksums were verified (false for format 1, written before checksums).
    pub verified: bool,
}

fn corrupt(dir: &Path, reason: impl Into<String>) -> Error {
    Error::CorruptCheckpoint {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks a checkpoint folder without loading its tensors: `meta.json` is present, parses and
/// is unedited (its digest), its step matches a `step-N` folder name, and every file it lists
/// has the recorded size and SHA-256. Returns the metadata.
pub fn verify(dir: &Path) -> Result<CheckpointMeta> {
    if !dir.is_dir() {
        return Err(Error::NoCheckpoint(dir.to_path_buf()));
    }
    let meta_path = dir.join(META_FILE);
    let text = match fs::read(&meta_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(corrupt(
                dir,
                "it has no meta.json: the checkpoint is incomplete (an interrupted write or \
                 prune, or the file was removed)",
            ))
        }
        Err(e) => return Err(io_err("cannot read", &meta_path)(e)),
    };
    let meta: CheckpointMeta = serde_json::from_slice(&text)
        .map_err(|e| corrupt(dir, format!("meta.json is not a checkpoint record ({e})")))?;
    match meta.format_version {
        FORMAT_VERSION => {
            if meta.digest != meta.compute_digest() {
                return Err(corrupt(
                    dir,
                    "meta.json was edited or damaged: its digest does not match its contents",
                ));
            }
            if !meta.files.contains_key(STATE_FILE) {
                return Err(corrupt(dir, format!("meta.json lists no {STATE_FILE}")));
            }
        }
        LEGACY_FORMAT_VERSION => {}
        v => {
            return Err(Error::IncompatibleCheckpoint {
                path: dir.to_path_buf(),
                differences: vec![format!(
                    "format_version {v} (this build reads {LEGACY_FORMAT_VERSION} and {FORMAT_VERSION})"
                )],
            })
        }
    }
    if let Some(named) = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_step)
    {
        if named != meta.step {
            return Err(corrupt(
                dir,
                format!(
                    "meta.json says step {} but the folder is {}",
                    meta.step,
                    dir_name(named)
                ),
            ));
        }
    }
    for (name, want) in &meta.files {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(corrupt(
                dir,
                format!("meta.json lists an odd file name `{name}`"),
            ));
        }
        let path = dir.join(name);
        if !path.is_file() {
            return Err(corrupt(dir, format!("{name} is missing")));
        }
        let got = file_digest(&path)?;
        if got.bytes != want.bytes {
            return Err(corrupt(
                dir,
                format!(
                    "{name} has {} bytes where meta.json recorded {} (truncated or replaced)",
                    got.bytes, want.bytes
                ),
            ));
        }
        if got.sha256 != want.sha256 {
            return Err(corrupt(
                dir,
                format!(
                    "{name}'s SHA-256 is {}, not the {} recorded in meta.json: the file changed \
                     after it was written (disk or copy corruption, or an edit)",
                    short(&got.sha256),
                    short(&want.sha256)
                ),
            ));
        }
    }
    Ok(meta)
}

fn short(sha: &str) -> String {
    // The recorded hash comes from a file: it need not be hex, nor ASCII.
    sha.chars().take(12).collect()
}

/// Says in words what a safetensors reader error means.
fn describe_read_error(e: &tch::TchError) -> String {
    use safetensors::SafeTensorError as S;
    let what = match e {
        tch::TchError::SafeTensorError { err, .. } => match err {
            S::MetadataIncompleteBuffer | S::InvalidHeaderLength | S::HeaderTooSmall => {
                "the file is truncated or is not a safetensors file (its header does not match \
                 its length)"
                    .to_string()
            }
            S::InvalidHeader | S::InvalidHeaderStart | S::InvalidHeaderDeserialization => {
                "its header is not valid safetensors JSON".to_string()
            }
            S::JsonError(j) => format!("its header is not valid safetensors JSON ({j})"),
            S::HeaderTooLarge => "its header claims more than 100 MB".to_string(),
            S::TensorInvalidInfo | S::ValidationOverflow => {
                "a tensor's shape, dtype and byte range disagree".to_string()
            }
            S::InvalidOffset(name) => format!("tensor `{name}` points outside the file"),
            S::InvalidTensorView(dtype, shape, len) => {
                format!("a {dtype:?} tensor of shape {shape:?} cannot come from {len} bytes")
            }
            S::TensorNotFound(name) => format!("tensor `{name}` is missing"),
            S::IoError(io) => format!("it cannot be read ({io})"),
        },
        other => format!("its tensors cannot be read ({other})"),
    };
    format!("{STATE_FILE}: {what}")
}

/// Reads a checkpoint folder after [`verify`]ing it, and checks the tensor count.
pub fn load(dir: &Path) -> Result<Loaded> {
    let meta = verify(dir)?;
    let state = dir.join(STATE_FILE);
    if !state.is_file() {
        return Err(corrupt(dir, format!("{STATE_FILE} is missing")));
    }
    let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(&state)
        .map_err(|e| corrupt(dir, describe_read_error(&e)))?
        .into_iter()
        .collect();
    if tensors.len() != meta.tensors {
        return Err(corrupt(
            dir,
            format!(
                "meta.json says {} tensors but {STATE_FILE} holds {}",
                meta.tensors,
                tensors.len()
            ),
        ));
    }
    Ok(Loaded {
        path: dir.to_path_buf(),
        verified: meta.format_version == FORMAT_VERSION,
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
            schedule_steps: None,
            files: BTreeMap::new(),
            digest: String::new(),
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
    fn a_full_disk_leaves_no_temporary_folder_and_the_previous_checkpoint_intact() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &meta(10), &tensors(1.0), 2).unwrap();
        let err = save_with(
            dir.path(),
            &meta(20),
            &tensors(2.0),
            2,
            Some(FailPoint::DiskFull),
        )
        .unwrap_err();
        let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(text.contains("No space left on device"), "{text}");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["step-000000010".to_string()]);
        assert_eq!(
            load(&dir.path().join("step-000000010")).unwrap().meta.step,
            10
        );
    }

    #[test]
    fn meta_records_checksums_and_a_digest_that_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = save(dir.path(), &meta(10), &tensors(1.0), 2).unwrap();
        let m = verify(&path).unwrap();
        assert_eq!(m.format_version, FORMAT_VERSION);
        let state = &m.files[STATE_FILE];
        assert_eq!(
            state.bytes,
            fs::metadata(path.join(STATE_FILE)).unwrap().len()
        );
        assert_eq!(state.sha256.len(), 64);
        assert_eq!(m.digest, m.compute_digest());
        // Any field changed by hand breaks the digest.
        let mut edited = m.clone();
        edited.lr_scale = 0.5;
        assert_ne!(edited.compute_digest(), m.digest);
    }

    #[test]
    fn stale_leftovers_are_ours_only() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &meta(10), &tensors(1.0), 2).unwrap();
        for d in [
            ".step-000000020.tmp",
            ".step-000000005.prune",
            ".mine.tmp",
            "notes",
        ] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        let removed = clean_stale(dir.path()).unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(dir.path().join(".mine.tmp").is_dir() && dir.path().join("notes").is_dir());
        assert!(dir.path().join("step-000000010").is_dir());
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

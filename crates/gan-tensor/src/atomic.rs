//! Crash-safe file writes: the one helper every file that must survive a crash goes through.
//!
//! [`write_atomic`] and [`write_atomic_with`] write to a unique hidden file beside the target
//! (`.<name>.<pid>-<n>.tmp.<ext>`, so it can never collide with a user's file and keeps the
//! extension that format-sniffing writers need), fsync it, rename it over the target and fsync
//! the folder. A crash at any point leaves either the old file or the new one, never a torn
//! one; a failed write removes its temporary file.
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// A fresh hidden name beside `path` for a temporary file or folder: unique within the
/// process and across processes, ending with `path`'s extension.
pub fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.tmp{ext}", std::process::id()))
}

/// Whether `name` is one of [`temp_path`]'s names (for cleaning up after a crash).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp")
}

/// The folder holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Flushes a folder's entries (a rename in it) to disk.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot fsync", dir))
}

/// Flushes a file's contents to disk.
pub fn fsync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot fsync", path))
}

/// Renames `from` over `to` and fsyncs `to`'s folder.
pub fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(io("cannot rename into", to))?;
    fsync_dir(parent(to))
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| fs::write(tmp, bytes))
}

/// Lets `write` create the file at a temporary path (any writer that takes a path: an image
/// encoder, safetensors), then fsyncs it and renames it over `path` as [`write_atomic`] does.
pub fn write_atomic_with<E>(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let tmp = temp_path(path);
    let result = write(&tmp)
        .map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
        .and_then(|()| fsync_file(&tmp))
        .and_then(|()| rename_durable(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("gan-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("keep.csv");
        // A user's file with the name a naive `with_extension("tmp")` would pick.
        fs::write(dir.join("keep.tmp"), "mine").unwrap();
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "two");
        assert_eq!(fs::read_to_string(dir.join("keep.tmp")).unwrap(), "mine");
        let err = write_atomic_with(&target, |_| Err(std::io::Error::other("disk full")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("keep.csv"), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "two");
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["keep.csv", "keep.tmp"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_are_hidden_unique_and_keep_the_extension() {
        let a = temp_path(Path::new("out/grid.png"));
        let b = temp_path(Path::new("out/grid.png"));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".grid.png.") && name.ends_with(".tmp.png"),
            "{name}"
        );
        assert!(is_temp_name(&name));
        assert_eq!(a.parent(), Some(Path::new("out")));
    }
}

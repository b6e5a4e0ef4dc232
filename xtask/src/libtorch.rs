//! Where libtorch lives, and how to tell whether a directory is the one tch needs.
//!
//! Shared by the commands: `setup` installs and links libtorch, and a command that
//! runs PyTorch scripts (e.g. a future `bench`) finds the cache venv's Python with
//! [`venv_python`] and starts it with [`python_command`].
//!
//! The shared cache (one per user, not per checkout) is laid out as:
//!
//! ```text
//! <cache_dir()>/torch-2.11.0/venv/                          python venv: torch==2.11.0, numpy
//! <cache_dir()>/torch-2.11.0/venv/.gan-toolkit-complete     stamp, written after a good install
//! <cache_dir()>/torch-2.11.0/venv/lib/python3.X/site-packages/torch   the libtorch `.libtorch` links to
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The libtorch version tch 0.24 is built against; nothing else links.
pub const TORCH_VERSION: &str = "2.11.0";

/// Name of the stamp file written inside the venv once an install is known good.
pub const STAMP_FILE: &str = ".gan-toolkit-complete";

/// Name of the link at the project root that `.cargo/config.toml` points `LIBTORCH` at.
pub const LINK_NAME: &str = ".libtorch";

/// The project root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `<project root>/.libtorch`, the link the build uses unless the user sets `LIBTORCH`.
pub fn link_path() -> PathBuf {
    project_root().join(LINK_NAME)
}

/// The shared cache: `$GAN_TOOLKIT_CACHE`, else `$XDG_CACHE_HOME/gan-toolkit`,
/// else `$HOME/.cache/gan-toolkit` (else a directory under the system temp dir).
pub fn cache_dir() -> PathBuf {
    cache_dir_from(
        std::env::var_os("GAN_TOOLKIT_CACHE"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
    .unwrap_or_else(|| std::env::temp_dir().join("gan-toolkit"))
}

/// The rule behind [`cache_dir`], on explicit values (empty values count as unset;
/// a relative `XDG_CACHE_HOME` is ignored, as the XDG spec says).
pub fn cache_dir_from(
    gan_toolkit_cache: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let nonempty = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = nonempty(gan_toolkit_cache) {
        return Some(dir);
    }
    if let Some(xdg) = nonempty(xdg_cache_home).filter(|p| p.is_absolute()) {
        return Some(xdg.join("gan-toolkit"));
    }
    nonempty(home).map(|h| h.join(".cache").join("gan-toolkit"))
}

/// `<cache_dir()>/torch-2.11.0`.
pub fn torch_cache_root() -> PathBuf {
    cache_dir().join(format!("torch-{TORCH_VERSION}"))
}

/// `<cache_dir()>/torch-2.11.0/venv`.
pub fn venv_dir() -> PathBuf {
    torch_cache_root().join("venv")
}

/// `bin/python3` of a venv.
pub fn python_in(venv: &Path) -> PathBuf {
    venv.join("bin").join("python3")
}

/// The Python that has torch 2.11.0: the shared cache venv's `bin/python3`, else the
/// venv that `.libtorch` points into (when it points at a wheel's `site-packages/torch`).
/// `None` when neither exists (run `cargo xtask setup`).
pub fn venv_python() -> Option<PathBuf> {
    let cached = python_in(&venv_dir());
    if cached.is_file() {
        return Some(cached);
    }
    let torch = std::fs::canonicalize(link_path()).ok()?;
    venv_of_torch_dir(&torch)
        .map(|venv| python_in(&venv))
        .filter(|py| py.is_file())
}

/// For `<venv>/lib/python3.X/site-packages/torch`, returns `<venv>`.
pub fn venv_of_torch_dir(torch: &Path) -> Option<PathBuf> {
    let site = torch.parent()?;
    if site.file_name()? != "site-packages" {
        return None;
    }
    let venv = site.parent()?.parent()?.parent()?;
    venv.join("pyvenv.cfg")
        .is_file()
        .then(|| venv.to_path_buf())
}

/// Finds `<venv>/lib/python3.*/site-packages/torch` (the Python version is not fixed).
pub fn torch_dir_in_venv(venv: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages").join("torch"))
        .filter(|t| t.is_dir())
        .collect();
    found.sort();
    found.pop()
}

/// A `Command` for a Python interpreter, with the `LD_LIBRARY_PATH` entry that
/// `.cargo/config.toml` adds (`<root>/.libtorch/lib`, for doc tests) taken out:
/// it could make the venv's torch load another libtorch's libraries.
pub fn python_command(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        let ours = link_path().join("lib");
        let kept: Vec<PathBuf> = std::env::split_paths(&old)
            .filter(|p| !p.as_os_str().is_empty() && *p != ours)
            .collect();
        if kept.is_empty() {
            cmd.env_remove("LD_LIBRARY_PATH");
        } else if let Ok(joined) = std::env::join_paths(kept) {
            cmd.env("LD_LIBRARY_PATH", joined);
        }
    }
    cmd
}

/// `LIBTORCH` as the user set it, or `None` when it is unset, empty, or is the value
/// that `.cargo/config.toml` supplies (`<root>/.libtorch`, same path or same target).
pub fn user_libtorch() -> Option<PathBuf> {
    user_libtorch_from(std::env::var_os("LIBTORCH"), &project_root())
}

/// The rule behind [`user_libtorch`], on explicit values.
pub fn user_libtorch_from(value: Option<OsString>, root: &Path) -> Option<PathBuf> {
    let value = PathBuf::from(value.filter(|v| !v.is_empty())?);
    let link = root.join(LINK_NAME);
    let absolute = match std::env::current_dir() {
        Ok(cwd) if value.is_relative() => cwd.join(&value),
        _ => value.clone(),
    };
    if absolute == link {
        return None;
    }
    if let (Ok(a), Ok(b)) = (
        std::fs::canonicalize(&absolute),
        std::fs::canonicalize(&link),
    ) {
        if a == b {
            return None;
        }
    }
    Some(value)
}

/// What a libtorch directory was found to be.
#[derive(Debug, Clone)]
pub struct LibtorchInfo {
    /// The directory, canonical (links resolved).
    pub dir: PathBuf,
    /// The full version string, e.g. `2.11.0+cu130`.
    pub version: String,
    /// Whether `lib/libtorch_cuda.so` is present.
    pub cuda: bool,
}

impl LibtorchInfo {
    /// `CUDA build` or `CPU-only`, for messages.
    pub fn flavour(&self) -> &'static str {
        if self.cuda {
            "CUDA build (lib/libtorch_cuda.so present)"
        } else {
            "CPU-only (no lib/libtorch_cuda.so)"
        }
    }
}

/// The version from an official archive's `build-version` file (`2.11.0+cpu`).
pub fn parse_build_version(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// The version from a wheel's `torch/version.py` (`__version__ = '2.11.0+cu130'`).
pub fn parse_version_py(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("__version__")?;
        let (_, value) = rest.split_once('=')?;
        let value = value.split('#').next()?.trim();
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))?;
        (!unquoted.is_empty()).then(|| unquoted.to_string())
    })
}

/// Whether a full version (`2.11.0+cu130`) is the release tch needs: the part before
/// `+` must be exactly [`TORCH_VERSION`].
pub fn version_matches(version: &str) -> bool {
    version.split('+').next() == Some(TORCH_VERSION)
}

/// Reads the version of a libtorch directory: `build-version`, else `version.py`.
pub fn read_version(dir: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("build-version")) {
        if let Some(v) = parse_build_version(&text) {
            return Some(v);
        }
    }
    std::fs::read_to_string(dir.join("version.py"))
        .ok()
        .and_then(|t| parse_version_py(&t))
}

/// Checks that `dir` is a usable libtorch 2.11.0: `lib/libtorch_cpu.so`, `include/torch`,
/// and a version file saying 2.11.0. Only looks at files (fast).
pub fn validate(dir: &Path) -> Result<LibtorchInfo> {
    if !dir.exists() {
        bail!("{} does not exist", dir.display());
    }
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    for needed in ["lib/libtorch_cpu.so", "include/torch"] {
        if !dir.join(needed).exists() {
            bail!(
                "{} is not a libtorch: {needed} is missing (expected an unpacked libtorch \
                 archive, or the `torch` directory of a PyTorch wheel)",
                dir.display()
            );
        }
    }
    let Some(version) = read_version(&dir) else {
        bail!(
            "{}: no version found (neither build-version nor version.py): libtorch \
             {TORCH_VERSION} is needed",
            dir.display()
        );
    };
    if !version_matches(&version) {
        bail!(
            "{} is libtorch {version}, but tch 0.24 needs libtorch {TORCH_VERSION} exactly",
            dir.display()
        );
    }
    let cuda = dir.join("lib/libtorch_cuda.so").exists();
    Ok(LibtorchInfo { dir, version, cuda })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_py_wheel() {
        let text = "from typing import Optional\n\n__all__ = ['__version__', 'debug']\n\
                    __version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n";
        assert_eq!(parse_version_py(text).as_deref(), Some("2.11.0+cu130"));
    }

    #[test]
    fn version_py_variants() {
        assert_eq!(
            parse_version_py("__version__=\"2.11.0\"").as_deref(),
            Some("2.11.0")
        );
        assert_eq!(
            parse_version_py("__version__: str = '2.10.1+cpu'  # comment").as_deref(),
            Some("2.10.1+cpu")
        );
        assert_eq!(parse_version_py("__all__ = ['__version__']"), None);
        assert_eq!(parse_version_py("__version__ = ''"), None);
        assert_eq!(parse_version_py(""), None);
    }

    #[test]
    fn build_version_file() {
        assert_eq!(
            parse_build_version("2.11.0+cpu\n").as_deref(),
            Some("2.11.0+cpu")
        );
        assert_eq!(
            parse_build_version("\n  2.11.0+cu128  \n").as_deref(),
            Some("2.11.0+cu128")
        );
        assert_eq!(parse_build_version(" \n"), None);
    }

    #[test]
    fn version_must_be_exactly_2_11_0() {
        assert!(version_matches("2.11.0"));
        assert!(version_matches("2.11.0+cu130"));
        assert!(version_matches("2.11.0+cpu"));
        assert!(!version_matches("2.11.1"));
        assert!(!version_matches("2.1.0"));
        assert!(!version_matches("2.11.0a0+git123"));
        assert!(!version_matches("2.10.0+cu128"));
        assert!(!version_matches("12.11.0"));
    }

    #[test]
    fn cache_dir_order() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(
            cache_dir_from(s("/c"), s("/x"), s("/h")),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            cache_dir_from(None, s("/x"), s("/h")),
            Some(PathBuf::from("/x/gan-toolkit"))
        );
        assert_eq!(
            cache_dir_from(s(""), s(""), s("/h")),
            Some(PathBuf::from("/h/.cache/gan-toolkit"))
        );
        // A relative XDG_CACHE_HOME is invalid per the spec and ignored.
        assert_eq!(
            cache_dir_from(None, s("rel"), s("/h")),
            Some(PathBuf::from("/h/.cache/gan-toolkit"))
        );
        assert_eq!(cache_dir_from(None, None, None), None);
    }

    #[test]
    fn libtorch_from_cargo_config_is_not_user_set() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        // What cargo's `[env] LIBTORCH = { value = ".libtorch", relative = true }` gives.
        let cargo_value = Some(root.join(".libtorch").into_os_string());
        assert_eq!(user_libtorch_from(cargo_value.clone(), &root), None);
        assert_eq!(user_libtorch_from(None, &root), None);
        assert_eq!(user_libtorch_from(Some(OsString::new()), &root), None);

        // Same target through the link counts as cargo's value too.
        let target = tmp.path().join("torch");
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(&target, root.join(".libtorch")).unwrap();
        assert_eq!(user_libtorch_from(cargo_value, &root), None);
        assert_eq!(
            user_libtorch_from(Some(target.clone().into_os_string()), &root),
            None
        );

        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(
            user_libtorch_from(Some(other.clone().into_os_string()), &root),
            Some(other)
        );
        // A path that does not exist is still the user's choice (validation reports it).
        assert_eq!(
            user_libtorch_from(Some("/nonexistent/libtorch".into()), &root),
            Some(PathBuf::from("/nonexistent/libtorch"))
        );
    }

    #[test]
    fn validate_checks_files_and_version() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(validate(&dir.join("missing")).is_err());
        let err = validate(dir).unwrap_err().to_string();
        assert!(err.contains("lib/libtorch_cpu.so is missing"), "{err}");

        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::create_dir_all(dir.join("include/torch")).unwrap();
        std::fs::write(dir.join("lib/libtorch_cpu.so"), b"").unwrap();
        let err = validate(dir).unwrap_err().to_string();
        assert!(err.contains("no version found"), "{err}");

        std::fs::write(dir.join("version.py"), "__version__ = '2.10.0+cu128'\n").unwrap();
        let err = validate(dir).unwrap_err().to_string();
        assert!(err.contains("is libtorch 2.10.0+cu128"), "{err}");
        assert!(err.contains("2.11.0 exactly"), "{err}");

        // build-version (official archives) wins over version.py.
        std::fs::write(dir.join("build-version"), "2.11.0+cpu\n").unwrap();
        let info = validate(dir).unwrap();
        assert_eq!(info.version, "2.11.0+cpu");
        assert!(!info.cuda);
        std::fs::write(dir.join("lib/libtorch_cuda.so"), b"").unwrap();
        assert!(validate(dir).unwrap().cuda);
    }

    #[test]
    fn finds_torch_in_any_python_version() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path();
        assert_eq!(torch_dir_in_venv(venv), None);
        let torch = venv.join("lib/python3.13/site-packages/torch");
        std::fs::create_dir_all(&torch).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        assert_eq!(torch_dir_in_venv(venv), Some(torch.clone()));
        assert_eq!(venv_of_torch_dir(&torch), Some(venv.to_path_buf()));
        assert_eq!(venv_of_torch_dir(&venv.join("torch")), None);
    }
}

//! `cargo xtask setup`: find or install libtorch 2.11.0 and point `.libtorch` at it.
//!
//! Which libtorch, in this order:
//! 1. `--libtorch DIR`, an unpacked libtorch 2.11.0;
//! 2. `LIBTORCH` when the user set it (not the `<root>/.libtorch` that
//!    `.cargo/config.toml` supplies);
//! 3. the shared cache ([`crate::libtorch::cache_dir`]): a Python venv with
//!    `torch==2.11.0` and `numpy`, installed once and reused by every checkout.
//!
//! A second run with everything in place only looks at files (no Python, no pip).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::libtorch::{
    self, link_path, python_command, python_in, torch_cache_root, torch_dir_in_venv, user_libtorch,
    validate, STAMP_FILE, TORCH_VERSION,
};

/// Free space the cache filesystem needs before an install (the CUDA wheels are ~4.6 GB,
/// and pip unpacks them next to its download).
const MIN_FREE_BYTES: u64 = 8 << 30;

/// Prefix of the directory an install runs in before it is renamed to `venv`.
const PARTIAL_PREFIX: &str = "venv.partial-";

/// Options of `cargo xtask setup`.
///
/// pip reads its own settings from the environment, so `PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS`, ... pass straight through (for a CPU-only
/// torch: `PIP_INDEX_URL=https://download.pytorch.org/whl/cpu`).
#[derive(clap::Args, Debug)]
pub struct SetupArgs {
    /// Use this unpacked libtorch 2.11.0 (with lib/libtorch_cpu.so, include/ and
    /// build-version) instead of the shared cache.
    #[arg(long, value_name = "DIR")]
    pub libtorch: Option<PathBuf>,

    /// Python 3 used to create the cache venv (only needed when installing).
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: PathBuf,

    /// Only verify the libtorch the build will use; exit non-zero with the reason if
    /// it is not set up. Installs and changes nothing.
    #[arg(long)]
    pub check: bool,
}

/// Where the libtorch comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--libtorch DIR`.
    Flag(PathBuf),
    /// `LIBTORCH` set by the user.
    Env(PathBuf),
    /// The shared cache venv (installed if missing).
    Cache,
}

impl Source {
    fn describe(&self) -> &'static str {
        match self {
            Source::Flag(_) => "from --libtorch",
            Source::Env(_) => "from LIBTORCH in your environment",
            Source::Cache => "from the shared cache",
        }
    }
}

/// The selection order: `--libtorch`, then a user-set `LIBTORCH`, then the cache.
pub fn choose(flag: Option<PathBuf>, user_env: Option<PathBuf>) -> Source {
    match (flag, user_env) {
        (Some(dir), _) => Source::Flag(dir),
        (None, Some(dir)) => Source::Env(dir),
        (None, None) => Source::Cache,
    }
}

/// Runs `cargo xtask setup`.
pub fn handle_command(args: SetupArgs) -> Result<()> {
    let start = Instant::now();
    let user_env = user_libtorch();
    if args.check {
        return check(args.libtorch, user_env);
    }
    let link = link_path();
    // Refuse before a long install, not after it.
    ensure_replaceable(&link)?;
    let source = choose(args.libtorch, user_env.clone());
    let info = match &source {
        Source::Flag(dir) => validate(dir).with_context(|| {
            format!(
                "--libtorch {} is not usable: give an unpacked libtorch {TORCH_VERSION} \
                 (lib/libtorch_cpu.so, include/torch, build-version), or leave out \
                 --libtorch to use the shared cache",
                dir.display()
            )
        })?,
        Source::Env(dir) => validate(dir).with_context(|| {
            format!(
                "LIBTORCH={} (set in your environment) is not usable; fix it, or unset \
                 LIBTORCH to use the shared cache",
                dir.display()
            )
        })?,
        Source::Cache => {
            let torch = ensure_cache(&args.python)?;
            validate(&torch)?
        }
    };
    let changed = update_link(&link, &info.dir)?;

    println!();
    println!("libtorch {}, {}", info.version, info.flavour());
    println!("  path   {}  ({})", info.dir.display(), source.describe());
    println!(
        "  link   {} -> {}  ({})",
        link.display(),
        info.dir.display(),
        if changed { "updated" } else { "unchanged" }
    );
    print_cache_line();
    if let Some(env) = &user_env {
        if std::fs::canonicalize(env).ok().as_deref() != Some(info.dir.as_path()) {
            println!(
                "  note   LIBTORCH={} is set in your environment and wins over .libtorch in \
                 cargo builds; unset it to use the link",
                env.display()
            );
        } else {
            println!("  note   LIBTORCH is set in your environment; cargo builds use it");
        }
    }
    println!("Next:");
    println!("  cargo run --release -p gan-cli -- train");
    println!("  cargo test --workspace");
    println!("(setup took {:.1?})", start.elapsed());
    Ok(())
}

fn print_cache_line() {
    let venv = libtorch::venv_dir();
    if venv.join(STAMP_FILE).is_file() {
        let python = libtorch::venv_python().unwrap_or_else(|| python_in(&venv));
        println!(
            "  cache  {}  (python: {})",
            venv.display(),
            python.display()
        );
    } else {
        println!("  cache  {}  (not installed)", venv.display());
    }
}

/// `--check`: validates what the build will use, changes nothing.
fn check(flag: Option<PathBuf>, user_env: Option<PathBuf>) -> Result<()> {
    let link = link_path();
    let (dir, what, fix) = match choose(flag, user_env) {
        Source::Flag(dir) => (dir, "--libtorch".to_string(), "give another directory"),
        Source::Env(dir) => (
            dir,
            "LIBTORCH (set in your environment)".to_string(),
            "fix LIBTORCH, or unset it and run `cargo xtask setup`",
        ),
        Source::Cache => {
            if std::fs::symlink_metadata(&link).is_err() {
                bail!(
                    "not set up: {} does not exist; run `cargo xtask setup`",
                    link.display()
                );
            }
            (
                link.clone(),
                format!("the link {}", link.display()),
                "run `cargo xtask setup`",
            )
        }
    };
    let info = validate(&dir).with_context(|| {
        format!("not set up: {what} is not a usable libtorch {TORCH_VERSION}; {fix}")
    })?;
    println!(
        "ok: libtorch {}, {}\n  path   {}  (via {what})",
        info.version,
        info.flavour(),
        info.dir.display()
    );
    print_cache_line();
    Ok(())
}

/// Returns the cache's torch directory, installing the venv first if there is none.
fn ensure_cache(python: &Path) -> Result<PathBuf> {
    let venv = libtorch::venv_dir();
    if venv.exists() {
        return accept_existing(&venv);
    }
    install(python, &torch_cache_root(), &venv)
}

/// An existing `venv`: with the stamp, a look at the files is enough; without it (made
/// by hand, or a crash right after the rename), torch must also import, then it is stamped.
fn accept_existing(venv: &Path) -> Result<PathBuf> {
    let incomplete = |reason: anyhow::Error| {
        anyhow!(
            "{} exists but is not a complete torch {TORCH_VERSION} install: {reason:#}\n\
             Remove it (rm -rf '{}') and run `cargo xtask setup` again, or pass --libtorch DIR.",
            venv.display(),
            venv.display()
        )
    };
    let torch = torch_dir_in_venv(venv)
        .ok_or_else(|| incomplete(anyhow!("no lib/python3.*/site-packages/torch")))?;
    let info = validate(&torch).map_err(incomplete)?;
    if venv.join(STAMP_FILE).is_file() {
        return Ok(torch);
    }
    println!(
        "found {} without a completion stamp: checking that torch imports...",
        venv.display()
    );
    import_check(&python_in(venv)).map_err(incomplete)?;
    write_stamp(venv, &info.version)?;
    println!("ok: existing install verified, stamp written");
    Ok(torch)
}

/// Creates the venv in `venv.partial-<pid>`, installs torch and numpy, checks them,
/// and only then renames it to `venv` and writes the stamp.
fn install(python: &Path, cache_root: &Path, venv: &Path) -> Result<PathBuf> {
    println!(
        "installing torch=={TORCH_VERSION} and numpy into {} (one time; the CUDA wheels are ~4.6 GB)",
        venv.display()
    );
    let py_version = python_version(python)?;
    println!("using {} ({py_version})", python.display());
    check_venv_module(python, &py_version)?;
    check_free_space(cache_root)?;

    std::fs::create_dir_all(cache_root)
        .with_context(|| format!("cannot create the cache directory {}", cache_root.display()))?;
    remove_stale_partials(cache_root);
    let partial = cache_root.join(format!("{PARTIAL_PREFIX}{}", std::process::id()));
    let mut guard = RemoveOnDrop(Some(partial.clone()));

    let out = run_captured(
        python_command(python)
            .args(["-m", "venv", "--prompt", &format!("torch-{TORCH_VERSION}")])
            .arg(&partial),
    )?;
    if !out.status.success() {
        bail!(
            "`{} -m venv` failed:\n{}\n{}",
            python.display(),
            tail(&out),
            venv_hint(&py_version)
        );
    }
    let vpy = python_in(&partial);
    let out = run_captured(python_command(&vpy).args(["-m", "pip", "--version"]))?;
    if !out.status.success() {
        bail!(
            "pip does not work in the new venv ({}):\n{}\n{}",
            vpy.display(),
            tail(&out),
            venv_hint(&py_version)
        );
    }

    let torch_req = format!("torch=={TORCH_VERSION}");
    println!(
        "running: {} -m pip install {torch_req} numpy",
        vpy.display()
    );
    let status = python_command(&vpy)
        .args(["-m", "pip", "install", &torch_req, "numpy"])
        .status()
        .with_context(|| format!("cannot run {}", vpy.display()))?;
    if !status.success() {
        bail!(
            "pip could not install {torch_req} ({status}). Check the network and pip's \
             settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, proxies); \
             torch {TORCH_VERSION} wheels exist for CPython 3.10+ on x86_64/aarch64 Linux \
             (this is {py_version}). Or pass --libtorch DIR with an unpacked libtorch {TORCH_VERSION}."
        );
    }

    let torch = torch_dir_in_venv(&partial).ok_or_else(|| {
        anyhow!(
            "pip finished but {} has no torch package",
            partial.display()
        )
    })?;
    let info = validate(&torch).context("the installed torch is not usable")?;
    import_check(&vpy)?;
    relocate(&partial, venv)?;
    match std::fs::rename(&partial, venv) {
        Ok(()) => guard.0 = None,
        // Another `setup` finished first: use its install, drop ours.
        Err(_) if venv.exists() => return accept_existing(venv),
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), venv.display())
            })
        }
    }
    write_stamp(venv, &info.version)?;
    println!("installed torch {} into {}", info.version, venv.display());
    torch_dir_in_venv(venv).ok_or_else(|| anyhow!("torch vanished from {}", venv.display()))
}

/// Deletes a directory when dropped (an install that failed or was overtaken).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes `venv.partial-<pid>` directories whose process is gone (killed installs).
fn remove_stale_partials(cache_root: &Path) {
    let Ok(entries) = std::fs::read_dir(cache_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PARTIAL_PREFIX) else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && Path::new("/proc").join(pid.to_string()).exists()
        });
        if !alive {
            println!(
                "removing the leftover of an interrupted install: {}",
                entry.path().display()
            );
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The venv's scripts (`bin/pip`, `bin/activate`, ...) hold its absolute path: rewrite
/// them for the final name before the rename.
fn relocate(from: &Path, to: &Path) -> Result<()> {
    let (from_s, to_s) = (from.to_string_lossy(), to.to_string_lossy());
    let bin = std::fs::read_dir(from.join("bin"))?
        .flatten()
        .map(|e| e.path());
    for path in bin.chain([from.join("pyvenv.cfg")]) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // binary
        };
        if text.contains(from_s.as_ref()) {
            std::fs::write(&path, text.replace(from_s.as_ref(), &to_s))
                .with_context(|| format!("cannot rewrite {}", path.display()))?;
        }
    }
    Ok(())
}

fn write_stamp(venv: &Path, version: &str) -> Result<()> {
    let tmp = venv.join(format!("{STAMP_FILE}.tmp"));
    std::fs::write(
        &tmp,
        format!("torch {version}\nwritten by cargo xtask setup\n"),
    )
    .and_then(|()| std::fs::rename(&tmp, venv.join(STAMP_FILE)))
    .with_context(|| format!("cannot write the stamp in {}", venv.display()))
}

/// Imports torch and numpy with the venv's Python and checks torch's version.
fn import_check(python: &Path) -> Result<()> {
    let out = run_captured(
        python_command(python).args(["-c", "import numpy, torch; print(torch.__version__)"]),
    )?;
    if !out.status.success() {
        bail!(
            "`import numpy, torch` failed with {}:\n{}",
            python.display(),
            tail(&out)
        );
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !libtorch::version_matches(&version) {
        bail!(
            "{} imports torch {version}, not {TORCH_VERSION}",
            python.display()
        );
    }
    Ok(())
}

/// `python --version`, with a clear error when there is no such Python.
fn python_version(python: &Path) -> Result<String> {
    let out = python_command(python).arg("--version").output();
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "{} not found. Install Python 3 (Debian/Ubuntu: sudo apt install python3 \
             python3-venv), or pass --python /path/to/python3, or pass --libtorch DIR with an \
             unpacked libtorch {TORCH_VERSION}",
            python.display()
        ),
        Err(e) => bail!(
            "cannot run {}: {e}; pass --python /path/to/python3",
            python.display()
        ),
    };
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text.trim().to_string();
    if !out.status.success() || !version.starts_with("Python 3") {
        bail!(
            "{} is not a working Python 3 (`--version` said: {version:?}); pass --python \
             /path/to/python3",
            python.display()
        );
    }
    Ok(version)
}

/// Debian and Ubuntu ship `venv` without `ensurepip` unless python3-venv is installed.
fn check_venv_module(python: &Path, py_version: &str) -> Result<()> {
    let out = run_captured(python_command(python).args(["-c", "import venv, ensurepip"]))?;
    if !out.status.success() {
        bail!(
            "{} cannot create virtual environments (the venv/ensurepip modules are missing).\n{}",
            python.display(),
            venv_hint(py_version)
        );
    }
    Ok(())
}

fn venv_hint(py_version: &str) -> String {
    let minor = py_version
        .strip_prefix("Python ")
        .and_then(|v| v.rsplit_once('.').map(|(mm, _)| mm.to_string()))
        .unwrap_or_else(|| "3".to_string());
    format!(
        "On Debian/Ubuntu install the venv package: sudo apt install python3-venv \
         (or python{minor}-venv), then run `cargo xtask setup` again."
    )
}

fn check_free_space(cache_root: &Path) -> Result<()> {
    let probe = existing_ancestor(cache_root);
    let free = match free_bytes(&probe) {
        Ok(free) => free,
        Err(e) => {
            println!(
                "warning: could not check the free space under {}: {e:#}",
                probe.display()
            );
            return Ok(());
        }
    };
    if free < MIN_FREE_BYTES {
        bail!(
            "only {:.1} GiB free on the filesystem of {}; installing torch {TORCH_VERSION} \
             needs at least {} GiB. Free some space, or set GAN_TOOLKIT_CACHE to a directory \
             on a larger disk.",
            free as f64 / f64::from(1u32 << 30),
            probe.display(),
            MIN_FREE_BYTES >> 30
        );
    }
    Ok(())
}

/// The path itself, or its nearest ancestor that exists.
fn existing_ancestor(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// Free bytes for unprivileged users, from `df -Pk`.
fn free_bytes(path: &Path) -> Result<u64> {
    let out = run_captured(Command::new("df").arg("-Pk").arg(path))?;
    if !out.status.success() {
        bail!("df failed: {}", tail(&out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_df_available_kib(&text)
        .map(|kib| kib * 1024)
        .ok_or_else(|| anyhow!("cannot read df's output: {text:?}"))
}

/// The "Available" column (KiB) of `df -Pk` output: the number just before the
/// `NN%` capacity column (file system names and mount points may contain spaces).
pub fn parse_df_available_kib(text: &str) -> Option<u64> {
    let mut lines = text.lines();
    lines.next()?; // header
    let tokens: Vec<&str> = lines.flat_map(str::split_whitespace).collect();
    let is_num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (4..tokens.len()).find_map(|i| {
        let capacity = tokens[i].strip_suffix('%')?;
        let numbers = is_num(capacity) && tokens[i - 3..i].iter().all(|t| is_num(t));
        numbers.then(|| tokens[i - 1].parse().ok()).flatten()
    })
}

fn run_captured(cmd: &mut Command) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))
}

/// The last lines of a command's stderr (or stdout), for error messages.
fn tail(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout)
    } else {
        stderr
    };
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Errors when `link` exists but is not a symlink (setup never replaces a real file or
/// directory).
fn ensure_replaceable(link: &Path) -> Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => Ok(()),
        Ok(_) => bail!(
            "{} exists and is not a symlink; move it away (setup puts a link to libtorch there)",
            link.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", link.display())),
    }
}

/// Points `link` at `target` (a symlink, swapped atomically). Returns whether it changed.
fn update_link(link: &Path, target: &Path) -> Result<bool> {
    ensure_replaceable(link)?;
    let same = std::fs::read_link(link).ok().as_deref() == Some(target)
        || std::fs::canonicalize(link).ok().as_deref() == Some(target);
    if same {
        return Ok(false);
    }
    let name = link.file_name().unwrap_or_default().to_string_lossy();
    let tmp = link.with_file_name(format!("{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    if let Err(e) = std::fs::rename(&tmp, link) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot replace {}", link.display()));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choosing_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(choose(p("/flag"), p("/env")), Source::Flag("/flag".into()));
        assert_eq!(choose(p("/flag"), None), Source::Flag("/flag".into()));
        assert_eq!(choose(None, p("/env")), Source::Env("/env".into()));
        assert_eq!(choose(None, None), Source::Cache);
    }

    #[test]
    fn df_output() {
        let gnu = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                   /dev/vda         264212084 17280664  78005224      19% /\n";
        assert_eq!(parse_df_available_kib(gnu), Some(78005224));
        let spaces = "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                      //srv/my share 1000 400 600 40% /mnt/my disk 100%\n";
        assert_eq!(parse_df_available_kib(spaces), Some(600));
        let busybox = "Filesystem           1024-blocks    Used Available Capacity Mounted on\n\
                       overlay                 61255492  30123456  28000000  52% /\n";
        assert_eq!(parse_df_available_kib(busybox), Some(28000000));
        assert_eq!(parse_df_available_kib(""), None);
        assert_eq!(
            parse_df_available_kib("Filesystem 1024-blocks Used Available Capacity Mounted on\n"),
            None
        );
        assert_eq!(parse_df_available_kib("header\nnone - - - - /\n"), None);
    }

    #[test]
    fn link_is_created_and_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let link = tmp.path().join(".libtorch");
        assert!(update_link(&link, &a).unwrap());
        assert!(!update_link(&link, &a).unwrap());
        assert!(update_link(&link, &b).unwrap());
        assert_eq!(std::fs::read_link(&link).unwrap(), b);
        let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(leftovers, 3, "no temporary link left behind");

        let dir = tmp.path().join("real");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            update_link(&dir, &a).is_err(),
            "a real directory is never replaced"
        );
    }

    #[test]
    fn relocate_rewrites_scripts() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("venv.partial-1");
        let to = tmp.path().join("venv");
        std::fs::create_dir_all(from.join("bin")).unwrap();
        let pip = from.join("bin/pip");
        std::fs::write(
            &pip,
            format!("#!{}/bin/python3\nimport pip\n", from.display()),
        )
        .unwrap();
        std::fs::write(from.join("bin/other"), "#!/bin/sh\n").unwrap();
        relocate(&from, &to).unwrap();
        let text = std::fs::read_to_string(&pip).unwrap();
        assert_eq!(
            text,
            format!("#!{}/bin/python3\nimport pip\n", to.display())
        );
    }

    #[test]
    fn venv_hint_names_the_package() {
        assert!(venv_hint("Python 3.11.7").contains("python3.11-venv"));
        assert!(venv_hint("odd").contains("python3-venv"));
    }
}

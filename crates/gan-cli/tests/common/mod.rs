//! What the `gan` binary tests share: running it hermetically and reading what it printed.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `gan` with a private cache folder (per test binary and process) and no Inception
/// file, so reference features and extractors never come from the user's cache.
pub fn gan(args: &[&str]) -> Output {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".into());
    let cache = std::env::temp_dir().join(format!("gan-cli-{binary}-cache-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_gan"))
        .env("GAN_TOOLKIT_CACHE", &cache)
        .env("GAN_INCEPTION", cache.join("no-such-extractor.pt"))
        .args(args)
        .output()
        .expect("gan runs")
}

/// stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What it printed, after asserting that it succeeded.
pub fn ok(o: &Output) -> String {
    let t = text(o);
    assert!(o.status.success(), "{t}");
    t
}

/// The venv's Python that `cargo xtask setup` made (`.libtorch` points into its
/// `lib/python3.X/site-packages/torch`), or `None`.
pub fn venv_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let torch = std::fs::canonicalize(root.join(".libtorch")).ok()?;
    let venv = torch.parent()?.parent()?.parent()?.parent()?;
    let py = venv.join("bin/python3");
    py.is_file().then_some(py)
}

/// A visible skip: written past the test harness's capture, so CI's log shows it.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

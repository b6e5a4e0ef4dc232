//! `cargo xtask fetch-inception`: writes the TorchScript InceptionV3 that `gan eval` uses for
//! FID, KID, IS and precision/recall, from pytorch-fid's weights.
//!
//! Steps:
//! 1. the weights: `--weights FILE.pth` (a file the user downloaded), else
//!    `<cache>/inception/pt_inception-2015-12-05-6726825d.pth`, else torch hub's copy
//!    (`$TORCH_HOME/hub/checkpoints/`, where pytorch-fid itself caches it), else a download
//!    with `curl` (to a `.part` file, renamed once its SHA-256 is checked). The SHA-256 must
//!    start with `6726825d`, the hash prefix in the file name (torch hub's convention);
//! 2. `torchvision==0.26.0` and `pytorch-fid==0.3.0` in the venv of `cargo xtask setup`
//!    (installed with `pip install --no-deps` when missing, so torch is never touched);
//! 3. `scripts/export_inception.py --weights FILE --out OUT`, which builds pytorch-fid's
//!    network, loads the weights (no download), scripts it and checks the saved file.
//!
//! The output is `<cache>/inception/fid-inception-v3.pt` (`<cache>` as in `setup`), where
//! `gan eval` looks by default; `--out FILE` writes elsewhere. `--random-weights SEED` makes
//! the same network with seeded random weights, for timing and pipeline tests, named
//! `fid-inception-v3-random.pt` so it is never taken for the real one. A second run with the
//! output in place (same weights, per its `info()`) does nothing unless `--force`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::Sha256;

use crate::libtorch::{cache_dir, project_root, python_command, venv_python};

/// pytorch-fid's InceptionV3 weights (the TF FID graph of 2015-12-05, ported to PyTorch).
pub const WEIGHTS_URL: &str = "https://github.com/mseitzer/pytorch-fid/releases/download/\
    fid_weights/pt_inception-2015-12-05-6726825d.pth";

/// The weights file's name.
pub const WEIGHTS_FILE: &str = "pt_inception-2015-12-05-6726825d.pth";

/// The start of the weights file's SHA-256 (the hash in its name, as torch hub checks it).
pub const WEIGHTS_SHA256_PREFIX: &str = "6726825d";

/// The output's name for the real weights: where `gan eval` looks by default.
pub const OUT_FILE: &str = "fid-inception-v3.pt";

/// The output's name for `--random-weights`.
pub const RANDOM_OUT_FILE: &str = "fid-inception-v3-random.pt";

/// The torchvision that goes with torch 2.11.0 (pytorch-fid builds on its Inception3).
const TORCHVISION_VERSION: &str = "0.26.0";

/// The pytorch-fid whose network the export reproduces.
const PYTORCH_FID_VERSION: &str = "0.3.0";

/// Version of the module contract that `scripts/export_inception.py` writes in `info()`;
/// an output with another version is rebuilt.
const CONTRACT: u64 = 1;

/// The export script, relative to the project root.
const SCRIPT: &str = "scripts/export_inception.py";

/// Options of `cargo xtask fetch-inception`.
#[derive(clap::Args, Debug)]
pub struct FetchInceptionArgs {
    /// Use this pytorch-fid weights file (pt_inception-2015-12-05-6726825d.pth, downloaded by
    /// hand) instead of downloading it.
    #[arg(long, value_name = "FILE.pth", conflicts_with = "random_weights")]
    pub weights: Option<PathBuf>,

    /// Seeded random weights instead of the real ones: for timing and pipeline tests only,
    /// never for FID (default output fid-inception-v3-random.pt).
    #[arg(long, value_name = "SEED")]
    pub random_weights: Option<u64>,

    /// Where to write the TorchScript file (default: <cache>/inception/fid-inception-v3.pt,
    /// where `gan eval` looks).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Rebuild even when the output is already there with the same weights.
    #[arg(long)]
    pub force: bool,
}

/// Which weights the output must have been made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// pytorch-fid's official weights (any copy of them).
    Official,
    /// The weights file with this SHA-256 (`--weights`).
    File(String),
    /// Seeded random weights (`--random-weights SEED`).
    Random(u64),
}

/// `<cache>/inception`: the weights and the exported modules.
pub fn inception_dir() -> PathBuf {
    cache_dir().join("inception")
}

/// The default output for real or random weights.
pub fn default_out(random: bool) -> PathBuf {
    inception_dir().join(if random { RANDOM_OUT_FILE } else { OUT_FILE })
}

/// Whether a SHA-256 (hex) is that of pytorch-fid's weights file.
pub fn is_official(sha256: &str) -> bool {
    sha256.len() == 64
        && sha256
            .to_ascii_lowercase()
            .starts_with(WEIGHTS_SHA256_PREFIX)
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    super::data::hash_file::<Sha256>(path)
}

/// torch hub's checkpoint folder, where pytorch-fid caches the weights:
/// `$TORCH_HOME/hub/checkpoints`, else `$XDG_CACHE_HOME/torch/hub/checkpoints`, else
/// `~/.cache/torch/hub/checkpoints` (as `torch.hub.get_dir()`).
pub fn torch_hub_checkpoints_from(
    torch_home: Option<PathBuf>,
    xdg_cache_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    let nonempty = |v: Option<PathBuf>| v.filter(|p| !p.as_os_str().is_empty());
    let torch_home = nonempty(torch_home)
        .or_else(|| nonempty(xdg_cache_home).map(|x| x.join("torch")))
        .or_else(|| nonempty(home).map(|h| h.join(".cache").join("torch")))?;
    Some(torch_home.join("hub").join("checkpoints"))
}

fn torch_hub_checkpoints() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
    torch_hub_checkpoints_from(var("TORCH_HOME"), var("XDG_CACHE_HOME"), var("HOME"))
}

/// Whether an existing output's `info()` says it was made the way `wanted` asks (and with
/// the current contract).
pub fn up_to_date(info: &Value, wanted: &Wanted) -> bool {
    if info["contract"].as_u64() != Some(CONTRACT) {
        return false;
    }
    let fid = info["fid_weights"].as_bool();
    let sha = info["weights_sha256"].as_str().unwrap_or("");
    match wanted {
        Wanted::Official => fid == Some(true) && is_official(sha),
        Wanted::File(want) => sha.eq_ignore_ascii_case(want),
        Wanted::Random(seed) => fid == Some(false) && info["random_seed"].as_u64() == Some(*seed),
    }
}

/// The packages `pip install --no-deps` must add, from the versions installed (`None`: not
/// installed). Local version labels (`0.26.0+cu130`) are ignored.
pub fn missing_packages(
    torchvision: Option<&str>,
    pytorch_fid: Option<&str>,
    pillow: Option<&str>,
) -> Vec<String> {
    let public = |v: Option<&str>| v.map(|v| v.split('+').next().unwrap_or(v).to_string());
    let mut out = Vec::new();
    if public(torchvision).as_deref() != Some(TORCHVISION_VERSION) {
        out.push(format!("torchvision=={TORCHVISION_VERSION}"));
    }
    if public(pytorch_fid).as_deref() != Some(PYTORCH_FID_VERSION) {
        out.push(format!("pytorch-fid=={PYTORCH_FID_VERSION}"));
    }
    // torchvision imports PIL; with --no-deps pip would not bring it.
    if pillow.is_none() {
        out.push("pillow".to_string());
    }
    out
}

/// Runs `cargo xtask fetch-inception`.
pub fn handle_command(args: FetchInceptionArgs) -> Result<()> {
    let python = venv_python()
        .context("no Python with torch 2.11.0 found; run `cargo xtask setup` first")?;
    let script = project_root().join(SCRIPT);
    let random = args.random_weights.is_some();
    let out = args.out.clone().unwrap_or_else(|| default_out(random));
    if random && same_path(&out, &default_out(false)) {
        bail!(
            "refusing to write random weights to {}, where `gan eval` looks for the real \
             extractor; leave out --out (default {}) or choose another file",
            out.display(),
            default_out(true).display()
        );
    }

    let wanted = match (&args.weights, args.random_weights) {
        (_, Some(seed)) => Wanted::Random(seed),
        (Some(file), None) => Wanted::File(check_weights(file)?),
        (None, None) => Wanted::Official,
    };

    if out.exists() && !args.force {
        match read_info(&python, &script, &out) {
            Ok(info) if up_to_date(&info, &wanted) => {
                eprintln!(
                    "{} is already there with these weights (--force rebuilds it)",
                    out.display()
                );
                return summary(&out, &info);
            }
            Ok(_) => eprintln!(
                "{} was made from other weights: rebuilding it",
                out.display()
            ),
            Err(e) => eprintln!("{} is not usable ({e:#}): rebuilding it", out.display()),
        }
    }

    let weights = match &wanted {
        Wanted::Random(_) => None,
        Wanted::File(_) => args.weights.clone(),
        Wanted::Official => Some(find_or_download()?),
    };
    ensure_packages(&python)?;

    let mut cmd = python_command(&python);
    cmd.arg(&script).arg("--out").arg(&out);
    match (&weights, args.random_weights) {
        (Some(file), _) => {
            eprintln!("exporting {} -> {}", file.display(), out.display());
            cmd.arg("--weights").arg(file);
        }
        (None, Some(seed)) => {
            eprintln!(
                "exporting RANDOM weights (seed {seed}) -> {}",
                out.display()
            );
            cmd.arg("--random-weights").arg(seed.to_string());
        }
        (None, None) => unreachable!("weights are None only with --random-weights"),
    }
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    let info = read_info(&python, &script, &out)?;
    if !up_to_date(&info, &wanted) {
        bail!(
            "{}: info() does not describe the weights asked for: {info}",
            out.display()
        );
    }
    summary(&out, &info)
}

/// Checks a `--weights` file: it must exist and be pytorch-fid's. Returns its SHA-256.
fn check_weights(file: &Path) -> Result<String> {
    if !file.is_file() {
        bail!(
            "--weights {}: no such file. Download {WEIGHTS_URL} and pass its path",
            file.display()
        );
    }
    eprintln!("checking {}", file.display());
    let sha = sha256_file(file)?;
    if !is_official(&sha) {
        bail!(
            "--weights {} has SHA-256 {sha}, but pytorch-fid's {WEIGHTS_FILE} has one starting \
             with {WEIGHTS_SHA256_PREFIX}: the file is corrupt or not the FID weights. Download \
             it again from {WEIGHTS_URL}",
            file.display()
        );
    }
    Ok(sha)
}

/// The official weights: the cached copy, torch hub's copy, or a fresh download.
fn find_or_download() -> Result<PathBuf> {
    let dir = inception_dir();
    let dest = dir.join(WEIGHTS_FILE);
    if dest.is_file() {
        if is_official(&sha256_file(&dest)?) {
            eprintln!("weights: {} (SHA-256 ok)", dest.display());
            return Ok(dest);
        }
        eprintln!(
            "{} is not the FID weights (SHA-256 does not start with {WEIGHTS_SHA256_PREFIX}): \
             removing it",
            dest.display()
        );
        fs::remove_file(&dest).with_context(|| format!("cannot remove {}", dest.display()))?;
    }
    if let Some(hub) = torch_hub_checkpoints().map(|d| d.join(WEIGHTS_FILE)) {
        if hub.is_file() && is_official(&sha256_file(&hub)?) {
            eprintln!("weights: {} (torch hub's copy, SHA-256 ok)", hub.display());
            return Ok(hub);
        }
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    download(&dest).map_err(|e| {
        let hub = torch_hub_checkpoints()
            .map(|d| format!("(or in torch hub's cache, {}/) ", d.display()))
            .unwrap_or_default();
        e.context(format!(
            "cannot download pytorch-fid's InceptionV3 weights (no network?). Get the file\n  \
             \x20 {WEIGHTS_URL}\n\
             by other means (its SHA-256 starts with {WEIGHTS_SHA256_PREFIX}), then either put \
             it at\n  \x20 {}\n\
             {hub}and run `cargo xtask fetch-inception` again, or run\n  \
             \x20 cargo xtask fetch-inception --weights /path/to/{WEIGHTS_FILE}",
            dest.display()
        ))
    })?;
    Ok(dest)
}

/// Downloads the weights into `dest` through `dest.part`, checking the SHA-256 prefix.
fn download(dest: &Path) -> Result<()> {
    let part = dest.with_extension("pth.part");
    eprintln!("downloading {WEIGHTS_URL}");
    super::data::curl(WEIGHTS_URL, &part, true)?;
    let sha = sha256_file(&part)?;
    if !is_official(&sha) {
        let _ = fs::remove_file(&part);
        bail!(
            "the download of {WEIGHTS_URL} has SHA-256 {sha}, which does not start with \
             {WEIGHTS_SHA256_PREFIX}: corrupt or not the official file (deleted)"
        );
    }
    fs::rename(&part, dest)
        .with_context(|| format!("cannot rename {} to {}", part.display(), dest.display()))?;
    eprintln!("weights: {} (SHA-256 {sha})", dest.display());
    Ok(())
}

/// Makes sure the venv has torchvision 0.26.0, pytorch-fid 0.3.0 and pillow, installing
/// what is missing with `pip install --no-deps` (torch and numpy stay as they are).
fn ensure_packages(python: &Path) -> Result<()> {
    let probe = "import importlib.metadata as m, json\n\
                 def v(p):\n\
                 \x20   try:\n\
                 \x20       return m.version(p)\n\
                 \x20   except m.PackageNotFoundError:\n\
                 \x20       return None\n\
                 print(json.dumps({p: v(p) for p in ('torchvision', 'pytorch-fid', 'pillow')}))";
    let found = python_json(
        python_command(python).args(["-c", probe]),
        "the package probe",
    )?;
    let missing = missing_packages(
        found["torchvision"].as_str(),
        found["pytorch-fid"].as_str(),
        found["pillow"].as_str(),
    );
    if !missing.is_empty() {
        eprintln!(
            "running: {} -m pip install --no-deps {}",
            python.display(),
            missing.join(" ")
        );
        let status = python_command(python)
            .args(["-m", "pip", "install", "--no-deps"])
            .args(&missing)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", python.display()))?;
        if !status.success() {
            bail!(
                "pip could not install {} ({status}). Check the network and pip's settings \
                 (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, proxies); torchvision \
                 must be the build that matches the venv's torch 2.11.0",
                missing.join(" ")
            );
        }
    }
    let out = python_command(python)
        .args(["-c", "import torchvision, pytorch_fid.inception"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot import torchvision and pytorch_fid:\n{}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

/// `info()` of an exported file, through `export_inception.py --print-info`.
fn read_info(python: &Path, script: &Path, file: &Path) -> Result<Value> {
    let mut cmd = python_command(python);
    cmd.arg(script).arg("--print-info").arg(file);
    python_json(&mut cmd, &format!("info() of {}", file.display()))
}

/// Runs a Python command that prints one JSON object on its last line of stdout.
fn python_json(cmd: &mut Command, what: &str) -> Result<Value> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run Python for {what}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what}: no JSON in the output: {stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("{what}: invalid JSON: {line}"))
}

/// Whether two paths name the same file (by canonical parent folder and name, so a file
/// that does not exist yet compares too).
fn same_path(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let parent = fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()?;
        Some(parent.join(p.file_name()?))
    };
    a == b || matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

/// The closing report: the file, its hash, and how `gan eval` finds it.
fn summary(out: &Path, info: &Value) -> Result<()> {
    let sha = sha256_file(out)?;
    let size = fs::metadata(out)
        .with_context(|| format!("cannot read {}", out.display()))?
        .len();
    let default = default_out(false);
    let fid = info["fid_weights"].as_bool() == Some(true);
    println!();
    println!("ready: {}", out.display());
    println!("  network  {}", info["name"].as_str().unwrap_or("?"));
    match info["weights_file"].as_str().filter(|f| !f.is_empty()) {
        Some(file) => println!(
            "  weights  {file} (SHA-256 {})",
            info["weights_sha256"].as_str().unwrap_or("?")
        ),
        None => println!("  weights  none: seeded random (not for FID)"),
    }
    println!("  sha256   {sha}");
    println!("  size     {:.1} MB", size as f64 / 1e6);
    println!(
        "`gan eval` takes the extractor from --inception FILE, else $GAN_INCEPTION, else {}.",
        default.display()
    );
    if !fid {
        println!(
            "These are NOT the FID weights: use this file only for timing and pipeline tests \
             (--inception {} or GAN_INCEPTION={}); its scores mean nothing.",
            out.display(),
            out.display()
        );
    } else if same_path(out, &default) {
        println!("This is the default location: nothing to set.");
    } else {
        println!(
            "To use it: --inception {} or GAN_INCEPTION={}",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A made-up SHA-256 with the official prefix (only the prefix is known and checked).
    const OFFICIAL: &str = "6726825d00000000000000000000000000000000000000000000000000000000";

    #[test]
    fn official_sha_prefix() {
        assert!(is_official(OFFICIAL));
        assert!(is_official(&OFFICIAL.to_ascii_uppercase()));
        assert!(!is_official("6726825d"), "a prefix alone is no SHA-256");
        assert!(!is_official(&format!("0{}", &OFFICIAL[1..])));
    }

    #[test]
    fn default_names_differ_for_random_weights() {
        assert_eq!(default_out(false).file_name().unwrap(), OUT_FILE);
        assert_eq!(default_out(true).file_name().unwrap(), RANDOM_OUT_FILE);
        assert_eq!(default_out(true).parent(), default_out(false).parent());
        assert!(default_out(false).ends_with("inception/fid-inception-v3.pt"));
    }

    #[test]
    fn torch_hub_folder_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            torch_hub_checkpoints_from(p("/t"), p("/x"), p("/h")),
            p("/t/hub/checkpoints")
        );
        assert_eq!(
            torch_hub_checkpoints_from(p(""), p("/x"), p("/h")),
            p("/x/torch/hub/checkpoints")
        );
        assert_eq!(
            torch_hub_checkpoints_from(None, None, p("/h")),
            p("/h/.cache/torch/hub/checkpoints")
        );
        assert_eq!(torch_hub_checkpoints_from(None, None, None), None);
    }

    #[test]
    fn up_to_date_compares_the_weights() {
        let real = json!({"contract": 1, "fid_weights": true, "weights_sha256": OFFICIAL});
        assert!(up_to_date(&real, &Wanted::Official));
        assert!(up_to_date(&real, &Wanted::File(OFFICIAL.into())));
        assert!(!up_to_date(&real, &Wanted::File("ab".repeat(32))));
        assert!(!up_to_date(&real, &Wanted::Random(0)));

        let random = json!({"contract": 1, "fid_weights": false, "weights_sha256": "",
                            "random_seed": 3});
        assert!(up_to_date(&random, &Wanted::Random(3)));
        assert!(!up_to_date(&random, &Wanted::Random(4)));
        assert!(!up_to_date(&random, &Wanted::Official));

        // Another contract version, or no contract at all: rebuild.
        let old = json!({"contract": 0, "fid_weights": true, "weights_sha256": OFFICIAL});
        assert!(!up_to_date(&old, &Wanted::Official));
        assert!(!up_to_date(&json!({}), &Wanted::Official));
    }

    #[test]
    fn packages_to_install() {
        assert!(missing_packages(Some("0.26.0+cu130"), Some("0.3.0"), Some("11.0")).is_empty());
        assert_eq!(
            missing_packages(None, None, None),
            ["torchvision==0.26.0", "pytorch-fid==0.3.0", "pillow"]
        );
        assert_eq!(
            missing_packages(Some("0.25.0"), Some("0.3.0"), Some("11.0")),
            ["torchvision==0.26.0"]
        );
    }

    #[test]
    fn same_path_sees_through_relative_names() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("x.pt");
        assert!(same_path(&a, &tmp.path().join(".").join("x.pt")));
        assert!(!same_path(&a, &tmp.path().join("y.pt")));
    }
}

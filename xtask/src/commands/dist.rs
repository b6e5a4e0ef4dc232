//! `cargo xtask dist [--variant cpu|cuda|both]`: a release tarball that runs on a machine with
//! no Rust, no Python and no libtorch of its own.
//!
//! `dist/gan-<version>-linux-x86_64-<variant>.tar.gz` holds `gan-<version>/`:
//! - `gan`, built in release mode with `GAN_DIST=<variant>` (see `crates/gan-tensor/build.rs`):
//!   its rpath is `$ORIGIN/lib` (checked with `readelf`), and the `cpu` build does not link
//!   libtorch_cuda;
//! - `lib/`: the shared libraries it loads that are not the system's. They are measured, not
//!   listed by hand: `ldd` on the built binary, with the libtorch of `.libtorch`, and every
//!   library it resolves outside the system folders is copied (the wheel's libraries find
//!   each other through their own `$ORIGIN` runpath). The `cuda` variant also carries the
//!   rest of each NVIDIA library folder that `ldd` touched (cuDNN and cuBLAS load sub-libraries
//!   with `dlopen`, which `ldd` cannot see);
//! - `README.md`, `LICENSE`, `configs/`, and libtorch's `LICENSE`/`NOTICE` as
//!   `lib/LICENSE.libtorch`, `lib/NOTICE.libtorch`.
//!
//! `scripts/test_dist.sh` unpacks a tarball into an empty folder and runs `gan doctor`, a
//! short `gan train` and `gan sample` under `env -i`.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::libtorch::{link_path, project_root};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// What a CPU run needs.
    Cpu,
    /// Also libtorch_cuda and the CUDA libraries.
    Cuda,
    /// Both tarballs.
    Both,
}

#[derive(clap::Args, Debug)]
pub struct DistArgs {
    /// Which tarball.
    #[arg(long, value_enum, default_value = "cpu")]
    variant: Variant,
    /// Output folder.
    #[arg(long, default_value = "dist")]
    out: PathBuf,
}

pub fn handle_command(args: DistArgs) -> Result<()> {
    let variants: &[&str] = match args.variant {
        Variant::Cpu => &["cpu"],
        Variant::Cuda => &["cuda"],
        Variant::Both => &["cpu", "cuda"],
    };
    let out = project_root().join(&args.out);
    for v in variants {
        let t = Instant::now();
        let tarball = build_one(v, &out)?;
        let size = std::fs::metadata(&tarball)?.len();
        println!(
            "{}: {:.1} MB ({:.0} s)",
            tarball.display(),
            size as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let o = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !o.status.success() {
        bail!("{what} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn version() -> Result<String> {
    let toml = std::fs::read_to_string(project_root().join("Cargo.toml"))?;
    toml.lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_string)
        .context("no workspace version in Cargo.toml")
}

/// Every library `ldd` resolves for `binary` outside the system's folders.
fn measured_libs(binary: &Path, torch_lib: &Path) -> Result<Vec<PathBuf>> {
    let text = run(
        Command::new("ldd")
            .arg(binary)
            .env("LD_LIBRARY_PATH", torch_lib),
        "ldd",
    )?;
    let mut libs = Vec::new();
    for line in text.lines() {
        if line.contains("not found") {
            bail!(
                "ldd cannot resolve a library of {}: {line}",
                binary.display()
            );
        }
        let Some(path) = line
            .split("=>")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        else {
            continue;
        };
        let system = ["/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"]
            .iter()
            .any(|p| path.starts_with(p));
        if !system {
            libs.push(std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path)));
        }
    }
    Ok(libs)
}

fn build_one(variant: &str, out: &Path) -> Result<PathBuf> {
    let root = project_root();
    let torch = std::fs::canonicalize(link_path())
        .context("no .libtorch: run `cargo xtask setup` first")?;
    let torch_lib = torch.join("lib");
    let target = root.join("target/dist");
    println!("building gan ({variant}) in {}", target.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "gan-cli", "--target-dir"])
        .arg(&target)
        .env("GAN_DIST", variant)
        .current_dir(&root)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let binary = target.join("release/gan");
    let dynamic = run(Command::new("readelf").arg("-d").arg(&binary), "readelf")?;
    if !dynamic.contains("[$ORIGIN/lib]") {
        bail!(
            "{}: the rpath is not $ORIGIN/lib:\n{dynamic}",
            binary.display()
        );
    }
    let links_cuda = dynamic.contains("[libtorch_cuda.so]");
    if links_cuda != (variant == "cuda") {
        bail!(
            "{}: the {variant} build links libtorch_cuda: {links_cuda}",
            binary.display()
        );
    }

    let name = format!("gan-{}", version()?);
    let stage = out.join(format!("stage-{variant}"));
    let _ = std::fs::remove_dir_all(&stage);
    let pkg = stage.join(&name);
    let lib = pkg.join("lib");
    std::fs::create_dir_all(&lib)?;
    std::fs::copy(&binary, pkg.join("gan"))?;
    let mut libs = measured_libs(&binary, &torch_lib)?;
    if variant == "cuda" {
        // The NVIDIA folders ldd touched, whole: their libraries dlopen siblings.
        let dirs: BTreeSet<PathBuf> = libs
            .iter()
            .filter(|p| p.components().any(|c| c.as_os_str() == "nvidia"))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        for d in dirs {
            for e in std::fs::read_dir(&d)? {
                let p = e?.path();
                if p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(".so"))
                {
                    libs.push(p);
                }
            }
        }
        // libtorch_cuda's own dlopen'ed helpers beside it.
        for extra in [
            "libcaffe2_nvrtc.so",
            "libtorch_cuda_linalg.so",
            "libtorch_nvshmem.so",
        ] {
            let p = torch_lib.join(extra);
            if p.exists() {
                libs.push(p);
            }
        }
    }
    let libs: BTreeSet<PathBuf> = libs.into_iter().collect();
    let mut names = Vec::new();
    for l in &libs {
        let file = l.file_name().context("a library without a name")?;
        // Copy under the name the loader asks for (ldd gives the resolved file).
        std::fs::copy(l, lib.join(file))?;
        names.push(file.to_string_lossy().into_owned());
    }
    std::fs::write(lib.join("LIBRARIES.txt"), names.join("\n") + "\n")?;
    let licences = torch.parent().map(|sp| {
        sp.join(format!(
            "torch-{}.dist-info/licenses",
            crate::libtorch::TORCH_VERSION
        ))
    });
    if let Some(dir) = licences.filter(|d| d.is_dir()) {
        for (from, to) in [
            ("LICENSE", "LICENSE.libtorch"),
            ("NOTICE", "NOTICE.libtorch"),
        ] {
            if dir.join(from).exists() {
                std::fs::copy(dir.join(from), lib.join(to))?;
            }
        }
    }
    for f in ["README.md", "LICENSE"] {
        std::fs::copy(root.join(f), pkg.join(f)).with_context(|| format!("cannot copy {f}"))?;
    }
    std::fs::create_dir_all(pkg.join("configs"))?;
    for e in std::fs::read_dir(root.join("configs"))? {
        let p = e?.path();
        if let Some(n) = p.file_name() {
            std::fs::copy(&p, pkg.join("configs").join(n))?;
        }
    }
    println!("{variant}: {} libraries: {}", names.len(), names.join(" "));
    let tarball = out.join(format!("{name}-linux-x86_64-{variant}.tar.gz"));
    run(
        Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&stage)
            .arg(&name),
        "tar",
    )?;
    std::fs::remove_dir_all(&stage)?;
    Ok(tarball)
}

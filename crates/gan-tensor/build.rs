//! Link settings shared by every crate that links libtorch (each crate's
//! `Cargo.toml` points `build` at this file).
//!
//! * rpath: binaries, tests and benches find libtorch without `LD_LIBRARY_PATH`.
//! * `--no-as-needed -ltorch_cuda -ltorch`: without it the linker drops
//!   `libtorch_cuda` (nothing references it directly) and CUDA is silently
//!   unavailable (pytorch/pytorch#36437, tch-rs #177/#907). Only emitted when the
//!   libtorch in use ships a CUDA library.
//! * `GAN_LIBTORCH_VERSION`: the version read from libtorch's own files, for `gan doctor`.
//! * `GAN_DIST=cpu|cuda` (set by `cargo xtask dist`): a relocatable binary whose rpath is
//!   `$ORIGIN/lib` (the release tarball's layout). `cpu` links only what a CPU run needs
//!   (no `--no-as-needed -ltorch_cuda`), `cuda` keeps libtorch_cuda.
//!
//! `LIBTORCH` normally comes from `.cargo/config.toml` (`.libtorch`, the link
//! that `cargo xtask setup` makes); a `LIBTORCH` set by the user wins.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    // This file is every libtorch crate's build script (`build = "../gan-tensor/build.rs"`):
    // name it by its real path, or cargo finds no `build.rs` in the other crates and reruns
    // the script (and rebuilds the crate) on every build.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed={manifest}/../gan-tensor/build.rs");
    let Some(root) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        println!("cargo:warning=LIBTORCH is not set: run `cargo xtask setup` first");
        return;
    };
    println!("cargo:rerun-if-env-changed=GAN_DIST");
    let dist = std::env::var("GAN_DIST").ok();
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let lib = root.join("lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    match dist.as_deref() {
        Some(_) => println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/lib"),
        None => println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display()),
    }
    if has_cuda(&lib) && dist.as_deref() != Some("cpu") {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    println!("cargo:rustc-env=GAN_LIBTORCH_VERSION={}", version(&root));
    println!("cargo:rustc-env=GAN_LIBTORCH_DIR={}", root.display());
}

fn has_cuda(lib: &Path) -> bool {
    lib.join("libtorch_cuda.so").exists()
}

/// Reads `build-version` (official libtorch archives) or `version.py` (PyPI wheels).
fn version(root: &Path) -> String {
    if let Ok(v) = std::fs::read_to_string(root.join("build-version")) {
        return v.trim().to_string();
    }
    if let Ok(py) = std::fs::read_to_string(root.join("version.py")) {
        for line in py.lines() {
            if let Some(rest) = line.strip_prefix("__version__") {
                let v = rest
                    .trim_start_matches([' ', '='])
                    .trim_matches(['\'', '"', ' ']);
                return v.to_string();
            }
        }
    }
    "unknown".to_string()
}

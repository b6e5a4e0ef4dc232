//! Project automation for the GAN toolkit, run as `cargo xtask <command>` (the alias in
//! `.cargo/config.toml` builds this crate into `target/xtask`, so it never rebuilds tch).
//!
//! Commands:
//!
//! * `cargo xtask setup` — makes libtorch 2.11.0 (the exact version tch 0.24 needs)
//!   available and points `<root>/.libtorch`, which `.cargo/config.toml` gives the
//!   build as `LIBTORCH`, at it. The libtorch is, in this order: `--libtorch DIR` (an
//!   unpacked official libtorch), `LIBTORCH` if you set it yourself, else a shared,
//!   per-user cache (`$GAN_TOOLKIT_CACHE`, else `$XDG_CACHE_HOME/gan-toolkit`, else
//!   `~/.cache/gan-toolkit`) holding `torch-2.11.0/venv`, a Python venv with
//!   `torch==2.11.0` and `numpy` whose `site-packages/torch` is the libtorch. The first
//!   install downloads ~4.6 GB (pip's `PIP_*` settings apply); later runs take well
//!   under a second.
//!   * `--python PATH`: the Python 3 that creates the venv (default `python3`).
//!   * `--check`: only verify what the build will use; non-zero exit with the reason.
//!
//! * `cargo xtask bench [--steps N] [--reps R] [--threads T] [--device cpu|cuda]` — builds
//!   the `gan` binary in release mode and times its training step (`gan bench`) against
//!   the PyTorch eager script of the same networks in `scripts/`, alternating, with the
//!   venv's Python; prints medians and the speed-up, writes `target/bench/bench.json`.
//!
//! * `cargo xtask data fashion-mnist|mnist|cifar10 [--root DIR]` — puts a data set into
//!   `$GAN_DATA_DIR/<name>` (else `<root>/data/<name>`), where `gan train` looks: Fashion-MNIST
//!   from the Debian package `dataset-fashion-mnist` when installed, else (and for the others)
//!   downloaded with `curl` and checked against the official MD5; offline, it lists the files
//!   to place by hand.
//!
//! * `cargo xtask fetch-inception [--weights FILE.pth] [--random-weights SEED] [--out FILE]
//!   [--force]` — writes the TorchScript InceptionV3 that `gan eval` uses (FID, KID, IS,
//!   precision/recall) to `<cache>/inception/fid-inception-v3.pt` (the cache of `setup`), where
//!   `gan eval` looks unless given `--inception FILE` or `GAN_INCEPTION`: pytorch-fid's weights
//!   (`pt_inception-2015-12-05-6726825d.pth`: `--weights`, else the cache, torch hub's cache or a
//!   `curl` download, SHA-256 checked) converted by `scripts/export_inception.py` with the venv's
//!   Python (adding `torchvision==0.26.0` and `pytorch-fid==0.3.0` with `pip --no-deps`).
//!   Offline, it says where to put the weights. `--random-weights SEED` writes the same network
//!   with random weights to `fid-inception-v3-random.pt` (timing and pipeline tests only).
//!
//! * `cargo xtask dist [--variant cpu|cuda|both] [--out dist]` — release tarballs
//!   `dist/gan-<version>-linux-x86_64-<cpu|cuda>.tar.gz`: the release `gan` (rpath
//!   `$ORIGIN/lib`), the libtorch libraries it loads (measured with `ldd`), README, LICENSE,
//!   configs; `scripts/test_dist.sh` tries one in a clean environment.
//!
//! Each command lives in `src/commands/<name>.rs`; see [`commands`] for adding one.

mod commands;
mod libtorch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `cargo xtask`: project automation.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "GAN toolkit project automation",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Install (once, into a shared cache) or find libtorch 2.11.0, and link `.libtorch` to it.
    Setup(commands::setup::SetupArgs),
    /// Time training steps against PyTorch eager scripts of the same networks (ratio printed).
    Bench(commands::bench::BenchArgs),
    /// Put a data set (fashion-mnist, mnist, cifar10) where `gan train` looks for it.
    Data(commands::data::DataArgs),
    /// Build a release tarball (gan + the libtorch libraries it loads, rpath $ORIGIN/lib).
    Dist(commands::dist::DistArgs),
    /// Convert pytorch-fid's InceptionV3 weights to the TorchScript file `gan eval` uses (FID).
    FetchInception(commands::fetch_inception::FetchInceptionArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Setup(args) => commands::setup::handle_command(args),
        Command::Bench(args) => commands::bench::handle_command(args),
        Command::Data(args) => commands::data::handle_command(args),
        Command::Dist(args) => commands::dist::handle_command(args),
        Command::FetchInception(args) => commands::fetch_inception::handle_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The message chain only: a backtrace (RUST_BACKTRACE) says nothing useful here.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

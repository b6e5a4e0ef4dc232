//! One module per `cargo xtask` subcommand.
//!
//! Each module exposes a clap `Args` struct (`SetupArgs`, ...) and
//! `pub fn handle_command(args: XArgs) -> anyhow::Result<()>`. To add a command
//! (e.g. `bench`): add `pub mod bench;` here, and a `Bench(commands::bench::BenchArgs)`
//! variant to `Command` in `main.rs` that calls `commands::bench::handle_command`.
//! Shared paths (cache, venv Python, libtorch checks) live in `crate::libtorch`.

pub mod bench;
pub mod data;
pub mod dist;
pub mod fetch_inception;
pub mod setup;

//! `gan`: train, sample, evaluate and inspect GANs from the command line.
//!
//! ```text
//! gan train [--config FILE|PRESET] [--out DIR] [--device auto|cpu|cuda|cuda:N] [--seed N] [--steps N]
//!           [--resume DIR [--checkpoint step-N|DIR]] [--init-from RUN [--checkpoint latest|best|step-N]]
//! gan sample --run DIR --n N --out FILE.csv|FILE.npy|FILE.png [--checkpoint latest|best|step-N|DIR]
//!            [--class K] [--seed N] [--latents FILE.npy] [--raw] [--truncation PSI] [--device D]
//! gan export --run DIR --format torchscript|safetensors --out FILE.pt|FILE.safetensors
//!            [--checkpoint latest|best|step-N|DIR] [--device D]
//! gan translate --run DIR --input FILE.npy|FILE.png|DIR --out FILE.npy|FILE.png|DIR
//!               [--mode stochastic|eval] [--direction a-to-b|b-to-a]
//!               [--checkpoint latest|best|step-N|DIR] [--seed N] [--device D]
//! gan interpolate --run DIR --out FILE.png [--steps 10] [--rows 8] [--class K] [--linear] [--seed N]
//!                 [--device D]
//! gan mix --run DIR --out FILE.png [--rows 5] [--cols 6] [--styles A-B] [--truncation PSI] [--class K]
//!         [--checkpoint latest|best|step-N|DIR] [--seed N] [--device D]
//! gan eval --run DIR [--checkpoint latest|best|step-N|DIR] [--n N] [--mode stochastic|eval]
//!          [SCORING] [--gan-train [--gan-train-epochs N]] [--seed N] [--device D] [--out FILE.json]
//! gan eval --samples FILE.csv --data ring|grid [--out FILE.json]
//! gan eval --samples FILE.npy [--labels FILE.npy] [--targets FILE.npy] [SCORING] [--out FILE.json]
//!     SCORING: [--classifier DIR | --no-classifier] [--inception FILE.pt | --no-inception]
//!              [--reference NAME:SPLIT|none] [--reference-images 10000]
//! gan classifier train --data fashion-mnist|mnist|cifar10 [--dir DIR] [--pad N] | --config FILE|PRESET
//!                      [--epochs 3] [--batch-size 128] [--width 32] [--seed N] [--threads N]
//!                      [--device D] [--out DIR]
//! gan report --run DIR [--out FILE.html]
//! gan configs [--show PRESET]
//! gan completions bash|zsh|fish|elvish|powershell
//! gan doctor [--json]
//! ```
//! With no arguments, `gan train` trains the built-in ring preset (`configs/ring.toml`);
//! `--config NAME` takes any shipped preset by name (`gan configs` lists them).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod presets;
mod progress;

#[derive(Parser, Debug)]
#[command(name = "gan", version, about = "Train, sample and evaluate GANs on libtorch", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a GAN (the built-in ring preset when no config is given).
    Train(commands::train::Args),
    /// Draw samples from a run's EMA generator.
    Sample(commands::sample::Args),
    /// Score a run (or a file of samples) and write the metrics as JSON.
    Eval(commands::eval::Args),
    /// Translate images with a trained translator (pix2pix and CycleGAN runs).
    Translate(commands::translate::Args),
    /// Write a latent interpolation strip (image models).
    Interpolate(commands::interpolate::Args),
    /// Write a style-mixing grid (StyleGAN2 models).
    Mix(commands::mix::Args),
    /// Train the domain classifier that scores generated images.
    Classifier(commands::classifier::Args),
    /// Report libtorch, CUDA and cuDNN availability and threads.
    Doctor(commands::doctor::Args),
    /// Write a self-contained HTML report of a run (curves, samples, scores, config).
    Report(commands::report::Args),
    /// Export a run's EMA generator (TorchScript or safetensors, with a JSON description).
    Export(commands::export::Args),
    /// List the shipped presets (`gan train --config NAME`) with their descriptions.
    Configs(commands::configs::Args),
    /// Print a shell completion script: `gan completions bash > ~/.local/share/bash-completion/completions/gan`.
    Completions(commands::completions::Args),
    /// Time training steps (used by `cargo xtask bench`).
    #[command(hide = true)]
    Bench(commands::bench::Args),
}

/// The first line of a panic's message: tch's libtorch errors carry a C++ frame list after
/// it (as real or as escaped newlines, the latter when the error was `Debug`-printed).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let end = [text.find('\n'), text.find("\\n")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(text.len());
    text[..end].to_string()
}

/// A panic is a bug or a libtorch failure that tch reports by panicking (memory running out
/// mid-step): print one line and where, not libtorch's frame list. A backtrace only on request
/// (`RUST_BACKTRACE`), and never for a failed allocation: symbolising one needs memory that is
/// not there (the standard hook then hangs).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("internal error: {message}{place}");
        let out_of_memory = message.contains("can't allocate memory")
            || message.contains("out of memory")
            || message.contains("Cannot allocate memory");
        let wanted = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
        if wanted && !out_of_memory {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => commands::train::handle_command(a),
        Command::Sample(a) => commands::sample::handle_command(a),
        Command::Eval(a) => commands::eval::handle_command(a),
        Command::Translate(a) => commands::translate::handle_command(a),
        Command::Interpolate(a) => commands::interpolate::handle_command(a),
        Command::Mix(a) => commands::mix::handle_command(a),
        Command::Classifier(a) => commands::classifier::handle_command(a),
        Command::Doctor(a) => commands::doctor::handle_command(a),
        Command::Export(a) => commands::export::handle_command(a),
        Command::Report(a) => commands::report::handle_command(a),
        Command::Configs(a) => commands::configs::handle_command(a),
        Command::Completions(a) => commands::completions::handle_command::<Cli>(a),
        Command::Bench(a) => commands::bench::handle_command(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // Causes whose text a message already carries (toml's located errors) are not repeated.
            let mut shown = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !shown.contains(&c) {
                    eprintln!("  caused by: {c}");
                    shown.push_str(&c);
                }
            }
            ExitCode::FAILURE
        }
    }
}

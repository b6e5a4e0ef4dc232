//! `cargo xtask bench`: the toolkit's training steps against PyTorch eager scripts of the
//! same networks, run alternately in one invocation at the same thread count, with the ratio.
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::libtorch::{project_root, python_command, venv_python};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Timed steps per measurement (default: 300 for 2d, 20 for dcgan32, pix2pix32 and
    /// cyclegan32, 5 for dcgan64, 16 for stylegan2-32: keep it a multiple of 16 there, so
    /// that both sides run the lazy R1 and path-length phases as often).
    #[arg(long)]
    steps: Option<u32>,
    /// Cases to run, comma-separated: 2d, dcgan32, dcgan64, pix2pix32, cyclegan32 (needs the
    /// Fashion-MNIST files: `cargo xtask data fashion-mnist`), stylegan2-32.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2d,dcgan32,dcgan64,pix2pix32,cyclegan32,stylegan2-32"
    )]
    cases: Vec<String>,
    /// Measurements per side (alternating Rust, PyTorch, Rust, ...); medians are compared.
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// CPU threads for both sides.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Device for both sides: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

struct Case {
    name: &'static str,
    /// The config `gan bench` times (None: its built-in configs/bench-2d.toml).
    config: Option<&'static str>,
    script: &'static str,
    script_args: &'static [&'static str],
    steps: u32,
    warmup: u32,
}

const CASES: &[Case] = &[
    Case {
        name: "2d",
        config: None,
        script: "scripts/bench_2d.py",
        script_args: &[],
        steps: 300,
        warmup: 20,
    },
    Case {
        name: "dcgan32",
        config: Some("configs/bench-dcgan32.toml"),
        script: "scripts/bench_dcgan.py",
        script_args: &[
            "--size",
            "32",
            "--channels",
            "1",
            "--width",
            "64",
            "--batch",
            "64",
        ],
        steps: 20,
        warmup: 3,
    },
    Case {
        name: "dcgan64",
        config: Some("configs/bench-dcgan64.toml"),
        script: "scripts/bench_dcgan.py",
        script_args: &[
            "--size",
            "64",
            "--channels",
            "3",
            "--width",
            "64",
            "--batch",
            "64",
        ],
        steps: 5,
        warmup: 2,
    },
    Case {
        name: "pix2pix32",
        config: Some("configs/bench-pix2pix32.toml"),
        script: "scripts/bench_pix2pix.py",
        script_args: &[
            "--size", "32", "--ngf", "32", "--ndf", "32", "--batch", "32",
        ],
        steps: 20,
        warmup: 3,
    },
    Case {
        name: "cyclegan32",
        config: Some("configs/bench-cyclegan32.toml"),
        script: "scripts/bench_cyclegan.py",
        script_args: &[
            "--size",
            "32",
            "--channels-a",
            "1",
            "--channels-b",
            "3",
            "--ngf",
            "16",
            "--n-blocks",
            "3",
            "--norm-g",
            "batch",
            "--norm-d",
            "instance",
            "--ndf",
            "32",
            "--n-layers",
            "2",
            "--batch",
            "8",
        ],
        steps: 20,
        warmup: 3,
    },
    Case {
        name: "stylegan2-32",
        config: Some("configs/bench-stylegan2-32.toml"),
        script: "scripts/bench_stylegan2.py",
        script_args: &[
            "--size",
            "32",
            "--channels",
            "1",
            "--channel-base",
            "1024",
            "--channel-max",
            "64",
            "--batch",
            "32",
        ],
        steps: 16,
        warmup: 2,
    },
];

fn run_json(mut cmd: Command, what: &str) -> Result<Value> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no JSON:\n{text}"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed invalid JSON: {line}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite timings"));
    v[v.len() / 2]
}

pub fn handle_command(args: BenchArgs) -> Result<()> {
    let root = project_root();
    let python = venv_python()
        .context("no Python with torch 2.11.0 found; run `cargo xtask setup` first")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the gan binary (release)...");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "gan-cli"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p gan-cli failed");
    }
    let gan = root.join("target/release/gan");
    let threads = args.threads.to_string();
    for c in &args.cases {
        if !CASES.iter().any(|k| k.name == c) {
            let known: Vec<&str> = CASES.iter().map(|k| k.name).collect();
            bail!("unknown case {c:?}; known: {}", known.join(", "));
        }
    }
    let mut report = Vec::new();
    println!(
        "ms per training step, {} threads, {}; median and best of {} alternating runs",
        args.threads, args.device, args.reps
    );
    println!(
        "{:<12} {:>10} {:>10} {:>9}   {:>10} {:>10} {:>9}",
        "case", "gan med", "torch med", "speed-up", "gan best", "torch best", "speed-up"
    );
    for case in CASES
        .iter()
        .filter(|c| args.cases.iter().any(|n| n == c.name))
    {
        let steps = args.steps.unwrap_or(case.steps).to_string();
        let warmup = case.warmup.to_string();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut torch_version = String::new();
        for _ in 0..args.reps {
            let mut c = Command::new(&gan);
            c.args([
                "bench",
                "--steps",
                &steps,
                "--warmup",
                &warmup,
                "--threads",
                &threads,
                "--device",
                &args.device,
            ])
            .current_dir(&root);
            if let Some(config) = case.config {
                c.arg("--config").arg(root.join(config));
            }
            ours.push(
                run_json(c, "gan bench")?["ms_per_step"]
                    .as_f64()
                    .context("ms_per_step")?,
            );
            let mut c = python_command(&python);
            c.arg(root.join(case.script))
                .args(case.script_args)
                .args([
                    "--steps",
                    &steps,
                    "--warmup",
                    &warmup,
                    "--threads",
                    &threads,
                    "--device",
                    &args.device,
                ])
                .current_dir(&root);
            let v = run_json(c, case.script)?;
            torch_version = v["torch"].as_str().unwrap_or("?").to_string();
            theirs.push(v["ms_per_step"].as_f64().context("ms_per_step")?);
        }
        let (a, b) = (median(ours.clone()), median(theirs.clone()));
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (a_min, b_min) = (best(&ours), best(&theirs));
        println!(
            "{:<12} {:>10.3} {:>10.3} {:>8.2}x   {:>10.3} {:>10.3} {:>8.2}x",
            case.name,
            a,
            b,
            b / a,
            a_min,
            b_min,
            b_min / a_min
        );
        report.push(serde_json::json!({
            "case": case.name, "device": args.device, "threads": args.threads, "steps": steps,
            "gan_ms": ours, "pytorch_ms": theirs, "gan_median_ms": a, "pytorch_median_ms": b,
            "speedup": b / a, "gan_best_ms": a_min, "pytorch_best_ms": b_min,
            "speedup_best": b_min / a_min, "torch": torch_version,
        }));
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let out = dir.join("bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", Path::new("target/bench/bench.json").display());
    Ok(())
}

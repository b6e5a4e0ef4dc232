//! The `gan` binary end to end on a tiny config: train, sample, eval, resume, bad input.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{gan, skip, text};

const TINY: &str = r#"
name = "tiny"
seed = 3
device = "cpu"
[data]
kind = "ring"
[generator]
arch = "mlp"
[generator.mlp]
depth = 2
width = 32
batch_norm = true
[discriminator]
arch = "mlp"
pack = 2
[discriminator.mlp]
depth = 2
width = 32
[train]
steps = 30
batch_size = 20
log_every = 10
eval_every = 15
eval_samples = 300
checkpoint_every = 10
"#;

fn write_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn train_sample_eval_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "tiny.toml", TINY);
    let run = dir.path().join("run");
    let (cfg_s, run_s) = (cfg.to_str().unwrap(), run.to_str().unwrap());

    let o = gan(&["train", "--config", cfg_s, "--out", run_s]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("eval step 15") && t.contains(&format!("Results in {run_s}")),
        "{t}"
    );
    for f in [
        "config.toml",
        "metrics.jsonl",
        "plots/samples-latest.png",
        "plots/losses.png",
        "samples/step-000000030.csv",
        "checkpoints/step-000000030/meta.json",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }

    let csv = dir.path().join("s.csv");
    // A user's file with the old temporary name (`s.tmp`) is never touched.
    let user_tmp = dir.path().join("s.tmp");
    std::fs::write(&user_tmp, "keep me").unwrap();
    let o = gan(&[
        "sample",
        "--run",
        run_s,
        "--n",
        "57",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&user_tmp).unwrap(), "keep me");
    let lines: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 57);
    for l in &lines {
        let v: Vec<f32> = l.split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(v.len(), 2, "{l}");
    }
    // Same seed, same samples.
    let csv2 = dir.path().join("s2.csv");
    assert!(gan(&[
        "sample",
        "--run",
        run_s,
        "--n",
        "57",
        "--out",
        csv2.to_str().unwrap()
    ])
    .status
    .success());
    assert_eq!(std::fs::read(&csv).unwrap(), std::fs::read(&csv2).unwrap());

    let o = gan(&["eval", "--run", run_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("modes captured"), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["n_samples"], 2500);
    assert_eq!(json["n_modes"], 8);
    assert_eq!(json["step"], 30);

    let o = gan(&["eval", "--samples", csv.to_str().unwrap(), "--data", "ring"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("s.eval.json").exists());

    // Complete: resuming without more steps says so; with more steps it continues.
    let o = gan(&["train", "--resume", run_s]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already complete at step 30"),
        "{}",
        text(&o)
    );
    let o = gan(&["train", "--resume", run_s, "--steps", "40"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("resuming") && run.join("checkpoints/step-000000040").exists(),
        "{}",
        text(&o)
    );

    // A different model cannot resume this run.
    let wide = write_config(
        dir.path(),
        "wide.toml",
        &TINY
            .replace("width = 32\nbatch_norm", "width = 64\nbatch_norm")
            .replace("steps = 30", "steps = 60"),
    );
    let o = gan(&[
        "train",
        "--config",
        wide.to_str().unwrap(),
        "--resume",
        run_s,
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("cannot change on resume")
            && t.contains("generator.mlp.width: trained with 32, now 64"),
        "{t}"
    );

    // An output folder that does not exist is refused before any scoring.
    let o = gan(&["eval", "--run", run_s, "--out", "/nonexistent/x.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the folder /nonexistent does not exist")
            && !text(&o).contains("modes captured"),
        "{}",
        text(&o)
    );

    // Absurd sizes are clear errors (exit 1), never a panic (exit 101).
    for args in [
        vec![
            "sample",
            "--run",
            run_s,
            "--n",
            "100000000000",
            "--out",
            "/tmp/never.csv",
        ],
        vec!["eval", "--run", run_s, "--n", "100000000000"],
    ] {
        let o = gan(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("100000000000 samples (--n) needs about"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn bad_configs_name_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_config(
        dir.path(),
        "bad.toml",
        &TINY.replace("batch_size = 20", "batch_size = 20\nbatchsize = 3"),
    );
    let o = gan(&[
        "train",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("bad.toml") && t.contains("batchsize") && t.contains("line 22"),
        "{t}"
    );
    assert!(
        !dir.path().join("r").exists(),
        "nothing is created for a bad config"
    );

    let range = write_config(
        dir.path(),
        "range.toml",
        &TINY.replace("batch_size = 20", "batch_size = 21"),
    );
    let t = text(&gan(&["train", "--config", range.to_str().unwrap()]));
    assert!(
        t.contains("train.batch_size") && t.contains("pack = 2"),
        "{t}"
    );

    let t = text(&gan(&["train", "--config", "/definitely/not/here.toml"]));
    assert!(t.contains("/definitely/not/here.toml"), "{t}");

    let t = text(&gan(&["train", "--device", "tpu"]));
    assert!(t.contains("invalid device `tpu`"), "{t}");

    let t = text(&gan(&[
        "sample",
        "--run",
        dir.path().to_str().unwrap(),
        "--n",
        "5",
        "--out",
        "x.csv",
    ]));
    assert!(t.contains("config.toml"), "{t}");
}

#[test]
fn nested_and_range_errors_name_the_key_and_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    // `[generator.mlp]` sits inside the tagged `[generator]` table (line 7).
    let bad = write_config(
        dir.path(),
        "wide.toml",
        &TINY.replacen("width = 32", "width = \"wide\"", 1),
    );
    let o = gan(&["train", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("wide.toml, line 11, column 9 (`generator.mlp.width`)")
            && t.contains("invalid type: string \"wide\", expected usize"),
        "{t}"
    );
    let huge = write_config(
        dir.path(),
        "huge.toml",
        &TINY.replace("batch_size = 20", "batch_size = 100000000000"),
    );
    let o = gan(&["train", "--config", huge.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("huge.toml, line 21, column 14")
            && t.contains(
                "invalid value for `train.batch_size`: 100000000000 is more than 1048576"
            ),
        "{t}"
    );
}

/// `width = 65536`, the top of its range, is 17 GB per layer: under a 8 GB address-space
/// limit the start must be a clear error (exit 1) that names the parameter, not a panic in
/// tch, and must leave no run folder.
#[test]
fn a_model_too_big_for_memory_is_a_clear_error() {
    if !Path::new("/bin/bash").exists() {
        return skip("a_model_too_big_for_memory", "no /bin/bash for ulimit");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "big.toml",
        &TINY.replacen("width = 32", "width = 65536", 1),
    );
    let run = dir.path().join("r");
    let o = Command::new("/bin/bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 8000000 && exec '{}' train --config '{}' --out '{}'",
            env!("CARGO_BIN_EXE_gan"),
            cfg.display(),
            run.display()
        ))
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cannot build the generator") && t.contains("of shape [65536, 65536]"),
        "{t}"
    );
    assert!(t.contains("ulimit -v"), "{t}");
    assert!(
        !run.exists(),
        "a run that cannot start leaves no folder behind"
    );
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error() {
    if tch::Cuda::is_available() {
        return skip(
            "cuda_without_a_gpu_is_a_clear_error",
            "CUDA is available here (the device tests cover it)",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "tiny.toml", TINY);
    let o = gan(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--device",
        "cuda",
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("CUDA is not available"), "{}", text(&o));
    assert!(
        !dir.path().join("r").exists(),
        "a run that cannot start leaves no folder behind"
    );
}

#[test]
fn doctor_reports_the_libtorch() {
    let o = gan(&["doctor", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["libtorch_version"]
            .as_str()
            .unwrap()
            .starts_with("2.11.0"),
        "{v}"
    );
    assert_eq!(
        v["cuda_available"].as_bool().unwrap(),
        tch::Cuda::is_available()
    );
}

/// `gan train` of the tiny config with no step limit, its output piped, in `dir`: the command
/// (to spawn, after any changes) and the run folder.
fn long_training(dir: &Path) -> (Command, PathBuf) {
    let long = TINY.replace("steps = 30", "steps = 1000000");
    let cfg = write_config(dir, "long.toml", &long);
    let run = dir.join("run");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gan"));
    cmd.args(["train", "--config", cfg.to_str().unwrap(), "--out"])
        .arg(&run)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    (cmd, run)
}

/// Waits (at most 120 s) until the run at `run` has written its first checkpoint.
fn wait_for_a_checkpoint(run: &Path) {
    let start = std::time::Instant::now();
    while !run.join("checkpoints").is_dir()
        || std::fs::read_dir(run.join("checkpoints")).unwrap().count() == 0
    {
        assert!(
            start.elapsed().as_secs() < 120,
            "training did not start in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `kill_script` (bash) to signal `child`, waits for it and returns its output, asserting
/// that it exited with status 0.
fn signal_and_wait(child: std::process::Child, kill_script: &str) -> String {
    let status = Command::new("bash")
        .args(["-c", kill_script])
        .status()
        .unwrap();
    assert!(status.success(), "{kill_script}");
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    log
}

/// The names under `run/checkpoints`, asserting that none is a temporary folder.
fn checkpoint_names_without_temporaries(run: &Path) -> Vec<String> {
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("step-")),
        "temporary files left: {names:?}"
    );
    names
}

/// SIGTERM (`docker stop`, Slurm, Kubernetes) is handled like Ctrl-C: the step finishes, a
/// checkpoint is written, the exit status is 0, no temporary folder is left, and the run
/// resumes from there.
#[test]
fn sigterm_checkpoints_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cmd, run) = long_training(dir.path());
    let child = cmd.spawn().unwrap();
    // Wait until training is under way (the first checkpoint is written at step 10).
    wait_for_a_checkpoint(&run);
    let pid = child.id();
    let log = signal_and_wait(child, &format!("kill -TERM {pid}"));
    assert!(log.contains("SIGTERM"), "{log}");
    let names = checkpoint_names_without_temporaries(&run);
    // The newest checkpoint is the step training stopped at, and resume continues from it.
    let newest = names.iter().max().unwrap().clone();
    let stopped: u64 = newest.trim_start_matches("step-").parse().unwrap();
    assert!(stopped >= 10, "{names:?}");
    let o = gan(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--steps",
        &(stopped + 5).to_string(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!("step {stopped}")) || t.contains(&stopped.to_string()),
        "{t}"
    );
}

/// GNU `timeout` (and batch schedulers) deliver the stop twice: to the run, then to its whole
/// process group. Signals that arrive together are one stop, so the run still finishes its
/// step, writes its final checkpoint and exits 0 instead of quitting without one.
#[test]
#[cfg(unix)]
fn a_stop_delivered_twice_at_once_still_checkpoints() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut cmd, run) = long_training(dir.path());
    let child = cmd.process_group(0).spawn().unwrap(); // its own group, as under `timeout`
    wait_for_a_checkpoint(&run);
    // What `timeout -s TERM` does when its time is up: the child, then the group. Sent 0.1 s
    // apart, so that the second is not merged with the first while still pending (under
    // `timeout` both can reach the handler), well inside the 1 s in which they are one stop.
    let pid = child.id();
    let log = signal_and_wait(
        child,
        &format!("kill -TERM {pid}; sleep 0.1; kill -TERM -- -{pid}"),
    );
    assert!(!log.contains("second interrupt"), "{log}");
    assert!(log.contains("writing a checkpoint"), "{log}");
    checkpoint_names_without_temporaries(&run);
}

/// The `--flags` each usage line of a text block gives per subcommand (`gan eval ...` lines
/// and their indented continuation lines such as `SCORING: ...`).
fn documented_flags(
    block: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    let mut current = None;
    for line in block.lines() {
        let line = line.trim_start_matches("//!").trim();
        if let Some(rest) = line.strip_prefix("gan ") {
            // `gan classifier train ...`: the command is every plain word before the flags.
            let words: Vec<&str> = rest
                .split_whitespace()
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
                .collect();
            current = Some(words.join(" "));
        }
        let Some(cmd) = &current else { continue };
        let flags = out.entry(cmd.clone()).or_default();
        for word in line.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
            if word.starts_with("--") && word.len() > 2 {
                flags.insert(word.to_string());
            }
        }
    }
    out
}

fn help_flags(cmd: &str) -> std::collections::BTreeSet<String> {
    let args: Vec<&str> = cmd.split_whitespace().chain(["--help"]).collect();
    let o = gan(&args);
    assert!(o.status.success(), "{}", text(&o));
    // Option lines only (`  -n, --n <N>`, `      --config <CONFIG>`), not their descriptions.
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-') && !l.starts_with("- "))
        .filter_map(|l| {
            l.split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .find(|w| w.starts_with("--") && w.len() > 2)
        })
        .filter(|w| *w != "--help" && *w != "--version")
        .map(str::to_string)
        .collect()
}

fn text_block_after(doc: &str, heading: &str) -> String {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    let rest = &doc[start..];
    let open = rest.find("```text").unwrap() + "```text".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

/// README's command list (and docs/cli.md's) and the usage block of `crates/gan-cli/src/main.rs` give exactly the
/// flags that `gan <command> --help` has, for every command they list.
#[test]
fn the_documented_usage_matches_the_real_flags() {
    let readme = include_str!("../../../README.md");
    let main_rs = include_str!("../src/main.rs");
    for (what, block) in [
        (
            "README.md",
            text_block_after(readme, "## The `gan` command"),
        ),
        ("main.rs", text_block_after(main_rs, "//! `gan`")),
    ] {
        let documented = documented_flags(&block);
        for (cmd, flags) in &documented {
            let real = help_flags(cmd.trim_end_matches(':'));
            let missing: Vec<_> = real.difference(flags).collect();
            let extra: Vec<_> = flags.difference(&real).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{what}: `gan {cmd}` lacks {missing:?} and lists unknown {extra:?}"
            );
        }
        // Every visible subcommand is listed.
        let o = gan(&["--help"]);
        let help = String::from_utf8_lossy(&o.stdout).to_string();
        let commands: Vec<&str> = help
            .split("Commands:")
            .nth(1)
            .unwrap()
            .split("Options:")
            .next()
            .unwrap()
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
            .collect();
        for c in commands {
            assert!(
                documented.keys().any(|k| k.split(' ').next() == Some(c)),
                "{what} does not list `gan {c}`"
            );
        }
    }
}

#[test]
fn presets_by_name_completions_and_checkpoint_names() {
    let o = gan(&["configs"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(
        t.contains("ring ") && t.contains("grid ") && t.contains("8 Gaussians"),
        "{t}"
    );
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let o = gan(&[
        "train",
        "--config",
        "grid",
        "--steps",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(saved.contains("name = \"grid\""), "{saved}");
    let t = text(&gan(&["train", "--config", "gird"]));
    assert!(
        t.contains("no preset of that name") && t.contains("grid"),
        "{t}"
    );

    let o = gan(&["completions", "bash"]);
    assert!(
        o.status.success() && text(&o).contains("_gan"),
        "{}",
        text(&o)
    );

    let o = gan(&[
        "sample",
        "--run",
        run.to_str().unwrap(),
        "--n",
        "4",
        "--out",
        "x.csv",
        "--checkpoint",
        "lates",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("`lates` is not a checkpoint") && t.contains("latest, best, step-N"),
        "{t}"
    );
    let out = dir.path().join("s.csv");
    let o = gan(&[
        "sample",
        "--run",
        run.to_str().unwrap(),
        "--n",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint",
        "step-2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

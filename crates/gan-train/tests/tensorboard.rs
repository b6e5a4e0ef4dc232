//! `[log] tensorboard`: the event files read back by the `tensorboard` package's own reader
//! (`scripts/read_tensorboard.py`, run with the set-up venv's Python, which the test gives the
//! package) hold exactly the numbers of `metrics.jsonl`, at the same steps, and the sample grid
//! of every evaluation; a resume from an older checkpoint leaves no step twice.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, tiny};
use gan_train::{tensorboard::scalars_of, ResumeFrom, Trainer};
use sha2::Digest;

fn skip(why: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIP tensorboard_files_read_back_exactly: {why}"
    );
}

/// The venv's Python that `cargo xtask setup` made (`.libtorch` points into it).
fn venv_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let torch = std::fs::canonicalize(root.join(".libtorch")).ok()?;
    // <venv>/lib/python3.X/site-packages/torch
    let venv = torch.parent()?.parent()?.parent()?.parent()?;
    let py = venv.join("bin/python3");
    py.is_file().then_some(py)
}

fn python(py: &Path) -> Command {
    let mut c = Command::new(py);
    // The doc-test library path of .cargo/config.toml is not for Python's torch.
    c.env_remove("LD_LIBRARY_PATH");
    c
}

fn has_tensorboard(py: &Path) -> bool {
    python(py)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success())
}

type Scalars = BTreeMap<(String, u64), f64>;

/// What metrics.jsonl says TensorBoard should show: every number of every record.
fn expected(run: &Path) -> (Scalars, Vec<u64>) {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let mut scalars = BTreeMap::new();
    let mut evals = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let step = v["step"].as_u64().unwrap();
        if v["kind"] == "eval" {
            evals.push(step);
        }
        for (tag, x) in scalars_of(&v) {
            assert!(
                scalars.insert((tag.clone(), step), x).is_none(),
                "{tag} twice at {step}"
            );
        }
    }
    (scalars, evals)
}

#[derive(serde::Deserialize)]
struct Read {
    files: Vec<String>,
    file_version: Vec<String>,
    scalars: Vec<(String, u64, f64)>,
    images: Vec<(String, u64, u32, u32, String)>,
}

fn read_back(py: &Path, run: &Path) -> Read {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/read_tensorboard.py");
    let o = python(py)
        .arg(script)
        .arg(run.join("tensorboard"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn check(py: &Path, run: &Path) {
    let got = read_back(py, run);
    assert_eq!(got.files.len(), 1, "{:?}", got.files);
    assert_eq!(got.file_version, vec!["brain.Event:2".to_string()]);
    let (want, evals) = expected(run);
    // Each tag's steps strictly increase in file order: nothing twice, nothing backwards.
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (tag, step, _) in &got.scalars {
        if let Some(prev) = last.insert(tag, *step) {
            assert!(*step > prev, "{tag}: step {step} after {prev}");
        }
    }
    let read: Scalars = got
        .scalars
        .iter()
        .map(|(t, s, v)| ((t.clone(), *s), *v))
        .collect();
    assert_eq!(read.len(), got.scalars.len());
    assert_eq!(
        read.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same tags at the same steps"
    );
    for (key, v) in &want {
        // TensorBoard scalars are float32: the same float32 (both sides went through JSON text,
        // which serde_json parses to within an ulp of the f64, well inside float32's).
        assert_eq!(read[key] as f32, *v as f32, "{key:?}");
    }
    assert!(want.keys().any(|(t, _)| t == "train/d_loss"));
    assert!(want.keys().any(|(t, _)| t.starts_with("eval/")));
    // One sample grid per evaluation, the PNG written for that step.
    let steps: Vec<u64> = got.images.iter().map(|i| i.1).collect();
    assert_eq!(steps, evals);
    for (tag, step, w, h, sha) in &got.images {
        assert_eq!(tag, "samples");
        let png = std::fs::read(run.join(format!("plots/samples-step-{step:09}.png"))).unwrap();
        assert_eq!(
            *sha,
            format!("{:x}", sha2::Sha256::digest(&png)),
            "step {step}"
        );
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((*w, *h), (img.width(), img.height()));
    }
}

#[test]
fn tensorboard_files_read_back_exactly() {
    let Some(py) = venv_python() else {
        return skip("no set-up venv Python (cargo xtask setup)");
    };
    if !has_tensorboard(&py) {
        let installed = python(&py)
            .args(["-m", "pip", "install", "--quiet", "tensorboard"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed || !has_tensorboard(&py) {
            return skip("the tensorboard package cannot be installed into the venv (offline?)");
        }
    }
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(30);
    cfg.train.eval_every = 10;
    let mut t = Trainer::create(cfg.clone(), dir.path()).unwrap();
    run(&mut t, None);
    drop(t);
    check(&py, dir.path());

    // Back to step 20 and on to 30 again: steps 25 and 30 are rewritten, not doubled.
    let from = ResumeFrom::Checkpoint(dir.path().join("checkpoints/step-000000020"));
    let mut t = Trainer::resume_from(dir.path(), None, &from).unwrap();
    run(&mut t, None);
    drop(t);
    check(&py, dir.path());

    // Off: no folder.
    let off = tempfile::tempdir().unwrap();
    cfg.log.tensorboard = false;
    let mut t = Trainer::create(cfg, off.path()).unwrap();
    run(&mut t, None);
    assert!(!off.path().join("tensorboard").exists());
}

//! Checkpoint integrity (the fault suite's data half): damaged or edited checkpoints are
//! detected, never used and never deleted; resume falls back to the newest one that verifies
//! and says so; a moved run keeps working; a changed model setting is refused on resume.
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{assert_identical, run, tiny};
use gan_train::{
    checkpoint, BestMetric, BestRecord, Error, ResumeFrom, TrainedGenerator, Trainer,
    WhichCheckpoint,
};
use tch::Device;

/// A tiny run of 20 steps with checkpoints at 10 and 20.
fn two_checkpoints(dir: &Path) {
    let mut t = Trainer::create(tiny(20), dir).unwrap();
    run(&mut t, None);
}

fn ckpt(dir: &Path, step: u64) -> PathBuf {
    dir.join("checkpoints").join(checkpoint::dir_name(step))
}

/// Flips `n` bytes in the middle of a file (inside the tensor data, past the header).
fn flip_bytes(path: &Path, n: usize) {
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + n] {
        *b ^= 0x5a;
    }
    fs::write(path, bytes).unwrap();
}

fn edit_meta(path: &Path, key: &str, value: serde_json::Value) {
    let meta = path.join("meta.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&meta).unwrap()).unwrap();
    v[key] = value;
    fs::write(&meta, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// The newest checkpoint is damaged in `damage`'s way: sampling passes over it without
/// touching it, resume rejects it with `reason`, moves it to `checkpoints/rejected/` and
/// continues from step 10, bit-identically to a run that resumes from step 10 itself.
fn rejected_and_fallen_back(damage: impl Fn(&Path), reason: &str) {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    two_checkpoints(dir.path());
    let newest = ckpt(dir.path(), 20);
    damage(&newest);

    let err = checkpoint::load(&newest).unwrap_err();
    assert!(matches!(err, Error::CorruptCheckpoint { .. }), "{err}");
    assert!(err.to_string().contains(reason), "{reason} not in: {err}");

    // Sampling and evaluation read the newest checkpoint that verifies and change nothing.
    let g = TrainedGenerator::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(g.step, 10);
    assert_eq!(g.rejected.len(), 1);
    assert_eq!(g.rejected[0].path, newest);
    assert!(
        newest.exists(),
        "sampling must not move or delete a checkpoint"
    );
    // Asked for by name, the damaged one is an error, not a fallback.
    let err = TrainedGenerator::load_which(
        dir.path(),
        &WhichCheckpoint::Dir("step-000000020".into()),
        Device::Cpu,
    )
    .unwrap_err();
    assert!(err.to_string().contains(reason), "{err}");

    // Resume: rejected, kept aside, the run continues from step 10 and reaches 30.
    let mut t = Trainer::resume(dir.path(), Some(tiny(30))).unwrap();
    assert_eq!(t.step(), 10);
    let report = t.resume_report().unwrap().clone();
    assert_eq!(report.checkpoint, ckpt(dir.path(), 10));
    assert!(report.verified);
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let rej = &report.rejected[0];
    assert!(rej.reason.contains(reason), "{}", rej.reason);
    let moved = rej.moved_to.clone().unwrap();
    assert!(moved.starts_with(dir.path().join("checkpoints").join("rejected")));
    assert!(moved.is_dir() && !newest.exists());
    run(&mut t, None);
    assert!(
        moved.is_dir(),
        "the rejected checkpoint must never be deleted"
    );

    // The same as an undamaged run resumed from step 10.
    let other = tempfile::tempdir().unwrap();
    two_checkpoints(other.path());
    let mut u = Trainer::resume_from(
        other.path(),
        Some(tiny(30)),
        &ResumeFrom::Checkpoint("step-000000010".into()),
    )
    .unwrap();
    assert_eq!(u.step(), 10);
    run(&mut u, None);
    assert_identical(&t.named_tensors(), &u.named_tensors());
}

#[test]
fn a_flipped_tensor_byte_is_detected_and_resume_falls_back_to_a_checkpoint_that_verifies() {
    rejected_and_fallen_back(
        |c| flip_bytes(&c.join("state.safetensors"), 4000),
        "state.safetensors's SHA-256",
    );
}

#[test]
fn an_edited_step_is_rejected() {
    rejected_and_fallen_back(
        |c| edit_meta(c, "step", 123.into()),
        "meta.json was edited or damaged",
    );
}

#[test]
fn an_edited_tensor_count_is_rejected() {
    rejected_and_fallen_back(
        |c| edit_meta(c, "tensors", 7.into()),
        "meta.json was edited or damaged",
    );
}

#[test]
fn a_missing_meta_json_is_rejected_not_silently_skipped() {
    rejected_and_fallen_back(
        |c| fs::remove_file(c.join("meta.json")).unwrap(),
        "it has no meta.json",
    );
}

#[test]
fn a_truncated_tensor_file_is_rejected_in_words() {
    rejected_and_fallen_back(
        |c| {
            let p = c.join("state.safetensors");
            let len = fs::metadata(&p).unwrap().len();
            fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(len / 3)
                .unwrap();
        },
        "truncated or replaced",
    );
}

#[test]
fn a_consistent_but_wrong_step_is_caught_by_the_folder_name() {
    // Even with a recomputed digest (a format-1 checkpoint has none), the step must match the
    // folder: step-600's weights are never resumed as step 123.
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    two_checkpoints(dir.path());
    let c = ckpt(dir.path(), 20);
    let meta = c.join("meta.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&meta).unwrap()).unwrap();
    v["format_version"] = 1.into();
    v["step"] = 123.into();
    v.as_object_mut().unwrap().remove("digest");
    v.as_object_mut().unwrap().remove("files");
    fs::write(&meta, v.to_string()).unwrap();
    let err = checkpoint::load(&c).unwrap_err().to_string();
    assert!(
        err.contains("meta.json says step 123 but the folder is step-000000020"),
        "{err}"
    );
}

#[test]
fn leftovers_of_an_interrupted_save_or_prune_are_cleaned_on_resume() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    two_checkpoints(dir.path());
    let ck = dir.path().join("checkpoints");
    // What a kill mid-write and a kill mid-prune leave behind.
    fs::create_dir_all(ck.join(".step-000000030.tmp")).unwrap();
    fs::write(ck.join(".step-000000030.tmp/state.safetensors"), b"half").unwrap();
    fs::create_dir_all(ck.join(".step-000000000.prune")).unwrap();
    let t = Trainer::resume(dir.path(), Some(tiny(30))).unwrap();
    let report = t.resume_report().unwrap();
    assert_eq!(report.cleaned.len(), 2, "{report:?}");
    assert!(report.rejected.is_empty());
    let names: Vec<String> = fs::read_dir(&ck)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("step-")), "{names:?}");
}

#[test]
fn resume_from_a_named_checkpoint_sets_the_newer_ones_aside() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    two_checkpoints(dir.path());
    let mut t = Trainer::resume_from(
        dir.path(),
        None,
        &ResumeFrom::Checkpoint("step-000000010".into()),
    )
    .unwrap();
    assert_eq!(t.step(), 10);
    let report = t.resume_report().unwrap().clone();
    assert_eq!(report.set_aside.len(), 1);
    let (from, to) = &report.set_aside[0];
    assert_eq!(from, &ckpt(dir.path(), 20));
    assert!(to.join("meta.json").is_file());
    run(&mut t, None);
    // Training again to 20 wrote a fresh step-20; the old one is still set aside, intact.
    assert!(ckpt(dir.path(), 20).join("meta.json").is_file());
    checkpoint::load(to).unwrap();
    // A name that is not there says so.
    let err = Trainer::resume_from(
        dir.path(),
        None,
        &ResumeFrom::Checkpoint("step-000000015".into()),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("step-000000015"), "{err}");
}

#[test]
fn a_moved_run_keeps_its_best_checkpoint() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let mut cfg = tiny(20);
    cfg.train.eval_every = 10;
    cfg.eval.best = BestMetric::HighQuality;
    let mut t = Trainer::create(cfg, &original).unwrap();
    run(&mut t, None);
    drop(t);
    let best = BestRecord::read(&original.join("best")).unwrap().unwrap();
    // Stored relative to the run folder.
    let stored: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(original.join("best/best.json")).unwrap())
            .unwrap();
    let rel = format!("best/{}", checkpoint::dir_name(best.step));
    assert_eq!(stored["checkpoint"], rel.as_str(), "{stored}");

    // Copy the run, then remove the original: the copy's best checkpoint is its own.
    let moved = dir.path().join("moved");
    copy_dir(&original, &moved);
    fs::remove_dir_all(&original).unwrap();
    let g = TrainedGenerator::load_which(&moved, &WhichCheckpoint::Best, Device::Cpu).unwrap();
    assert_eq!(g.checkpoint, moved.join(&rel));
    assert_eq!(g.step, best.step);
    // An older record holding the path as given at train time resolves inside the copy too.
    let mut old: serde_json::Value = stored.clone();
    old["checkpoint"] = original.join(&rel).display().to_string().into();
    fs::write(moved.join("best/best.json"), old.to_string()).unwrap();
    let g = TrainedGenerator::load_which(&moved, &WhichCheckpoint::Best, Device::Cpu).unwrap();
    assert_eq!(g.checkpoint, moved.join(&rel));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_changed_activation_is_refused_on_resume_naming_the_key() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    two_checkpoints(dir.path());
    let mut other = tiny(30);
    other.discriminator = match other.discriminator {
        gan_models::DiscriminatorConfig::Mlp { pack, mut mlp } => {
            mlp.activation = gan_models::Activation::Tanh;
            gan_models::DiscriminatorConfig::Mlp { pack, mlp }
        }
        d => panic!("{d:?}"),
    };
    other.loss.kind = gan_losses::GanLoss::Hinge;
    let err = Trainer::resume(dir.path(), Some(other)).unwrap_err();
    let Error::ResumeConfigChanged { differences, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(differences.len(), 2, "{differences:?}");
    assert!(
        differences[0]
            .starts_with("discriminator.mlp.activation: trained with \"identity\", now \"tanh\""),
        "{differences:?}"
    );
    assert!(differences[1].starts_with("loss.kind:"), "{differences:?}");
    // Nothing was touched: the run still resumes with its own config.
    assert_eq!(Trainer::resume(dir.path(), None).unwrap().step(), 20);
}

#[test]
fn a_longer_run_under_linear_decay_warns_and_records_the_schedule_change() {
    let _rng = common::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(20);
    cfg.optim.schedule = gan_train::LrSchedule::LinearDecay;
    let mut t = Trainer::create(cfg.clone(), dir.path()).unwrap();
    run(&mut t, None);
    drop(t);
    cfg.train.steps = 40;
    let t = Trainer::resume(dir.path(), Some(cfg.clone())).unwrap();
    let change = t.resume_report().unwrap().schedule_change.clone().unwrap();
    assert_eq!(
        (change.step, change.from_steps, change.to_steps),
        (20, 20, 40)
    );
    let text = fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let rec: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "schedule")
        .collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["from_steps"], 20);
    assert_eq!(rec[0]["to_steps"], 40);
    drop(t);
    // A constant schedule does not depend on the total: nothing to say.
    let dir2 = tempfile::tempdir().unwrap();
    two_checkpoints(dir2.path());
    let t = Trainer::resume(dir2.path(), Some(tiny(40))).unwrap();
    assert!(t.resume_report().unwrap().schedule_change.is_none());
}

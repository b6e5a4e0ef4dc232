//! The `gan` binary on image data (synthetic, so no data files are needed): train a
//! conditional DCGAN, sample .npy/.png with labels and --class, interpolate, train a
//! classifier and score the run with it.
mod common;

use std::path::Path;

use common::{gan, ok};

const CONFIG: &str = r#"
name = "tiny-cgan"
seed = 1
device = "cpu"
[data]
kind = "synthetic"
images = 256
channels = 1
height = 16
width = 16
classes = 4
[generator]
arch = "dcgan"
latent_dim = 8
width = 4
conditioning = "batch-norm"
[discriminator]
arch = "dcgan"
width = 4
conditioning = "projection"
[train]
steps = 6
batch_size = 8
log_every = 3
eval_every = 3
checkpoint_every = 3
"#;

/// The labels of a .npy file written by `gan sample` (int64, after a 64-byte-aligned header).
fn npy_i64(path: &Path) -> Vec<i64> {
    let b = std::fs::read(path).unwrap();
    let start = 10 + u16::from_le_bytes([b[8], b[9]]) as usize;
    b[start..]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn conditional_images_train_sample_interpolate_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let run = dir.path().join("run");
    let (cfg_s, run_s) = (cfg.to_str().unwrap(), run.to_str().unwrap());
    let t = ok(&gan(&["train", "--config", cfg_s, "--out", run_s]));
    assert!(t.contains("4 classes"), "{t}");
    // One sample grid per evaluation, one row per class.
    assert!(run.join("samples/step-000000003.png").exists());
    let grid = image::open(run.join("plots/samples-latest.png")).unwrap();
    assert_eq!(grid.height(), 4 * (16 + 2) + 2);

    // .npy: shape (N, C, H, W) uint8; labels cycle over the classes unless --class is given.
    let npy = dir.path().join("x.npy");
    ok(&gan(&[
        "sample",
        "--run",
        run_s,
        "--n",
        "6",
        "--out",
        npy.to_str().unwrap(),
    ]));
    let bytes = std::fs::read(&npy).unwrap();
    let header = String::from_utf8_lossy(&bytes[10..80]).to_string();
    assert!(
        header.contains("'descr': '|u1'") && header.contains("(6, 1, 16, 16)"),
        "{header}"
    );
    assert_eq!(
        npy_i64(&dir.path().join("x.labels.npy")),
        vec![0, 1, 2, 3, 0, 1]
    );
    ok(&gan(&[
        "sample",
        "--run",
        run_s,
        "--n",
        "3",
        "--class",
        "2",
        "--out",
        npy.to_str().unwrap(),
    ]));
    assert_eq!(npy_i64(&dir.path().join("x.labels.npy")), vec![2, 2, 2]);
    let bad = gan(&[
        "sample", "--run", run_s, "--n", "3", "--class", "9", "--out", "y.npy",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--class 9"));
    let png = dir.path().join("g.png");
    ok(&gan(&[
        "sample",
        "--run",
        run_s,
        "--n",
        "8",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(png.exists());

    let strip = dir.path().join("i.png");
    ok(&gan(&[
        "interpolate",
        "--run",
        run_s,
        "--out",
        strip.to_str().unwrap(),
        "--steps",
        "5",
        "--rows",
        "2",
    ]));
    let img = image::open(&strip).unwrap();
    assert_eq!((img.width(), img.height()), (5 * 18 + 2, 2 * 18 + 2));

    // A classifier on the same (synthetic) data learns the band position; eval uses it.
    let clf = dir.path().join("clf");
    let t = ok(&gan(&[
        "classifier",
        "train",
        "--config",
        cfg_s,
        "--out",
        clf.to_str().unwrap(),
        "--epochs",
        "4",
        "--batch-size",
        "32",
        "--width",
        "4",
        "--device",
        "cpu",
    ]));
    assert!(t.contains("test accuracy"), "{t}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clf.join("classifier.json")).unwrap())
            .unwrap();
    assert!(meta["test_accuracy"].as_f64().unwrap() > 0.9, "{meta}");
    let out = dir.path().join("eval.json");
    let t = ok(&gan(&[
        "eval",
        "--run",
        run_s,
        "--n",
        "40",
        "--classifier",
        clf.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(t.contains("conditional accuracy"), "{t}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["n_samples"], 40);
    let c = &r["classifier"];
    assert_eq!(c["scores"]["class_histogram"].as_array().unwrap().len(), 4);
    assert!(c["scores"]["conditional_accuracy"].as_f64().is_some());
    assert_eq!(c["weights_sha256"], meta["weights_sha256"]);
    // Against the run's test split: FCD and the other feature scores.
    assert!(c["features"]["frechet_distance"].as_f64().unwrap() > 0.0);
    assert!(c["reference"]["name"]
        .as_str()
        .unwrap()
        .contains("synthetic"));
    // No Inception file here: skipped, with the way to get it.
    assert!(r["inception"].is_null());
    assert!(r["inception_missing"]
        .as_str()
        .unwrap()
        .contains("fetch-inception"));
    assert!(dir.path().join("eval.md").exists());

    // GAN-train / GAN-test of the conditional run.
    let out2 = dir.path().join("eval-gt.json");
    ok(&gan(&[
        "eval",
        "--run",
        run_s,
        "--n",
        "40",
        "--classifier",
        clf.to_str().unwrap(),
        "--gan-train",
        "--gan-train-epochs",
        "1",
        "--out",
        out2.to_str().unwrap(),
    ]));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out2).unwrap()).unwrap();
    let g = &r["gan_train_test"];
    assert_eq!(g["n_generated"], 40);
    assert_eq!(g["real_accuracy"], meta["test_accuracy"]);
    for key in ["gan_train", "gan_test"] {
        assert!((0.0..=1.0).contains(&g[key].as_f64().unwrap()), "{g}");
    }

    // The same scores from the .npy file and its labels.
    let t = ok(&gan(&[
        "eval",
        "--samples",
        npy.to_str().unwrap(),
        "--classifier",
        clf.to_str().unwrap(),
    ]));
    assert!(t.contains("labels from"), "{t}");
}

//! The `gan` binary on a translation run (tiny aligned pairs written by the test, no data
//! files needed): train pix2pix, `gan translate` a .npy, an image file and a folder (with the
//! mode recorded), `gan eval --run` with translation scores, and clear errors.
mod common;

use std::path::Path;

use common::{gan, ok, text};

/// `n` aligned grey pairs of 32x32 halves: A blocks, B = 255 - A.
fn pairs(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let img = image::GrayImage::from_fn(64, 32, |x, y| {
            let v = ((x % 32 / 8 + y / 8 * 4 + i * 7) * 37 % 256) as u8;
            image::Luma([if x < 32 { v } else { 255 - v }])
        });
        img.save(dir.join(format!("{i:02}.png"))).unwrap();
    }
}

#[test]
fn train_translate_and_evaluate_a_pix2pix_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pairs(&root.join("train"), 12);
    pairs(&root.join("test"), 6);
    let cfg = format!(
        r#"
name = "tiny-pix2pix"
device = "cpu"
[data]
kind = "aligned"
path = "{}"
test_path = "{}"
height = 32
width = 32
channels_a = 1
channels_b = 1
[model]
family = "pix2pix"
test_batch = 2
[model.generator]
arch = "unet"
ngf = 4
[model.discriminator]
arch = "patch"
ndf = 4
n_layers = 2
[optim]
lr_g = 2e-4
lr_d = 2e-4
[train]
steps = 6
batch_size = 4
log_every = 3
eval_every = 3
eval_samples = 6
checkpoint_every = 3
"#,
        root.join("train").display(),
        root.join("test").display()
    );
    let cfg_path = root.join("p2p.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let run = root.join("run");
    let run_s = run.to_str().unwrap();
    let log = ok(&gan(&[
        "train",
        "--config",
        cfg_path.to_str().unwrap(),
        "--out",
        run_s,
    ]));
    for stat in ["d_loss", "g_gan", "g_l1"] {
        assert!(log.contains(stat), "{stat} not in the log lines: {log}");
    }
    assert!(run.join("plots/samples-latest.png").is_file());

    // A .npy of the inputs: the same N and order, uint8 out, and the mode recorded.
    let npy_in = root.join("in.npy");
    let px: Vec<u8> = (0..3 * 32 * 32).map(|i| (i % 251) as u8).collect();
    gan_data::npy::write_u8(&npy_in, &[3, 1, 32, 32], &px).unwrap();
    let out = root.join("out.npy");
    ok(&gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        npy_in.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--mode",
        "eval",
    ]));
    let y = gan_data::npy::read_u8(&out).unwrap();
    assert_eq!(y.shape, [3, 1, 32, 32]);
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("out.json")).unwrap()).unwrap();
    assert_eq!(rec["test_mode"], "eval");
    assert_eq!(rec["images"], 3);
    // Eval mode is deterministic.
    ok(&gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        npy_in.to_str().unwrap(),
        "--out",
        root.join("again.npy").to_str().unwrap(),
        "--mode",
        "eval",
    ]));
    assert_eq!(
        gan_data::npy::read_u8(&root.join("again.npy"))
            .unwrap()
            .data,
        y.data
    );

    // A folder of images gives files of the same names; the run's default mode is recorded.
    let out_dir = root.join("translated");
    ok(&gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        root.join("test").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    // (The test folder holds A|B pairs, 64 wide: each is resized to the run's 32x32 input.)
    for i in 0..6 {
        let p = out_dir.join(format!("{i:02}.png"));
        let img = image::open(&p).unwrap();
        assert_eq!((img.width(), img.height()), (32, 32), "{}", p.display());
    }
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("translate.json")).unwrap())
            .unwrap();
    assert_eq!(rec["test_mode"], "stochastic");
    assert_eq!(rec["test_batch"], 2);

    // One image file in, one out.
    let single = root.join("single.png");
    ok(&gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        root.join("test/00.png").to_str().unwrap(),
        "--out",
        single.to_str().unwrap(),
    ]));
    assert!(single.is_file());

    // Errors: b-to-a on pix2pix, a wrong channel count, a sampler command on a translator.
    let e = gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        npy_in.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--direction",
        "b-to-a",
    ]);
    assert!(
        !e.status.success() && text(&e).contains("A -> B only"),
        "{}",
        text(&e)
    );
    let rgb = root.join("rgb.npy");
    gan_data::npy::write_u8(&rgb, &[1, 3, 32, 32], &[0; 3 * 32 * 32]).unwrap();
    let e = gan(&[
        "translate",
        "--run",
        run_s,
        "--input",
        rgb.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !e.status.success() && text(&e).contains("(N, 1, H, W)"),
        "{}",
        text(&e)
    );
    let e = gan(&["sample", "--run", run_s, "--n", "4", "--out", "x.npy"]);
    assert!(
        !e.status.success() && text(&e).contains("pix2pix"),
        "{}",
        text(&e)
    );

    // gan eval on the run: translation scores of the held-out pairs (no classifier here).
    let eval = ok(&gan(&["eval", "--run", run_s, "--no-inception"]));
    assert!(eval.contains("PSNR"), "{eval}");
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(rep["translation"]["n"], 6);
    assert_eq!(rep["translation"]["test_mode"], "stochastic");
    assert!(rep["translation"]["ssim"].as_f64().unwrap() <= 1.0);
}

/// `n` 16x16 images of one domain: grey blocks, or RGB ones.
fn domain(dir: &Path, n: u32, rgb: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let v = move |x: u32, y: u32| ((x / 4 + y / 4 * 4 + i * 7) * 37 % 256) as u8;
        let p = dir.join(format!("{i:02}.png"));
        if rgb {
            image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([v(x, y), 255 - v(x, y), 9]))
                .save(p)
                .unwrap();
        } else {
            image::GrayImage::from_fn(16, 16, |x, y| image::Luma([v(x, y)]))
                .save(p)
                .unwrap();
        }
    }
}

#[test]
fn train_translate_both_ways_and_evaluate_a_cyclegan_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    domain(&root.join("trainA"), 6, false);
    domain(&root.join("trainB"), 5, true);
    domain(&root.join("testA"), 4, false);
    domain(&root.join("testB"), 3, true);
    let cfg = format!(
        r#"
name = "tiny-cyclegan"
device = "cpu"
[data]
kind = "unpaired"
path = "{}"
height = 16
width = 16
channels_a = 1
channels_b = 3
[model]
family = "cyclegan"
lambda_identity = 0.0
pool_size = 4
test_batch = 2
[model.generator]
arch = "resnet"
ngf = 4
n_blocks = 1
[model.discriminator]
arch = "patch"
ndf = 4
n_layers = 1
[optim]
lr_g = 2e-4
lr_d = 2e-4
[train]
steps = 4
batch_size = 2
log_every = 2
eval_every = 4
eval_samples = 4
checkpoint_every = 2
"#,
        root.display()
    );
    let cfg_path = root.join("cg.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let run = root.join("run");
    let run_s = run.to_str().unwrap();
    let log = ok(&gan(&[
        "train",
        "--config",
        cfg_path.to_str().unwrap(),
        "--out",
        run_s,
    ]));
    for stat in ["g_a", "cycle_b", "d_a", "a-to-b", "b-to-a"] {
        assert!(log.contains(stat), "{stat} not in the log lines: {log}");
    }
    // Each direction takes its own domain's channels and gives the other's.
    for (direction, cin, cout) in [("a-to-b", 1, 3), ("b-to-a", 3, 1)] {
        let input = root.join(format!("{direction}-in.npy"));
        gan_data::npy::write_u8(&input, &[2, cin, 16, 16], &vec![7; 2 * cin * 256]).unwrap();
        let out = root.join(format!("{direction}-out.npy"));
        let args = [
            "translate",
            "--run",
            run_s,
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--direction",
            direction,
        ];
        ok(&gan(&args));
        assert_eq!(
            gan_data::npy::read_u8(&out).unwrap().shape,
            [2, cout, 16, 16]
        );
        let rec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(rec["direction"], direction);
        // The other domain's images are refused, naming the expected channels.
        let wrong = root.join(format!("{direction}-wrong.npy"));
        gan_data::npy::write_u8(&wrong, &[1, cout, 16, 16], &vec![0; cout * 256]).unwrap();
        let mut bad = args;
        bad[4] = wrong.to_str().unwrap();
        let e = gan(&bad);
        assert!(
            !e.status.success() && text(&e).contains(&format!("(N, {cin}, H, W)")),
            "{}",
            text(&e)
        );
    }
    // Both directions scored: the cycle error (no exact mapping for folders).
    ok(&gan(&[
        "eval",
        "--run",
        run_s,
        "--no-classifier",
        "--no-inception",
    ]));
    for direction in ["a-to-b", "b-to-a"] {
        let rep: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join(format!("eval-{direction}.json"))).unwrap(),
        )
        .unwrap();
        let l1 = rep["translation"]["cycle"]["l1"].as_f64().unwrap();
        assert!(l1.is_finite() && l1 > 0.0, "{rep}");
        assert!(rep["translation"].get("psnr").is_none(), "{rep}");
    }
}

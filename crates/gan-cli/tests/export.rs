//! `gan export`: the README's Python lines, run as they stand with the set-up venv's PyTorch,
//! give what `gan sample --latents --raw` writes (max abs difference <= 1e-5), for a batch size
//! other than the traced one; a conditional generator's module takes labels; the safetensors
//! export holds the generator's tensors.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{gan, ok, skip, venv_python};

fn config(conditional: bool) -> String {
    let (g, d) = if conditional {
        (
            "conditioning = \"batch-norm\"",
            "conditioning = \"projection\"",
        )
    } else {
        ("", "")
    };
    format!(
        r#"
name = "tiny-export"
seed = 2
device = "cpu"
[data]
kind = "synthetic"
images = 64
channels = 1
height = 16
width = 16
classes = 4
[generator]
arch = "dcgan"
latent_dim = 8
width = 4
{g}
[discriminator]
arch = "dcgan"
width = 4
{d}
[train]
steps = 4
batch_size = 8
log_every = 2
eval_every = 0
checkpoint_every = 2
"#
    )
}

fn train(dir: &Path, conditional: bool) -> PathBuf {
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, config(conditional)).unwrap();
    let run = dir.join("run");
    ok(&gan(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]));
    run
}

/// The README's ```python block under "Use a trained generator from Python".
fn readme_snippet() -> String {
    let readme = include_str!("../../../README.md");
    let at = readme
        .find("## Use a trained generator from Python")
        .unwrap();
    let rest = &readme[at..];
    let open = rest.find("```python\n").unwrap() + "```python\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_readme_python_lines_reproduce_gan_sample() {
    let Some(py) = venv_python() else {
        return skip(
            "the_readme_python_lines_reproduce_gan_sample",
            "no set-up venv Python (cargo xtask setup)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path(), false);
    let work = dir.path().join("py");
    std::fs::create_dir(&work).unwrap();
    // 5 latents: not the batch of 2 the module was traced with.
    let z: Vec<f32> = (0..5 * 8)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 4.0)
        .collect();
    gan_data::npy::write_f32(&work.join("latents.npy"), &[5, 8], &z).unwrap();
    let t = ok(&gan(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--format",
        "torchscript",
        "--out",
        work.join("generator.pt").to_str().unwrap(),
    ]));
    assert!(t.contains("wrote the EMA generator of step 4"), "{t}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("generator.json")).unwrap())
            .unwrap();
    assert_eq!(info["latent_dim"], 8);
    assert_eq!(info["output_shape"], serde_json::json!([1, 16, 16]));
    ok(&gan(&[
        "sample",
        "--run",
        run.to_str().unwrap(),
        "--latents",
        work.join("latents.npy").to_str().unwrap(),
        "--raw",
        "--out",
        work.join("sampled.npy").to_str().unwrap(),
    ]));
    std::fs::write(work.join("snippet.py"), readme_snippet()).unwrap();
    let o = Command::new(&py)
        .arg("snippet.py")
        .current_dir(&work)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let python = gan_data::npy::read_f32(&work.join("images.npy")).unwrap();
    let ours = gan_data::npy::read_f32(&work.join("sampled.npy")).unwrap();
    assert_eq!(python.shape, vec![5, 1, 16, 16]);
    assert_eq!(python.shape, ours.shape);
    let d = max_abs_diff(&python.data, &ours.data);
    assert!(d <= 1e-5, "max abs difference {d}");
    eprintln!("torch.jit.load vs gan sample: max abs difference {d:e}");
}

#[test]
fn conditional_modules_take_labels_and_safetensors_hold_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(dir.path(), true);
    let pt = dir.path().join("g.pt");
    ok(&gan(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--format",
        "torchscript",
        "--out",
        pt.to_str().unwrap(),
    ]));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("g.json")).unwrap()).unwrap();
    assert_eq!(info["conditional"], true);
    assert_eq!(info["classes"].as_array().unwrap().len(), 4);
    // The module in Rust: forward(z, y) for 3 samples gives 3 images in [-1, 1], and the label
    // changes the image.
    let m = tch::CModule::load(&pt).unwrap();
    let z = tch::Tensor::ones([3, 8], (tch::Kind::Float, tch::Device::Cpu));
    let y = tch::Tensor::from_slice(&[0i64, 1, 2]);
    let x = m.forward_ts(&[z, y]).unwrap();
    assert_eq!(x.size(), vec![3, 1, 16, 16]);
    assert!(x.abs().max().double_value(&[]) <= 1.0);
    let diff = (x.get(0) - x.get(1)).abs().max().double_value(&[]);
    assert!(diff > 0.0, "labels must matter");

    let st = dir.path().join("g.safetensors");
    ok(&gan(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        st.to_str().unwrap(),
    ]));
    let tensors = tch::Tensor::read_safetensors(&st).unwrap();
    assert!(tensors.len() > 5, "{}", tensors.len());
    assert!(tensors.iter().any(|(n, _)| n.contains("weight")));
    let t = String::from_utf8_lossy(
        &gan(&[
            "export",
            "--run",
            run.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            "x.pt",
        ])
        .stderr,
    )
    .to_string();
    assert!(t.contains("use a .safetensors file"), "{t}");
}

/// `scripts/dcgan64_from_safetensors.py` loads the DCGAN-64 export into pytorch/examples'
/// Generator (strict state-dict load) and gives what `gan sample` gives, to 1e-5.
#[test]
fn the_dcgan64_safetensors_load_into_pytorch_examples_generator() {
    let Some(py) = venv_python() else {
        return skip(
            "the_dcgan64_safetensors_load_into_pytorch_examples_generator",
            "no set-up venv Python",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&gan(&[
        "train",
        "--config",
        "bench-dcgan64",
        "--steps",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]));
    let st = dir.path().join("g.safetensors");
    ok(&gan(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        st.to_str().unwrap(),
    ]));
    let z: Vec<f32> = (0..3 * 100)
        .map(|i| ((i * 29 % 23) as f32 - 11.0) / 6.0)
        .collect();
    let latents = dir.path().join("z.npy");
    gan_data::npy::write_f32(&latents, &[3, 100], &z).unwrap();
    let ours = dir.path().join("ours.npy");
    ok(&gan(&[
        "sample",
        "--run",
        run.to_str().unwrap(),
        "--latents",
        latents.to_str().unwrap(),
        "--raw",
        "--out",
        ours.to_str().unwrap(),
    ]));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dcgan64_from_safetensors.py");
    let theirs = dir.path().join("theirs.npy");
    let o = Command::new(&py)
        .arg(script)
        .args([&st, &latents, &theirs])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = gan_data::npy::read_f32(&ours).unwrap();
    let b = gan_data::npy::read_f32(&theirs).unwrap();
    assert_eq!(a.shape, vec![3, 3, 64, 64]);
    assert_eq!(a.shape, b.shape);
    let d = max_abs_diff(&a.data, &b.data);
    assert!(d <= 1e-5, "max abs difference {d}");
    eprintln!("pytorch/examples Generator vs gan sample: max abs difference {d:e}");
}

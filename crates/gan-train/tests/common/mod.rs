//! Shared helpers: a tiny config and a runner that records events.
#![allow(dead_code)]
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use gan_train::{Event, Outcome, TrainConfig, Trainer};
use tch::Tensor;

/// Torch's random generator is process-global and the loop re-seeds it every step, so two
/// trainings in one process must not interleave: every test that trains holds this lock.
pub fn torch_rng_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A small ring config with every moving part: batch norm, packing, EMA, maxout.
pub fn tiny(steps: u64) -> TrainConfig {
    let text = format!(
        r#"
name = "tiny"
seed = 7
device = "cpu"
[data]
kind = "ring"
[generator]
arch = "mlp"
latent_dim = 2
[generator.mlp]
depth = 2
width = 32
batch_norm = true
[discriminator]
arch = "mlp"
pack = 2
[discriminator.mlp]
depth = 2
width = 16
maxout = 3
activation = "identity"
[optim]
lr_g = 5e-4
lr_d = 5e-4
[train]
steps = {steps}
batch_size = 20
log_every = 5
eval_every = 0
eval_samples = 200
checkpoint_every = 10
keep_checkpoints = 2
"#
    );
    TrainConfig::from_toml_str(&text, Path::new("tiny.toml")).unwrap()
}

/// Runs to completion, or raises the stop flag once `stop_at` steps are done.
pub fn run(t: &mut Trainer, stop_at: Option<u64>) -> Outcome {
    let stop = AtomicBool::new(false);
    t.run(&stop, &mut |e| {
        if let (Event::Step { step, .. }, Some(at)) = (e, stop_at) {
            if step == at {
                stop.store(true, Ordering::SeqCst);
            }
        }
    })
    .unwrap()
}

/// Asserts two tensor lists have the same names and bit-identical values.
pub fn assert_identical(a: &[(String, Tensor)], b: &[(String, Tensor)]) {
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "tensor `{na}` differs");
    }
}

/// A tiny class-conditional image config on synthetic data: DCGAN networks at 16x16 with
/// conditional batch norm and a projection discriminator (or `d_conditioning`), 50 images
/// (so 40 steps of batch 10 cross several epochs of the shuffle).
pub fn tiny_images(steps: u64, d_conditioning: &str) -> TrainConfig {
    let text = format!(
        r#"
name = "tiny-images"
seed = 3
device = "cpu"
[data]
kind = "synthetic"
images = 50
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
conditioning = "{d_conditioning}"
[optim]
lr_g = 2e-4
lr_d = 2e-4
[train]
steps = {steps}
batch_size = 10
log_every = 5
eval_every = 20
checkpoint_every = 10
keep_checkpoints = 2
"#
    );
    TrainConfig::from_toml_str(&text, Path::new("tiny-images.toml")).unwrap()
}

/// Writes `n` aligned A|B pairs (`size x 2 size` PNGs, A grey blocks, B = 255 - A) into
/// `dir`.
pub fn aligned_pairs(dir: &Path, n: usize, size: u32, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..n {
        let mut img = image::GrayImage::new(2 * size, size);
        let blocks: Vec<u8> = (0..16).map(|_| (next() % 256) as u8).collect();
        for y in 0..size {
            for x in 0..size {
                let v = blocks[((y * 4 / size) * 4 + x * 4 / size) as usize];
                img.put_pixel(x, y, image::Luma([v]));
                img.put_pixel(x + size, y, image::Luma([255 - v]));
            }
        }
        img.save(dir.join(format!("{i:03}.png"))).unwrap();
    }
}

/// A tiny pix2pix config on aligned pairs in `root/train` and `root/test` (36x36 halves,
/// random 32x32 crops and flips, U-Net and PatchGAN of width 4).
pub fn tiny_pix2pix(root: &Path, steps: u64) -> TrainConfig {
    if !root.join("train").exists() {
        aligned_pairs(&root.join("train"), 24, 36, 1);
        aligned_pairs(&root.join("test"), 8, 36, 2);
    }
    let text = format!(
        r#"
name = "tiny-pix2pix"
seed = 5
device = "cpu"
[data]
kind = "aligned"
path = "{train}"
test_path = "{test}"
height = 36
width = 36
channels_a = 1
channels_b = 1
[data.jitter]
crop = [32, 32]
flip = true
[model]
family = "pix2pix"
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
steps = {steps}
batch_size = 4
log_every = 5
eval_every = 20
eval_samples = 8
checkpoint_every = 10
keep_checkpoints = 2
"#,
        train = root.join("train").display(),
        test = root.join("test").display(),
    );
    TrainConfig::from_toml_str(&text, Path::new("tiny-pix2pix.toml")).unwrap()
}

/// `n` blocky `size`x`size` images in `dir`: grey, or RGB (the grey blocks in red, their
/// negative in green and blue).
pub fn domain_images(dir: &Path, n: usize, size: u32, rgb: bool, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..n {
        let blocks: Vec<u8> = (0..16).map(|_| (next() % 256) as u8).collect();
        let v = |x: u32, y: u32| blocks[((y * 4 / size) * 4 + x * 4 / size) as usize];
        let path = dir.join(format!("{i:03}.png"));
        if rgb {
            image::RgbImage::from_fn(size, size, |x, y| {
                let g = v(x, y);
                image::Rgb([g, 255 - g, 255 - g])
            })
            .save(path)
            .unwrap();
        } else {
            image::GrayImage::from_fn(size, size, |x, y| image::Luma([v(x, y)]))
                .save(path)
                .unwrap();
        }
    }
}

/// A tiny cyclegan config on unpaired folders under `root` (grey A <-> RGB B, 20x20 images
/// with random 16x16 crops and flips, ResNet generators and PatchGANs of width 4, a pool of
/// 6 fakes that fills within 3 steps of batch 2).
pub fn tiny_cyclegan(root: &Path, steps: u64) -> TrainConfig {
    if !root.join("trainA").exists() {
        domain_images(&root.join("trainA"), 10, 20, false, 1);
        domain_images(&root.join("trainB"), 7, 20, true, 2);
        domain_images(&root.join("testA"), 4, 20, false, 3);
        domain_images(&root.join("testB"), 4, 20, true, 4);
    }
    let text = format!(
        r#"
name = "tiny-cyclegan"
seed = 9
device = "cpu"
[data]
kind = "unpaired"
path = "{root}"
height = 20
width = 20
channels_a = 1
channels_b = 3
[data.jitter]
crop = [16, 16]
flip = true
[model]
family = "cyclegan"
lambda_identity = 0.0
pool_size = 6
test_batch = 3
[model.generator]
arch = "resnet"
ngf = 4
n_blocks = 2
[model.discriminator]
arch = "patch"
ndf = 4
n_layers = 1
norm = "instance"
[optim]
lr_g = 2e-4
lr_d = 2e-4
schedule = "linear-decay"
decay_start = 0.5
[train]
steps = {steps}
batch_size = 2
log_every = 5
eval_every = 10
eval_samples = 4
checkpoint_every = 5
keep_checkpoints = 2
"#,
        root = root.display(),
    );
    TrainConfig::from_toml_str(&text, Path::new("tiny-cyclegan.toml")).unwrap()
}

/// A tiny class-conditional StyleGAN2 config on synthetic 16x16 images: both lazy
/// regularisers on short intervals (R1 every 3 steps, path length every 2), style mixing
/// always, EMA.
pub fn tiny_stylegan2(steps: u64) -> TrainConfig {
    let text = format!(
        r#"
name = "tiny-stylegan2"
seed = 5
device = "cpu"
[data]
kind = "synthetic"
images = 40
channels = 1
height = 16
width = 16
classes = 3
[model]
family = "stylegan2"
r1_gamma = 1.0
r1_every = 3
pl_every = 2
style_mixing = 1.0
[generator]
arch = "stylegan2"
latent_dim = 8
w_dim = 8
mapping_layers = 2
channel_base = 64
channel_max = 8
conditioning = "mapping"
[discriminator]
arch = "stylegan2"
channel_base = 64
channel_max = 8
mbstd_group = 4
mapping_layers = 2
conditioning = "projection"
[optim]
lr_g = 0.0025
lr_d = 0.0025
beta1 = 0.0
beta2 = 0.99
[train]
steps = {steps}
batch_size = 8
log_every = 5
eval_every = 0
checkpoint_every = 10
keep_checkpoints = 2
ema_decay = 0.9
"#
    );
    TrainConfig::from_toml_str(&text, Path::new("tiny-stylegan2.toml")).unwrap()
}

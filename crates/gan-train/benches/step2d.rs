//! Criterion bench of one 2D training step of `configs/bench-2d.toml` (PacGAN-sized networks:
//! G 4x400 batch norm + ReLU, D 3x200 maxout(5), batch 100) on the CPU with 2 threads.
//! `cargo xtask bench` runs the same step side by side with the PyTorch eager script.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use gan_tensor::DeviceSpec;
use gan_train::{TrainConfig, Trainer};

fn step2d(c: &mut Criterion) {
    let text = include_str!("../../../configs/bench-2d.toml");
    let mut cfg = TrainConfig::from_toml_str(text, Path::new("configs/bench-2d.toml")).unwrap();
    cfg.device = DeviceSpec::Cpu;
    cfg.train.threads = 2;
    cfg.train.steps = u64::MAX / 2;
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(cfg, dir.path()).unwrap();
    c.bench_function("2d-pacgan-step-cpu-2threads", |b| {
        b.iter(|| t.train_step().unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = step2d
}
criterion_main!(benches);

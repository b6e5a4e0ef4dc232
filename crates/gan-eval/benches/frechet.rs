//! The Frechet distance of 10k vs 10k 2048-d features (FID-sized): statistics of both sets
//! and the distance, in float64, on the CPU threads libtorch is given.
#![allow(missing_docs)] // criterion_group! generates undocumented items
use criterion::{criterion_group, criterion_main, Criterion};
use gan_eval::{feature_stats, frechet_distance};
use tch::{Device, Kind, Tensor};

fn fid_sized(c: &mut Criterion) {
    tch::manual_seed(0);
    let a = Tensor::randn([10_000, 2048], (Kind::Float, Device::Cpu)).relu();
    let b = Tensor::randn([10_000, 2048], (Kind::Float, Device::Cpu)).relu() * 1.1;
    let mut group = c.benchmark_group("frechet");
    group.sample_size(10);
    group.bench_function("stats+distance 10k vs 10k x 2048", |bench| {
        bench.iter(|| {
            let (m1, s1) = feature_stats(&a).unwrap();
            let (m2, s2) = feature_stats(&b).unwrap();
            frechet_distance(&m1, &s1, &m2, &s2).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, fid_sized);
criterion_main!(benches);

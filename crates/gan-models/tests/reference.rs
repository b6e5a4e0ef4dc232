//! gan-models against PyTorch: pytorch/examples' DCGAN (at a small width) with identical
//! weights gives the same outputs, and every variable has its PyTorch name and shape.
//! Fixtures come from `scripts/model_fixtures.py`.

mod common;

use common::{assert_close, fixture, load};
use gan_models::{DataSpec, Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
use tch::{nn, Device};

#[test]
fn dcgan64_matches_pytorch_examples() {
    let t = fixture("dcgan64_small.safetensors");
    let data = DataSpec::images(3, 64, 64, 0);
    let g_cfg = GeneratorConfig::Dcgan {
        latent_dim: 16,
        width: 4,
        conditioning: Default::default(),
    };
    let d_cfg = DiscriminatorConfig::Dcgan {
        width: 4,
        pack: 1,
        spectral_norm: false,
        conditioning: Default::default(),
    };
    let vs_g = nn::VarStore::new(Device::Cpu);
    let vs_d = nn::VarStore::new(Device::Cpu);
    let g = Generator::new(&vs_g.root(), &g_cfg, &data).unwrap();
    let d = Discriminator::new(&vs_d.root(), &d_cfg, &data).unwrap();
    load(&vs_g, &t, "g.");
    load(&vs_d, &t, "d.");

    let x = g.forward_t(&t["z"], None, true).unwrap();
    assert_close(&x, &t["g_out"], "generator output (train mode)");
    let logits = d.forward_t(&t["g_out"], None, true).unwrap();
    assert_close(&logits, &t["d_out"], "discriminator logits (train mode)");
    for (name, var) in vs_g.variables().iter().chain(vs_d.variables().iter()) {
        if name.contains("running") {
            let key = if vs_g.variables().contains_key(name) {
                format!("g_after.{name}")
            } else {
                format!("d_after.{name}")
            };
            assert_close(var, &t[&key], &key);
        }
    }
    let x_eval = g.forward_t(&t["z"], None, false).unwrap();
    assert_close(&x_eval, &t["g_eval_out"], "generator output (eval mode)");
}

fn count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

/// pytorch/examples' sizes: nz = 100, ngf = ndf = 64, 3 channels.
#[test]
fn dcgan64_parameter_counts() {
    let data = DataSpec::images(3, 64, 64, 0);
    let vs_g = nn::VarStore::new(Device::Cpu);
    let vs_d = nn::VarStore::new(Device::Cpu);
    let g_cfg: GeneratorConfig = toml::from_str("arch = 'dcgan'").unwrap();
    let d_cfg: DiscriminatorConfig = toml::from_str("arch = 'dcgan'").unwrap();
    Generator::new(&vs_g.root(), &g_cfg, &data).unwrap();
    Discriminator::new(&vs_d.root(), &d_cfg, &data).unwrap();
    assert_eq!(count(&vs_g), 3_576_704);
    assert_eq!(count(&vs_d), 2_765_568);
}

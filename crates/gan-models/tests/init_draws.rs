//! The networks' variables are created in tch's order with tch's draws: the MLPs' hand-built
//! linear layers and batch norms (which return errors instead of panicking) against tch's
//! `nn::linear` and `nn::batch_norm1d`.
//!
//! One test in its own binary: it reseeds libtorch's global generator and compares draws,
//! which other tests running in parallel would disturb.

use gan_models::{MlpConfig, MlpDiscriminator, MlpGenerator, WeightInit};
use tch::nn::{self, Init};
use tch::Device;

fn tch_config(init: WeightInit, std: f64, i: i64, o: i64) -> nn::LinearConfig {
    match init {
        WeightInit::Torch => nn::LinearConfig::default(),
        WeightInit::Xavier => {
            let bound = (6.0 / (i + o) as f64).sqrt();
            nn::LinearConfig {
                ws_init: Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
                bs_init: Some(Init::Const(0.0)),
                bias: true,
            }
        }
        WeightInit::Normal => nn::LinearConfig {
            ws_init: Init::Randn {
                mean: 0.0,
                stdev: std,
            },
            bs_init: Some(Init::Const(0.0)),
            bias: true,
        },
    }
}

fn assert_same(ours: &nn::VarStore, theirs: &nn::VarStore, what: &str) {
    let (ours, theirs) = (ours.variables(), theirs.variables());
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (name, t) in &theirs {
        let o = &ours[name];
        assert_eq!(t.size(), o.size(), "{what} {name}");
        assert!(t.equal(o), "{what} {name}");
        assert_eq!(t.requires_grad(), o.requires_grad(), "{what} {name}");
    }
}

#[test]
fn mlp_variables_match_tchs_constructors_draw_for_draw() {
    for init in [WeightInit::Torch, WeightInit::Xavier, WeightInit::Normal] {
        for batch_norm in [false, true] {
            let cfg = MlpConfig {
                depth: 2,
                width: 6,
                batch_norm,
                maxout: 2,
                init,
                ..Default::default()
            };
            let what = format!("{init:?} batch_norm = {batch_norm}");
            let config = |i, o| tch_config(init, cfg.init_std, i, o);

            let ours = nn::VarStore::new(Device::Cpu);
            tch::manual_seed(11);
            MlpGenerator::new(&(ours.root() / "g"), 3, &cfg, 2).unwrap();
            MlpDiscriminator::new(&(ours.root() / "d"), 2, &cfg, 2).unwrap();

            let theirs = nn::VarStore::new(Device::Cpu);
            tch::manual_seed(11);
            for (p, input, output) in [(theirs.root() / "g", 3, 2), (theirs.root() / "d", 4, 1)] {
                for i in 0..2 {
                    let fan_in = if i == 0 { input } else { 6 };
                    nn::linear(&p / format!("fc{i}"), fan_in, 12, config(fan_in, 12));
                    if batch_norm {
                        nn::batch_norm1d(&p / format!("bn{i}"), 6, Default::default());
                    }
                }
                nn::linear(&p / "out", 6, output, config(6, output));
            }
            assert_same(&ours, &theirs, &what);
            // The trainable variables in the same order (what the optimisers walk).
            let order = |vs: &nn::VarStore| {
                vs.trainable_variables()
                    .iter()
                    .map(|t| t.size())
                    .collect::<Vec<_>>()
            };
            assert_eq!(order(&ours), order(&theirs), "{what}");
        }
    }
}

use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

use crate::config::{Activation, MlpConfig, WeightInit};
use crate::layers::{self, leaky_relu_t, BatchNorm};
use crate::{Error, Result};

/// One hidden layer: linear (with `maxout` pieces per unit), optional batch norm, activation.
#[derive(Debug)]
struct Hidden {
    linear: nn::Linear,
    bn: Option<BatchNorm>,
    maxout: i64,
    width: i64,
    activation: Activation,
    leaky_slope: f64,
}

impl Hidden {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.apply(&self.linear);
        if self.maxout > 1 {
            h = h.view([-1, self.width, self.maxout]).amax([2], false);
        }
        if let Some(bn) = &self.bn {
            h = bn.forward_t(&h, None, train);
        }
        match self.activation {
            Activation::Relu => h.relu(),
            Activation::LeakyRelu => leaky_relu_t(&h, self.leaky_slope),
            Activation::Tanh => h.tanh(),
            Activation::Elu => h.elu(),
            Activation::Silu => h.silu(),
            Activation::Identity => h,
        }
    }
}

/// A linear layer `i -> o` with the config's initialisation: the variables of tch's
/// `nn::linear` (`bias` first, then `weight`; the bias from U(-1/sqrt(i), 1/sqrt(i)) unless
/// the config sets it), in the same order and with the same draws, but an error instead of a
/// panic where they cannot be created.
fn linear(p: nn::Path, i: i64, o: i64, cfg: &MlpConfig) -> Result<nn::Linear> {
    let c = match cfg.init {
        WeightInit::Normal => nn::LinearConfig {
            ws_init: Init::Randn {
                mean: 0.0,
                stdev: cfg.init_std,
            },
            bs_init: Some(Init::Const(0.0)),
            bias: true,
        },
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
        WeightInit::Torch => nn::LinearConfig::default(),
    };
    let bs = if c.bias {
        let bs_init = c.bs_init.unwrap_or_else(|| {
            let bound = 1.0 / (i as f64).sqrt();
            Init::Uniform {
                lo: -bound,
                up: bound,
            }
        });
        Some(layers::var(&p, "bias", &[o], bs_init)?)
    } else {
        None
    };
    let ws = layers::var(&p, "weight", &[o, i], c.ws_init)?;
    Ok(nn::Linear { ws, bs })
}

fn body(p: &nn::Path, input: i64, cfg: &MlpConfig) -> Result<Vec<Hidden>> {
    let width = cfg.width as i64;
    let maxout = cfg.maxout as i64;
    // tch's `nn::batch_norm1d` default: scales from U(0, 1).
    let bn_scale = nn::BatchNormConfig::default().ws_init;
    (0..cfg.depth)
        .map(|i| {
            let fan_in = if i == 0 { input } else { width };
            Ok(Hidden {
                linear: linear(p / format!("fc{i}"), fan_in, width * maxout, cfg)?,
                bn: cfg
                    .batch_norm
                    .then(|| BatchNorm::shared(p / format!("bn{i}"), width, bn_scale))
                    .transpose()?,
                maxout,
                width,
                activation: cfg.activation,
                leaky_slope: cfg.leaky_slope,
            })
        })
        .collect()
}

/// MLP generator: `latent_dim -> [width] * depth -> data_dim`, linear output.
#[derive(Debug)]
pub struct MlpGenerator {
    hidden: Vec<Hidden>,
    out: nn::Linear,
    latent_dim: i64,
}

impl MlpGenerator {
    /// Builds the network under `p` (variables `fc{i}`, `bn{i}`, `out`). A variable that
    /// cannot be created (e.g. too big for the memory available) is an error naming it.
    pub fn new(p: &nn::Path, latent_dim: i64, cfg: &MlpConfig, data_dim: i64) -> Result<Self> {
        Ok(MlpGenerator {
            hidden: body(p, latent_dim, cfg)?,
            out: linear(p / "out", cfg.width as i64, data_dim, cfg)?,
            latent_dim,
        })
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        self.latent_dim
    }
}

impl ModuleT for MlpGenerator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let h = self
            .hidden
            .iter()
            .fold(z.shallow_clone(), |h, l| l.forward_t(&h, train));
        h.apply(&self.out)
    }
}

/// MLP discriminator judging `pack` samples concatenated (PacGAN): `data_dim * pack -> [width] * depth -> 1`.
#[derive(Debug)]
pub struct MlpDiscriminator {
    hidden: Vec<Hidden>,
    out: nn::Linear,
    pack: i64,
    data_dim: i64,
    batch_norm: bool,
}

impl MlpDiscriminator {
    /// Builds the network under `p` (variables `fc{i}`, `bn{i}`, `out`). A variable that
    /// cannot be created (e.g. too big for the memory available) is an error naming it.
    pub fn new(p: &nn::Path, pack: i64, cfg: &MlpConfig, data_dim: i64) -> Result<Self> {
        Ok(MlpDiscriminator {
            hidden: body(p, data_dim * pack, cfg)?,
            out: linear(p / "out", cfg.width as i64, 1, cfg)?,
            pack,
            data_dim,
            batch_norm: cfg.batch_norm,
        })
    }

    /// Whether each pack's logit depends on that pack alone (no batch norm in training mode).
    pub fn batch_independent(&self) -> bool {
        !self.batch_norm
    }

    /// Packing degree.
    pub fn pack(&self) -> i64 {
        self.pack
    }

    /// Logits `[B / pack]` for samples `[B, data_dim]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let size = x.size();
        if size.len() != 2 || size[1] != self.data_dim || size[0] == 0 || size[0] % self.pack != 0 {
            return Err(Error::Shape {
                what: "discriminator input",
                expected: format!(
                    "[B, {}] with B a positive multiple of pack = {}",
                    self.data_dim, self.pack
                ),
                got: size,
            });
        }
        // Consecutive samples form a pack: rows [k*pack, (k+1)*pack) become one row.
        let h = x.reshape([size[0] / self.pack, self.data_dim * self.pack]);
        let h = self.hidden.iter().fold(h, |h, l| l.forward_t(&h, train));
        Ok(h.apply(&self.out).view([-1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn count(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// The leaky ReLU (a multiply by a mask) against its definition `max(x, slope * x)`:
    /// values, the gradient, and the gradient of a gradient norm (what R1 and WGAN-GP
    /// differentiate).
    #[test]
    fn leaky_relu_matches_its_definition_to_second_order() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig {
            depth: 1,
            width: 8,
            activation: Activation::LeakyRelu,
            leaky_slope: 0.2,
            init: WeightInit::Torch,
            ..Default::default()
        };
        tch::manual_seed(3);
        let layer = body(&vs.root(), 3, &cfg).unwrap().remove(0);
        let x = Tensor::randn([16, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let reference = |x: &Tensor| {
            let h = x.apply(&layer.linear);
            h.maximum(&(&h * 0.2))
        };
        let r1 = |y: &Tensor| {
            let g = Tensor::run_backward(&[y.square().sum(Kind::Float)], &[&x], true, true);
            let gnorm = g[0].square().sum(Kind::Float);
            let w = &layer.linear.ws;
            let gw = Tensor::run_backward(&[&gnorm], &[w], false, false).remove(0);
            Tensor::cat(&[gw.reshape([-1]), gnorm.reshape([1])], 0)
        };
        let (ours, theirs) = (layer.forward_t(&x, true), reference(&x));
        assert!(ours.allclose(&theirs, 1e-6, 1e-7, false));
        assert!(r1(&ours).allclose(&r1(&theirs), 1e-5, 1e-6, false));
    }

    #[test]
    fn pacgan_sizes() {
        // PacGAN 2D nets: G 4x400 BN ReLU from a 2-d latent; D 3x200 maxout(5), pack 2.
        let vs = nn::VarStore::new(Device::Cpu);
        let gcfg = MlpConfig {
            depth: 4,
            width: 400,
            batch_norm: true,
            ..Default::default()
        };
        let g = MlpGenerator::new(&(vs.root() / "g"), 2, &gcfg, 2).unwrap();
        let g_params = count(&vs);
        // (2*400+400) + 3*(400*400+400) + 4*(2*400 BN) + (400*2+2)
        assert_eq!(g_params, 1200 + 3 * 160_400 + 3200 + 802);
        let vs2 = nn::VarStore::new(Device::Cpu);
        let dcfg = MlpConfig {
            depth: 3,
            width: 200,
            maxout: 5,
            activation: Activation::Identity,
            ..Default::default()
        };
        let d = MlpDiscriminator::new(&(vs2.root() / "d"), 2, &dcfg, 2).unwrap();
        assert_eq!(
            count(&vs2),
            (4 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201
        );
        let z = Tensor::randn([100, 2], (Kind::Float, Device::Cpu));
        let x = g.forward_t(&z, true);
        assert_eq!(x.size(), vec![100, 2]);
        assert_eq!(d.forward_t(&x, true).unwrap().size(), vec![50]);
    }

    #[test]
    fn packing_concatenates_consecutive_samples() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig {
            depth: 1,
            width: 4,
            ..Default::default()
        };
        let d = MlpDiscriminator::new(&(vs.root() / "d"), 2, &cfg, 2).unwrap();
        let x = Tensor::randn([6, 2], (Kind::Float, Device::Cpu));
        let all = d.forward_t(&x, false).unwrap();
        let first = d.forward_t(&x.narrow(0, 0, 2), false).unwrap();
        assert!(all.narrow(0, 0, 1).allclose(&first, 1e-6, 1e-6, false));
        // Swapping the two samples inside a pack changes the verdict (order-sensitive input).
        let swapped = d.forward_t(&x.narrow(0, 0, 2).flip([0]), false).unwrap();
        assert!(!swapped.allclose(&first, 1e-7, 1e-7, false));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let d = MlpDiscriminator::new(&(vs.root() / "d"), 4, &MlpConfig::default(), 2).unwrap();
        for shape in [vec![6i64, 2], vec![8, 3], vec![0, 2], vec![8]] {
            let x = Tensor::zeros(shape.as_slice(), (Kind::Float, Device::Cpu));
            let err = d.forward_t(&x, false).unwrap_err();
            assert!(err.to_string().contains("pack = 4"), "{err}");
        }
    }

    #[test]
    fn maxout_takes_the_max_piece() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig {
            depth: 1,
            width: 1,
            maxout: 3,
            activation: Activation::Identity,
            ..Default::default()
        };
        let d = MlpDiscriminator::new(&(vs.root() / "d"), 1, &cfg, 1).unwrap();
        tch::no_grad(|| {
            let mut vars = vs.variables();
            vars.get_mut("d.fc0.weight")
                .unwrap()
                .copy_(&Tensor::from_slice(&[1f32, -2.0, 3.0]).view([3, 1]));
            let _ = vars.get_mut("d.out.weight").unwrap().fill_(1.0);
        });
        let x = Tensor::from_slice(&[2f32, -1.0]).view([2, 1]);
        let y = Vec::<f32>::try_from(d.forward_t(&x, false).unwrap()).unwrap();
        assert_eq!(y, vec![6.0, 2.0]); // max(2, -4, 6) and max(-1, 2, -3)
    }

    /// A generator whose layers exceed the memory budget fails, naming the parameter, before
    /// allocating it (width 300000: 360 GB per hidden layer).
    #[test]
    fn a_network_too_big_for_memory_is_an_error_naming_the_parameter() {
        let width: usize = 300_000;
        let layer_bytes = (width * width * 4) as u64;
        // Run only where the budget is known to refuse such a layer, so that the network can
        // never really be allocated.
        match gan_tensor::memory::available() {
            Some(b) if b.bytes < layer_bytes => {}
            budget => {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIP a_network_too_big_for_memory: budget {budget:?} does not refuse \
                     {layer_bytes} bytes"
                );
                return;
            }
        }
        assert!(gan_tensor::memory::check_fits("probe", layer_bytes).is_err());
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig {
            depth: 2,
            width,
            init: WeightInit::Xavier,
            ..Default::default()
        };
        let err = MlpGenerator::new(&(vs.root() / "g"), 2, &cfg, 2).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Tensor(gan_tensor::Error::OutOfMemory { needed, .. }) if needed == layer_bytes
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("parameter `g.fc1.weight` of shape [300000, 300000]")
                && msg.contains("needs about 360.0 GB"),
            "{msg}"
        );
        // The same through the public discriminator constructor.
        let err = MlpDiscriminator::new(&(vs.root() / "d"), 1, &cfg, 2).unwrap_err();
        assert!(err.to_string().contains("`d.fc1.weight`"), "{err}");
    }

    #[test]
    fn init_std_is_honoured() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig {
            depth: 1,
            width: 512,
            init_std: 0.02,
            ..Default::default()
        };
        let _ = MlpGenerator::new(&(vs.root() / "g"), 512, &cfg, 2).unwrap();
        let w = &vs.variables()["g.fc0.weight"];
        let std = w.std(true).double_value(&[]);
        assert!((std - 0.02).abs() < 0.001, "{std}");
        assert_eq!(
            vs.variables()["g.fc0.bias"]
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }
}

//! SNGAN's ResNet generator and discriminator (Miyato et al. 2018, the CIFAR-10 networks; block
//! layout and initialisation as in mimicry's `sngan_32`): the generator up-samples a 4x4 map
//! through residual blocks, the discriminator is spectrally normalised throughout and pools
//! by summation. Conditional variants (cGAN-PD, Miyato & Koyama 2018) use conditional batch
//! norm in the generator's blocks and a projection (`embed`) in the discriminator.

use std::f64::consts::SQRT_2;

use tch::nn;
use tch::Tensor;

use crate::config::{DConditioning, GConditioning};
use crate::dcgan::{check_labels, image_dims};
use crate::layers::{BatchNorm, Conv2d, ConvOpts, Embedding, Linear, WInit};
use crate::{DataSpec, Error, Result};

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, gain: f64, sn: bool) -> Result<Conv2d> {
    let opts = ConvOpts {
        stride: 1,
        padding: k / 2,
        bias: true,
        spectral_norm: sn,
        init: WInit::Xavier(gain),
    };
    Conv2d::new(p, cin, cout, [k, k], opts)
}

fn upsample(x: &Tensor) -> Tensor {
    let s = x.size();
    x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None)
}

fn downsample(x: &Tensor) -> Tensor {
    x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)
}

/// Generator block: BN, ReLU, 2x nearest up-sampling, 3x3 conv, BN, ReLU, 3x3 conv; the
/// shortcut up-samples and applies a 1x1 conv.
#[derive(Debug)]
struct GBlock {
    b1: BatchNorm,
    c1: Conv2d,
    b2: BatchNorm,
    c2: Conv2d,
    c_sc: Conv2d,
}

impl GBlock {
    fn new(p: nn::Path, cin: i64, cout: i64, classes: i64) -> Result<Self> {
        Ok(GBlock {
            b1: BatchNorm::new(&p / "b1", cin, classes, 0.0)?,
            c1: conv(&p / "c1", cin, cout, 3, SQRT_2, false)?,
            b2: BatchNorm::new(&p / "b2", cout, classes, 0.0)?,
            c2: conv(&p / "c2", cout, cout, 3, SQRT_2, false)?,
            c_sc: conv(&p / "c_sc", cin, cout, 1, 1.0, false)?,
        })
    }

    fn forward_t(&self, x: &Tensor, y: Option<&Tensor>, train: bool) -> Tensor {
        let h = upsample(&self.b1.forward_t(x, y, train).relu());
        let h = self.c1.forward_t(&h, train);
        let h = self
            .c2
            .forward_t(&self.b2.forward_t(&h, y, train).relu(), train);
        h + self.c_sc.forward_t(&upsample(x), train)
    }
}

/// SNGAN ResNet generator: latent `[B, latent_dim]` to images in [-1, 1].
#[derive(Debug)]
pub struct ResnetGenerator {
    l1: Linear,
    blocks: Vec<GBlock>,
    b5: BatchNorm,
    c5: Conv2d,
    latent_dim: i64,
    width: i64,
    base: (i64, i64),
    conditional: bool,
}

impl ResnetGenerator {
    /// Builds the network under `p`; `width` is the channel count of every block (256 in
    /// the paper).
    pub fn new(
        p: &nn::Path,
        latent_dim: i64,
        width: i64,
        conditioning: GConditioning,
        data: &DataSpec,
    ) -> Result<Self> {
        let (c, bh, bw, k) = image_dims("ResNet generator output", data, 2, "32x32")?;
        let conditional = conditioning == GConditioning::BatchNorm;
        let classes = if conditional { data.n_classes } else { 0 };
        let l1 = Linear::new(
            p / "l1",
            latent_dim,
            bh * bw * width,
            true,
            false,
            WInit::Xavier(1.0),
        )?;
        let blocks = (0..k)
            .map(|i| GBlock::new(p / format!("block{}", i + 2), width, width, classes))
            .collect::<Result<_>>()?;
        Ok(ResnetGenerator {
            l1,
            blocks,
            b5: BatchNorm::new(p / "b5", width, 0, 0.0)?,
            c5: conv(p / "c5", width, c, 3, 1.0, false)?,
            latent_dim,
            width,
            base: (bh, bw),
            conditional,
        })
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        self.latent_dim
    }

    /// Whether the generator takes class labels.
    pub fn conditional(&self) -> bool {
        self.conditional
    }

    /// Images for latents `z` (and labels `y` when conditional).
    pub fn forward_t(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let size = z.size();
        if size.len() != 2 || size[1] != self.latent_dim {
            return Err(Error::Shape {
                what: "ResNet generator input",
                expected: format!("[B, {}]", self.latent_dim),
                got: size,
            });
        }
        let y = if self.conditional {
            Some(check_labels("ResNet generator", y, size[0])?)
        } else {
            None
        };
        let mut h = self
            .l1
            .forward_t(z, train)
            .view([-1, self.width, self.base.0, self.base.1]);
        for b in &self.blocks {
            h = b.forward_t(&h, y.as_ref(), train);
        }
        let h = self.b5.forward_t(&h, None, train).relu();
        Ok(self.c5.forward_t(&h, train).tanh())
    }
}

/// Discriminator block: (ReLU unless first), 3x3 conv, ReLU, 3x3 conv, optional 2x2 average
/// pooling; the shortcut is a 1x1 conv (pooled) when the shape changes, else the identity.
#[derive(Debug)]
struct DBlock {
    c1: Conv2d,
    c2: Conv2d,
    c_sc: Option<Conv2d>,
    downsample: bool,
    /// The "optimized" first block: no leading ReLU, shortcut pools before its conv.
    first: bool,
}

impl DBlock {
    fn new(p: nn::Path, cin: i64, cout: i64, downsample: bool, first: bool) -> Result<Self> {
        let learnable_sc = downsample || cin != cout;
        Ok(DBlock {
            c1: conv(&p / "c1", cin, cout, 3, SQRT_2, true)?,
            c2: conv(&p / "c2", cout, cout, 3, SQRT_2, true)?,
            c_sc: learnable_sc
                .then(|| conv(&p / "c_sc", cin, cout, 1, 1.0, true))
                .transpose()?,
            downsample,
            first,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = if self.first {
            x.shallow_clone()
        } else {
            x.relu()
        };
        let h = self
            .c2
            .forward_t(&self.c1.forward_t(&h, train).relu(), train);
        let h = if self.downsample { downsample(&h) } else { h };
        let sc = match (&self.c_sc, self.first) {
            (Some(c), true) => c.forward_t(&downsample(x), train),
            (Some(c), false) => {
                let s = c.forward_t(x, train);
                if self.downsample {
                    downsample(&s)
                } else {
                    s
                }
            }
            (None, _) => x.shallow_clone(),
        };
        h + sc
    }
}

/// SNGAN ResNet discriminator: images to logits `[B]`, spectral norm on every layer.
#[derive(Debug)]
pub struct ResnetDiscriminator {
    blocks: Vec<DBlock>,
    l5: Linear,
    embed: Option<Embedding>,
    aux: Option<Linear>,
    shape: Vec<i64>,
}

impl ResnetDiscriminator {
    /// Builds the network under `p`; `width` is the channel count of every block (128 in
    /// the paper).
    pub fn new(
        p: &nn::Path,
        width: i64,
        conditioning: DConditioning,
        data: &DataSpec,
    ) -> Result<Self> {
        let (c, _, _, k) = image_dims("ResNet discriminator input", data, 2, "32x32")?;
        let mut blocks = vec![DBlock::new(p / "block1", c, width, true, true)?];
        for i in 1..k - 1 {
            blocks.push(DBlock::new(
                p / format!("block{}", i + 1),
                width,
                width,
                true,
                false,
            )?);
        }
        for j in 0..2 {
            let name = format!("block{}", k + j);
            blocks.push(DBlock::new(p / name, width, width, false, false)?);
        }
        let classes = data.n_classes;
        let (embed, aux) = match conditioning {
            DConditioning::None => (None, None),
            DConditioning::Projection => (
                Some(Embedding::new(
                    p / "l_y",
                    classes,
                    width,
                    true,
                    WInit::Xavier(1.0),
                )?),
                None,
            ),
            DConditioning::AuxiliaryClassifier => (
                None,
                Some(Linear::new(
                    p / "aux",
                    width,
                    classes,
                    true,
                    true,
                    WInit::Xavier(1.0),
                )?),
            ),
        };
        Ok(ResnetDiscriminator {
            blocks,
            l5: Linear::new(p / "l5", width, 1, true, true, WInit::Xavier(1.0))?,
            embed,
            aux,
            shape: data.shape.clone(),
        })
    }

    /// Whether the discriminator reads class labels (projection).
    pub fn conditional(&self) -> bool {
        self.embed.is_some()
    }

    /// Logits `[B]` and, with an auxiliary classifier, class logits `[B, K]`.
    pub fn forward_full(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let size = x.size();
        if size.len() != 4 || size[1..] != self.shape[..] {
            return Err(Error::Shape {
                what: "ResNet discriminator input",
                expected: format!(
                    "[B, {}, {}, {}]",
                    self.shape[0], self.shape[1], self.shape[2]
                ),
                got: size,
            });
        }
        let mut h = x.shallow_clone();
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        // Global sum pooling over space.
        let phi = h.relu().sum_dim_intlist([2, 3].as_slice(), false, None);
        let logits = self.l5.forward_t(&phi, train).view([size[0]]);
        let logits = if let Some(embed) = &self.embed {
            let y = check_labels("ResNet discriminator (projection)", y, size[0])?;
            logits + (embed.forward_t(&y, train) * &phi).sum_dim_intlist(1, false, None)
        } else {
            logits
        };
        let class_logits = self.aux.as_ref().map(|a| a.forward_t(&phi, train));
        Ok((logits, class_logits))
    }
}

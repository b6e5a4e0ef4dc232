//! DCGAN (Radford et al. 2016) generator and discriminator for any size `H x W` whose sides are
//! `base * 2^k` with `k >= 1` up-sampling steps from a `base` of at least 3 pixels per side
//! (32x32 and 64x64 have `base = 4`).
//!
//! At 64x64 with `width = 64`, `latent_dim = 100` and 3 channels the pair is pytorch/examples'
//! `dcgan/main.py` layer for layer, with the same variable names (`main.0.weight`, ...):
//! 3,576,704 generator and 2,765,568 discriminator parameters. Class conditioning adds
//! conditional batch norm to the generator and a projection or auxiliary-classifier head to
//! the discriminator.

use tch::nn;
use tch::Tensor;

use crate::config::{DConditioning, GConditioning};
use crate::layers::{
    leaky_relu_t, BatchNorm, Conv2d, ConvOpts, ConvTranspose2d, Embedding, Linear, WInit,
};
use crate::{DataSpec, Error, Result};

/// Sizes named in shape errors.
const EXAMPLES: &str = "28x28, 32x32, 64x64, 48x64";

/// DCGAN's initialisation: N(0, 0.02) weights, batch-norm scales N(1, 0.02).
const INIT_STD: f64 = 0.02;

/// `(base_h, base_w, k)`: the smallest feature map and the number of doublings to `H x W`.
pub(crate) fn geometry(height: i64, width: i64) -> Option<(i64, i64, i64)> {
    let (mut h, mut w, mut k) = (height, width, 0);
    while h % 2 == 0 && w % 2 == 0 && h / 2 >= 4 && w / 2 >= 4 {
        h /= 2;
        w /= 2;
        k += 1;
    }
    // Powers of two end at 4x4; other sizes at up to 8 pixels a side; at least one doubling.
    (k >= 1 && h <= 8 && w <= 8).then_some((h, w, k))
}

/// `(C, base_h, base_w, k)` of image data for a network that doubles `k >= min_k` times from
/// its base; `examples` lists sizes that work, for the error.
pub(crate) fn image_dims(
    what: &'static str,
    data: &DataSpec,
    min_k: i64,
    examples: &str,
) -> Result<(i64, i64, i64, i64)> {
    let shape = &data.shape;
    let bad = || Error::Shape {
        what,
        expected: format!(
            "images [C, H, W] with H = b * 2^k, W = b' * 2^k, k >= {min_k}, 4 <= b, b' <= 8 \
             (e.g. {examples})"
        ),
        got: shape.clone(),
    };
    if shape.len() != 3 {
        return Err(bad());
    }
    match geometry(shape[1], shape[2]) {
        Some((bh, bw, k)) if k >= min_k => Ok((shape[0], bh, bw, k)),
        _ => Err(bad()),
    }
}

/// The labels `[batch]` a conditional network needs, or an error naming it.
pub(crate) fn check_labels(what: &'static str, y: Option<&Tensor>, batch: i64) -> Result<Tensor> {
    match y {
        Some(y) if y.size() == [batch] => Ok(y.shallow_clone()),
        Some(y) => Err(Error::Shape {
            what,
            expected: format!("labels [{batch}]"),
            got: y.size(),
        }),
        None => Err(Error::MissingLabels(what)),
    }
}

/// DCGAN generator: latent `[B, latent_dim]` to images `[B, C, H, W]` in [-1, 1] (tanh).
#[derive(Debug)]
pub struct DcganGenerator {
    convs: Vec<ConvTranspose2d>,
    bns: Vec<BatchNorm>,
    latent_dim: i64,
    conditional: bool,
}

impl DcganGenerator {
    /// Builds the network under `p` for `data` (`data.shape = [C, H, W]`); `width` is ngf.
    pub fn new(
        p: &nn::Path,
        latent_dim: i64,
        width: i64,
        conditioning: GConditioning,
        data: &DataSpec,
    ) -> Result<Self> {
        let (c, bh, bw, k) = image_dims("DCGAN generator output", data, 1, EXAMPLES)?;
        let conditional = conditioning == GConditioning::BatchNorm;
        let classes = if conditional { data.n_classes } else { 0 };
        let opts = |stride, padding| ConvOpts {
            stride,
            padding,
            bias: false,
            spectral_norm: false,
            init: WInit::Normal(INIT_STD),
        };
        let main = p / "main";
        let mut convs = Vec::new();
        let mut bns = Vec::new();
        let mut cin = latent_dim;
        for i in 0..k {
            let cout = width << (k - 1 - i);
            let conv = if i == 0 {
                // 1x1 -> base: a transposed convolution with the base as its kernel.
                ConvTranspose2d::new(&main / (3 * i), cin, cout, [bh, bw], opts(1, 0))?
            } else {
                ConvTranspose2d::new(&main / (3 * i), cin, cout, [4, 4], opts(2, 1))?
            };
            convs.push(conv);
            bns.push(BatchNorm::new(
                &main / (3 * i + 1),
                cout,
                classes,
                INIT_STD,
            )?);
            cin = cout;
        }
        convs.push(ConvTranspose2d::new(
            &main / (3 * k),
            cin,
            c,
            [4, 4],
            opts(2, 1),
        )?);
        Ok(DcganGenerator {
            convs,
            bns,
            latent_dim,
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
                what: "DCGAN generator input",
                expected: format!("[B, {}]", self.latent_dim),
                got: size,
            });
        }
        let y = if self.conditional {
            Some(check_labels("DCGAN generator", y, size[0])?)
        } else {
            None
        };
        // -1, not the batch size: a traced module (`gan export`) then takes any batch.
        let mut h = z.view([-1, self.latent_dim, 1, 1]);
        for (conv, bn) in self.convs.iter().zip(&self.bns) {
            h = bn.forward_t(&conv.forward(&h), y.as_ref(), train).relu();
        }
        Ok(self.convs[self.convs.len() - 1].forward(&h).tanh())
    }
}

/// DCGAN discriminator: images `[B, C, H, W]` to logits `[B / pack]` (no sigmoid: losses take
/// logits), with optional PacGAN packing (packs concatenated along channels), spectral norm,
/// and a class-conditional head.
#[derive(Debug)]
pub struct DcganDiscriminator {
    convs: Vec<Conv2d>,
    bns: Vec<Option<BatchNorm>>,
    out: Conv2d,
    embed: Option<Embedding>,
    aux: Option<Linear>,
    pack: i64,
    shape: Vec<i64>,
    /// The var-store prefixes of each block from the input (a convolution and its batch
    /// norm), then the output convolution: what FreezeD freezes the first of.
    blocks: Vec<(String, Vec<String>)>,
}

impl DcganDiscriminator {
    /// Builds the network under `p` for `data`; `width` is ndf.
    pub fn new(
        p: &nn::Path,
        width: i64,
        pack: i64,
        spectral_norm: bool,
        conditioning: DConditioning,
        data: &DataSpec,
    ) -> Result<Self> {
        let (c, bh, bw, k) = image_dims("DCGAN discriminator input", data, 1, EXAMPLES)?;
        let opts = |stride, padding| ConvOpts {
            stride,
            padding,
            bias: false,
            spectral_norm,
            init: WInit::Normal(INIT_STD),
        };
        let main = p / "main";
        let mut convs = Vec::new();
        let mut bns = Vec::new();
        let mut cin = c * pack;
        let mut index = 0;
        let mut blocks = Vec::new();
        for i in 0..k {
            let cout = width << i;
            convs.push(Conv2d::new(&main / index, cin, cout, [4, 4], opts(2, 1))?);
            // The first layer has no batch norm; spectral norm replaces it everywhere.
            if i == 0 || spectral_norm {
                blocks.push((format!("conv{i}"), vec![format!("main.{index}.")]));
                bns.push(None);
                index += 2;
            } else {
                blocks.push((
                    format!("conv{i}"),
                    vec![format!("main.{index}."), format!("main.{}.", index + 1)],
                ));
                bns.push(Some(BatchNorm::new(
                    &main / (index + 1),
                    cout,
                    0,
                    INIT_STD,
                )?));
                index += 3;
            }
            cin = cout;
        }
        let out = Conv2d::new(&main / index, cin, 1, [bh, bw], opts(1, 0))?;
        blocks.push(("out".into(), vec![format!("main.{index}.")]));
        let features = cin * bh * bw;
        let classes = data.n_classes;
        let init = WInit::Normal(INIT_STD);
        let (embed, aux) = match conditioning {
            DConditioning::None => (None, None),
            DConditioning::Projection => (
                Some(Embedding::new(
                    p / "embed",
                    classes,
                    features,
                    spectral_norm,
                    init,
                )?),
                None,
            ),
            DConditioning::AuxiliaryClassifier => (
                None,
                Some(Linear::new(
                    p / "aux",
                    features,
                    classes,
                    true,
                    spectral_norm,
                    init,
                )?),
            ),
        };
        Ok(DcganDiscriminator {
            convs,
            bns,
            out,
            embed,
            aux,
            pack,
            shape: data.shape.clone(),
            blocks,
        })
    }

    /// Its blocks from the input (`conv0`, `conv1`, ..., then `out`), each with the
    /// var-store prefixes of its tensors: what FreezeD freezes the first of. The class
    /// embedding and auxiliary head are not blocks.
    pub fn blocks(&self) -> &[(String, Vec<String>)] {
        &self.blocks
    }

    /// Packing degree.
    pub fn pack(&self) -> i64 {
        self.pack
    }

    /// Whether the discriminator reads class labels (projection).
    pub fn conditional(&self) -> bool {
        self.embed.is_some()
    }

    /// Whether each pack's logit depends on that pack alone (no batch norm).
    pub fn batch_independent(&self) -> bool {
        self.bns.iter().all(Option::is_none)
    }

    /// Logits `[B / pack]` and, with an auxiliary classifier, class logits `[B / pack, K]`.
    pub fn forward_full(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let size = x.size();
        if size.len() != 4 || size[1..] != self.shape[..] || size[0] % self.pack != 0 {
            return Err(Error::Shape {
                what: "DCGAN discriminator input",
                expected: format!(
                    "[B, {}, {}, {}] with B a multiple of pack = {}",
                    self.shape[0], self.shape[1], self.shape[2], self.pack
                ),
                got: size,
            });
        }
        let b = size[0] / self.pack;
        // Consecutive samples form a pack, concatenated along channels (PacDCGAN).
        let mut h = x.reshape([b, self.pack * size[1], size[2], size[3]]);
        for (conv, bn) in self.convs.iter().zip(&self.bns) {
            h = conv.forward_t(&h, train);
            if let Some(bn) = bn {
                h = bn.forward_t(&h, None, train);
            }
            h = leaky_relu_t(&h, 0.2);
        }
        let logits = self.out.forward_t(&h, train).view([b]);
        let needs_features = self.embed.is_some() || self.aux.is_some();
        let phi = needs_features.then(|| h.reshape([b, -1]));
        let logits = match (&self.embed, &phi) {
            (Some(embed), Some(phi)) => {
                let y = check_labels("DCGAN discriminator (projection)", y, size[0])?;
                // One label per pack: the first sample's (packs of conditional data share a class).
                let y = y.view([b, self.pack]).select(1, 0);
                // Functional add: `+=` would modify the logits' view in place.
                logits + (embed.forward_t(&y, train) * phi).sum_dim_intlist(1, false, None)
            }
            _ => logits,
        };
        let class_logits = match (&self.aux, &phi) {
            (Some(aux), Some(phi)) => Some(aux.forward_t(phi, train)),
            _ => None,
        };
        Ok((logits, class_logits))
    }
}

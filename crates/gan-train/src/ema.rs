//! The generator's exponential moving average, updated with one `lerp_` per buffer.

use std::collections::BTreeMap;

use tch::{nn::VarStore, Kind, Tensor};

use crate::{adam::Adam, flat::flatten};

/// The EMA of every generator tensor (weights and batch-norm statistics) in a second store.
///
/// The generator's parameters already live in its optimiser's flat buffer; the EMA's
/// parameters are moved into a buffer of the same layout, and the remaining tensors (batch
/// norm statistics) of both stores into one more pair of buffers per kind, so an update is a
/// few tensor operations whatever the number of layers.
#[derive(Debug)]
pub(crate) struct Ema {
    /// `(ema, source, average)` buffer pairs of one kind and layout; `average` false copies.
    pairs: Vec<(Tensor, Tensor, bool)>,
}

/// What the EMA does with the tensors that are not trained (buffers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buffers {
    /// Averages them too (batch-norm statistics of the GAN family's generators).
    Average,
    /// Copies them (StyleGAN2's `w_avg` and constant noise, as upstream's `G_ema`).
    Copy,
}

impl Ema {
    /// Pairs `ema` with `source` (same architecture), whose trainable variables are the ones
    /// `opt` updates.
    pub(crate) fn new(
        source: &VarStore,
        opt: &Adam,
        ema: &VarStore,
    ) -> Result<Self, tch::TchError> {
        Self::with_buffers(source, opt, ema, Buffers::Average)
    }

    /// As [`new`](Self::new), saying what happens to buffers.
    pub(crate) fn with_buffers(
        source: &VarStore,
        opt: &Adam,
        ema: &VarStore,
        buffers: Buffers,
    ) -> Result<Self, tch::TchError> {
        let src: BTreeMap<String, Tensor> = source.variables().into_iter().collect();
        let dst: BTreeMap<String, Tensor> = ema.variables().into_iter().collect();
        let mut pairs = Vec::new();
        let params: Vec<Tensor> = opt.param_names().map(|n| dst[n].shallow_clone()).collect();
        if let Some(first) = params.first() {
            let (flat, _) = flatten(&params, first.kind(), first.device())?;
            pairs.push((flat, opt.flat_params().shallow_clone(), true));
        }
        let trained: Vec<&str> = opt.param_names().collect();
        let mut rest: Vec<(Kind, Vec<&String>)> = Vec::new();
        for (name, t) in &src {
            if trained.contains(&name.as_str()) {
                continue;
            }
            match rest.iter_mut().find(|(k, _)| *k == t.kind()) {
                Some((_, names)) => names.push(name),
                None => rest.push((t.kind(), vec![name])),
            }
        }
        for (kind, names) in rest {
            let device = src[names[0]].device();
            let gather = |m: &BTreeMap<String, Tensor>| -> Vec<Tensor> {
                names.iter().map(|n| m[*n].shallow_clone()).collect()
            };
            let (e, _) = flatten(&gather(&dst), kind, device)?;
            let (s, _) = flatten(&gather(&src), kind, device)?;
            pairs.push((e, s, buffers == Buffers::Average));
        }
        Ok(Ema { pairs })
    }

    /// `ema = beta * ema + (1 - beta) * source` for floating-point tensors; others (counters,
    /// and buffers under [`Buffers::Copy`]) are copied.
    pub(crate) fn update(&mut self, beta: f64) {
        tch::no_grad(|| {
            for (e, s, average) in &mut self.pairs {
                if *average && e.is_floating_point() {
                    let _ = e.lerp_(s, 1.0 - beta);
                } else {
                    e.copy_(s);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn store(w: &[f32], rm: &[f32]) -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let _ = vs.root().var_copy("w", &Tensor::from_slice(w));
        let mut stat = vs.root().zeros_no_train("rm", &[rm.len() as i64]);
        tch::no_grad(|| stat.copy_(&Tensor::from_slice(rm)));
        vs
    }

    fn values(vs: &VarStore, name: &str) -> Vec<f32> {
        Vec::<f32>::try_from(&vs.variables()[name]).unwrap()
    }

    #[test]
    fn averages_parameters_and_statistics_through_the_stores() {
        let src = store(&[1.0, 2.0], &[10.0]);
        let ema = store(&[0.0, 0.0], &[0.0]);
        let opt = Adam::new(&src, 0.1, 0.9, 0.99, 1e-8).unwrap();
        let mut avg = Ema::new(&src, &opt, &ema).unwrap();
        avg.update(0.75);
        assert_eq!(values(&ema, "w"), vec![0.25, 0.5]);
        assert_eq!(values(&ema, "rm"), vec![2.5]);
        // The source changes in place (as the optimiser and batch norm change it).
        tch::no_grad(|| {
            let _ = src.variables()["rm"].shallow_clone().fill_(20.0);
        });
        avg.update(0.5);
        assert_eq!(values(&ema, "w"), vec![0.625, 1.25]);
        assert_eq!(values(&ema, "rm"), vec![11.25]);
        // Copied buffers follow the source exactly.
        let ema = store(&[0.0, 0.0], &[0.0]);
        let mut copy = Ema::with_buffers(&src, &opt, &ema, Buffers::Copy).unwrap();
        copy.update(0.5);
        assert_eq!(values(&ema, "w"), vec![0.5, 1.0]);
        assert_eq!(values(&ema, "rm"), vec![20.0]);
    }
}

//! Adam whose moments live in our hands, so checkpoints can hold them
//! (tch's optimizer keeps its state in C++ out of reach).

use tch::{nn::VarStore, Kind, Tensor};

use crate::error::Result;

/// Adam (Kingma & Ba 2015) over the trainable variables of one `VarStore`, with the update
/// written as PyTorch's single-tensor implementation (no weight decay, no amsgrad).
///
/// The parameters are moved into one contiguous buffer (each variable becomes a view of its
/// slice, through `set_data`), so an update is a handful of tensor operations on the whole
/// buffer instead of several per parameter tensor; the moments live in buffers of the same
/// layout. Checkpoints still name the moments per variable.
#[derive(Debug)]
pub struct Adam {
    params: Vec<(String, Tensor)>,
    /// Offsets and sizes of each parameter in the buffers.
    spans: Vec<(i64, i64)>,
    flat: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// Scratch buffers of the same layout, allocated once: the update writes into them
    /// instead of allocating several buffer-sized temporaries per step (allocations that
    /// large are fresh `mmap`s, and their page faults cost more than the arithmetic).
    grad: Tensor,
    scratch: Tensor,
    step: u64,
    /// 1 (as a 0-d bool tensor on the device) if every gradient of the last update was finite.
    grads_finite: Tensor,
    /// 1 for trained elements, 0 for frozen ones (`freeze`), multiplied into the gradient.
    keep: Option<Tensor>,
    /// Learning rate.
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl Adam {
    /// An optimiser for every trainable variable of `vs`, sorted by name. Its five buffers
    /// (parameters, two moments, two scratch) are checked against the memory available
    /// before they are allocated (on the CPU), so a model too big to train is an error here.
    pub fn new(vs: &VarStore, lr: f64, beta1: f64, beta2: f64, eps: f64) -> Result<Self> {
        let trainable: Vec<Tensor> = vs.trainable_variables();
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| trainable.iter().any(|x| x.is_set_to(t)))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let (kind, device) = params
            .first()
            .map(|(_, p)| (p.kind(), p.device()))
            .unwrap_or((Kind::Float, vs.device()));
        let tensors: Vec<Tensor> = params.iter().map(|(_, p)| p.shallow_clone()).collect();
        if device == tch::Device::Cpu {
            let n: u64 = tensors.iter().map(|t| t.numel() as u64).sum();
            gan_tensor::memory::check_fits(
                format!("the optimiser's buffers for {n} parameters (5 copies)"),
                gan_tensor::memory::bytes_of(n, 5 * kind.elt_size_in_bytes() as u64),
            )?;
        }
        let (flat, spans) = crate::flat::flatten(&tensors, kind, device)?;
        let exp_avg = flat.f_zeros_like()?;
        let exp_avg_sq = flat.f_zeros_like()?;
        let grad = flat.f_zeros_like()?;
        let scratch = flat.f_zeros_like()?;
        let grads_finite = Tensor::f_ones(Vec::<i64>::new(), (Kind::Bool, device))?;
        Ok(Adam {
            grads_finite,
            params,
            spans,
            flat,
            exp_avg,
            exp_avg_sq,
            grad,
            scratch,
            step: 0,
            keep: None,
            lr,
            beta1,
            beta2,
            eps,
        })
    }

    /// The parameters as one contiguous buffer (each parameter is a view of its slice), in
    /// the order of [`param_names`](Self::param_names).
    pub fn flat_params(&self) -> &Tensor {
        &self.flat
    }

    /// Names of the parameters, in buffer order (sorted).
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(n, _)| n.as_str())
    }

    /// Updates done so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Whether every gradient of the last [`step`](Self::step) was finite: a 0-d bool tensor
    /// on the device, so checking it costs no synchronisation until it is read.
    pub fn grads_finite(&self) -> &Tensor {
        &self.grads_finite
    }

    /// Zeroes the gradients of the parameters.
    pub fn zero_grad(&mut self) {
        for (_, p) in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// Back-propagates `loss` to the parameters and makes one Adam update from those
    /// gradients. The gradients are returned by autograd rather than accumulated into each
    /// parameter's `.grad` (so there is nothing to zero and no accumulation pass); the values
    /// are the same as `zero_grad(); loss.backward(); step()`.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        if self.params.is_empty() {
            return Ok(());
        }
        let params: Vec<&Tensor> = self.params.iter().map(|(_, p)| p).collect();
        let grads = Tensor::f_run_backward(&[loss], &params, false, false)?;
        self.update(grads);
        Ok(())
    }

    /// One Adam update from the current gradients (a parameter without one counts as zero).
    ///
    /// Same mathematics as `torch.optim.Adam` (single-tensor path), rearranged to save two
    /// passes over memory: the bias correction of the second moment is folded into the step
    /// size and epsilon (`lr * sqrt(bc2) / bc1` and `eps * sqrt(bc2)`).
    pub fn step(&mut self) {
        if self.params.is_empty() {
            return;
        }
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        self.update(grads);
    }

    /// Freezes the parameters whose names `frozen` accepts: their gradients count as zero,
    /// so (without weight decay, from moments that were zero) Adam never moves them. Returns
    /// how many parameter tensors were frozen.
    pub fn freeze(&mut self, frozen: &dyn Fn(&str) -> bool) -> Result<usize> {
        let keep = self.flat.f_ones_like()?;
        let mut n = 0;
        tch::no_grad(|| -> Result<()> {
            for (i, (name, _)) in self.params.iter().enumerate() {
                if frozen(name) {
                    let (off, len) = self.spans[i];
                    let _ = keep.narrow(0, off, len).f_zero_()?;
                    n += 1;
                }
            }
            Ok(())
        })?;
        self.keep = (n > 0).then_some(keep);
        Ok(n)
    }

    /// The update from one gradient per parameter (undefined: zero).
    fn update(&mut self, grads: Vec<Tensor>) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2_sqrt = (1.0 - self.beta2.powi(self.step as i32)).sqrt();
        let step_size = self.lr * bc2_sqrt / bc1;
        let eps = self.eps * bc2_sqrt;
        tch::no_grad(|| {
            let grads: Vec<Tensor> = grads
                .into_iter()
                .zip(&self.params)
                .map(|(g, (_, p))| {
                    if g.defined() {
                        g.reshape([-1])
                    } else {
                        p.zeros_like().reshape([-1])
                    }
                })
                .collect();
            // Element for element the same operations as before, written into the scratch
            // buffers (`out=` variants), so the values are bit-identical.
            let mut g = Tensor::cat_out(&self.grad, &grads, 0);
            drop(grads);
            if let Some(keep) = &self.keep {
                let _ = g.g_mul_(keep);
            }
            // One reduction: a NaN or an infinity anywhere makes the sum non-finite.
            self.grads_finite = g.sum(Kind::Float).isfinite();
            let _ = self.exp_avg.lerp_(&g, 1.0 - self.beta1);
            let g2 = g.mul_out(&self.scratch, &g);
            let _ = self.exp_avg_sq.lerp_(&g2, 1.0 - self.beta2);
            let denom = self.exp_avg_sq.sqrt_out(&self.scratch).g_add_scalar_(eps);
            let step = self.exp_avg.mul_scalar_out(&self.grad, -step_size);
            let _ = self.flat.addcdiv_(&step, &denom);
        });
    }

    fn moment(&self, buf: &Tensor, i: usize) -> Tensor {
        let (off, n) = self.spans[i];
        buf.narrow(0, off, n)
            .view(self.params[i].1.size().as_slice())
    }

    /// The state as named tensors (`m.<var>`, `v.<var>`, and `step`), for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.moment(&self.exp_avg, i)));
            out.push((format!("v.{name}"), self.moment(&self.exp_avg_sq, i)));
        }
        out.push(("step".into(), Tensor::from_slice(&[self.step as i64])));
        out
    }

    /// Restores the state written by [`state`](Self::state); the caller has checked the layout.
    pub fn load_state(&mut self, get: &dyn Fn(&str) -> Option<Tensor>) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for (i, (name, _)) in self.params.iter().enumerate() {
                if let Some(t) = get(&format!("m.{name}")) {
                    self.moment(&self.exp_avg, i).f_copy_(&t)?;
                }
                if let Some(t) = get(&format!("v.{name}")) {
                    self.moment(&self.exp_avg_sq, i).f_copy_(&t)?;
                }
            }
            Ok(())
        })?;
        if let Some(t) = get("step") {
            self.step = t.int64_value(&[0]) as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    /// Matches torch.optim.Adam on a quadratic, values from PyTorch 2.11:
    /// ```python
    /// w = torch.tensor([1.0, -2.0], requires_grad=True)
    /// opt = torch.optim.Adam([w], lr=0.1, betas=(0.8, 0.99), eps=1e-8)
    /// for _ in range(3):
    ///     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    /// print(w.tolist())  # [0.7026562094688416, -1.7011363506317139]
    /// ```
    #[test]
    fn matches_pytorch_adam_on_a_quadratic() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs
            .root()
            .var_copy("w", &Tensor::from_slice(&[1.0f32, -2.0]));
        let mut opt = Adam::new(&vs, 0.1, 0.8, 0.99, 1e-8).unwrap();
        for _ in 0..3 {
            opt.zero_grad();
            (&w * &w).sum(Kind::Float).backward();
            opt.step();
        }
        let got = Vec::<f32>::try_from(&w).unwrap();
        assert!(
            (got[0] - 0.702_656_2).abs() < 1e-6 && (got[1] + 1.701_136_4).abs() < 1e-6,
            "{got:?}"
        );
        assert_eq!(opt.steps(), 3);
    }

    #[test]
    fn state_round_trip_continues_identically() {
        let run = |split: bool| -> Vec<f32> {
            let vs = nn::VarStore::new(Device::Cpu);
            let w = vs
                .root()
                .var_copy("w", &Tensor::from_slice(&[0.3f32, -0.7, 2.0]));
            let mut opt = Adam::new(&vs, 0.05, 0.5, 0.999, 1e-8).unwrap();
            let target = Tensor::from_slice(&[1.0f32, 1.0, -1.0]);
            let do_step = |opt: &mut Adam| {
                opt.zero_grad();
                (&w - &target)
                    .pow_tensor_scalar(4)
                    .sum(Kind::Float)
                    .backward();
                opt.step();
            };
            for _ in 0..5 {
                do_step(&mut opt);
            }
            if split {
                let saved: Vec<(String, Tensor)> = opt
                    .state()
                    .into_iter()
                    .map(|(n, t)| (n, t.copy()))
                    .collect();
                let mut fresh = Adam::new(&vs, 0.05, 0.5, 0.999, 1e-8).unwrap();
                fresh
                    .load_state(&|n| {
                        saved
                            .iter()
                            .find(|(k, _)| k == n)
                            .map(|(_, t)| t.shallow_clone())
                    })
                    .unwrap();
                opt = fresh;
            }
            for _ in 0..5 {
                do_step(&mut opt);
            }
            Vec::<f32>::try_from(&w).unwrap()
        };
        assert_eq!(run(false), run(true));
    }
}

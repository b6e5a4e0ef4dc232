//! A pool of past generated images (Shrivastava et al. 2017), as CycleGAN's
//! `util/image_pool.py`: the discriminator is shown a mix of the newest fakes and older
//! ones, which damps oscillation.
//!
//! The pool's contents are checkpoint state ([`ImagePool::state`]), and its random draws come
//! from torch's CPU generator, which the engine re-seeds at every step, so a resumed run
//! replays them exactly.
use std::collections::BTreeMap;

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Up to `size` past images of one shape `[C, H, W]`, on the training device.
#[derive(Debug)]
pub struct ImagePool {
    size: i64,
    /// `[size, C, H, W]`; the first `count` rows are filled.
    images: Tensor,
    count: i64,
}

impl ImagePool {
    /// An empty pool of `size` images of `shape` `[C, H, W]` (`size = 0`: no pool, every
    /// query returns its input).
    pub fn new(size: usize, shape: [i64; 3], device: Device) -> Result<Self> {
        let size = size as i64;
        let images = Tensor::f_zeros([size, shape[0], shape[1], shape[2]], (Kind::Float, device))?;
        Ok(ImagePool {
            size,
            images,
            count: 0,
        })
    }

    /// Images stored so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether nothing is stored yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The images to show the discriminator for a batch of new fakes `[B, C, H, W]`
    /// (detached). For each image in order: while the pool is not full, it is stored and
    /// returned; once full, with probability 1/2 a uniformly chosen stored image is returned
    /// and replaced by the new one, otherwise the new one is returned. Two draws per image
    /// (the coin and the index) are taken from torch's CPU generator whether used or not.
    pub fn query(&mut self, fakes: &Tensor) -> Result<Tensor> {
        let fakes = fakes.detach();
        if self.size == 0 {
            return Ok(fakes);
        }
        let n = fakes.size()[0];
        let coins = Vec::<f32>::try_from(Tensor::f_rand([n], (Kind::Float, Device::Cpu))?)
            .map_err(Error::from)?;
        let picks = Vec::<i64>::try_from(Tensor::f_randint(
            self.size,
            [n],
            (Kind::Int64, Device::Cpu),
        )?)
        .map_err(Error::from)?;
        let mut out = Vec::with_capacity(n as usize);
        tch::no_grad(|| -> Result<()> {
            for i in 0..n {
                let img = fakes.narrow(0, i, 1);
                if self.count < self.size {
                    self.images.narrow(0, self.count, 1).f_copy_(&img)?;
                    self.count += 1;
                    out.push(img);
                } else if coins[i as usize] > 0.5 {
                    let j = picks[i as usize];
                    let slot = self.images.narrow(0, j, 1);
                    out.push(slot.copy());
                    slot.shallow_clone().f_copy_(&img)?;
                } else {
                    out.push(img);
                }
            }
            Ok(())
        })?;
        Ok(Tensor::f_cat(&out, 0)?)
    }

    /// The checkpoint tensors, `prefix.images` and `prefix.count` (none when the pool is off).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        if self.size == 0 {
            return Vec::new();
        }
        vec![
            (format!("{prefix}.count"), Tensor::from_slice(&[self.count])),
            (format!("{prefix}.images"), self.images.shallow_clone()),
        ]
    }

    /// Restores what [`state`](Self::state) wrote (the engine has checked names and shapes).
    pub fn load_state(&mut self, prefix: &str, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        if self.size == 0 {
            return Ok(());
        }
        let get = |name: &str| {
            let key = format!("{prefix}.{name}");
            tensors
                .get(&key)
                .ok_or_else(|| Error::IncompatibleCheckpoint {
                    path: "<state>".into(),
                    differences: vec![format!("missing tensor `{key}`")],
                })
        };
        let count = get("count")?.int64_value(&[0]);
        if !(0..=self.size).contains(&count) {
            return Err(Error::IncompatibleCheckpoint {
                path: "<state>".into(),
                differences: vec![format!(
                    "`{prefix}.count` is {count}, outside 0..={}",
                    self.size
                )],
            });
        }
        let images = get("images")?;
        tch::no_grad(|| self.images.f_copy_(images))?;
        self.count = count;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).view([values.len() as i64, 1, 1, 1])
    }

    #[test]
    fn fills_then_mixes_old_and_new_and_resumes_identically() {
        tch::manual_seed(3);
        let mut pool = ImagePool::new(4, [1, 1, 1], Device::Cpu).unwrap();
        // Filling: the images come back as they are.
        let out = pool.query(&batch(&[1.0, 2.0, 3.0])).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(out.view([-1])).unwrap(),
            [1.0, 2.0, 3.0]
        );
        assert_eq!(pool.len(), 3);
        // Snapshot, then keep going twice from the same state and generator seed.
        let saved: BTreeMap<String, Tensor> = pool
            .state("pool")
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect();
        let run = |pool: &mut ImagePool| {
            tch::manual_seed(11);
            let mut seen = Vec::new();
            for k in 0..20 {
                let x = batch(&[10.0 + k as f32, 100.0 + k as f32]);
                seen.extend(Vec::<f32>::try_from(pool.query(&x).unwrap().view([-1])).unwrap());
            }
            seen
        };
        let first = run(&mut pool);
        let mut resumed = ImagePool::new(4, [1, 1, 1], Device::Cpu).unwrap();
        resumed.load_state("pool", &saved).unwrap();
        assert_eq!(run(&mut resumed), first);
        assert_eq!(pool.len(), 4);
        // Once full, some answers are older images (from the pool), some the new ones.
        let new: Vec<f32> = (0..20)
            .flat_map(|k| [10.0 + k as f32, 100.0 + k as f32])
            .collect();
        let old = first.iter().zip(&new).filter(|(a, b)| a != b).count();
        assert!(old > 5 && old < 35, "{old} of 40 came from the pool");
    }

    #[test]
    fn size_zero_is_a_pass_through_without_state() {
        let mut pool = ImagePool::new(0, [3, 2, 2], Device::Cpu).unwrap();
        let x = Tensor::ones([2, 3, 2, 2], (Kind::Float, Device::Cpu));
        assert!(pool.query(&x).unwrap().equal(&x));
        assert!(pool.state("p").is_empty());
    }
}

//! `gan-tensor`: the toolkit's only door to libtorch set-up.
//!
//! * [`DeviceSpec`]: `auto | cpu | cuda | cuda:N`, parsed from config or the command line and
//!   resolved against what libtorch actually sees, with a clear error when CUDA is asked for
//!   and absent.
//! * Seeding: [`seed_all`] and [`step_seed`]. Torch's RNG state cannot be read or restored
//!   through tch, so the training loop re-seeds from `(seed, step)` and a resumed run replays
//!   exactly the same random numbers.
//! * [`to_array2`] / [`from_array2`]: tensor <-> ndarray (0.16) conversions.
//! * [`atomic`]: crash-safe file writes (unique hidden temporary file, fsync, rename, fsync
//!   of the folder), used for every file that must survive a crash.
//! * [`RuntimeInfo`]: libtorch version, CUDA / cuDNN availability, threads (`gan doctor`).
//!
//! ```
//! use gan_tensor::{DeviceSpec, from_array2, to_array2};
//! let device = "cpu".parse::<DeviceSpec>()?.resolve()?;
//! let a = ndarray::array![[1.0f32, 2.0], [3.0, 4.0]];
//! let t = from_array2(&a, device);
//! assert_eq!(to_array2(&(t * 2.0))?, a * 2.0);
//! # Ok::<(), gan_tensor::Error>(())
//! ```

pub mod atomic;
mod device;
mod error;
mod info;
pub mod memory;
mod seed;

pub use atomic::{write_atomic, write_atomic_with};
pub use device::DeviceSpec;
pub use error::{Error, Result};
pub use info::RuntimeInfo;
pub use seed::{seed_all, step_seed, Stream};

use ndarray::Array2;
use tch::{Device, Kind, Tensor};

/// Copies a 2-D tensor (any float kind, any device) into an `f32` ndarray.
pub fn to_array2(t: &Tensor) -> Result<Array2<f32>> {
    let size = t.size();
    if size.len() != 2 {
        return Err(Error::Shape {
            expected: "a 2-D tensor".into(),
            got: size,
        });
    }
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous();
    let data = Vec::<f32>::try_from(t.view([-1]))?;
    Array2::from_shape_vec((size[0] as usize, size[1] as usize), data).map_err(|e| Error::Shape {
        expected: e.to_string(),
        got: size,
    })
}

/// Copies an `f32` ndarray into a tensor on `device`.
pub fn from_array2(a: &Array2<f32>, device: Device) -> Tensor {
    let (r, c) = a.dim();
    let data: Vec<f32> = a.iter().copied().collect();
    Tensor::from_slice(&data)
        .view([r as i64, c as i64])
        .to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndarray_roundtrip_preserves_layout() {
        let a = Array2::from_shape_fn((3, 5), |(i, j)| (i * 10 + j) as f32);
        let t = from_array2(&a, Device::Cpu);
        assert_eq!(t.size(), vec![3, 5]);
        assert_eq!(t.double_value(&[2, 4]), 24.0);
        // A transposed (non-contiguous) tensor comes back transposed.
        let back = to_array2(&t.tr()).unwrap();
        assert_eq!(back, a.t());
    }

    #[test]
    fn to_array2_rejects_other_ranks() {
        let t = Tensor::zeros([2, 2, 2], (Kind::Float, Device::Cpu));
        assert!(matches!(to_array2(&t), Err(Error::Shape { .. })));
    }
}

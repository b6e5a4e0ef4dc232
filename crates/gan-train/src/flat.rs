//! Many small tensors as views of one contiguous buffer, so that an elementwise update of all
//! of them (Adam, the EMA) is one tensor operation instead of one per tensor. On a CPU the
//! per-operation overhead, not arithmetic, dominates for networks the size of the 2D models.

use tch::{Kind, Tensor};

/// Moves `tensors` (all of `kind`, on one device) into one new contiguous buffer, in order,
/// and makes each of them a view of its slice (through `set_data`, so every shallow clone -
/// the `VarStore` entry and the module's field alike - sees the move). Values are kept.
/// Returns the buffer and each tensor's `(offset, length)` in it, or libtorch's error where the
/// buffer cannot be allocated.
pub(crate) fn flatten(
    tensors: &[Tensor],
    kind: Kind,
    device: tch::Device,
) -> Result<(Tensor, Vec<(i64, i64)>), tch::TchError> {
    let mut spans = Vec::with_capacity(tensors.len());
    let mut total = 0i64;
    for t in tensors {
        let n = t.numel() as i64;
        spans.push((total, n));
        total += n;
    }
    let flat = Tensor::f_zeros([total], (kind, device))?;
    tch::no_grad(|| {
        for (t, &(off, n)) in tensors.iter().zip(&spans) {
            let slice = flat.narrow(0, off, n);
            slice.view_as(t).copy_(t);
            t.shallow_clone().set_data(&slice.view(t.size().as_slice()));
        }
    });
    Ok((flat, spans))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn views_share_the_buffer_and_keep_values() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]);
        let b = Tensor::from_slice(&[5.0f32]);
        let a_alias = a.shallow_clone();
        let (mut flat, spans) = flatten(
            &[a.shallow_clone(), b.shallow_clone()],
            Kind::Float,
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(spans, vec![(0, 4), (4, 1)]);
        assert_eq!(
            Vec::<f32>::try_from(&flat).unwrap(),
            vec![1., 2., 3., 4., 5.]
        );
        assert_eq!(a_alias.size(), vec![2, 2]);
        let _ = flat.g_mul_scalar_(2.0);
        assert_eq!(
            Vec::<f32>::try_from(&a_alias.reshape([-1])).unwrap(),
            vec![2., 4., 6., 8.]
        );
        assert_eq!(b.double_value(&[0]), 10.0);
    }
}

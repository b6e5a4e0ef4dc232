//! The Frechet distance between Gaussians fitted to two feature sets (FID when the features
//! are InceptionV3's, FCD with the domain classifier's), in float64 with an exact matrix
//! square root.

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Mean `[D]` and covariance `[D, D]` (unbiased, `n - 1`) of features `[N, D]`, in float64 on
/// the CPU, as `numpy.mean(axis=0)` and `numpy.cov(rowvar=False)` compute them.
pub fn feature_stats(features: &Tensor) -> Result<(Tensor, Tensor)> {
    let size = features.size();
    if size.len() != 2 || size[0] < 2 || size[1] < 1 {
        return Err(Error::Shape(format!(
            "features must be [N >= 2, D >= 1], got {size:?}"
        )));
    }
    let x = features.to_device(Device::Cpu).to_kind(Kind::Double);
    let mu = x.mean_dim(0, false, Kind::Double);
    let centred = &x - &mu;
    let cov = centred.tr().mm(&centred) / (size[0] - 1) as f64;
    Ok((mu, cov))
}

/// `||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))` (Dowson & Landau 1982), in float64.
///
/// The trace of the square root is computed exactly from symmetric eigendecompositions:
/// `Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2)`, the sum of the square roots of the
/// eigenvalues of a symmetric positive semi-definite matrix (round-off negatives count as 0).
/// pytorch-fid reaches the same value through scipy's `sqrtm`.
pub fn frechet_distance(mu1: &Tensor, s1: &Tensor, mu2: &Tensor, s2: &Tensor) -> Result<f64> {
    let d = mu1.size();
    let ok =
        d.len() == 1 && mu2.size() == d && s1.size() == [d[0], d[0]] && s2.size() == [d[0], d[0]];
    if !ok {
        return Err(Error::Shape(format!(
            "Frechet distance needs means [D] and covariances [D, D]; got {:?}, {:?}, {:?}, {:?}",
            mu1.size(),
            s1.size(),
            mu2.size(),
            s2.size()
        )));
    }
    let f64_cpu = |t: &Tensor| t.to_device(Device::Cpu).to_kind(Kind::Double);
    let (mu1, s1, mu2, s2) = (f64_cpu(mu1), f64_cpu(s1), f64_cpu(mu2), f64_cpu(s2));
    let sym = |m: &Tensor| (m + m.tr()) / 2.0;
    let (w, v) = Tensor::f_linalg_eigh(&sym(&s1), "L")?;
    let s1_half = (&v * w.clamp_min(0.0).sqrt().unsqueeze(0)).mm(&v.tr());
    let inner = sym(&s1_half.mm(&s2).mm(&s1_half));
    let tr_sqrt = Tensor::f_linalg_eigvalsh(&inner, "L")?
        .clamp_min(0.0)
        .sqrt()
        .sum(Kind::Double)
        .double_value(&[]);
    let diff = &mu1 - &mu2;
    let mean_term = diff.dot(&diff).double_value(&[]);
    let trace = s1.trace().double_value(&[]) + s2.trace().double_value(&[]);
    Ok(mean_term + trace - 2.0 * tr_sqrt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v)
    }

    /// One dimension: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    #[test]
    fn one_dimension_closed_form() {
        let fd = frechet_distance(
            &t(&[1.0]),
            &t(&[4.0]).view([1, 1]),
            &t(&[-2.0]),
            &t(&[9.0]).view([1, 1]),
        )
        .unwrap();
        assert!((fd - (9.0 + 1.0)).abs() < 1e-12, "{fd}");
    }

    /// Commuting (diagonal) covariances: sum of (sqrt(a) - sqrt(b))^2.
    #[test]
    fn diagonal_closed_form() {
        let a = [1.0, 4.0, 0.25, 9.0];
        let b = [4.0, 1.0, 1.0, 0.0];
        let expect: f64 = 1.0
            + a.iter()
                .zip(&b)
                .map(|(x, y): (&f64, &f64)| (x.sqrt() - y.sqrt()).powi(2))
                .sum::<f64>();
        let fd = frechet_distance(
            &t(&[0.0, 0.0, 1.0, 0.0]),
            &t(&a).diag(0),
            &t(&[0.0, 0.0, 0.0, 0.0]),
            &t(&b).diag(0),
        )
        .unwrap();
        assert!((fd - expect).abs() < 1e-10, "{fd} vs {expect}");
    }

    /// A full covariance against a rotated copy of itself: the same Gaussian up to rotation,
    /// so the distance is the closed form of the rotated diagonal case.
    #[test]
    fn rotation_invariance_and_zero_self_distance() {
        tch::manual_seed(0);
        let q = Tensor::f_linalg_qr(
            &Tensor::randn([6, 6], (Kind::Double, Device::Cpu)),
            "reduced",
        )
        .unwrap()
        .0;
        let da = t(&[1.0, 2.0, 3.0, 0.5, 0.1, 4.0]);
        let db = t(&[2.0, 2.0, 1.0, 0.5, 0.3, 1.0]);
        let rot = |d: &Tensor| q.mm(&d.diag(0)).mm(&q.tr());
        let zero = Tensor::zeros([6], (Kind::Double, Device::Cpu));
        let fd = frechet_distance(&zero, &rot(&da), &zero, &rot(&db)).unwrap();
        let expect = (da.sqrt() - db.sqrt())
            .square()
            .sum(Kind::Double)
            .double_value(&[]);
        assert!((fd - expect).abs() < 1e-9, "{fd} vs {expect}");
        let same = frechet_distance(&zero, &rot(&da), &zero, &rot(&da)).unwrap();
        assert!(same.abs() < 1e-9, "{same}");
    }

    #[test]
    fn stats_match_numpy_cov_and_shapes_are_checked() {
        let x = t(&[1.0, 2.0, 3.0, 5.0, 5.0, 11.0]).view([3, 2]);
        let (mu, cov) = feature_stats(&x).unwrap();
        assert_eq!(Vec::<f64>::try_from(&mu).unwrap(), vec![3.0, 6.0]);
        // numpy.cov([[1, 3, 5], [2, 5, 11]]) = [[4, 9], [9, 21]]
        let c = Vec::<f64>::try_from(&cov.reshape([-1])).unwrap();
        assert_eq!(c, vec![4.0, 9.0, 9.0, 21.0]);
        assert!(feature_stats(&t(&[1.0, 2.0])).is_err());
        assert!(frechet_distance(&mu, &cov, &t(&[1.0]), &cov).is_err());
    }
}

//! Invariants of the losses over random logits in [-50, 50].

use crate::GanLoss;
use proptest::collection::vec;
use proptest::prelude::*;
use tch::{Kind, Tensor};

fn t(v: &[f32]) -> Tensor {
    Tensor::from_slice(v)
}

fn d(loss: GanLoss, r: &[f32], f: &[f32]) -> f64 {
    loss.discriminator(&t(r), &t(f)).unwrap().double_value(&[])
}

fn g(loss: GanLoss, r: &[f32], f: &[f32]) -> f64 {
    loss.generator(&t(r), &t(f)).unwrap().double_value(&[])
}

/// Logits in [-50, 50], half of the elements drawn near the decision boundary and the
/// targets (|l| <= 2), where the losses are smallest.
fn logits() -> impl Strategy<Value = Vec<f32>> {
    vec(prop_oneof![-50.0f32..=50.0, -2.0f32..=2.0], 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn d_losses_are_non_negative(r in logits(), f in logits()) {
        for loss in [GanLoss::NonSaturating, GanLoss::Minimax, GanLoss::LeastSquares, GanLoss::Hinge] {
            let v = d(loss, &r, &f);
            prop_assert!(v >= 0.0, "{loss}: {v}");
        }
    }

    #[test]
    fn hinge_d_is_zero_beyond_the_margins(r in vec(1.0f32..=50.0, 1..12), f in vec(-50.0f32..=-1.0, 1..12)) {
        prop_assert_eq!(d(GanLoss::Hinge, &r, &f), 0.0);
    }

    #[test]
    fn hinge_d_is_positive_inside_a_margin(r in logits(), f in logits(), i in any::<prop::sample::Index>()) {
        let mut r = r;
        let i = i.index(r.len());
        r[i] = r[i].min(0.5); // one real sample at least 0.5 inside its margin
        prop_assert!(d(GanLoss::Hinge, &r, &f) >= 0.5 / r.len() as f64 - 1e-6);
    }

    #[test]
    fn ns_g_decreases_as_fake_logits_increase(f in logits(), delta in 0.01f32..10.0) {
        let up: Vec<f32> = f.iter().map(|x| x + delta).collect();
        let (before, after) = (g(GanLoss::NonSaturating, &f, &f), g(GanLoss::NonSaturating, &f, &up));
        prop_assert!(after <= before, "{after} > {before}");
        // Strictly while any fake is not yet confidently accepted (softplus(-x) ~ e^-x).
        if f.iter().any(|&x| x < 5.0) {
            prop_assert!(after < before, "{after} >= {before}");
        }
    }

    #[test]
    fn wasserstein_d_is_antisymmetric(r in logits(), f in logits()) {
        let (a, b) = (d(GanLoss::Wasserstein, &r, &f), d(GanLoss::Wasserstein, &f, &r));
        prop_assert!((a + b).abs() <= 1e-5, "{a} vs {b}");
    }

    #[test]
    fn relativistic_is_shift_invariant(r in logits(), f in logits(), c in -50.0f32..50.0) {
        let rs: Vec<f32> = r.iter().map(|x| x + c).collect();
        let fs: Vec<f32> = f.iter().map(|x| x + c).collect();
        let loss = GanLoss::RelativisticAverage;
        for (a, b) in [(d(loss, &r, &f), d(loss, &rs, &fs)), (g(loss, &r, &f), g(loss, &rs, &fs))] {
            // f32 rounding of x + c is up to ~1e-5 absolute for |x + c| <= 100.
            prop_assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn all_losses_and_gradients_are_finite(r in logits(), f in logits()) {
        for loss in GanLoss::ALL {
            let rt = t(&r).set_requires_grad(true);
            let ft = t(&f).set_requires_grad(true);
            for l in [loss.discriminator(&rt, &ft).unwrap(), loss.generator(&rt, &ft).unwrap()] {
                prop_assert!(l.double_value(&[]).is_finite(), "{loss}");
                let grads = Tensor::run_backward(&[l], &[&ft], false, false);
                let all_finite = grads[0].isfinite().all().int64_value(&[]) == 1;
                prop_assert!(all_finite, "{loss}");
            }
            prop_assert_eq!(loss.discriminator(&rt, &ft).unwrap().kind(), Kind::Float);
        }
    }
}

//! Losses against closed forms computed by hand in f64, gradients against finite
//! differences, input checks, names.
//!
//! Shared inputs: `l_r = [2, -1, 0.5]`, `l_f = [-3, 0]` (different batch sizes on purpose;
//! no hinge kink at 1 / -1). The PyTorch expression for each expected value is given next
//! to it (`import torch; import torch.nn.functional as F; r = torch.tensor([2., -1., .5]);
//! f = torch.tensor([-3., 0.])`).

use crate::{functional as fun, Error, GanLoss};
use tch::{Device, Kind, Tensor};

const REAL: [f64; 3] = [2.0, -1.0, 0.5];
const FAKE: [f64; 2] = [-3.0, 0.0];

/// `ln(1 + e^x)`, stable.
fn sp(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn t(v: &[f64]) -> Tensor {
    Tensor::from_slice(v).to_kind(Kind::Float)
}

fn value(t: &Tensor) -> f64 {
    assert_eq!(t.size(), Vec::<i64>::new(), "loss must be a 0-dim tensor");
    assert_eq!(t.kind(), Kind::Float, "loss must be f32");
    t.double_value(&[])
}

#[track_caller]
fn assert_close(got: f64, expected: f64) {
    let tol = 1e-5 * expected.abs().max(1.0);
    assert!(
        (got - expected).abs() <= tol,
        "got {got}, expected {expected} (tolerance {tol})"
    );
}

#[track_caller]
fn check_d(loss: GanLoss, expected: f64) {
    assert_close(
        value(&loss.discriminator(&t(&REAL), &t(&FAKE)).unwrap()),
        expected,
    );
}

#[track_caller]
fn check_g(loss: GanLoss, expected: f64) {
    assert_close(
        value(&loss.generator(&t(&REAL), &t(&FAKE)).unwrap()),
        expected,
    );
}

#[test]
fn softplus_helper_matches_closed_form() {
    // F.softplus(torch.tensor(2.)) = 2.1269280110429727 = ln(1 + e^2)
    assert_close(sp(2.0), (1.0 + 2f64.exp()).ln());
    assert_close(sp(2.0), 2.1269280110429727);
    assert_close(sp(-40.0), 4.248354255291589e-18);
}

#[test]
fn non_saturating_matches_closed_form() {
    // F.softplus(-r).mean() + F.softplus(f).mean()  = 1.0089561603139443
    let d = mean(&REAL.map(|x| sp(-x))) + mean(&FAKE.map(sp));
    assert_close(d, 1.0089561603139443);
    check_d(GanLoss::NonSaturating, d);
    // F.softplus(-f).mean()  = 1.8708672660668437
    let g = mean(&FAKE.map(|x| sp(-x)));
    assert_close(g, 1.8708672660668437);
    check_g(GanLoss::NonSaturating, g);
    // Same as BCE-with-logits: F.binary_cross_entropy_with_logits(f, torch.ones(2))
    let bce = mean(&FAKE.map(|x| -(1.0 / (1.0 + (-x).exp())).ln()));
    assert_close(g, bce);
}

#[test]
fn minimax_matches_closed_form() {
    // D: same as non-saturating  = 1.0089561603139443
    check_d(GanLoss::Minimax, 1.0089561603139443);
    // -F.softplus(f).mean() = torch.log(1 - torch.sigmoid(f)).mean()  = -0.37086726606684367
    let g = -mean(&FAKE.map(sp));
    assert_close(g, -0.37086726606684367);
    assert_close(
        g,
        mean(&FAKE.map(|x| (1.0 - 1.0 / (1.0 + (-x).exp())).ln())),
    );
    check_g(GanLoss::Minimax, g);
}

#[test]
fn hinge_matches_closed_form() {
    // F.relu(1 - r).mean() + F.relu(1 + f).mean() = (0 + 2 + 0.5)/3 + (0 + 1)/2  = 4/3
    check_d(GanLoss::Hinge, 2.5 / 3.0 + 0.5);
    // -f.mean()  = 1.5
    check_g(GanLoss::Hinge, 1.5);
}

#[test]
fn wasserstein_matches_closed_form() {
    // f.mean() - r.mean() = -1.5 - 0.5  = -2
    check_d(GanLoss::Wasserstein, -2.0);
    // -f.mean()  = 1.5
    check_g(GanLoss::Wasserstein, 1.5);
}

#[test]
fn least_squares_matches_closed_form() {
    // 0.5 * ((r - 1)**2).mean() + 0.5 * (f**2).mean() = 0.5*(1+4+0.25)/3 + 0.5*(9+0)/2  = 3.125
    check_d(GanLoss::LeastSquares, 3.125);
    // 0.5 * ((f - 1)**2).mean() = 0.5*(16+1)/2  = 4.25
    check_g(GanLoss::LeastSquares, 4.25);
}

/// pytorch-CycleGAN-and-pix2pix's `GANLoss`: `lsgan` is `F.mse_loss(logits, target)` and the
/// discriminator term `0.5 * (loss(real, 1) + loss(fake, 0))`; `vanilla` is BCE with logits.
#[test]
fn translation_scale_gives_upstream_gan_loss() {
    let ls = GanLoss::LeastSquares;
    let s = ls.translation_scale();
    // F.mse_loss(f, ones) = (16 + 1) / 2 = 8.5
    assert_close(value(&ls.generator(&t(&REAL), &t(&FAKE)).unwrap()) * s, 8.5);
    // 0.5 * (F.mse_loss(r, ones) + F.mse_loss(f, zeros)) = 0.5 * (5.25 / 3 + 9 / 2) = 3.125
    assert_close(
        value(&ls.discriminator(&t(&REAL), &t(&FAKE)).unwrap()) * 0.5 * s,
        3.125,
    );
    // vanilla: BCEWithLogits(f, 1) = mean(softplus(-f)), 0.5 * (BCE(r, 1) + BCE(f, 0))
    let ns = GanLoss::NonSaturating;
    assert_eq!(ns.translation_scale(), 1.0);
    let g = FAKE.iter().map(|&f| sp(-f)).sum::<f64>() / FAKE.len() as f64;
    assert_close(value(&ns.generator(&t(&REAL), &t(&FAKE)).unwrap()), g);
    for loss in GanLoss::ALL {
        let want = if loss == ls { 2.0 } else { 1.0 };
        assert_eq!(loss.translation_scale(), want, "{loss}");
    }
}

#[test]
fn relativistic_average_matches_closed_form() {
    // dr = r - f.mean() = [3.5, 0.5, 2];  df = f - r.mean() = [-3.5, -0.5]
    let dr = REAL.map(|x| x - mean(&FAKE));
    let df = FAKE.map(|x| x - mean(&REAL));
    assert_eq!(dr, [3.5, 0.5, 2.0]);
    assert_eq!(df, [-3.5, -0.5]);
    // F.softplus(-dr).mean() + F.softplus(df).mean()  = 0.4621655057249302
    let d = mean(&dr.map(|x| sp(-x))) + mean(&df.map(sp));
    assert_close(d, 0.4621655057249302);
    check_d(GanLoss::RelativisticAverage, d);
    // F.softplus(dr).mean() + F.softplus(-df).mean()  = 4.462165505724931
    let g = mean(&dr.map(sp)) + mean(&df.map(|x| sp(-x)));
    assert_close(g, 4.462165505724931);
    check_g(GanLoss::RelativisticAverage, g);
}

#[test]
fn functional_agrees_with_gan_loss() {
    let (r, f) = (t(&REAL), t(&FAKE));
    let pairs: [(GanLoss, Tensor, Tensor); 6] = [
        (
            GanLoss::NonSaturating,
            fun::ns_d(&r, &f).unwrap(),
            fun::ns_g(&f).unwrap(),
        ),
        (
            GanLoss::Minimax,
            fun::ns_d(&r, &f).unwrap(),
            fun::minimax_g(&f).unwrap(),
        ),
        (
            GanLoss::Hinge,
            fun::hinge_d(&r, &f).unwrap(),
            fun::hinge_g(&f).unwrap(),
        ),
        (
            GanLoss::Wasserstein,
            fun::wasserstein_d(&r, &f).unwrap(),
            fun::wasserstein_g(&f).unwrap(),
        ),
        (
            GanLoss::LeastSquares,
            fun::ls_d(&r, &f).unwrap(),
            fun::ls_g(&f).unwrap(),
        ),
        (
            GanLoss::RelativisticAverage,
            fun::ra_d(&r, &f).unwrap(),
            fun::ra_g(&r, &f).unwrap(),
        ),
    ];
    for (loss, d, g) in pairs {
        assert_eq!(
            value(&d),
            value(&loss.discriminator(&r, &f).unwrap()),
            "{loss}"
        );
        assert_eq!(value(&g), value(&loss.generator(&r, &f).unwrap()), "{loss}");
    }
}

/// d loss / d logits by autograd and by central differences, for every loss and side.
#[test]
fn gradients_match_finite_differences() {
    let h = 1e-2;
    for loss in GanLoss::ALL {
        for side in ["d", "g"] {
            let eval = |r: &[f64], f: &[f64]| -> (f64, Vec<f64>, Vec<f64>) {
                let rt = t(r).set_requires_grad(true);
                let ft = t(f).set_requires_grad(true);
                let l = match side {
                    "d" => loss.discriminator(&rt, &ft).unwrap(),
                    _ => loss.generator(&rt, &ft).unwrap(),
                };
                l.backward();
                let grad = |x: &Tensor| -> Vec<f64> {
                    let g = x.grad();
                    if g.defined() {
                        Vec::<f64>::try_from(g.to_kind(Kind::Double)).unwrap()
                    } else {
                        vec![0.0; x.size()[0] as usize]
                    }
                };
                (value(&l), grad(&rt), grad(&ft))
            };
            let (_, gr, gf) = eval(&REAL, &FAKE);
            let num = |which: usize, i: usize| {
                let (mut r, mut f) = (REAL.to_vec(), FAKE.to_vec());
                let v = if which == 0 { &mut r } else { &mut f };
                v[i] += h;
                let plus = eval(&r, &f).0;
                let v = if which == 0 { &mut r } else { &mut f };
                v[i] -= 2.0 * h;
                let minus = eval(&r, &f).0;
                (plus - minus) / (2.0 * h)
            };
            for (i, g) in gr.iter().enumerate() {
                let n = num(0, i);
                assert!(
                    (g - n).abs() < 1e-3,
                    "{loss} {side} d/dl_r[{i}]: {g} vs {n}"
                );
            }
            for (i, g) in gf.iter().enumerate() {
                let n = num(1, i);
                assert!(
                    (g - n).abs() < 1e-3,
                    "{loss} {side} d/dl_f[{i}]: {g} vs {n}"
                );
            }
        }
    }
}

#[test]
fn non_saturating_gradient_is_sigmoid() {
    // d/dl_f mean(softplus(l_f)) = sigmoid(l_f) / N_f; d/dl_r mean(softplus(-l_r)) = -sigmoid(-l_r) / N_r
    let r = t(&REAL).set_requires_grad(true);
    let f = t(&FAKE).set_requires_grad(true);
    GanLoss::NonSaturating
        .discriminator(&r, &f)
        .unwrap()
        .backward();
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    for (i, x) in REAL.iter().enumerate() {
        assert_close(r.grad().double_value(&[i as i64]), -sig(-x) / 3.0);
    }
    for (i, x) in FAKE.iter().enumerate() {
        assert_close(f.grad().double_value(&[i as i64]), sig(*x) / 2.0);
    }
}

#[test]
fn column_logits_equal_flat_logits() {
    let (r, f) = (t(&REAL), t(&FAKE));
    let (rc, fc) = (r.view([3, 1]), f.view([2, 1]));
    for loss in GanLoss::ALL {
        assert_eq!(
            value(&loss.discriminator(&r, &f).unwrap()),
            value(&loss.discriminator(&rc, &fc).unwrap()),
            "{loss}"
        );
        assert_eq!(
            value(&loss.generator(&r, &f).unwrap()),
            value(&loss.generator(&rc, &f).unwrap()),
            "{loss}"
        );
    }
}

#[test]
fn other_float_kinds_give_f32_losses() {
    for kind in [Kind::Double, Kind::Half, Kind::BFloat16] {
        let (r, f) = (t(&REAL).to_kind(kind), t(&FAKE).to_kind(kind));
        let d = GanLoss::LeastSquares.discriminator(&r, &f).unwrap();
        assert_close(value(&d), 3.125); // the inputs are exact in every kind
    }
}

#[test]
fn losses_keep_the_graph() {
    let r = t(&REAL).set_requires_grad(true);
    let f = t(&FAKE).set_requires_grad(true);
    for loss in GanLoss::ALL {
        assert!(
            loss.discriminator(&r, &f).unwrap().requires_grad(),
            "{loss}"
        );
        assert!(loss.generator(&r, &f).unwrap().requires_grad(), "{loss}");
    }
}

fn err_text(r: crate::Result<Tensor>) -> String {
    match r {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_logit_shapes_are_errors_naming_the_argument() {
    let good = t(&REAL);
    let z = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    let bad = [
        (z(&[4, 2]), "[4, 2]"),
        (z(&[2, 1, 1]), "[2, 1, 1]"),
        (z(&[]), "[]"),
    ];
    for loss in GanLoss::ALL {
        for (b, shape) in &bad {
            let e = err_text(loss.discriminator(b, &good));
            assert!(e.contains("`real_logits`") && e.contains(shape), "{e}");
            let e = err_text(loss.discriminator(&good, b));
            assert!(e.contains("`fake_logits`") && e.contains(shape), "{e}");
            let e = err_text(loss.generator(&good, b));
            assert!(e.contains("`fake_logits`") && e.contains(shape), "{e}");
            assert!(matches!(
                loss.discriminator(b, &good),
                Err(Error::Shape {
                    arg: "real_logits",
                    ..
                })
            ));
        }
    }
}

#[test]
fn empty_batches_are_errors_naming_the_argument() {
    let good = t(&REAL);
    for empty in [
        Tensor::zeros([0], (Kind::Float, Device::Cpu)),
        Tensor::zeros([0, 1], (Kind::Float, Device::Cpu)),
    ] {
        for loss in GanLoss::ALL {
            assert!(matches!(
                loss.discriminator(&empty, &good),
                Err(Error::EmptyBatch {
                    arg: "real_logits",
                    ..
                })
            ));
            assert!(matches!(
                loss.discriminator(&good, &empty),
                Err(Error::EmptyBatch {
                    arg: "fake_logits",
                    ..
                })
            ));
            let e = err_text(loss.generator(&good, &empty));
            assert!(e.contains("`fake_logits` is an empty batch"), "{e}");
        }
    }
}

#[test]
fn undefined_and_integer_logits_are_errors() {
    let good = t(&REAL);
    let ints = Tensor::from_slice(&[1i64, 0, 1]);
    for loss in GanLoss::ALL {
        assert!(matches!(
            loss.discriminator(&Tensor::new(), &good),
            Err(Error::Undefined { arg: "real_logits" })
        ));
        assert!(matches!(
            loss.generator(&good, &Tensor::new()),
            Err(Error::Undefined { arg: "fake_logits" })
        ));
        let e = err_text(loss.discriminator(&good, &ints));
        assert!(
            e.contains("`fake_logits` must be a floating-point tensor"),
            "{e}"
        );
    }
}

#[test]
fn only_the_relativistic_generator_reads_real_logits() {
    let f = t(&FAKE);
    for loss in GanLoss::ALL {
        let g = loss.generator(&Tensor::new(), &f);
        assert_eq!(g.is_err(), loss.needs_real_for_generator(), "{loss}: {g:?}");
        assert_eq!(
            loss.needs_real_for_generator(),
            loss == GanLoss::RelativisticAverage
        );
    }
    assert!(matches!(
        GanLoss::RelativisticAverage.generator(&Tensor::new(), &f),
        Err(Error::Undefined { arg: "real_logits" })
    ));
    // A detached real batch is fine and the gradient still reaches the fakes.
    let r = t(&REAL).set_requires_grad(true);
    let fk = t(&FAKE).set_requires_grad(true);
    GanLoss::RelativisticAverage
        .generator(&r.detach(), &fk)
        .unwrap()
        .backward();
    assert!(fk.grad().defined());
    assert!(!r.grad().defined());
}

#[test]
fn names_round_trip_through_serde_display_and_from_str() {
    assert_eq!(GanLoss::default(), GanLoss::NonSaturating);
    let names = [
        "non-saturating",
        "minimax",
        "hinge",
        "wasserstein",
        "least-squares",
        "relativistic-average",
    ];
    for (loss, name) in GanLoss::ALL.into_iter().zip(names) {
        assert_eq!(loss.name(), name);
        assert_eq!(loss.to_string(), name);
        assert_eq!(name.parse::<GanLoss>().unwrap(), loss);
        let json = serde_json::to_string(&loss).unwrap();
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<GanLoss>(&json).unwrap(), loss);
    }
    assert!(matches!(
        "NonSaturating".parse::<GanLoss>(),
        Err(Error::UnknownLoss(s)) if s == "NonSaturating"
    ));
    assert!(serde_json::from_str::<GanLoss>("\"lsgan\"").is_err());
}

#[test]
fn torch_errors_keep_their_source() {
    use std::error::Error as _;
    let e = Error::from(tch::TchError::Torch("boom".into()));
    assert!(e.to_string().contains("boom"));
    let source = e.source().expect("the TchError is the source");
    assert!(source.to_string().contains("boom"));
}

#[test]
fn d_losses_reach_zero_at_their_targets() {
    // LS: targets 1 (real) and 0 (fake); hinge: margins; NS: confident logits.
    assert_eq!(
        value(
            &GanLoss::LeastSquares
                .discriminator(&t(&[1.0, 1.0]), &t(&[0.0]))
                .unwrap()
        ),
        0.0
    );
    assert_eq!(
        value(
            &GanLoss::Hinge
                .discriminator(&t(&[1.0, 3.0]), &t(&[-1.0, -7.0]))
                .unwrap()
        ),
        0.0
    );
    // F.softplus(torch.tensor(-30.)) * 2 = 1.87e-13
    let ns = value(
        &GanLoss::NonSaturating
            .discriminator(&t(&[30.0]), &t(&[-30.0]))
            .unwrap(),
    );
    assert!((0.0..1e-12).contains(&ns), "{ns}");
}

/// Runs only where libtorch sees a GPU (returns early otherwise).
#[test]
fn cuda_logits_work_and_mixed_devices_are_errors() {
    if !tch::Cuda::is_available() {
        use std::io::Write as _;
        // Written past the test harness's capture, so that CI's log shows it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP cuda_logits_work_and_mixed_devices_are_errors: no CUDA device"
        );
        return;
    }
    let cuda = Device::Cuda(0);
    let (r, f) = (t(&REAL).to_device(cuda), t(&FAKE).to_device(cuda));
    for loss in GanLoss::ALL {
        let d = loss.discriminator(&r, &f).unwrap();
        assert_eq!(d.device(), cuda);
        assert_eq!(
            d.double_value(&[]),
            value(&loss.discriminator(&t(&REAL), &t(&FAKE)).unwrap()),
            "{loss}"
        );
        let e = loss.discriminator(&r, &t(&FAKE)).unwrap_err();
        assert!(matches!(e, Error::DeviceMismatch { .. }), "{e}");
    }
    let w = Tensor::from_slice(&[3.0f32, 4.0]).to_device(cuda);
    let x = Tensor::randn([4, 2], (Kind::Float, cuda));
    let gp = crate::gradient_penalty(|x| x.matmul(&w), &x, &x.randn_like(), 1.0).unwrap();
    assert!((gp.double_value(&[]) - 16.0).abs() < 1e-4);
}

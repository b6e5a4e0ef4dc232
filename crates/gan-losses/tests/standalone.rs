//! `gan-losses` used on its own, as another project would: only `tch` and this crate.

use gan_losses::{grad_norm_sq, gradient_penalty, r1_penalty, GanLoss};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const DEV: Device = Device::Cpu;

fn gaussian(n: i64, mean: f64, std: f64) -> Tensor {
    Tensor::randn([n, 1], (Kind::Float, DEV)) * std + mean
}

fn accuracy(d: &impl Module, real: &Tensor, fake: &Tensor) -> f64 {
    tch::no_grad(|| {
        let right =
            d.forward(real).gt(0.0).sum(Kind::Float) + d.forward(fake).le(0.0).sum(Kind::Float);
        right.double_value(&[]) / (real.size()[0] + fake.size()[0]) as f64
    })
}

/// A logistic discriminator `sigmoid(w x + b)` trained with the non-saturating loss learns
/// to tell N(2, 0.5) ("real") from N(-2, 0.5) ("fake").
#[test]
fn logistic_discriminator_separates_two_gaussians() {
    tch::manual_seed(42);
    let vs = nn::VarStore::new(DEV);
    let d = nn::linear(vs.root() / "d", 1, 1, Default::default());
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let (test_real, test_fake) = (gaussian(1000, 2.0, 0.5), gaussian(1000, -2.0, 0.5));
    let before = accuracy(&d, &test_real, &test_fake);
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for _ in 0..200 {
        let (real, fake) = (gaussian(64, 2.0, 0.5), gaussian(64, -2.0, 0.5));
        let loss = GanLoss::NonSaturating
            .discriminator(&d.forward(&real), &d.forward(&fake))
            .unwrap();
        last_loss = loss.double_value(&[]);
        first_loss.get_or_insert(last_loss);
        opt.backward_step(&loss);
    }
    let after = accuracy(&d, &test_real, &test_fake);
    assert!(after > 0.9, "accuracy {after} (before training {before})");
    // Loss went down from about 2 ln 2 for an untrained D.
    assert!(
        last_loss < 0.5 * first_loss.unwrap(),
        "{first_loss:?} -> {last_loss}"
    );
    // The learned direction: positive weight (real on the right).
    assert!(d.ws.double_value(&[0, 0]) > 0.0);
}

/// R1 and WGAN-GP through an `nn::Linear` critic: the penalties reach the weights.
#[test]
fn penalties_train_through_var_store_parameters() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(DEV);
    let d = nn::linear(vs.root(), 3, 1, Default::default());
    let real = Tensor::randn([8, 3], (Kind::Float, DEV));
    let fake = Tensor::randn([8, 3], (Kind::Float, DEV));

    // For a linear critic, grad_x D = w: R1 = ||w||^2 and d R1 / dw = 2w.
    let r1 = r1_penalty(|x| d.forward(x), &real).unwrap();
    let w = d.ws.detach();
    let norm_sq = w.square().sum(Kind::Float).double_value(&[]);
    assert!((r1.double_value(&[]) - norm_sq).abs() < 1e-5);
    r1.backward();
    let diff = (d.ws.grad() - &w * 2.0).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "{diff}");

    // Minimising the zero-centred GP alone drives the weights to 0; with target 1 to norm 1.
    let mut opt = nn::Sgd::default().build(&vs, 0.1).unwrap();
    for _ in 0..100 {
        let gp = gradient_penalty(|x| d.forward(x), &real, &fake, 1.0).unwrap();
        opt.backward_step(&gp);
    }
    let norm =
        d.ws.detach()
            .square()
            .sum(Kind::Float)
            .sqrt()
            .double_value(&[]);
    assert!((norm - 1.0).abs() < 1e-2, "||w|| = {norm}");

    // R1 from the logits of the main pass, added to the loss.
    let x = real.set_requires_grad(true);
    let logits = d.forward(&x);
    let loss = GanLoss::Hinge
        .discriminator(&logits, &d.forward(&fake))
        .unwrap()
        + grad_norm_sq(&logits, &x).unwrap().mean(Kind::Float) * 5.0;
    opt.zero_grad();
    loss.backward();
    assert!(d.ws.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

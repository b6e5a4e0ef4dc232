//! Shapes, conditioning and errors of the image networks.

use gan_models::{DataSpec, Discriminator, DiscriminatorConfig, Error, Generator, GeneratorConfig};
use tch::{nn, Device, Kind, Tensor};

fn nets(g: &str, d: &str, data: &DataSpec) -> (nn::VarStore, Generator, Discriminator) {
    let vs = nn::VarStore::new(Device::Cpu);
    let g_cfg: GeneratorConfig = toml::from_str(g).unwrap();
    let d_cfg: DiscriminatorConfig = toml::from_str(d).unwrap();
    let g = Generator::new(&(vs.root() / "g"), &g_cfg, data).unwrap();
    let d = Discriminator::new(&(vs.root() / "d"), &d_cfg, data).unwrap();
    (vs, g, d)
}

fn z(b: i64, dim: i64) -> Tensor {
    Tensor::randn([b, dim], (Kind::Float, Device::Cpu))
}

#[test]
fn generators_produce_the_data_shape_in_tanh_range() {
    let cases = [
        (
            "arch = 'dcgan'\nwidth = 8",
            "arch = 'dcgan'\nwidth = 8",
            DataSpec::images(1, 32, 32, 0),
        ),
        (
            "arch = 'dcgan'\nwidth = 4",
            "arch = 'dcgan'\nwidth = 4",
            DataSpec::images(3, 64, 64, 0),
        ),
        (
            "arch = 'dcgan'\nwidth = 4",
            "arch = 'dcgan'\nwidth = 4",
            DataSpec::images(3, 48, 64, 0),
        ),
        (
            "arch = 'resnet'\nwidth = 16",
            "arch = 'resnet'\nwidth = 16",
            DataSpec::images(3, 32, 32, 0),
        ),
    ];
    for (g_src, d_src, data) in cases {
        let (_vs, g, d) = nets(g_src, d_src, &data);
        let x = g.forward_t(&z(4, g.latent_dim()), None, true).unwrap();
        let mut want = vec![4];
        want.extend(&data.shape);
        assert_eq!(x.size(), want, "{g_src}");
        assert!(x.abs().max().double_value(&[]) <= 1.0);
        assert_eq!(
            d.forward_t(&x, None, true).unwrap().size(),
            vec![4],
            "{d_src}"
        );
        // Eval mode (running statistics, no power iteration) works too.
        let x = g.forward_t(&z(2, g.latent_dim()), None, false).unwrap();
        assert_eq!(d.forward_t(&x, None, false).unwrap().size(), vec![2]);
    }
}

#[test]
fn conditional_networks_use_the_labels() {
    let data = DataSpec::images(1, 32, 32, 10);
    for (g_src, d_src) in [
        (
            "arch = 'dcgan'\nwidth = 8\nconditioning = 'batch-norm'",
            "arch = 'dcgan'\nwidth = 8\nconditioning = 'projection'",
        ),
        (
            "arch = 'resnet'\nwidth = 16\nconditioning = 'batch-norm'",
            "arch = 'resnet'\nwidth = 16\nconditioning = 'projection'",
        ),
    ] {
        tch::manual_seed(0);
        let (vs, g, d) = nets(g_src, d_src, &data);
        // Conditional batch-norm tables start at identity: perturb them so classes differ.
        tch::no_grad(|| {
            for (name, t) in vs.variables() {
                if name.ends_with("gamma") || name.ends_with("beta") {
                    let _ = t.shallow_clone().normal_(0.5, 1.0);
                }
            }
        });
        assert!(g.conditional() && d.conditional());
        let z = z(1, g.latent_dim()).repeat([2, 1]);
        let y = Tensor::from_slice(&[3i64, 7]);
        let x = g.forward_t(&z, Some(&y), false).unwrap();
        assert!(
            (x.get(0) - x.get(1)).abs().max().double_value(&[]) > 1e-3,
            "{g_src}"
        );
        let same = x.get(0).unsqueeze(0).repeat([2, 1, 1, 1]);
        let logits = d.forward_t(&same, Some(&y), false).unwrap();
        assert!(
            (logits.double_value(&[0]) - logits.double_value(&[1])).abs() > 1e-6,
            "{d_src}"
        );
        assert!(matches!(
            g.forward_t(&z, None, true),
            Err(Error::MissingLabels(_))
        ));
        assert!(matches!(
            d.forward_t(&x, None, true),
            Err(Error::MissingLabels(_))
        ));
    }
}

#[test]
fn auxiliary_classifier_head_gives_class_logits() {
    let data = DataSpec::images(1, 32, 32, 10);
    let (_vs, g, d) = nets(
        "arch = 'dcgan'\nwidth = 8",
        "arch = 'dcgan'\nwidth = 8\nconditioning = 'auxiliary-classifier'",
        &data,
    );
    let x = g.forward_t(&z(6, g.latent_dim()), None, true).unwrap();
    let (logits, classes) = d.forward_full(&x, None, true).unwrap();
    assert_eq!(logits.size(), vec![6]);
    assert_eq!(classes.unwrap().size(), vec![6, 10]);
}

#[test]
fn packing_concatenates_along_channels() {
    let data = DataSpec::images(1, 32, 32, 0);
    let (_vs, g, d) = nets(
        "arch = 'dcgan'\nwidth = 8",
        "arch = 'dcgan'\nwidth = 8\npack = 2",
        &data,
    );
    let x = g.forward_t(&z(6, g.latent_dim()), None, true).unwrap();
    assert_eq!(d.forward_t(&x, None, true).unwrap().size(), vec![3]);
    let odd = x.narrow(0, 0, 5);
    assert!(matches!(
        d.forward_t(&odd, None, true),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn bad_data_and_inputs_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let dcgan: GeneratorConfig = toml::from_str("arch = 'dcgan'").unwrap();
    let mlp = GeneratorConfig::default();
    // 28x28 (MNIST's size) halves twice to a 7x7 base; 30x30 halves once to 15x15: too big.
    let g28 = Generator::new(
        &(vs.root() / "g28"),
        &dcgan,
        &DataSpec::images(1, 28, 28, 0),
    )
    .unwrap();
    let x = g28.forward_t(&z(2, 100), None, true).unwrap();
    assert_eq!(x.size(), vec![2, 1, 28, 28]);
    let err = Generator::new(&vs.root(), &dcgan, &DataSpec::images(1, 30, 30, 0)).unwrap_err();
    assert!(err.to_string().contains("32x32"), "{err}");
    let err = Generator::new(&vs.root(), &mlp, &DataSpec::images(1, 32, 32, 0)).unwrap_err();
    assert!(err.to_string().contains("dcgan"), "{err}");
    let cond: GeneratorConfig =
        toml::from_str("arch = 'dcgan'\nconditioning = 'batch-norm'").unwrap();
    let err = Generator::new(&vs.root(), &cond, &DataSpec::images(1, 32, 32, 0)).unwrap_err();
    assert!(err.to_string().contains("generator.conditioning"), "{err}");
    let g = Generator::new(&(vs.root() / "ok"), &dcgan, &DataSpec::images(1, 32, 32, 0)).unwrap();
    assert!(matches!(
        g.forward_t(&z(2, 7), None, true),
        Err(Error::Shape { .. })
    ));
}

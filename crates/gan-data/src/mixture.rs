use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// The two standard 2D mixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MixtureKind {
    /// 8 Gaussians on the unit circle at angles 2*pi*k/8, std 0.01.
    Ring,
    /// 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05.
    Grid,
}

/// A mixture of equally weighted isotropic 2D Gaussians.
#[derive(Debug, Clone)]
pub struct Mixture2d {
    kind: MixtureKind,
    means: Vec<[f64; 2]>,
    std: f64,
}

/// The PacGAN 2D evaluation of a set of samples.
///
/// A sample is high quality when it lies within 3 std of its nearest mean; a mode is
/// captured when at least one high-quality sample is nearest to it; the reverse KL is
/// KL(p || uniform) where p is the histogram of nearest-mode assignments of all samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeMetrics {
    /// Number of samples evaluated.
    pub n_samples: usize,
    /// Modes with at least one high-quality sample.
    pub modes_captured: usize,
    /// Modes of the mixture.
    pub n_modes: usize,
    /// Fraction of samples within 3 std of their nearest mean.
    pub high_quality_fraction: f64,
    /// KL(nearest-mode histogram || uniform), in nats.
    pub reverse_kl: f64,
    /// High-quality samples per mode.
    pub hq_per_mode: Vec<usize>,
}

impl Mixture2d {
    /// The mixture of the given kind.
    pub fn new(kind: MixtureKind) -> Self {
        match kind {
            MixtureKind::Ring => {
                let means = (0..8)
                    .map(|k| {
                        let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
                        [a.cos(), a.sin()]
                    })
                    .collect();
                Mixture2d {
                    kind,
                    means,
                    std: 0.01,
                }
            }
            MixtureKind::Grid => {
                let coords = [-4.0, -2.0, 0.0, 2.0, 4.0];
                let means = coords
                    .iter()
                    .flat_map(|&x| coords.iter().map(move |&y| [x, y]))
                    .collect();
                Mixture2d {
                    kind,
                    means,
                    std: 0.05,
                }
            }
        }
    }

    /// Which mixture this is.
    pub fn kind(&self) -> MixtureKind {
        self.kind
    }

    /// The component means.
    pub fn means(&self) -> &[[f64; 2]] {
        &self.means
    }

    /// The standard deviation of every component.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// Draws `n` samples, shape `[n, 2]`, float32 on `device`, from torch's generator.
    /// (For repeated draws, [`sampler`](Self::sampler) keeps the means on the device.)
    pub fn sample(&self, n: i64, device: Device) -> Tensor {
        self.sampler(device).sample(n)
    }

    /// A sampler holding the means on `device`: no host-to-device copy per draw.
    pub fn sampler(&self, device: Device) -> MixtureSampler {
        let flat: Vec<f32> = self.means.iter().flatten().map(|&v| v as f32).collect();
        let means = Tensor::from_slice(&flat)
            .view([self.means.len() as i64, 2])
            .to_device(device);
        MixtureSampler {
            means,
            std: self.std,
        }
    }

    /// Seeds torch's generator with `seed`, then draws `n` samples.
    pub fn sample_seeded(&self, n: i64, seed: i64, device: Device) -> Tensor {
        tch::manual_seed(seed);
        self.sample(n, device)
    }

    /// Scores samples with the PacGAN protocol (see [`ModeMetrics`]).
    pub fn evaluate(&self, samples: &[[f32; 2]]) -> Result<ModeMetrics> {
        if samples.is_empty() {
            return Err(Error::Empty);
        }
        let k = self.means.len();
        let mut nearest_count = vec![0usize; k];
        let mut hq_per_mode = vec![0usize; k];
        let threshold = 3.0 * self.std;
        let mut hq = 0usize;
        for (index, &[x, y]) in samples.iter().enumerate() {
            if !x.is_finite() || !y.is_finite() {
                return Err(Error::NonFinite { index, x, y });
            }
            let (best, d2) = self
                .means
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let dx = x as f64 - m[0];
                    let dy = y as f64 - m[1];
                    (i, dx * dx + dy * dy)
                })
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            nearest_count[best] += 1;
            if d2.sqrt() < threshold {
                hq += 1;
                hq_per_mode[best] += 1;
            }
        }
        let n = samples.len() as f64;
        let reverse_kl = nearest_count
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                p * (p * k as f64).ln()
            })
            .sum();
        Ok(ModeMetrics {
            n_samples: samples.len(),
            modes_captured: hq_per_mode.iter().filter(|&&c| c > 0).count(),
            n_modes: k,
            high_quality_fraction: hq as f64 / n,
            reverse_kl,
            hq_per_mode,
        })
    }
}

/// Draws from a [`Mixture2d`] with its means already on the device.
#[derive(Debug)]
pub struct MixtureSampler {
    means: Tensor,
    std: f64,
}

impl MixtureSampler {
    /// `n` samples, shape `[n, 2]`, from torch's generator.
    pub fn sample(&self, n: i64) -> Tensor {
        let device = self.means.device();
        let idx = Tensor::randint(self.means.size()[0], [n], (Kind::Int64, device));
        let noise = Tensor::randn([n, 2], (Kind::Float, device));
        self.means.index_select(0, &idx) + noise * self.std
    }
}

/// Copies a `[N, 2]` tensor into points.
pub fn points(t: &Tensor) -> Result<Vec<[f32; 2]>> {
    let size = t.size();
    if size.len() != 2 || size[1] != 2 {
        return Err(Error::Shape(size));
    }
    let flat = Vec::<f32>::try_from(
        t.detach()
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]),
    )?;
    Ok(flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layouts_match_the_papers() {
        let ring = Mixture2d::new(MixtureKind::Ring);
        assert_eq!(ring.means().len(), 8);
        for (k, m) in ring.means().iter().enumerate() {
            let a = std::f64::consts::FRAC_PI_4 * k as f64;
            assert!((m[0] - a.cos()).abs() < 1e-12 && (m[1] - a.sin()).abs() < 1e-12);
        }
        assert_eq!(ring.std(), 0.01);
        let grid = Mixture2d::new(MixtureKind::Grid);
        assert_eq!(grid.means().len(), 25);
        assert!(grid.means().contains(&[-4.0, 4.0]) && grid.means().contains(&[0.0, 0.0]));
        assert_eq!(grid.std(), 0.05);
    }

    #[test]
    fn true_samples_score_perfectly() {
        for kind in [MixtureKind::Ring, MixtureKind::Grid] {
            let mix = Mixture2d::new(kind);
            let x = mix.sample_seeded(2500, 1, Device::Cpu);
            let m = mix.evaluate(&points(&x).unwrap()).unwrap();
            assert_eq!(m.modes_captured, m.n_modes);
            // 3 std in 2D holds 1 - exp(-4.5) = 98.9% of the mass.
            assert!(m.high_quality_fraction > 0.98, "{m:?}");
            assert!(m.reverse_kl < 0.02, "{m:?}");
        }
    }

    #[test]
    fn seeded_sampling_is_reproducible() {
        let mix = Mixture2d::new(MixtureKind::Grid);
        let a = mix.sample_seeded(100, 42, Device::Cpu);
        let b = mix.sample_seeded(100, 42, Device::Cpu);
        let c = mix.sample_seeded(100, 43, Device::Cpu);
        assert!(a.equal(&b));
        assert!(!a.equal(&c));
    }

    #[test]
    fn collapsed_samples_are_scored_as_such() {
        let mix = Mixture2d::new(MixtureKind::Ring);
        // All mass on mode 0: one mode, KL = ln 8.
        let pts = vec![[1.0f32, 0.0]; 100];
        let m = mix.evaluate(&pts).unwrap();
        assert_eq!(m.modes_captured, 1);
        assert!((m.reverse_kl - 8f64.ln()).abs() < 1e-12);
        assert_eq!(m.high_quality_fraction, 1.0);
        // Points between modes are captured by nobody.
        let off = vec![[0.0f32, 0.0]; 10];
        let m = mix.evaluate(&off).unwrap();
        assert_eq!((m.modes_captured, m.high_quality_fraction), (0, 0.0));
    }

    #[test]
    fn bad_input_is_an_error() {
        let mix = Mixture2d::new(MixtureKind::Ring);
        assert!(matches!(mix.evaluate(&[]), Err(Error::Empty)));
        let err = mix.evaluate(&[[0.0, 0.0], [f32::NAN, 1.0]]).unwrap_err();
        assert!(err.to_string().contains("sample 1"), "{err}");
        let t = Tensor::zeros([3, 3], (Kind::Float, Device::Cpu));
        assert!(matches!(points(&t), Err(Error::Shape(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn metrics_stay_in_range(pts in proptest::collection::vec((-6f32..6.0, -6f32..6.0), 1..200)) {
            let pts: Vec<[f32; 2]> = pts.into_iter().map(|(x, y)| [x, y]).collect();
            for kind in [MixtureKind::Ring, MixtureKind::Grid] {
                let m = Mixture2d::new(kind).evaluate(&pts).unwrap();
                prop_assert!(m.modes_captured <= m.n_modes);
                prop_assert!((0.0..=1.0).contains(&m.high_quality_fraction));
                prop_assert!(m.reverse_kl >= -1e-12 && m.reverse_kl <= (m.n_modes as f64).ln() + 1e-9);
                prop_assert_eq!(m.hq_per_mode.iter().sum::<usize>() as f64, (m.high_quality_fraction * pts.len() as f64).round());
            }
        }
    }
}

//! Mode counting on stacked data (Stacked MNIST, Metz et al. 2017, as PacGAN and VEEGAN
//! score it): each of the three channels of a generated RGB image is classified by the
//! grey data set's classifier; the three classes name one of `K^3` modes (1000 for 10
//! classes). A model covers a mode when at least one sample lands in it; the KL divergence
//! of the mode histogram to the uniform distribution measures how evenly (PacGAN's
//! `scipy.stats.entropy(histogram, uniform)`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Mode coverage of stacked samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackedModes {
    /// Samples (stacked images) scored.
    pub n_samples: usize,
    /// Modes in all (`K^3`).
    pub n_modes: usize,
    /// Modes with at least one sample.
    pub modes_covered: usize,
    /// `KL(mode histogram || uniform)` in nats (0 = perfectly even; `ln K^3` = one mode).
    pub kl_to_uniform: f64,
}

/// Scores the predicted classes of the channels, three per sample in channel order
/// (`[a0, b0, c0, a1, b1, c1, ...]`), each in `0..k`.
pub fn stacked_modes(channel_classes: &[i64], k: usize) -> Result<StackedModes> {
    if channel_classes.is_empty() || !channel_classes.len().is_multiple_of(3) || k < 2 {
        return Err(Error::Shape(format!(
            "stacked modes need 3 predictions per sample and k >= 2 classes; got {} \
             predictions, k = {k}",
            channel_classes.len()
        )));
    }
    let n_modes = k * k * k;
    let mut hist = vec![0usize; n_modes];
    for triple in channel_classes.chunks_exact(3) {
        let mut mode = 0usize;
        for &c in triple {
            let c = usize::try_from(c)
                .ok()
                .filter(|&c| c < k)
                .ok_or_else(|| Error::Shape(format!("class {c} is not in 0..{k}")))?;
            mode = mode * k + c;
        }
        hist[mode] += 1;
    }
    let n = channel_classes.len() / 3;
    let kl = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            p * (p * n_modes as f64).ln()
        })
        .sum();
    Ok(StackedModes {
        n_samples: n,
        n_modes,
        modes_covered: hist.iter().filter(|&&c| c > 0).count(),
        kl_to_uniform: kl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_single_mode_and_errors() {
        // Every one of the 1000 modes once: all covered, KL 0.
        let all: Vec<i64> = (0..1000)
            .flat_map(|m| [m / 100, m / 10 % 10, m % 10])
            .collect();
        let s = stacked_modes(&all, 10).unwrap();
        assert_eq!(
            (s.n_samples, s.n_modes, s.modes_covered),
            (1000, 1000, 1000)
        );
        assert!(s.kl_to_uniform.abs() < 1e-12);
        // One mode only: KL = ln 1000.
        let one = [3i64, 1, 4].repeat(50);
        let s = stacked_modes(&one, 10).unwrap();
        assert_eq!(s.modes_covered, 1);
        assert!((s.kl_to_uniform - 1000f64.ln()).abs() < 1e-12);
        // Two modes, 3:1: KL = sum p ln(p M).
        let mut two = [0i64, 0, 0].repeat(3);
        two.extend([9, 9, 9]);
        let s = stacked_modes(&two, 10).unwrap();
        let expect = 0.75 * (750f64).ln() + 0.25 * (250f64).ln();
        assert!((s.kl_to_uniform - expect).abs() < 1e-12);
        assert!(stacked_modes(&[1, 2], 10).is_err());
        assert!(stacked_modes(&[1, 2, 10], 10).is_err());
        assert!(stacked_modes(&[], 10).is_err());
    }
}

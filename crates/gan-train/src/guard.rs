//! The divergence guard's judgement: which logged value, if any, says the run diverged.
use std::collections::{BTreeMap, VecDeque};

use crate::config::GuardConfig;
use crate::family::StatKind;

/// Why the guard tripped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Divergence {
    /// The step (0-based) whose values tripped it.
    pub step: u64,
    /// What happened, for people: names the statistic and the value.
    pub reason: String,
    /// The offending value (NaN/Inf, the spike, or 0 for a gradient check).
    pub value: f64,
    /// The statistic's name.
    pub what: String,
}

/// A loss whose magnitude reaches this is finite but almost surely diverging: the usual GAN
/// losses (non-saturating, hinge, least squares, a WGAN critic with its penalty, pix2pix's
/// L1 x 100) stay orders of magnitude below it.
pub(crate) const HUGE_LOSS: f64 = 1e6;

/// Running medians of each loss over the last `window` steps.
#[derive(Debug)]
pub(crate) struct Guard {
    cfg: GuardConfig,
    history: BTreeMap<&'static str, VecDeque<f64>>,
    /// Per loss, the power of ten of the largest huge value already warned about.
    warned: BTreeMap<&'static str, i32>,
}

impl Guard {
    pub(crate) fn new(cfg: &GuardConfig) -> Self {
        Guard {
            cfg: cfg.clone(),
            history: BTreeMap::new(),
            warned: BTreeMap::new(),
        }
    }

    /// Losses of one step that are finite but at least [`HUGE_LOSS`] in magnitude, each
    /// named once per power of ten it reaches (so a loss climbing from 1e6 to 1e16 is
    /// reported as it climbs, not at every step): `(name, value, message)`.
    pub(crate) fn huge(
        &mut self,
        step: u64,
        stats: &[(&'static str, StatKind, f64)],
    ) -> Vec<(&'static str, f64, String)> {
        let mut out = Vec::new();
        for &(name, kind, v) in stats {
            if kind != StatKind::Loss || !v.is_finite() || v.abs() < HUGE_LOSS {
                continue;
            }
            let power = v.abs().log10().floor() as i32;
            if self.warned.get(name).is_some_and(|&p| p >= power) {
                continue;
            }
            self.warned.insert(name, power);
            let advice = if self.cfg.loss_multiple > 0.0 {
                String::new()
            } else {
                "; set [guard] loss_multiple (e.g. 1000) to roll back on such spikes".into()
            };
            out.push((
                name,
                v,
                format!(
                    "`{name}` = {v:.3e} at step {step} is finite but huge (|loss| >= 1e{power}): \
                     the run is probably diverging{advice}"
                ),
            ));
        }
        out
    }

    /// Forgets the history (after a rollback the losses start over).
    pub(crate) fn reset(&mut self) {
        self.history.clear();
    }

    /// Judges one step's statistics; on success adds its losses to the history.
    pub(crate) fn check(
        &mut self,
        step: u64,
        stats: &[(&'static str, StatKind, f64)],
    ) -> Result<(), Divergence> {
        for &(name, kind, v) in stats {
            let bad = |reason: String| Divergence {
                step,
                reason,
                value: v,
                what: name.to_string(),
            };
            match kind {
                StatKind::GradsFinite if v != 1.0 => {
                    return Err(bad(format!(
                        "a non-finite gradient (`{name}`) at step {step}"
                    )))
                }
                StatKind::GradsFinite => {}
                _ if !v.is_finite() => {
                    return Err(bad(format!("`{name}` is not finite ({v}) at step {step}")))
                }
                StatKind::Loss if self.cfg.loss_multiple > 0.0 => {
                    let h = self.history.entry(name).or_default();
                    if h.len() >= self.cfg.window {
                        let median = median(h);
                        if median > 0.0 && v > self.cfg.loss_multiple * median {
                            return Err(bad(format!(
                                "`{name}` = {v:.6} at step {step} is more than {} times its \
                                 running median {median:.6} (guard.loss_multiple)",
                                self.cfg.loss_multiple
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        if self.cfg.loss_multiple > 0.0 {
            for &(name, kind, v) in stats {
                if kind == StatKind::Loss {
                    let h = self.history.entry(name).or_default();
                    h.push_back(v);
                    if h.len() > self.cfg.window {
                        h.pop_front();
                    }
                }
            }
        }
        Ok(())
    }
}

fn median(h: &VecDeque<f64>) -> f64 {
    let mut v: Vec<f64> = h.iter().copied().collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(multiple: f64, window: usize) -> Guard {
        Guard::new(&GuardConfig {
            loss_multiple: multiple,
            window,
            ..Default::default()
        })
    }

    #[test]
    fn huge_finite_losses_are_named_once_per_power_of_ten() {
        let mut g = guard(0.0, 10);
        let row = |v: f64| {
            [
                ("d_loss", StatKind::Loss, v),
                ("d_real", StatKind::Value, 1e9),
            ]
        };
        assert!(g.huge(0, &row(3.0)).is_empty());
        assert!(g.huge(1, &row(9.9e5)).is_empty());
        let w = g.huge(2, &row(2.4e8));
        assert_eq!(w.len(), 1, "values are not losses: {w:?}");
        assert!(
            w[0].2.contains("`d_loss` = 2.400e8 at step 2") && w[0].2.contains("loss_multiple"),
            "{w:?}"
        );
        assert!(g.huge(3, &row(5e8)).is_empty(), "the same power of ten");
        assert_eq!(
            g.huge(4, &row(-1e16)).len(),
            1,
            "a larger one, negative too"
        );
        assert!(
            g.huge(5, &row(f64::NAN)).is_empty(),
            "non-finite is check()'s"
        );
    }

    #[test]
    fn non_finite_values_and_gradients_trip_it() {
        let mut g = guard(0.0, 10);
        assert!(g.check(0, &[("d_loss", StatKind::Loss, 1.0)]).is_ok());
        let e = g
            .check(1, &[("d_real", StatKind::Value, f64::NAN)])
            .unwrap_err();
        assert!(
            e.reason.contains("`d_real` is not finite") && e.step == 1,
            "{e:?}"
        );
        let e = g
            .check(2, &[("g_grads", StatKind::GradsFinite, 0.0)])
            .unwrap_err();
        assert!(
            e.reason.contains("non-finite gradient (`g_grads`)"),
            "{e:?}"
        );
    }

    #[test]
    fn a_spike_past_the_multiple_of_the_running_median_trips_it_once_the_window_is_full() {
        let mut g = guard(10.0, 5);
        // Not judged before the window is full.
        assert!(g.check(0, &[("d_loss", StatKind::Loss, 100.0)]).is_ok());
        for s in 1..5 {
            assert!(g.check(s, &[("d_loss", StatKind::Loss, 1.0)]).is_ok());
        }
        // Median of [100, 1, 1, 1, 1] is 1: 9.9 passes, 10.5 does not.
        assert!(g.check(5, &[("d_loss", StatKind::Loss, 9.9)]).is_ok());
        let e = g.check(6, &[("d_loss", StatKind::Loss, 10.5)]).unwrap_err();
        assert!(e.reason.contains("more than 10 times"), "{e:?}");
        // Values are not losses: never judged by the median.
        assert!(g.check(7, &[("d_real", StatKind::Value, 1e9)]).is_ok());
    }
}

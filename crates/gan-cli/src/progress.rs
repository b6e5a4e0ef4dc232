//! A progress bar (it/s, ETA) on a terminal; plain log lines otherwise.
use std::io::IsTerminal;

use gan_train::Event;
use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(start: u64, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps  {rate}  ETA {eta}  {msg}",
                )
                .expect("valid template")
                .with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1} it/s", s.per_sec());
                    },
                ),
            );
            bar.set_position(start);
            bar.reset_eta();
            bar
        });
        Progress { bar }
    }

    pub fn event(&mut self, e: Event) {
        let line = match e {
            Event::Step { step, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(step);
                }
                return;
            }
            Event::Log(r) => {
                let msg = r
                    .stats
                    .iter()
                    .map(|(name, v)| format!("{name} {v:.4}"))
                    .collect::<Vec<_>>()
                    .join("  ");
                if let Some(bar) = &self.bar {
                    bar.set_message(msg);
                    return;
                }
                // Slow steps (large images on a CPU) read better as seconds per step.
                let rate = if r.steps_per_sec >= 1.0 || r.steps_per_sec == 0.0 {
                    format!("{:.1} it/s", r.steps_per_sec)
                } else {
                    format!("{:.1} s/it", 1.0 / r.steps_per_sec)
                };
                format!("step {:>8}  {msg}  {rate}", r.step)
            }
            Event::Eval(r) => match (&r.modes, &r.grid) {
                (Some(m), _) => format!(
                    "eval step {}: {}/{} modes, {:.1}% high quality, reverse KL {:.4}",
                    r.step,
                    m.modes_captured,
                    m.n_modes,
                    100.0 * m.high_quality_fraction,
                    m.reverse_kl
                ),
                (None, Some(grid)) => {
                    let mut line = format!("eval step {}: samples {}", r.step, grid.display());
                    if let Some(t) = &r.translation {
                        line += &format!(
                            "; {} translations ({}): L1 {:.4}, PSNR {:.2} dB, SSIM {:.4}",
                            t.scores.n,
                            t.test_mode.name(),
                            t.scores.l1,
                            t.scores.psnr,
                            t.scores.ssim
                        );
                    }
                    if let Some(s) = &r.scores {
                        line += &score_summary(s);
                    }
                    for d in &r.directions {
                        line += &format!("; {}", d.direction.name());
                        if let Some(t) = &d.exact {
                            line += &format!(" PSNR {:.2} dB, SSIM {:.4},", t.psnr, t.ssim);
                        }
                        line += &format!(" cycle L1 {:.4}", d.cycle.l1);
                        if let Some(s) = &d.scores {
                            line += &score_summary(s);
                        }
                    }
                    if let Some(b) = &r.best {
                        line += &format!("; best {} {:.4} at step {}", b.metric, b.value, b.step);
                    }
                    line
                }
                (None, None) => format!("eval step {}", r.step),
            },
            Event::Checkpoint(p) => format!("checkpoint {}", p.display()),
            Event::Warning(w) => format!("warning: {}", w.message),
            Event::Rollback(r) => format!(
                "divergence guard: {}; rolled back to step {} ({}), learning rates x{} \
                 (rollback {})",
                r.reason,
                r.step,
                r.checkpoint
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the initial weights".into()),
                r.lr_scale,
                r.rollbacks
            ),
        };
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The headline scores of an evaluation, for a log line.
fn score_summary(s: &gan_eval::ImageReport) -> String {
    let mut out = String::new();
    if let Some(m) = &s.inception {
        if let Some(f) = &m.features {
            out += &format!("; FID {:.2}, KID {:.4}", f.frechet_distance, f.kid);
        }
        out += &format!(", IS {:.2}", m.inception_score);
    }
    if let Some(c) = &s.classifier {
        if let Some(f) = &c.features {
            out += &format!(
                "; FCD {:.3}, precision {:.3}, recall {:.3}",
                f.frechet_distance, f.precision, f.recall
            );
        }
        if let Some(st) = &c.stacked {
            out += &format!("; {}/{} stacked modes", st.modes_covered, st.n_modes);
        }
        out += &format!(
            "; classes {}/{}, classifier score {:.2}",
            c.scores.classes_covered,
            c.scores.class_histogram.len(),
            c.scores.classifier_score
        );
        if let Some(a) = c.scores.conditional_accuracy {
            out += &format!(", conditional accuracy {:.1}%", 100.0 * a);
        }
    }
    out
}

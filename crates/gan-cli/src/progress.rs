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
                let msg = format!("d_loss {:.4}  g_loss {:.4}", r.d_loss, r.g_loss);
                if let Some(bar) = &self.bar {
                    bar.set_message(msg);
                    return;
                }
                format!("step {:>8}  {msg}  {:.1} it/s", r.step, r.steps_per_sec)
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
                (None, Some(grid)) => format!("eval step {}: samples {}", r.step, grid.display()),
                (None, None) => format!("eval step {}", r.step),
            },
            Event::Checkpoint(p) => format!("checkpoint {}", p.display()),
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

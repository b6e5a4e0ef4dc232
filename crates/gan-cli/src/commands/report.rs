//! `gan report`: one self-contained HTML page of a run (curves, samples, best checkpoint,
//! scores, guard events, config), to open in a browser or send to someone.
use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder.
    #[arg(long)]
    run: PathBuf,
    /// Output file (default: RUN/report.html).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn handle_command(args: Args) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("report.html"));
    super::check_out_dir(&out)?;
    let s = gan_train::report::write_html(&args.run, &out)
        .with_context(|| format!("cannot write a report of {}", args.run.display()))?;
    eprintln!(
        "wrote {} ({} images embedded, {} guard events); open it in a browser",
        s.path.display(),
        s.images,
        s.events
    );
    Ok(())
}

//! `gan configs`: the shipped presets, by name, with their one-line descriptions.
use anyhow::Result;

use crate::presets::{summary, PRESETS};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one preset's whole file instead of the list.
    #[arg(long, value_name = "NAME")]
    show: Option<String>,
}

pub fn handle_command(args: Args) -> Result<()> {
    if let Some(name) = &args.show {
        let Some(text) = crate::presets::find(name) else {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            anyhow::bail!("no preset `{name}` (presets: {})", names.join(", "));
        };
        print!("{text}");
        return Ok(());
    }
    let width = PRESETS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, text) in PRESETS {
        println!("{name:width$}  {}", summary(text));
    }
    println!("\ntrain one with `gan train --config NAME`; `gan configs --show NAME` prints it");
    Ok(())
}

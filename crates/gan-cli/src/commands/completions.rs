//! `gan completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell.
use anyhow::Result;
use clap::CommandFactory;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell.
    shell: clap_complete::Shell,
}

pub fn handle_command<C: CommandFactory>(args: Args) -> Result<()> {
    use std::io::Write as _;
    let mut cmd = C::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "gan", &mut script);
    match std::io::stdout().write_all(&script) {
        // `gan completions bash | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

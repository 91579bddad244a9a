//! `stagegate completions SHELL`: a completion script for bash, zsh or fish, from the clap
//! definition of the command line (so it never lags behind a new flag).

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::exit::Outcome;

pub(super) fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "stagegate", &mut script);
    super::print_document(&String::from_utf8(script)?)?;
    Ok(Outcome::Success)
}

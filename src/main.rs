use std::process::ExitCode;

use clap::Parser;

use stagegate::cli::Cli;
use stagegate::exit::{self, Outcome};
use stagegate::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.color);
    match stagegate::commands::run(cli, &printer) {
        Ok(outcome) => outcome.into(),
        Err(error) if exit::is_broken_pipe(&error) => Outcome::Success.into(),
        Err(error) => {
            printer.error(&format!("{error:#}"));
            exit::classify(&error).into()
        }
    }
}

use std::process::ExitCode;

/// The static (musl) release binary's allocator: musl's malloc takes one lock for every
/// allocation, so two lint workers spent almost twice the CPU of one (docs/performance.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use stagegate::cli::Cli;
use stagegate::exit::{self, Outcome};
use stagegate::printer::{Printer, Verbosity};

fn main() -> ExitCode {
    // First, while this is the only thread: the connection target is the URL alone, never
    // the caller's PG* variables (see stagegate::target::child).
    stagegate::target::set_aside_libpq_environment();
    let cli = Cli::parse();
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let printer = Printer::new(cli.color).with_verbosity(verbosity);
    match stagegate::commands::run(cli, &printer) {
        Ok(outcome) => outcome.into(),
        Err(error) if exit::is_broken_pipe(&error) => Outcome::Success.into(),
        Err(error) => {
            printer.error(&exit::message(&error));
            stagegate::commands::classify(&error).into()
        }
    }
}

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

/// The stack of the thread the command runs on.
const COMMAND_STACK: usize = 16 << 20;

fn main() -> ExitCode {
    // First, while this is the only thread: the connection target is the URL alone, never
    // the caller's PG* variables (see stagegate::target::child).
    stagegate::target::set_aside_libpq_environment();
    // The command runs on a thread of its own whose stack's bounds are known. sqlparser
    // guards its recursion with `stacker`, which reads the running thread's stack bounds;
    // musl reports only the part of the main thread's stack already touched, so every parse
    // on the main thread mapped, used and unmapped a fresh 2 MB stack (three system calls
    // and its pages zeroed, about 0.2 ms per script in the static release binary:
    // docs/performance.md). Where no thread can be started, it runs here.
    match std::thread::Builder::new()
        .name("stagegate".to_string())
        .stack_size(COMMAND_STACK)
        .spawn(command)
    {
        Ok(thread) => thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(_) => command(),
    }
}

fn command() -> ExitCode {
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

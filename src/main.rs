use std::process::ExitCode;

/// The static (musl) release binary's allocator: musl's malloc takes one lock for every
/// allocation, so two lint workers spent almost twice the CPU of one (docs/performance.md).
/// Built without transparent huge pages (the `no_thp` feature), and see [`allocator_purges_at_once`].
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc returns the memory of pages it freed to the system only a second after (ten for
/// its arenas), and meanwhile hands out pages it has not touched yet: lint's peak memory grew
/// with its running time, from 12 MB at 2,000 files to 17 MB at 20,000. Purged at once, it
/// stays flat (docs/performance.md). Set before any memory is freed.
#[cfg(target_env = "musl")]
fn allocator_purges_at_once() {
    /// `mi_option_purge_delay` in mimalloc.h's `mi_option_t` (the same number in mimalloc 2.1
    /// and 3); the mimalloc crate does not name it.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: sets one of mimalloc's options, which it reads each time it frees a page.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

use clap::Parser;

use stagegate::{Cli, Outcome, Printer, Verbosity};

/// The stack the command runs on: the size of a main thread's stack on Linux, allocated
/// once so that the size is known to `stacker` (see [`main`]).
const STACK_BYTES: usize = 8 << 20;

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    allocator_purges_at_once();
    // First, while this is the only thread: the connection target is the URL alone, never
    // the caller's PG* variables (see src/target/child.rs).
    stagegate::set_aside_libpq_environment();
    let cli = Cli::parse();
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let printer = Printer::new(cli.color).with_verbosity(verbosity);
    // sqlparser guards its recursion with `stacker`, which moves a deep call to a new stack
    // when less than 128 KiB of the thread's stack is left. musl does not tell the size of
    // the main thread's stack, only what is mapped of it so far, so every statement parsed
    // on the main thread (all of them with `lint --jobs 1`) mapped and unmapped a stack of
    // its own: 3 system calls and fresh pages per statement, 3 s of system time on 20,000
    // files. On a stack `stacker` allocated itself, it knows the size.
    let outcome = stacker::grow(STACK_BYTES, || stagegate::run(cli, &printer));
    match outcome {
        Ok(outcome) => outcome.into(),
        Err(error) if stagegate::is_broken_pipe(&error) => Outcome::Success.into(),
        Err(error) => {
            printer.error(&stagegate::error_message(&error));
            stagegate::classify(&error).into()
        }
    }
}

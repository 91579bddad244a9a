//! stagegate: safe PostgreSQL schema changes from a branch, through staging, to production.
//!
//! The binary's `main` only parses arguments, calls [`run`] and maps the outcome to
//! an exit code ([`Outcome`]). Every module is private to the crate (docs/architecture.md,
//! "Private by default"); the `pub use` list at the end is the whole public surface, there for
//! the binary and the test crates, not a library API.

mod alembic;
mod analyze;
mod backup;
mod cli;
mod commands;
mod config;
mod db;
mod deploy;
mod duration;
mod env_vars;
mod exit;
mod git;
mod human;
mod json;
mod lint;
mod parallel;
mod printer;
mod programs;
mod progress;
mod regular_file;
mod report;
mod reversible;
mod scratch;
mod signals;
mod source;
mod sql;
mod target;
mod trace;
mod visible;
mod who;

// The crate's surface: everything above is private to the crate; what follows is the whole
// public API, and it exists only for the binary (src/main.rs) and the test crates (tests/it,
// benches/). A name the binary or a test needs is added here, nowhere else. The few functions
// whose names only read well behind their module are renamed here (`error_message`,
// `find_rule`, `get_rule`, `parse_directives`).

// The binary: parse the arguments, run the command, map the outcome to an exit code.
pub use cli::Cli;
pub use commands::{classify, run};
pub use exit::{Outcome, is_broken_pipe, message as error_message};
pub use printer::{Printer, Verbosity};
pub use target::set_aside_libpq_environment;

// Tests and benches: the migration files and the configuration.
pub use config::{Config, DEFAULT_POSTGRES_VERSION};
pub use source::directives::parse as parse_directives;
pub use source::{
    Checksum, LINT_WINDOW, Layout, Listing, MigrationSet, Script, ScriptRef, Section, SourceError,
    discover, scan_as, scan_windows,
};
pub use target::{DatabaseUrl, redact};

// Tests and benches: connections, the state store and its records.
pub use db::{
    ApplyRecord, Finish, LOCK_KEY, Session, StateStore, Step, Timeouts, connect,
    known_schema_version, runtime,
};

// Tests and benches: the linter, in-process, and what it parses with.
pub use analyze::analyze;
pub use lint::registry::{find as find_rule, get as get_rule};
pub use lint::report::render_text;
pub use lint::{
    Analysis, Finding, Input, Options, RULES, RunState, Severity, lint_analyzed, lint_script,
};
pub use parallel::{default_workers, ordered};
pub use sql::split;

// Tests and benches: the scratch cluster, backups, and the variables the test suite reads.
pub use backup::{Manifest, hash_file};
pub use env_vars::{STAGEGATE_CHROMIUM, STAGEGATE_TEST_DATABASE_URL, STAGEGATE_TEST_VENV};
pub use scratch::{Cluster, ScratchOptions, ScratchServer, find_binaries};

//! stagegate: safe PostgreSQL schema changes from a branch, through staging, to production.
//!
//! The binary's `main` only parses arguments, calls [`commands::run`] and maps the outcome to
//! an exit code ([`exit`]). The modules below are usable on their own; `source` and `config`
//! do file I/O but no database work.

pub(crate) mod alembic;
pub mod analyze;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub(crate) mod deploy;
pub(crate) mod duration;
pub mod env_vars;
pub mod exit;
pub(crate) mod git;
pub(crate) mod human;
pub(crate) mod json;
pub mod lint;
pub mod parallel;
pub mod printer;
pub(crate) mod programs;
pub(crate) mod progress;
pub(crate) mod regular_file;
pub(crate) mod report;
pub(crate) mod reversible;
pub mod scratch;
pub(crate) mod signals;
pub mod source;
pub mod sql;
pub mod target;
pub(crate) mod trace;
pub(crate) mod visible;
pub(crate) mod who;

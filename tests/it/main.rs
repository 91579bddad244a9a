//! End-to-end tests: the real binary, the real fixtures, a real PostgreSQL.
//!
//! One test binary (faster to link than one per file); modules by subject.

// A test may tell the person running it why it skipped or what it waited for.
#![allow(clippy::print_stderr)]

mod alembic;
mod approvals;
mod backup;
mod baseline;
mod browser;
mod cli;
mod db;
mod down;
mod execution;
mod faults;
mod fuzz;
mod gates;
mod hazards;
mod hostile;
mod imports;
mod install;
mod json;
mod layouts;
mod lint;
mod lint_catalog;
mod lint_ci;
mod lint_outputs;
mod playbooks;
mod real_world;
mod report;
mod reversible;
mod runner;
mod scratch;
mod support;
mod target;
mod trace;
mod trust;
mod ux;
mod workflows;

//! SG3xx: data loss (dropped tables, schemas, types, sequences, views; TRUNCATE, CASCADE,
//! DELETE without WHERE).
//!
//! A rule of this family is one file here plus `pub(crate) mod <name>;` below and its
//! `rule!` line in `src/lint/registry.rs` (see `docs/architecture.md`).

pub(crate) mod delete_without_where;
pub(crate) mod drop_cascade;
pub(crate) mod drop_schema;
pub(crate) mod drop_sequence;
pub(crate) mod drop_table;
pub(crate) mod drop_type;
pub(crate) mod drop_view;
pub(crate) mod truncate;
pub(crate) mod truncate_cascade;

//! SG5xx: file and transaction structure (what may run in a transaction, no-transaction
//! files, allow directives, edited or unreadable migrations).
//!
//! A rule of this family is one file here plus `pub(crate) mod <name>;` below and its
//! `rule!` line in `src/lint/registry.rs` (see `docs/architecture.md`).

pub(crate) mod concurrent_in_transaction;
pub(crate) mod concurrent_index_if_not_exists;
pub(crate) mod concurrent_index_on_partitioned_table;
pub(crate) mod concurrently_mixed_with_other_statements;
pub(crate) mod dynamic_sql;
pub(crate) mod edited_released_migration;
pub(crate) mod enum_add_value_in_transaction;
pub(crate) mod enum_value_used_in_transaction;
pub(crate) mod lock_table_outside_transaction;
pub(crate) mod non_idempotent_no_transaction;
pub(crate) mod transaction_control_in_migration;
pub(crate) mod unknown_command;
pub(crate) mod unknown_rule_in_allow;
pub(crate) mod unrecognised_statement;
pub(crate) mod unused_allow_directive;

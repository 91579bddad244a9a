//! SG1xx: locks and rewrites that block traffic (a lock held while a table is scanned or
//! rewritten, a lock request without lock_timeout, work that should be CONCURRENTLY).
//!
//! A rule of this family is one file here plus `pub(crate) mod <name>;` below and its
//! `rule!` line in `src/lint/registry.rs` (see `docs/architecture.md`).

pub(crate) mod add_column_constrained_domain;
pub(crate) mod add_column_default_before_pg11;
pub(crate) mod add_column_generated_stored;
pub(crate) mod add_column_serial_or_identity;
pub(crate) mod add_column_volatile_default;
pub(crate) mod alter_domain_add_check;
pub(crate) mod alter_sequence_blocks_inserts;
pub(crate) mod attach_partition_before_pg12;
pub(crate) mod attach_partition_scan;
pub(crate) mod backfill_in_ddl_transaction;
pub(crate) mod check_constraint_missing_not_valid;
pub(crate) mod column_type_change_rewrite;
pub(crate) mod create_partition_locks_parent;
pub(crate) mod detach_partition_not_concurrent;
pub(crate) mod exclusion_constraint;
pub(crate) mod foreign_key_missing_not_valid;
pub(crate) mod index_on_only_parent;
pub(crate) mod primary_key_using_index_scan;
pub(crate) mod refresh_materialized_view_not_concurrent;
pub(crate) mod require_concurrent_index_creation;
pub(crate) mod require_concurrent_index_drop;
pub(crate) mod require_concurrent_reindex;
pub(crate) mod require_lock_timeout;
pub(crate) mod scan_under_held_lock;
pub(crate) mod set_not_null_scan;
pub(crate) mod statement_after_access_exclusive;
pub(crate) mod table_rewrite_command;
pub(crate) mod unique_constraint_without_index;
pub(crate) mod update_without_where;

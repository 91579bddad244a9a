//! SG2xx: changes that break the application code still running (renames, drops of what
//! old code reads, new constraints old code does not meet, lost privileges).
//!
//! A rule of this family is one file here plus `pub(crate) mod <name>;` below and its
//! `rule!` line in `src/lint/registry.rs` (see `docs/architecture.md`).

pub(crate) mod add_not_null_column_without_default;
pub(crate) mod drop_column;
pub(crate) mod drop_default_on_not_null;
pub(crate) mod drop_not_null;
pub(crate) mod drop_unique_index;
pub(crate) mod enable_rls_without_policy;
pub(crate) mod enum_value_removed;
pub(crate) mod instead_rule;
pub(crate) mod publication_without_replica_identity;
pub(crate) mod rename_column;
pub(crate) mod rename_constraint;
pub(crate) mod rename_enum_value;
pub(crate) mod rename_function;
pub(crate) mod rename_schema;
pub(crate) mod rename_table;
pub(crate) mod revoke_privileges;
pub(crate) mod set_schema;
pub(crate) mod view_security_invoker;

//! One file per rule. Each starts with its documentation (What it does / Why is this bad? /
//! Example / Use instead), which `stagegate rule <code>` prints, then `check`, then its tests.

pub mod add_column_constrained_domain;
pub mod add_column_default_before_pg11;
pub mod add_column_generated_stored;
pub mod add_column_serial_or_identity;
pub mod add_column_volatile_default;
pub mod add_not_null_column_without_default;
pub mod alter_domain_add_check;
pub mod alter_sequence_blocks_inserts;
pub mod attach_partition_before_pg12;
pub mod attach_partition_scan;
pub mod backfill_in_ddl_transaction;
pub mod ban_char;
pub mod check_constraint_missing_not_valid;
pub mod column_type_change_rewrite;
pub mod concurrent_in_transaction;
pub mod concurrent_index_if_not_exists;
pub mod concurrent_index_on_partitioned_table;
pub mod concurrently_mixed_with_other_statements;
pub mod create_partition_locks_parent;
pub mod delete_without_where;
pub mod detach_partition_not_concurrent;
pub mod domain_with_check;
pub mod drop_cascade;
pub mod drop_column;
pub mod drop_default_on_not_null;
pub mod drop_not_null;
pub mod drop_schema;
pub mod drop_sequence;
pub mod drop_table;
pub mod drop_type;
pub mod drop_unique_index;
pub mod drop_view;
pub mod dynamic_sql;
pub mod edited_released_migration;
pub mod enable_rls_without_policy;
pub mod enum_add_value_in_transaction;
pub mod enum_value_removed;
pub mod enum_value_used_in_transaction;
pub mod exclusion_constraint;
pub mod foreign_key_missing_not_valid;
pub mod identifier_too_long;
pub mod index_on_only_parent;
pub mod instead_rule;
pub mod lock_table_outside_transaction;
pub mod non_idempotent_no_transaction;
pub mod prefer_bigint_keys;
pub mod prefer_identity;
pub mod prefer_jsonb;
pub mod prefer_text_over_varchar;
pub mod prefer_timestamptz;
pub mod primary_key_using_index_scan;
pub mod publication_without_replica_identity;
pub mod refresh_materialized_view_not_concurrent;
pub mod rename_column;
pub mod rename_constraint;
pub mod rename_enum_value;
pub mod rename_function;
pub mod rename_schema;
pub mod rename_table;
pub mod require_concurrent_index_creation;
pub mod require_concurrent_index_drop;
pub mod require_concurrent_reindex;
pub mod require_lock_timeout;
pub mod revoke_privileges;
pub mod scan_under_held_lock;
pub mod set_not_null_scan;
pub mod set_schema;
pub mod statement_after_access_exclusive;
pub mod table_rewrite_command;
pub mod transaction_control_in_migration;
pub mod truncate;
pub mod truncate_cascade;
pub mod unique_constraint_without_index;
pub mod unknown_command;
pub mod unknown_rule_in_allow;
pub mod unrecognised_statement;
pub mod unused_allow_directive;
pub mod update_without_where;
pub mod view_security_invoker;

/// What every rule file needs.
pub(crate) mod prelude {
    pub use crate::analyze::model::{POLICY_DELETE, POLICY_INSERT, POLICY_SELECT, POLICY_UPDATE};
    pub use crate::analyze::{
        Change, ColumnSpec, ColumnType, ConstraintKind, DefaultKind, Effect, Name, ObjectKind,
        Reach, RewriteCommand, TypeChange, locks,
    };
    pub use crate::lint::{Ctx, Hit};

    /// Names listed by [`quote_all`] before the rest are only counted: a message stays
    /// short when a long transaction has locked thousands of tables.
    pub const LISTED: usize = 5;

    /// `a`, `b` and `c` in backticks, comma-separated; past [`LISTED`] names, "and N more".
    pub fn quote_all(names: &[Name]) -> String {
        let mut out = names
            .iter()
            .take(LISTED)
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > LISTED {
            out.push_str(&format!(" and {} more", names.len() - LISTED));
        }
        out
    }

    /// The columns a change defines, with their table.
    pub fn columns_of(change: &Change) -> Vec<(&str, &ColumnSpec)> {
        match change {
            Change::CreateTable { table, columns, .. } => {
                columns.iter().map(|c| (table.as_str(), c)).collect()
            }
            Change::AddColumn { table, column, .. } => vec![(table.as_str(), column)],
            _ => Vec::new(),
        }
    }

    /// The names a change gives to new objects.
    pub fn names_of(change: &Change) -> Vec<&str> {
        let mut out: Vec<&str> = columns_of(change)
            .iter()
            .map(|(_, c)| c.name.as_str())
            .collect();
        match change {
            Change::CreateTable { table, .. } => out.push(table),
            Change::CreateIndex {
                name: Some(name), ..
            } => out.push(name),
            Change::AddConstraint { constraint, .. } => out.extend(constraint.name.as_deref()),
            Change::RenameColumn { to, .. } | Change::RenameTable { to, .. } => out.push(to),
            Change::CreateView { name, .. }
            | Change::CreateSequence { name, .. }
            | Change::CreateEnum { name, .. }
            | Change::CreateDomain { name, .. }
            | Change::CreateSchema { name, .. } => out.push(name),
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::prelude::quote_all;

    #[test]
    fn quote_all_lists_a_few_names_and_counts_the_rest() {
        let names = |n: usize| (0..n).map(|i| format!("t_{i}")).collect::<Vec<_>>();
        assert_eq!(quote_all(&names(2)), "`t_0`, `t_1`");
        assert_eq!(quote_all(&names(5)), "`t_0`, `t_1`, `t_2`, `t_3`, `t_4`");
        assert_eq!(
            quote_all(&names(20_000)),
            "`t_0`, `t_1`, `t_2`, `t_3`, `t_4` and 19995 more"
        );
    }
}

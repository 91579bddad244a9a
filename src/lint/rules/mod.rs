//! One file per rule. Each starts with its documentation (What it does / Why is this bad? /
//! Example / Use instead), which `stagegate rule <code>` prints, then `check`, then its tests.

pub(crate) mod add_column_constrained_domain;
pub(crate) mod add_column_default_before_pg11;
pub(crate) mod add_column_generated_stored;
pub(crate) mod add_column_serial_or_identity;
pub(crate) mod add_column_volatile_default;
pub(crate) mod add_not_null_column_without_default;
pub(crate) mod alter_domain_add_check;
pub(crate) mod alter_sequence_blocks_inserts;
pub(crate) mod attach_partition_before_pg12;
pub(crate) mod attach_partition_scan;
pub(crate) mod backfill_in_ddl_transaction;
pub(crate) mod ban_char;
pub(crate) mod check_constraint_missing_not_valid;
pub(crate) mod column_type_change_rewrite;
pub(crate) mod concurrent_in_transaction;
pub(crate) mod concurrent_index_if_not_exists;
pub(crate) mod concurrent_index_on_partitioned_table;
pub(crate) mod concurrently_mixed_with_other_statements;
pub(crate) mod create_partition_locks_parent;
pub(crate) mod delete_without_where;
pub(crate) mod detach_partition_not_concurrent;
pub(crate) mod domain_with_check;
pub(crate) mod drop_cascade;
pub(crate) mod drop_column;
pub(crate) mod drop_default_on_not_null;
pub(crate) mod drop_not_null;
pub(crate) mod drop_schema;
pub(crate) mod drop_sequence;
pub(crate) mod drop_table;
pub(crate) mod drop_type;
pub(crate) mod drop_unique_index;
pub(crate) mod drop_view;
pub(crate) mod dynamic_sql;
pub(crate) mod edited_released_migration;
pub(crate) mod enable_rls_without_policy;
pub(crate) mod enum_add_value_in_transaction;
pub(crate) mod enum_value_removed;
pub(crate) mod enum_value_used_in_transaction;
pub(crate) mod exclusion_constraint;
pub(crate) mod foreign_key_missing_not_valid;
pub(crate) mod identifier_too_long;
pub(crate) mod index_on_only_parent;
pub(crate) mod instead_rule;
pub(crate) mod lock_table_outside_transaction;
pub(crate) mod non_idempotent_no_transaction;
pub(crate) mod prefer_bigint_keys;
pub(crate) mod prefer_identity;
pub(crate) mod prefer_jsonb;
pub(crate) mod prefer_text_over_varchar;
pub(crate) mod prefer_timestamptz;
pub(crate) mod primary_key_using_index_scan;
pub(crate) mod publication_without_replica_identity;
pub(crate) mod refresh_materialized_view_not_concurrent;
pub(crate) mod rename_column;
pub(crate) mod rename_constraint;
pub(crate) mod rename_enum_value;
pub(crate) mod rename_function;
pub(crate) mod rename_schema;
pub(crate) mod rename_table;
pub(crate) mod require_concurrent_index_creation;
pub(crate) mod require_concurrent_index_drop;
pub(crate) mod require_concurrent_reindex;
pub(crate) mod require_lock_timeout;
pub(crate) mod revoke_privileges;
pub(crate) mod scan_under_held_lock;
pub(crate) mod set_not_null_scan;
pub(crate) mod set_schema;
pub(crate) mod statement_after_access_exclusive;
pub(crate) mod table_rewrite_command;
pub(crate) mod transaction_control_in_migration;
pub(crate) mod truncate;
pub(crate) mod truncate_cascade;
pub(crate) mod unique_constraint_without_index;
pub(crate) mod unknown_command;
pub(crate) mod unknown_rule_in_allow;
pub(crate) mod unrecognised_statement;
pub(crate) mod unused_allow_directive;
pub(crate) mod update_without_where;
pub(crate) mod view_security_invoker;

/// What every rule file needs.
pub(crate) mod prelude {
    pub(crate) use crate::analyze::model::{
        POLICY_DELETE, POLICY_INSERT, POLICY_SELECT, POLICY_UPDATE,
    };
    pub(crate) use crate::analyze::{
        Change, ColumnSpec, ColumnType, ConstraintKind, DefaultKind, Effect, Name, ObjectKind,
        Reach, RewriteCommand, TypeChange, locks,
    };
    pub(crate) use crate::lint::{Ctx, Hit, LISTED};

    /// `a`, `b` and `c` in backticks, comma-separated; past [`LISTED`] names, "and N more".
    pub(crate) fn quote_all(names: &[Name]) -> String {
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
    pub(crate) fn columns_of(change: &Change) -> Vec<(&str, &ColumnSpec)> {
        match change {
            Change::CreateTable { table, columns, .. } => {
                columns.iter().map(|c| (table.as_str(), c)).collect()
            }
            Change::AddColumn { table, column, .. } => vec![(table.as_str(), column)],
            _ => Vec::new(),
        }
    }

    /// The names a change gives to new objects.
    pub(crate) fn names_of(change: &Change) -> Vec<&str> {
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

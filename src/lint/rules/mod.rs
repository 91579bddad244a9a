//! One file per rule, in the folder of its family; the family is the code's hundred
//! (`docs/architecture.md` and DESIGN.md's "Rule codes are stable"). Each file starts with its
//! documentation (What it does / Why is this bad? / Example / Use instead), which
//! `stagegate rule <code>` prints, then `check`, then its tests.
//!
//! A new rule: its file in the family folder, `pub(crate) mod <name>;` in that folder's
//! `mod.rs`, and its `rule!` line in `src/lint/registry.rs`. A new family (a new hundred) is a
//! folder with a `mod.rs`, one line below, and its prefix in the registry's family test.

/// SG1xx: locks and rewrites that block traffic.
pub(crate) mod blocking;
/// SG2xx: changes that break the application code still running.
pub(crate) mod breaking;
/// SG3xx: data loss.
pub(crate) mod data_loss;
/// SG4xx: type and design choices.
pub(crate) mod design;
/// SG5xx: file and transaction structure.
pub(crate) mod structure;

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

//! The lock model: which table lock a change takes, on which tables, and whether it is brief,
//! scans or rewrites. The facts are a table (docs/hazards.md section 1, PostgreSQL 15);
//! [`locks`] looks a change up and adds what depends on the statement (a volatile default
//! rewrites, a foreign key also locks the referenced table).

use serde::Serialize;

use super::model::{Change, ConstraintKind, DefaultKind, LockMode, ObjectKind, Reach};

/// How long the lock is held for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Effect {
    /// A catalog change: milliseconds once granted.
    Brief,
    /// Reads the whole table (validation, index build).
    Scan,
    /// Writes a new copy of the table and its indexes.
    Rewrite,
}

/// One lock a change takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Lock {
    pub mode: LockMode,
    pub table: String,
    pub effect: Effect,
}

use Effect::{Brief, Rewrite, Scan};
use LockMode::{AccessExclusive, RowExclusive, Share, ShareRowExclusive, ShareUpdateExclusive};

/// Lock facts per kind of change: (key, mode on the change's table, effect).
const FACTS: &[(&str, LockMode, Effect)] = &[
    ("add-column", AccessExclusive, Brief),
    ("drop-column", AccessExclusive, Brief),
    ("alter-column-type", AccessExclusive, Rewrite),
    ("set-not-null", AccessExclusive, Scan),
    ("drop-not-null", AccessExclusive, Brief),
    ("set-default", AccessExclusive, Brief),
    ("drop-default", AccessExclusive, Brief),
    ("add-check", AccessExclusive, Scan),
    ("add-foreign-key", ShareRowExclusive, Scan),
    ("add-unique", AccessExclusive, Scan),
    ("add-primary-key", AccessExclusive, Scan),
    ("add-exclude", AccessExclusive, Scan),
    ("validate-constraint", ShareUpdateExclusive, Scan),
    ("drop-constraint", AccessExclusive, Brief),
    ("rename", AccessExclusive, Brief),
    ("set-schema", AccessExclusive, Brief),
    ("attach-partition", ShareUpdateExclusive, Scan),
    ("detach-partition", AccessExclusive, Brief),
    ("detach-partition-concurrently", ShareUpdateExclusive, Brief),
    ("rewrite", AccessExclusive, Rewrite),
    ("enable-rls", AccessExclusive, Brief),
    ("alter-table-ae", AccessExclusive, Brief),
    ("alter-table-sue", ShareUpdateExclusive, Brief),
    ("create-index", Share, Scan),
    ("create-index-concurrently", ShareUpdateExclusive, Scan),
    ("reindex", Share, Scan),
    ("reindex-concurrently", ShareUpdateExclusive, Scan),
    ("drop-table", AccessExclusive, Brief),
    ("truncate", AccessExclusive, Brief),
    ("update", RowExclusive, Scan),
    ("delete", RowExclusive, Scan),
    ("insert", RowExclusive, Brief),
    ("insert-select-source", LockMode::AccessShare, Scan),
    ("alter-sequence", ShareRowExclusive, Brief),
    ("create-trigger", ShareRowExclusive, Brief),
    ("enable-trigger", ShareRowExclusive, Brief),
    ("drop-trigger", AccessExclusive, Brief),
    ("refresh-matview", AccessExclusive, Rewrite),
    ("refresh-matview-concurrently", LockMode::Exclusive, Scan),
    ("create-partition-of", AccessExclusive, Brief),
    ("create-table-references", ShareRowExclusive, Brief),
];

fn fact(key: &str) -> (LockMode, Effect) {
    FACTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, mode, effect)| (mode, effect))
        .unwrap_or((AccessExclusive, Brief))
}

/// The locks `change` takes on PostgreSQL `pg` (major version).
pub(crate) fn locks(change: &Change, pg: u32) -> Vec<Lock> {
    let mut out = Vec::new();
    let mut push = |key: &str, table: &str, effect: Option<Effect>| {
        let (mode, base) = fact(key);
        out.push(Lock {
            mode,
            table: table.to_string(),
            effect: effect.unwrap_or(base),
        });
    };
    match change {
        Change::AddColumn { table, column, .. } => {
            let rewrite = column.default == Some(DefaultKind::Volatile)
                || column.ty.is_serial()
                || column.identity
                || column.generated_stored
                || (pg < 11 && column.default.is_some());
            let scan = column.primary_key
                || column.unique
                || column.check
                || (column.not_null && !column.fills_itself());
            let effect = if rewrite {
                Rewrite
            } else if scan {
                Scan
            } else {
                Brief
            };
            push("add-column", table, Some(effect));
            if let Some(parent) = &column.references {
                push("add-foreign-key", parent, Some(Brief));
            }
        }
        Change::DropColumn { table, .. } => push("drop-column", table, None),
        Change::AlterColumnType {
            table, to, using, ..
        } => {
            // Without the old type, a target that may be binary-coercible is taken as free.
            let free = !using && to.may_be_free_target();
            push("alter-column-type", table, free.then_some(Brief));
        }
        Change::SetNotNull { table, .. } => push("set-not-null", table, None),
        Change::DropNotNull { table, .. } => push("drop-not-null", table, None),
        Change::SetDefault { table, .. } => push("set-default", table, None),
        Change::DropDefault { table, .. } => push("drop-default", table, None),
        Change::AddConstraint { table, constraint } => {
            let brief = constraint.not_valid.then_some(Brief);
            match &constraint.kind {
                ConstraintKind::Check { .. } => push("add-check", table, brief),
                ConstraintKind::ForeignKey { references } => {
                    push("add-foreign-key", table, brief);
                    push("add-foreign-key", references, brief);
                }
                ConstraintKind::Unique { using_index } => {
                    push("add-unique", table, using_index.then_some(Brief));
                }
                ConstraintKind::PrimaryKey { using_index } => {
                    push(
                        "add-primary-key",
                        table,
                        using_index.is_some().then_some(Brief),
                    );
                }
                ConstraintKind::Exclude => push("add-exclude", table, None),
            }
        }
        Change::ValidateConstraint { table, .. } => push("validate-constraint", table, None),
        Change::DropConstraint { table, .. } => push("drop-constraint", table, None),
        Change::RenameColumn { table, .. }
        | Change::RenameTable { table, .. }
        | Change::RenameConstraint { table } => push("rename", table, None),
        Change::SetSchema { table } => push("set-schema", table, None),
        Change::AttachPartition { parent, partition } => {
            let key = if pg >= 12 {
                "attach-partition"
            } else {
                "alter-table-ae"
            };
            push(key, parent, Some(Brief));
            push("alter-table-ae", partition, Some(Scan));
        }
        Change::DetachPartition {
            parent,
            partition,
            concurrently,
        } => {
            let key = if *concurrently {
                "detach-partition-concurrently"
            } else {
                "detach-partition"
            };
            push(key, parent, None);
            push(key, partition, None);
        }
        Change::Rewrite {
            table: Some(table), ..
        } => push("rewrite", table, None),
        Change::EnableRowLevelSecurity { table } => push("enable-rls", table, None),
        // ENABLE / DISABLE TRIGGER takes SHARE ROW EXCLUSIVE (docs/hazards.md #96): writes wait.
        Change::AlterTableOther {
            table,
            what: "ENABLE/DISABLE TRIGGER",
            access_exclusive: false,
        } => push("enable-trigger", table, None),
        Change::AlterTableOther {
            table,
            access_exclusive,
            ..
        } => push(
            if *access_exclusive {
                "alter-table-ae"
            } else {
                "alter-table-sue"
            },
            table,
            None,
        ),
        Change::CreateIndex {
            table,
            concurrently,
            only,
            ..
        } => push(
            if *concurrently {
                "create-index-concurrently"
            } else {
                "create-index"
            },
            table,
            only.then_some(Brief),
        ),
        Change::Reindex {
            target: Some(target),
            concurrently,
            ..
        } => push(
            if *concurrently {
                "reindex-concurrently"
            } else {
                "reindex"
            },
            target,
            None,
        ),
        Change::Drop {
            kind: ObjectKind::Table | ObjectKind::MaterializedView | ObjectKind::View,
            names,
            ..
        } => names.iter().for_each(|n| push("drop-table", n, None)),
        Change::Truncate { tables, .. } => tables.iter().for_each(|t| push("truncate", t, None)),
        Change::Update { table, reach } => {
            push(
                "update",
                table,
                (*reach == Reach::Selective).then_some(Brief),
            );
        }
        Change::Delete { table, reach } => {
            push(
                "delete",
                table,
                (*reach == Reach::Selective).then_some(Brief),
            );
        }
        Change::Insert {
            table,
            reads_all_of,
        } => {
            push("insert", table, None);
            if let Some(source) = reads_all_of {
                push("insert-select-source", source, None);
            }
        }
        Change::AlterSequence { name, .. } => push("alter-sequence", name, None),
        Change::CreateTrigger { table } => push("create-trigger", table, None),
        Change::DropTrigger {
            table: Some(table), ..
        } => push("drop-trigger", table, None),
        Change::RefreshMaterializedView { name, concurrently } => push(
            if *concurrently {
                "refresh-matview-concurrently"
            } else {
                "refresh-matview"
            },
            name,
            None,
        ),
        Change::LockTable { tables, mode } => out.extend(tables.iter().map(|t| Lock {
            mode: *mode,
            table: t.clone(),
            effect: Brief,
        })),
        Change::DropIdentity { table, .. } | Change::ReplicaIdentity { table, .. } => {
            push("alter-table-ae", table, None);
        }
        Change::CreateTable {
            partition_of,
            columns,
            constraints,
            ..
        } => {
            if let Some(parent) = partition_of {
                push("create-partition-of", parent, None);
            }
            for parent in columns.iter().filter_map(|c| c.references.as_ref()) {
                push("create-table-references", parent, None);
            }
            for c in constraints {
                if let ConstraintKind::ForeignKey { references } = &c.kind {
                    push("create-table-references", references, None);
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::model::ColumnSpec;
    use crate::analyze::types::ColumnType;

    #[test]
    fn volatile_default_rewrites_constant_does_not_on_11() {
        let mut column = ColumnSpec::new("c".into(), ColumnType::Int);
        column.default = Some(DefaultKind::Constant);
        let add = Change::AddColumn {
            table: "t".into(),
            column: column.clone(),
            if_not_exists: false,
        };
        assert_eq!(locks(&add, 15)[0].effect, Brief);
        assert_eq!(locks(&add, 10)[0].effect, Rewrite);
        column.default = Some(DefaultKind::Volatile);
        let add = Change::AddColumn {
            table: "t".into(),
            column,
            if_not_exists: false,
        };
        assert_eq!(locks(&add, 15)[0].effect, Rewrite);
        assert_eq!(locks(&add, 15)[0].mode, AccessExclusive);
    }

    #[test]
    fn foreign_key_locks_both_tables() {
        let fk = Change::AddConstraint {
            table: "child".into(),
            constraint: crate::analyze::model::ConstraintSpec {
                name: None,
                kind: ConstraintKind::ForeignKey {
                    references: "parent".into(),
                },
                not_valid: true,
            },
        };
        let locks = locks(&fk, 15);
        assert_eq!(locks.len(), 2);
        assert!(
            locks
                .iter()
                .all(|l| l.mode == ShareRowExclusive && l.effect == Brief)
        );
    }

    /// The first lock of the one change `sql` makes.
    fn first_lock(sql: &str) -> Lock {
        let statements = crate::analyze::analyze(sql);
        locks(&statements[0].changes[0], 15).remove(0)
    }

    #[test]
    fn trigger_toggles_block_writes_and_set_generated_locks_the_table() {
        for sql in [
            "ALTER TABLE orders DISABLE TRIGGER orders_audit;",
            "ALTER TABLE orders ENABLE TRIGGER orders_audit;",
        ] {
            assert_eq!(first_lock(sql).mode, ShareRowExclusive, "{sql}");
        }
        let lock = first_lock("ALTER TABLE orders ALTER COLUMN id SET GENERATED BY DEFAULT;");
        assert_eq!((lock.mode, lock.effect), (AccessExclusive, Brief));
        // Other attribute options stay SHARE UPDATE EXCLUSIVE.
        let lock = first_lock("ALTER TABLE orders ALTER COLUMN note SET (n_distinct = 100);");
        assert_eq!(lock.mode, ShareUpdateExclusive);
    }
}

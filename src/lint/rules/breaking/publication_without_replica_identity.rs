//! # SG216 publication-without-replica-identity
//!
//! ## What it does
//! Flags adding a table without a primary key to a publication that publishes updates or
//! deletes (`CREATE PUBLICATION ... FOR TABLE`, `ALTER PUBLICATION ... ADD TABLE`), and
//! `ALTER TABLE ... REPLICA IDENTITY NOTHING` (or `DEFAULT` without a primary key) on a
//! published table. Whether the table has a primary key or is published comes from the run
//! or a database's catalog (`--env`, `--scratch`); when neither shows it, a warning names the
//! fact.
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: once a table without a replica identity publishes updates,
//! every UPDATE and DELETE of it fails with "cannot update table ... because it does not have
//! a replica identity and publishes updates"; inserts still work.
//!
//! ## Example
//! ```sql
//! CREATE PUBLICATION analytics FOR TABLE audit_trail; -- audit_trail has no primary key
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE audit_trail REPLICA IDENTITY FULL; -- or add a primary key first
//! CREATE PUBLICATION analytics FOR TABLE audit_trail;
//! ```

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let help = "give the table a primary key or REPLICA IDENTITY FULL (or USING INDEX) first, or publish only inserts";
    match change {
        Change::Publish {
            tables,
            updates: true,
        } => {
            for table in tables.iter().filter(|t| !ctx.file.replica_identity_set(t)) {
                match ctx.has_primary_key(table) {
                    Some(true) => {}
                    Some(false) => out.push(Hit::new(
                        format!("`{table}` has no primary key: once it is published, every UPDATE and DELETE of it fails for lack of a replica identity"),
                        help,
                    )),
                    None => out.push(Hit::new(
                        format!("publishing `{table}` makes its UPDATEs and DELETEs fail if it has no primary key: {}", ctx.unknown(&format!("whether `{table}` has one"))),
                        help,
                    ).at(Severity::Warning)),
                }
            }
        }
        Change::ReplicaIdentity { table, nothing } if !ctx.is_new(table) => {
            if !*nothing && ctx.has_primary_key(table) != Some(false) {
                return;
            }
            match ctx.is_published(table) {
                Some(false) => {}
                Some(true) => out.push(Hit::new(
                    format!("`{table}` is published: without a replica identity every UPDATE and DELETE of it fails"),
                    help,
                )),
                None => out.push(Hit::new(
                    format!("without a replica identity, UPDATEs and DELETEs of `{table}` fail if it is published: {}", ctx.unknown(&format!("whether `{table}` is in a publication"))),
                    help,
                ).at(Severity::Warning)),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_history};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG216",
            "CREATE TABLE trail (at timestamptz, msg text);\nCREATE PUBLICATION p FOR TABLE trail;",
            15
        ));
        let found = lint_history(
            "SG216",
            &[
                "CREATE TABLE tokens (id bigint PRIMARY KEY);\nCREATE PUBLICATION p FOR TABLE tokens;",
                "ALTER TABLE tokens REPLICA IDENTITY NOTHING;",
            ],
            15,
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn quiet() {
        assert!(
            lint_history(
                "SG216",
                &[
                    "CREATE TABLE o (id bigint PRIMARY KEY);",
                    "CREATE PUBLICATION p FOR TABLE o;"
                ],
                15
            )
            .is_empty()
        );
        assert!(
            lint_history(
                "SG216",
                &[
                    "CREATE TABLE t (a int);",
                    "CREATE PUBLICATION p FOR TABLE t WITH (publish = 'insert');"
                ],
                15
            )
            .is_empty()
        );
        assert!(
            lint_history(
                "SG216",
                &[
                    "CREATE TABLE t (a int);",
                    "ALTER TABLE t REPLICA IDENTITY FULL;\nCREATE PUBLICATION p FOR TABLE t;"
                ],
                15
            )
            .is_empty()
        );
    }
}

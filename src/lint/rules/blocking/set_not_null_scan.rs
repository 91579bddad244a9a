//! # SG110 set-not-null-scan
//!
//! ## What it does
//! Flags `ALTER COLUMN ... SET NOT NULL` on an existing table unless a validated `CHECK (column
//! IS NOT NULL)` was added earlier in the run or the catalog shows one (PostgreSQL 12+), or
//! the column is already NOT NULL (known from the run, or from a database's catalog with
//! `--env` or `--scratch`). When neither the run (which did not create the table) nor a
//! catalog can tell whether such a CHECK exists, it is a warning naming that fact.
//!
//! ## Why is this bad?
//! SET NOT NULL reads every row to prove there is no NULL while holding an ACCESS EXCLUSIVE
//! lock: reads and writes wait for the whole scan. From PostgreSQL 12 a valid CHECK constraint
//! that proves the column is not null lets it skip the scan.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE orders ADD CONSTRAINT orders_note_not_null CHECK (note IS NOT NULL) NOT VALID;
//! -- migration 2
//! ALTER TABLE orders VALIDATE CONSTRAINT orders_note_not_null;
//! -- migration 3
//! ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
//! ALTER TABLE orders DROP CONSTRAINT orders_note_not_null;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::SetNotNull { table, column } = change
        && !ctx.is_new(table)
        // Already NOT NULL (the catalog says so): nothing to check.
        && !ctx.column(table, column).is_some_and(|known| known.not_null)
    {
        let check = if ctx.pg >= 12 {
            ctx.not_null_check(table, column)
        } else {
            Some(false)
        };
        let (message, severity) = match check {
            Some(true) => return,
            Some(false) => (
                format!(
                    "SET NOT NULL on `{table}`.`{column}` scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes"
                ),
                crate::lint::Severity::Error,
            ),
            None => (
                format!(
                    "SET NOT NULL on `{table}`.`{column}` scans the whole table under an ACCESS EXCLUSIVE lock unless a validated CHECK (`{column}` IS NOT NULL) exists: {}",
                    ctx.unknown(&format!("whether `{table}` has one"))
                ),
                crate::lint::Severity::Warning,
            ),
        };
        out.push(Hit::new(
            message,
            if ctx.pg >= 12 {
                "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it in a separate migration, then SET NOT NULL (no scan)"
            } else {
                "PostgreSQL < 12 always scans: keep a validated CHECK (column IS NOT NULL) constraint instead"
            },
        ).at(severity).on(ctx.clause(&["ALTER"], Some(column))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG110",
            "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG110",
            "ALTER TABLE orders ADD CONSTRAINT orders_note_nn CHECK (note IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_note_nn;\nALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
            15,
        );
    }
}

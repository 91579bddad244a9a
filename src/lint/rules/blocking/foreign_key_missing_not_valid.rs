//! # SG112 foreign-key-missing-not-valid
//!
//! ## What it does
//! Flags `ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID` on an existing table, and
//! `ADD COLUMN ... REFERENCES` (which cannot be NOT VALID) when the new column gets a value in
//! every existing row: a default, an identity, a serial or a stored generated expression.
//!
//! An added column without any of these is NULL in every row, and PostgreSQL skips the
//! validation: measured on PostgreSQL 15 (50,000 rows, `pg_stat_xact_user_tables` read in
//! the same transaction), `ADD COLUMN p int REFERENCES parent (id)` read no row of either
//! table while holding ACCESS EXCLUSIVE on the table and SHARE ROW EXCLUSIVE on `parent`, a
//! brief lock that `require-lock-timeout` covers; `ADD COLUMN p int DEFAULT 1 REFERENCES
//! parent (id)` scanned both tables once (50,000 rows each) under the same locks.
//!
//! ## Why is this bad?
//! Adding a foreign key takes SHARE ROW EXCLUSIVE locks on the table and on the referenced
//! table and scans the table to validate every row: writes to both tables wait for the whole
//! scan. A column added with a value and an inline `REFERENCES` is validated the same way,
//! while the ADD COLUMN holds an ACCESS EXCLUSIVE lock on the table, blocking its reads too.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
//! -- in a later migration:
//! ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && let Some(references) = &column.references
        && column.fills_itself()
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding `{}` with a value and REFERENCES validates every row of `{table}` while holding an ACCESS EXCLUSIVE lock on `{table}` and SHARE ROW EXCLUSIVE on `{references}`, blocking reads and writes of `{table}` and writes to `{references}`",
                column.name
            ),
            "add the column without REFERENCES, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, and VALIDATE CONSTRAINT in a separate migration",
        ).on(ctx.clause(&["REFERENCES"], Some(references))));
    }
    if let Change::AddConstraint { table, constraint } = change
        && let ConstraintKind::ForeignKey { references } = &constraint.kind
        && !constraint.not_valid
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding a FOREIGN KEY scans `{table}` while holding SHARE ROW EXCLUSIVE locks on `{table}` and `{references}`, blocking writes to both"
            ),
            "add it with NOT VALID, then VALIDATE CONSTRAINT in a separate migration",
        ).on(ctx.clause(&["REFERENCES"], Some(references))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG112",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
            15
        ));
    }

    #[test]
    fn fires_on_an_added_column_with_references() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG112",
            "ALTER TABLE orders ADD COLUMN user_id bigint DEFAULT 0 REFERENCES users (id);",
            15
        ));
        for sql in [
            "ALTER TABLE orders ADD COLUMN user_id bigint NOT NULL DEFAULT 1 REFERENCES users (id);",
            "ALTER TABLE orders ADD COLUMN user_id bigserial REFERENCES users (id);",
            "ALTER TABLE orders ADD COLUMN user_id bigint GENERATED ALWAYS AS IDENTITY REFERENCES users (id);",
        ] {
            lint_errors_pg("SG112", sql, 15);
        }
    }

    /// Measured: every row is NULL, so nothing is validated (no scan of either table).
    #[test]
    fn quiet_on_an_added_column_without_a_value() {
        crate::lint::test_utils::assert_understood(
            "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
        );
        lint_ok_pg(
            "SG112",
            "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
            15,
        );
    }

    #[test]
    fn quiet_on_an_added_column_of_a_new_table() {
        crate::lint::test_utils::assert_understood(
            "CREATE TABLE orders (id bigint);\nALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
        );
        lint_ok_pg(
            "SG112",
            "CREATE TABLE orders (id bigint);\nALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
            15,
        );
        lint_ok_pg("SG112", "ALTER TABLE orders ADD COLUMN user_id bigint;", 15);
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG112",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
            15,
        );
        lint_ok_pg(
            "SG112",
            "CREATE TABLE orders (id bigint, user_id bigint);\nALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
            15,
        );
    }
}

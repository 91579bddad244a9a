//! # SG112 foreign-key-missing-not-valid
//!
//! ## What it does
//! Flags `ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID`, and `ADD COLUMN ...
//! REFERENCES` (which cannot be NOT VALID), on an existing table.
//!
//! ## Why is this bad?
//! Adding a foreign key takes SHARE ROW EXCLUSIVE locks on the table and on the referenced
//! table and scans the table to validate every row: writes to both tables wait for the whole
//! scan. A column added with an inline `REFERENCES` is validated the same way, while the
//! ADD COLUMN holds an ACCESS EXCLUSIVE lock on the table.
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

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && let Some(references) = &column.references
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding `{}` with REFERENCES validates every row of `{table}` while holding an ACCESS EXCLUSIVE lock on `{table}` and SHARE ROW EXCLUSIVE on `{references}`, blocking reads and writes of `{table}` and writes to `{references}`",
                column.name
            ),
            "add the column without REFERENCES, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, and VALIDATE CONSTRAINT in a separate migration",
        ).at(ctx.clause(&["REFERENCES"], Some(references))));
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
        ).at(ctx.clause(&["REFERENCES"], Some(references))));
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
            "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
            15
        ));
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

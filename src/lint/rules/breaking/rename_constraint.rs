//! # SG212 rename-constraint
//!
//! ## What it does
//! Flags `ALTER TABLE ... RENAME CONSTRAINT` on an existing table.
//!
//! ## Why is this bad?
//! Running code that names the constraint breaks when the name changes: `INSERT ... ON
//! CONFLICT ON CONSTRAINT name`, and error handling that matches the constraint name of a
//! violation. The rename also takes a (brief) ACCESS EXCLUSIVE lock on the table.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders RENAME CONSTRAINT orders_code_key TO orders_code_unique;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- keep the name; or switch code to `ON CONFLICT (code)` first, then rename in a later release
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RenameConstraint { table } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("renaming a constraint of `{table}` breaks running code that names it (ON CONFLICT ON CONSTRAINT, error handling by constraint name)"),
            "keep the name, or move code off the old name first and rename in a later release",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG212",
            "ALTER TABLE orders RENAME CONSTRAINT orders_code_key TO orders_code_unique;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG212",
            "CREATE TABLE drafts (code text CONSTRAINT drafts_code_key UNIQUE);\n\
             ALTER TABLE drafts RENAME CONSTRAINT drafts_code_key TO drafts_code_unique;",
            15,
        );
        lint_ok_pg(
            "SG212",
            "ALTER INDEX orders_code_key RENAME TO orders_code_unique;",
            15,
        );
    }
}

//! # SG206 add-not-null-column-without-default
//!
//! ## What it does
//! Flags adding a `NOT NULL` column without a default (or identity/generated value) to an
//! existing table.
//!
//! ## Why is this bad?
//! The statement fails on any table that has rows, and once it succeeds, INSERTs from the
//! running release that do not name the new column fail.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN currency text NOT NULL;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR'; -- instant on PostgreSQL 11+
//! -- or: add it nullable, backfill, then SET NOT NULL via a validated CHECK
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && column.not_null
        && !column.fills_itself()
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding NOT NULL column `{}` without a default fails on a non-empty `{table}`, and breaks INSERTs from running code that omit it",
                column.name
            ),
            "add it with a constant default (instant on PostgreSQL 11+), or nullable, backfilled, then SET NOT NULL via a validated CHECK",
        ).on(ctx.change_clause(change)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG206",
            "ALTER TABLE orders ADD COLUMN currency text NOT NULL;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG206",
            "ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';",
            15,
        );
        lint_ok_pg("SG206", "ALTER TABLE orders ADD COLUMN currency text;", 15);
    }
}

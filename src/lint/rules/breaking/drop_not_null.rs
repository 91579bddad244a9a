//! # SG211 drop-not-null
//!
//! ## What it does
//! Reports `ALTER COLUMN ... DROP NOT NULL` on an existing table, as information: measured on
//! PostgreSQL 15 it is a brief catalog change, and every write of the running release still
//! succeeds; it is the usual first step of retiring a column. What it affects is code that
//! reads NULLs once newer code starts writing them.
//!
//! ## Why is this bad?
//! Readers of the running release, reports and PL/pgSQL code may assume the column is never
//! NULL; once new code writes NULLs they misbehave.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- ship readers that handle NULL first, or keep NOT NULL with a sentinel value
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::DropNotNull { table, column } = change
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("dropping NOT NULL on `{table}`.`{column}` lets NULLs reach running code that does not expect them"),
            "ship readers that handle NULL before writers start storing it",
        ).on(ctx.clause(&["ALTER"], Some(column))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG211",
            "ALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG211",
            "CREATE TABLE orders (id bigint, shipped_at timestamptz NOT NULL);\nALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;",
            15,
        );
    }
}

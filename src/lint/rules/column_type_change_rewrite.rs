//! # SG109 column-type-change-rewrite
//!
//! ## What it does
//! Flags `ALTER COLUMN ... TYPE` changes that rewrite the table. Changes that may be binary-
//! coercible when the old type is unknown (to `text`, `varchar`, `numeric`) are not reported;
//! when the old type is known, varchar widening, varchar -> text and numeric precision
//! increases are recognised as free.
//!
//! ## Why is this bad?
//! A type change that is not binary-coercible (int -> bigint, text -> integer, any `USING`
//! expression) rewrites the table and rebuilds every index under an ACCESS EXCLUSIVE lock,
//! blocking reads and writes for the whole copy.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ALTER COLUMN id TYPE bigint;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- add a new column, keep it in sync with a trigger, backfill in batches,
//! -- build its indexes CONCURRENTLY, then swap the columns in one short transaction
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AlterColumnType {
        table,
        column,
        to,
        using,
    } = change
        && !ctx.is_new(table)
    {
        let rewrites = match ctx.run.column(table, column) {
            Some(known) => known.ty.change_to(to, *using) != TypeChange::Free,
            None => *using || !to.may_be_free_target(),
        };
        if rewrites {
            out.push(Hit::new(
                format!(
                    "changing `{table}`.`{column}` to {} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                    to.label()
                ),
                "add a new column, backfill it in batches and switch over; only varchar widening, varchar -> text and numeric precision increases are free",
            ).at(ctx.clause(&["ALTER"], Some(column))));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG109",
            "ALTER TABLE orders ALTER COLUMN id TYPE bigint;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG109",
            "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);",
            15,
        );
        lint_ok_pg(
            "SG109",
            "ALTER TABLE orders ALTER COLUMN note TYPE text;",
            15,
        );
        lint_ok_pg(
            "SG109",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);",
            15,
        );
    }
}

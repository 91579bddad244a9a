//! # SG107 add-column-generated-stored
//!
//! ## What it does
//! Flags adding a stored generated column to an existing table.
//!
//! ## Why is this bad?
//! The expression is computed and stored for every existing row: a full rewrite of the table
//! and its indexes under an ACCESS EXCLUSIVE lock.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN total_cents bigint;
//! -- fill it from a BEFORE INSERT OR UPDATE trigger, backfill in batches;
//! -- on PostgreSQL 18+ a VIRTUAL generated column needs no rewrite
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && column.generated_stored
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding stored generated column `{}` rewrites `{table}` and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                column.name
            ),
            "add a plain column kept up to date by a trigger and backfill it in batches, or use a VIRTUAL generated column on PostgreSQL 18+",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG107",
            "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG107",
            "ALTER TABLE orders ADD COLUMN total_cents bigint;",
            15,
        );
    }
}

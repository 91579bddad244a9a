//! # SG125 update-without-where
//!
//! ## What it does
//! Flags `UPDATE` without a `WHERE` clause on an existing table: a one-shot backfill. When the
//! same transaction also changed the schema, SG118 reports it instead (its locks are the
//! bigger effect).
//!
//! ## Why is this bad?
//! One statement rewrites every row and holds a row lock on each of them until it commits:
//! every concurrent UPDATE or DELETE of any row of the table waits for the whole backfill, for
//! a time that grows with the table. It also writes a dead tuple per row, a burst of WAL and
//! replica lag, and the long transaction holds back vacuum.
//!
//! ## Example
//! ```sql
//! UPDATE orders SET region = 'eu';
//! ```
//!
//! ## Use instead
//! ```sql
//! -- in batches by key range, each committed on its own, outside the schema change
//! UPDATE orders SET region = 'eu' WHERE id BETWEEN 1 AND 10000 AND region IS NULL;
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Update {
        table,
        has_where: false,
    } = change
        && !ctx.is_new(table)
        // Otherwise SG118's: the DDL locks held for the whole backfill.
        && (!ctx.file.in_txn_now || ctx.file.ddl_tables.is_empty())
    {
        out.push(Hit::new(
            format!(
                "UPDATE without WHERE rewrites every row of `{table}` in one transaction: concurrent updates and deletes of its rows wait for the whole backfill"
            ),
            "backfill in batches by key range (a WHERE on the primary key), committing each batch",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG125",
            "UPDATE orders SET region = 'eu';",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG125",
            "UPDATE orders SET region = 'eu' WHERE id BETWEEN 1 AND 10000;",
            15,
        );
        // A table created in the same file has no rows yet.
        lint_ok_pg(
            "SG125",
            "CREATE TABLE regions (code text);\nUPDATE regions SET code = lower(code);",
            15,
        );
        // In the same transaction as DDL it is SG118's, not reported twice.
        lint_ok_pg(
            "SG125",
            "ALTER TABLE orders ADD COLUMN region text;\nUPDATE orders SET region = 'eu';",
            15,
        );
    }
}

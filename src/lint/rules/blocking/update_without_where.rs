//! # SG125 update-without-where
//!
//! ## What it does
//! Flags an `UPDATE` (or `MERGE`) that reaches every row of an existing table: no `WHERE`, one
//! that is always true, a join without a selective predicate (`UPDATE ... FROM`), `IS NOT
//! NULL` alone, `WHERE c IS NULL` on a column added in the same run, or a batch statement in
//! a `DO` loop that never commits (SG118 explains how the reach is judged). When the same
//! transaction also holds a lock that blocks reads or writes, SG118 reports it instead (its
//! locks are the bigger effect).
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

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Update { table, reach } = change
        && !ctx.is_new(table)
        && ctx.reaches_every_row(table, reach)
        // Otherwise SG118's: the locks held for the whole backfill.
        && (!ctx.file.in_txn_now || ctx.file.held.is_empty())
    {
        let what = match reach {
            Reach::All => "UPDATE without WHERE",
            Reach::NullIn(_) => {
                "UPDATE ... WHERE of a column added in this run, NULL in every row,"
            }
            _ => "UPDATE whose WHERE picks no subset of rows",
        };
        out.push(Hit::new(
            format!(
                "{what} rewrites every row of `{table}` in one transaction: concurrent updates and deletes of its rows wait for the whole backfill"
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
        // A batch loop that commits each batch.
        lint_ok_pg(
            "SG125",
            "-- stagegate:no-transaction\nDO $$ BEGIN LOOP UPDATE orders SET region = 'eu' WHERE id IN (SELECT id FROM orders WHERE region IS NULL LIMIT 1000); EXIT WHEN NOT FOUND; COMMIT; END LOOP; END $$;",
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

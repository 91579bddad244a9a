//! # SG118 backfill-in-ddl-transaction
//!
//! ## What it does
//! Flags an `UPDATE`, `DELETE`, `MERGE` or `INSERT ... SELECT` that reads every row of an
//! existing table while an earlier statement of the same transaction holds a lock that blocks
//! reads or writes of an existing table: DDL (ACCESS EXCLUSIVE for most `ALTER TABLE`, SHARE
//! ROW EXCLUSIVE for a foreign key), `LOCK TABLE`, or `ALTER TABLE ... DISABLE TRIGGER` (SHARE
//! ROW EXCLUSIVE).
//!
//! A statement's reach is judged from its WHERE: none, or one that is always true (`WHERE
//! true`, `1 = 1`); a join without a selective predicate (`UPDATE ... FROM`, `DELETE ...
//! USING`); `NOT IN (...)`, `IS NOT NULL` or `<>` alone (a dedup or a cleanup reads the
//! whole table); `WHERE c IS NULL` when `c` was added in this file or by an unreleased
//! migration of the run (every row is NULL); and any UPDATE or DELETE inside a `DO` loop
//! without `COMMIT` (all the batches run in one transaction). A key, a range or a literal
//! comparison counts as selective.
//!
//! ## Why is this bad?
//! Locks are held until the transaction commits. Measured on PostgreSQL 15: after `ALTER TABLE
//! t ADD COLUMN`, an `UPDATE t SET ...` of every row runs with the ACCESS EXCLUSIVE lock still
//! held, so nobody reads or writes `t` until the whole backfill is done: a time that grows
//! with the table (2,000 rows updated in the probe, ten times longer at ten times the rows).
//! A backfill of every row also writes a dead tuple per row, a burst of WAL and replica lag.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN status text;
//! UPDATE orders SET status = 'new' WHERE status IS NULL;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE orders ADD COLUMN status text;
//! -- migration 2 (no-transaction, or a background job): update in batches by key range,
//! -- committing each batch
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if !ctx.file.in_txn_now || ctx.file.held.is_empty() {
        return;
    }
    let (verb, table) = match change {
        Change::Update { table, reach } if ctx.reaches_every_row(table, reach) => ("UPDATE", table),
        Change::Delete { table, reach } if ctx.reaches_every_row(table, reach) => ("DELETE", table),
        Change::Insert {
            reads_all_of: Some(source),
            ..
        } => ("INSERT ... SELECT", source),
        _ => return,
    };
    if ctx.is_new(table) {
        return;
    }
    out.push(Hit::new(
        format!(
            "this {verb} reads every row of `{table}` while earlier statements of the same transaction hold locks on {}: {} wait for the whole statement, a time that grows with the table",
            ctx.file.held.describe(),
            ctx.file.held.blocks()
        ),
        "commit the schema change first, then change the rows in batches by key range, each batch in its own transaction",
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new';",
            15
        ));
    }

    #[test]
    fn judges_the_reach_from_the_where_and_the_lock_it_runs_under() {
        for sql in [
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new' WHERE true;",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new' WHERE 1 = 1;",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new' WHERE status IS NULL;",
            "ALTER TABLE orders ADD COLUMN region text;\nUPDATE orders o SET region = u.region FROM users u WHERE u.id = o.user_id;",
            "ALTER TABLE tags ADD COLUMN note text;\nDELETE FROM tags WHERE id NOT IN (SELECT min(id) FROM tags GROUP BY name);",
            "LOCK TABLE orders IN SHARE MODE;\nUPDATE orders SET total = total * 100;",
            "LOCK TABLE events IN EXCLUSIVE MODE;\nINSERT INTO events_copy SELECT * FROM events;",
            "ALTER TABLE orders DISABLE TRIGGER ALL;\nUPDATE orders SET total = round(total) WHERE total IS NOT NULL;",
            "ALTER TABLE stock ADD COLUMN at timestamptz;\nMERGE INTO stock s USING import i ON s.sku = i.sku WHEN MATCHED THEN UPDATE SET qty = i.qty;",
            "ALTER TABLE users ADD COLUMN done boolean;\nDO $$ BEGIN LOOP UPDATE users SET done = true WHERE id IN (SELECT id FROM users WHERE done IS NULL LIMIT 100); EXIT WHEN NOT FOUND; END LOOP; END $$;",
        ] {
            let found = crate::lint::test_utils::lint_sql(sql, 15);
            assert!(
                found
                    .findings
                    .iter()
                    .any(|f| f.code == "SG118" && f.severity == crate::lint::Severity::Error),
                "{sql}: {:?}",
                found.findings
            );
        }
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG118", "UPDATE orders SET status = 'new';", 15);
        // A column that existed before the run may hold values: IS NULL picks some rows.
        lint_ok_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET status = 'new' WHERE status IS NULL;",
            15,
        );
        // A lock that blocks neither reads nor writes (SHARE UPDATE EXCLUSIVE).
        lint_ok_pg(
            "SG118",
            "ALTER TABLE orders SET (fillfactor = 70);\nUPDATE orders SET status = 'new';",
            15,
        );
        // Committed before the backfill.
        lint_ok_pg(
            "SG118",
            "-- stagegate:no-transaction\nALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new';",
            15,
        );
        lint_ok_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'vip' WHERE id IN (SELECT id FROM orders WHERE total > 1000 LIMIT 100);",
            15,
        );
        lint_ok_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new' WHERE id < 10000;",
            15,
        );
    }
}

//! # SG127 scan-under-held-lock
//!
//! ## What it does
//! Flags a statement that takes only a weak lock itself (one that blocks neither reads nor
//! writes, such as `VALIDATE CONSTRAINT`'s SHARE UPDATE EXCLUSIVE) but reads a whole
//! existing table, while an earlier statement of the same transaction holds a lock that
//! blocks reads or writes of an existing table. The typical case is `ADD CONSTRAINT ... NOT
//! VALID` followed by `VALIDATE CONSTRAINT` in the same migration.
//!
//! ## Why is this bad?
//! Locks are held until the transaction ends, so the weak lock buys nothing: the scan runs
//! under the earlier statement's lock. Measured on PostgreSQL 15: `ADD CONSTRAINT ... CHECK
//! ... NOT VALID` takes ACCESS EXCLUSIVE, so a `VALIDATE` after it in the same transaction
//! blocks reads and writes for the whole scan; a foreign key added `NOT VALID` takes SHARE ROW
//! EXCLUSIVE on both tables, so its `VALIDATE` blocks writes to both for the whole scan. The
//! time grows with the table, exactly what `NOT VALID` was meant to avoid.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD CONSTRAINT orders_total_nonneg CHECK (total >= 0) NOT VALID;
//! ALTER TABLE orders VALIDATE CONSTRAINT orders_total_nonneg;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE orders ADD CONSTRAINT orders_total_nonneg CHECK (total >= 0) NOT VALID;
//! -- migration 2: the scan under SHARE UPDATE EXCLUSIVE only
//! ALTER TABLE orders VALIDATE CONSTRAINT orders_total_nonneg;
//! ```

use crate::lint::rules::prelude::*;

/// UPDATE, DELETE, MERGE or INSERT: SG118 judges their reach under a held lock.
pub(crate) fn is_dml(change: &Change) -> bool {
    matches!(
        change,
        Change::Update { .. } | Change::Delete { .. } | Change::Insert { .. }
    )
}

/// The change (DDL, not DML) scans an existing table under its own weak locks while the
/// transaction holds a traffic-blocking lock from an earlier statement: the table scanned.
pub(crate) fn scanned_under_held_lock(ctx: &Ctx, change: &Change) -> Option<String> {
    if !ctx.file.in_txn_now || ctx.file.held.is_empty() || is_dml(change) {
        return None;
    }
    let locks = locks(change, ctx.pg);
    if locks.iter().any(|l| l.mode.blocks_traffic()) {
        // Its own lock blocks traffic: the rule about that statement reports it.
        return None;
    }
    locks
        .into_iter()
        .find(|l| l.effect != Effect::Brief && !ctx.is_new(&l.table))
        .map(|l| l.table)
}

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Some(table) = scanned_under_held_lock(ctx, change) else {
        return;
    };
    out.push(Hit::new(
        format!(
            "this reads the whole of `{table}` while earlier statements of the same transaction hold locks on {}: {} wait for the whole scan, a time that grows with the table",
            ctx.file.held.describe(),
            ctx.file.held.blocks()
        ),
        "commit first: run it in a migration of its own (the NOT VALID constraint in one, VALIDATE in the next)",
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG127",
            "ALTER TABLE orders ADD CONSTRAINT orders_total_nonneg CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_total_nonneg;",
            15
        ));
        // A foreign key: SHARE ROW EXCLUSIVE on both tables through the scan.
        lint_errors_pg(
            "SG127",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;",
            15,
        );
        // Any earlier lock that blocks traffic, on any existing table.
        lint_errors_pg(
            "SG127",
            "ALTER TABLE orders ADD COLUMN note text;\nALTER TABLE invoices VALIDATE CONSTRAINT invoices_total_check;",
            15,
        );
    }

    #[test]
    fn quiet() {
        // DML under a held lock is SG118's, judged by its reach: not reported twice.
        lint_ok_pg(
            "SG127",
            "ALTER TABLE users ADD COLUMN locale text;\nUPDATE users SET locale = 'en';",
            15,
        );
        lint_ok_pg(
            "SG127",
            "CREATE TABLE d (id int PRIMARY KEY REFERENCES crates (id));\nINSERT INTO d SELECT id FROM crates;",
            15,
        );
        lint_ok_pg(
            "SG127",
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_nonneg;",
            15,
        );
        // Committed in between.
        lint_ok_pg(
            "SG127",
            "-- stagegate:no-transaction\nALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT c;",
            15,
        );
        // A table created in the same migration has no rows.
        lint_ok_pg(
            "SG127",
            "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;",
            15,
        );
        // An earlier lock that blocks nothing (SET (fillfactor): SHARE UPDATE EXCLUSIVE).
        lint_ok_pg(
            "SG127",
            "ALTER TABLE orders SET (fillfactor = 80);\nALTER TABLE orders VALIDATE CONSTRAINT c;",
            15,
        );
    }
}

//! # SG117 statement-after-access-exclusive
//!
//! ## What it does
//! Flags a statement that scans, rewrites or locks another table while an earlier statement of
//! the same transaction still holds an ACCESS EXCLUSIVE lock on an existing table.
//!
//! It reports once per transaction: on the first such statement, with the lines of the
//! others in the message (an `allow` before a statement leaves it out of the list; allowing
//! the first moves the finding to the next one).
//!
//! ## Why is this bad?
//! Locks are held until the transaction ends. Whatever runs after an ACCESS EXCLUSIVE lock
//! extends the time during which nobody can read or write that table.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! CREATE INDEX orders_created_idx ON invoices (created_at);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- put the statements in separate migrations, or take the ACCESS EXCLUSIVE lock last
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if !ctx.file.in_txn_now || ctx.file.access_exclusive_held.is_empty() {
        return;
    }
    // Whole-table DML is SG118's, a scan under a weak lock of its own SG127's.
    if super::scan_under_held_lock::is_dml(change)
        || super::scan_under_held_lock::scanned_under_held_lock(ctx, change).is_some()
    {
        return;
    }
    let held = &ctx.file.access_exclusive_held;
    let slow = locks(change, ctx.pg).into_iter().any(|l| {
        !ctx.is_new(&l.table)
            && (l.effect != Effect::Brief || (!held.contains(&l.table) && l.mode.blocks_traffic()))
    });
    if slow {
        out.push(Hit::new(
            format!(
                "this runs while {} stays locked ACCESS EXCLUSIVE by an earlier statement of the same transaction, so its reads and writes wait for this too",
                quote_all(held.names())
            ),
            "move it to a migration of its own, or take the ACCESS EXCLUSIVE lock last",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG117",
            "ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX invoices_created_idx ON invoices (created_at);",
            15
        ));
    }

    #[test]
    fn reports_once_per_transaction_with_the_other_lines() {
        let sql = "ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX a ON invoices (a);\nCREATE INDEX b ON invoices (b);\nCREATE INDEX c ON invoices (c);\nCOMMIT;\nBEGIN;\nALTER TABLE orders ADD COLUMN tag text;\nCREATE INDEX d ON invoices (d);\nCOMMIT;";
        let result = crate::lint::test_utils::lint_sql(sql, 15);
        let mine: Vec<_> = result
            .findings
            .iter()
            .filter(|f| f.code == "SG117")
            .collect();
        assert_eq!(
            mine.iter().map(|f| f.line).collect::<Vec<_>>(),
            [2, 8],
            "{mine:?}"
        );
        assert!(
            mine[0]
                .message
                .ends_with("; so do 2 more statements of this transaction (lines 3, 4)"),
            "{}",
            mine[0].message
        );
        assert!(
            !mine[1].message.contains("more statement"),
            "{}",
            mine[1].message
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG117",
            "ALTER TABLE orders ADD COLUMN note text;\nALTER TABLE orders ADD COLUMN tag text;",
            15,
        );
        lint_ok_pg(
            "SG117",
            "ALTER TABLE orders ADD COLUMN note text;\nCOMMENT ON COLUMN orders.note IS 'free text';",
            15,
        );
    }
}

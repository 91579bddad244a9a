//! # SG309 drop-view
//!
//! ## What it does
//! Flags `DROP VIEW` and `DROP MATERIALIZED VIEW` of views that existed before the run. A view
//! that the same file creates again later, inside the migration's transaction, is replaced,
//! not dropped: readers never see it missing (they wait for the ACCESS EXCLUSIVE lock, which
//! `require-lock-timeout` and `statement-after-access-exclusive` are about), so this rule is
//! quiet. In a no-transaction migration the view is missing between the two statements, and
//! the drop is reported.
//!
//! ## Why is this bad?
//! Running code that queries the view fails; a materialized view's data is gone and must be
//! recomputed.
//!
//! ## Example
//! ```sql
//! DROP MATERIALIZED VIEW order_totals;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- drop views only after code stops using them; to change a view's columns, CREATE OR REPLACE VIEW (append only) or version it
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: kind @ (ObjectKind::View | ObjectKind::MaterializedView),
        names,
        ..
    } = change
    {
        let old: Vec<Name> = names
            .iter()
            .filter(|n| !ctx.is_new(n))
            .filter(|n| !(ctx.file.in_txn_now && ctx.file.recreated_later(*kind, n)))
            .cloned()
            .collect();
        if !old.is_empty() {
            out.push(Hit::new(
                format!(
                    "dropping {} {} breaks running code that queries it",
                    kind.noun(),
                    quote_all(&old)
                ),
                "drop it after code stops using it; to change its shape, version the view",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG309",
            "DROP MATERIALIZED VIEW order_totals;",
            15
        ));
    }

    #[test]
    fn fires_when_the_view_comes_back_outside_a_transaction() {
        lint_errors_pg(
            "SG309",
            "-- stagegate:no-transaction\nDROP VIEW order_totals;\nCREATE VIEW order_totals AS SELECT 1 AS x;",
            15,
        );
        // Created again before the drop (or as another kind): still a drop.
        lint_errors_pg(
            "SG309",
            "DROP VIEW order_totals;\nCREATE MATERIALIZED VIEW order_totals AS SELECT 1 AS x;",
            15,
        );
    }

    #[test]
    fn quiet_when_the_same_file_creates_it_again() {
        for sql in [
            "DROP VIEW order_totals;\nALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);\nCREATE VIEW order_totals AS SELECT 1 AS x;",
            "DROP MATERIALIZED VIEW IF EXISTS order_totals;\nCREATE MATERIALIZED VIEW order_totals AS SELECT 1 AS x;",
            "-- stagegate:no-transaction\nBEGIN;\nDROP VIEW order_totals;\nCREATE VIEW order_totals AS SELECT 1 AS x;\nCOMMIT;",
        ] {
            crate::lint::test_utils::assert_understood(sql);
            lint_ok_pg("SG309", sql, 15);
        }
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG309",
            "CREATE MATERIALIZED VIEW totals AS SELECT 1 AS x;\nDROP MATERIALIZED VIEW totals;",
            15,
        );
    }
}

//! # SG309 drop-view
//!
//! ## What it does
//! Flags `DROP VIEW` and `DROP MATERIALIZED VIEW` of views that existed before the run.
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
        let old: Vec<Name> = names.iter().filter(|n| !ctx.is_new(n)).cloned().collect();
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
    fn quiet() {
        lint_ok_pg(
            "SG309",
            "CREATE MATERIALIZED VIEW totals AS SELECT 1 AS x;\nDROP MATERIALIZED VIEW totals;",
            15,
        );
    }
}

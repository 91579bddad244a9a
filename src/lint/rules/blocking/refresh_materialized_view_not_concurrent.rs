//! # SG121 refresh-materialized-view-not-concurrent
//!
//! ## What it does
//! Flags `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` on an existing view.
//!
//! ## Why is this bad?
//! A plain refresh holds an ACCESS EXCLUSIVE lock on the view while the query runs: every
//! reader of the view waits.
//!
//! ## Example
//! ```sql
//! REFRESH MATERIALIZED VIEW order_totals;
//! ```
//!
//! ## Use instead
//! ```sql
//! REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals; -- needs a unique index on the view
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RefreshMaterializedView {
        name,
        concurrently: false,
    } = change
        && !ctx.is_new(name)
    {
        out.push(Hit::new(
            format!("REFRESH MATERIALIZED VIEW locks `{name}` ACCESS EXCLUSIVE, blocking its readers for the whole refresh"),
            "use REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG121",
            "REFRESH MATERIALIZED VIEW order_totals;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG121",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;",
            15,
        );
    }
}

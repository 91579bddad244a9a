//! # SG103 require-concurrent-reindex
//!
//! ## What it does
//! Flags `REINDEX` without `CONCURRENTLY`.
//!
//! ## Why is this bad?
//! `REINDEX` locks the table in SHARE mode and the index in ACCESS EXCLUSIVE mode; because
//! planning any query on the table opens its indexes, reads block too, for the whole rebuild.
//!
//! ## Example
//! ```sql
//! REINDEX INDEX orders_user_id_idx;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! REINDEX INDEX CONCURRENTLY orders_user_id_idx;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Reindex {
        target,
        concurrently: false,
        ..
    } = change
        && !target.as_deref().is_some_and(|t| ctx.is_new(t))
    {
        let what = target
            .as_deref()
            .map_or_else(|| "every index".to_string(), |t| format!("`{t}`"));
        out.push(Hit::new(
            format!("REINDEX blocks reads and writes of the table behind {what} while it rebuilds (SHARE and ACCESS EXCLUSIVE locks)"),
            if ctx.pg >= 12 {
                "use REINDEX ... CONCURRENTLY in a migration marked `-- stagegate:no-transaction`"
            } else {
                "PostgreSQL < 12 has no REINDEX CONCURRENTLY: build a new index CONCURRENTLY and drop the old one CONCURRENTLY"
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG103",
            "REINDEX INDEX orders_user_id_idx;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG103",
            "-- stagegate:no-transaction\nREINDEX INDEX CONCURRENTLY orders_user_id_idx;",
            15,
        );
    }
}

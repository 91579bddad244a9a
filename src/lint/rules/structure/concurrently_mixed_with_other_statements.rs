//! # SG504 concurrently-mixed-with-other-statements
//!
//! ## What it does
//! Flags a no-transaction migration that runs a `CONCURRENTLY` command together with other
//! statements, unless every statement but the last can simply run again (`IF NOT EXISTS`,
//! `IF EXISTS`, session settings, `ALTER INDEX ... ATTACH PARTITION`, `ANALYZE`): then a
//! migration that failed part-way is re-run as it is, which is the robust form of every
//! concurrent index recipe (drop the invalid leftover, build, attach).
//!
//! ## Why is this bad?
//! Without a transaction each statement commits on its own: if a later one fails, the earlier
//! ones stay applied and the migration is half done. A concurrent index build that fails also
//! leaves an INVALID index behind.
//!
//! ## Example
//! ```sql
//! -- stagegate:no-transaction
//! ALTER TABLE orders ADD COLUMN region text;
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_region_idx ON orders (region);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE orders ADD COLUMN region text;
//! -- migration 2
//! -- stagegate:no-transaction
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_region_idx ON orders (region);
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if !ctx.in_transaction
        && ctx.file.first_concurrent == Some(ctx.file.index)
        && ctx.file.statement_count > 1
        && !ctx.file.rerunnable
        && crate::lint::is_concurrent(change)
    {
        out.push(Hit::new(
            format!(
                "this no-transaction migration runs {} statements: if one fails, those before it stay applied",
                ctx.file.statement_count
            ),
            "put each CONCURRENTLY statement in a migration of its own",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG504",
            "-- stagegate:no-transaction\nALTER TABLE orders ADD COLUMN IF NOT EXISTS region text;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_region_idx ON orders (region);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG504",
            "-- stagegate:no-transaction\nSET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_region_idx ON orders (region);",
            15,
        );
    }
}

//! # SG101 require-concurrent-index-creation
//!
//! ## What it does
//! Flags `CREATE INDEX` without `CONCURRENTLY` on a table that existed before this lint run.
//!
//! ## Why is this bad?
//! A plain `CREATE INDEX` takes a SHARE lock on the table for the whole build: every INSERT,
//! UPDATE and DELETE waits until the index is built, which on a large table is minutes.
//!
//! ## Example
//! ```sql
//! CREATE INDEX orders_user_id_idx ON orders (user_id);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateIndex {
        table,
        concurrently: false,
        only: false,
        ..
    } = change
        && !ctx.is_new(table)
    {
        out.push(
            Hit::new(
                format!(
                    "CREATE INDEX blocks writes to `{table}` while the index builds (SHARE lock)"
                ),
                "use CREATE INDEX CONCURRENTLY in a migration marked `-- stagegate:no-transaction`",
            )
            .on(ctx.index_head(table)),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG101",
            "CREATE INDEX orders_user_id_idx ON orders (user_id);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG101",
            "CREATE TABLE orders (id bigint, user_id bigint);\nCREATE INDEX orders_user_id_idx ON orders (user_id);",
            15,
        );
        lint_ok_pg(
            "SG101",
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);",
            15,
        );
    }
}

//! # SG101 require-concurrent-index-creation
//!
//! ## What it does
//! Flags `CREATE INDEX` without `CONCURRENTLY` on a table that existed before this lint run.
//!
//! With facts from a database (`--env`, `--scratch`), a table whose row estimate
//! (`pg_class.reltuples`) is below `[lint] small_table_rows` (10,000 by default) is reported
//! as info: the build, and so the lock, is brief. A larger table, or one never analyzed (no
//! estimate), stays an error.
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

use crate::lint::rules::prelude::*;
use crate::lint::{Severity, SizeVerdict};

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateIndex {
        table,
        concurrently: false,
        only: false,
        ..
    } = change
        && !ctx.is_new(table)
    {
        let message =
            format!("CREATE INDEX blocks writes to `{table}` while the index builds (SHARE lock)");
        let help =
            "use CREATE INDEX CONCURRENTLY in a migration marked `-- stagegate:no-transaction`";
        let hit = match ctx.size_verdict(table) {
            SizeVerdict::NoCatalog => Hit::new(message, help),
            SizeVerdict::Small(size) => {
                Hit::new(format!("{message}; {size}"), help).at(Severity::Info)
            }
            SizeVerdict::Large(size) | SizeVerdict::Unknown(size) => {
                Hit::new(format!("{message}; {size}"), help)
            }
        };
        out.push(hit.on(ctx.index_head(table)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg, lint_with_catalog, test_catalog};

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

    #[test]
    fn the_catalog_size_downgrades_a_small_table() {
        let sql = "CREATE INDEX orders_user_id_idx ON orders (user_id);";
        for (rows, severity, says) in [
            (
                300.0,
                Severity::Info,
                "~300 rows (below [lint] small_table_rows = 10000)",
            ),
            (20_000.0, Severity::Error, "~20000 rows (at least"),
            (-1.0, Severity::Error, "never analyzed"),
        ] {
            let found = lint_with_catalog("SG101", &[sql], &test_catalog(&[("orders", rows)]));
            assert_eq!(found.len(), 1, "{rows}");
            assert_eq!(found[0].severity, severity, "{rows}");
            assert!(
                found[0].message.contains(says),
                "{rows}: {}",
                found[0].message
            );
        }
    }
}

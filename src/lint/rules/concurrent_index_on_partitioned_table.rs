//! # SG515 concurrent-index-on-partitioned-table
//!
//! ## What it does
//! Flags `CREATE INDEX CONCURRENTLY` on a partitioned table, known as one from the run (`CREATE
//! TABLE ... PARTITION BY` in an earlier migration) or from a database's catalog (`--env`,
//! `--shadow`).
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: it fails with "cannot create index on partitioned table
//! concurrently", and the migration with it.
//!
//! ## Example
//! ```sql
//! CREATE INDEX CONCURRENTLY clicks_url_idx ON clicks (url); -- clicks is partitioned
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE INDEX IF NOT EXISTS clicks_url_idx ON ONLY clicks (url);
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS clicks_2024_url_idx ON clicks_2024 (url);
//! ALTER INDEX clicks_url_idx ATTACH PARTITION clicks_2024_url_idx;
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateIndex {
        table,
        concurrently: true,
        ..
    } = change
        && ctx.partitioned(table) == Some(true)
    {
        out.push(Hit::new(
            format!("`{table}` is partitioned: CREATE INDEX CONCURRENTLY on it fails"),
            "create the index ON ONLY the parent, build each partition's index CONCURRENTLY, then ALTER INDEX ... ATTACH PARTITION each one",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_history};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG515",
            "CREATE TABLE clicks (at date, url text) PARTITION BY RANGE (at);\nCOMMIT;\nCREATE INDEX CONCURRENTLY clicks_url ON clicks (url);",
            15
        ));
    }

    #[test]
    fn quiet() {
        assert!(
            lint_history(
                "SG515",
                &[
                    "CREATE TABLE o (a int);",
                    "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY i ON o (a);"
                ],
                15
            )
            .is_empty()
        );
    }
}

//! # SG515 concurrent-index-on-partitioned-table
//!
//! ## What it does
//! Flags `CREATE INDEX CONCURRENTLY` on a partitioned table, known as one from the run (`CREATE
//! TABLE ... PARTITION BY` in an earlier migration) or from a database's catalog (`--env`,
//! `--scratch`). When neither shows whether the table is partitioned, an info finding names
//! that fact instead of guessing (most tables are not partitioned, and the statement is the
//! safe recipe for a plain one); `--env` or `--scratch` decides it.
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

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::CreateIndex {
        table,
        concurrently: true,
        ..
    } = change
    else {
        return;
    };
    let help = "create the index ON ONLY the parent, build each partition's index CONCURRENTLY, then ALTER INDEX ... ATTACH PARTITION each one";
    match ctx.partitioned(table) {
        Some(true) => out.push(Hit::new(
            format!("`{table}` is partitioned: CREATE INDEX CONCURRENTLY on it fails"),
            help,
        )),
        Some(false) => {}
        None if ctx.is_new(table) => {}
        None => out.push(
            Hit::new(
                format!(
                    "CREATE INDEX CONCURRENTLY fails on a partitioned table: {}",
                    ctx.unknown(&format!("whether `{table}` is partitioned"))
                ),
                help,
            )
            .at(Severity::Info),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
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
    fn names_what_is_not_known_and_decides_it_from_the_catalog() {
        let sql =
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY clicks_url ON clicks (url);";
        let found = crate::lint::test_utils::lint_sql(sql, 15);
        let mine: Vec<_> = found
            .findings
            .iter()
            .filter(|f| f.code == "SG515")
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].severity, Severity::Info);
        assert!(
            mine[0].message.contains(
                "whether `clicks` is partitioned is not known: run with --env E or --scratch"
            ),
            "{}",
            mine[0].message
        );
        let mut catalog = crate::lint::test_utils::test_catalog(&[("clicks", 1e6)]);
        assert!(crate::lint::test_utils::lint_with_catalog("SG515", &[sql], &catalog).is_empty());
        catalog = crate::lint::catalog::Catalog::from_rows(
            crate::lint::catalog::Source::Env("test".into()),
            None,
            Some(150_000),
            vec![crate::lint::catalog::TableRow {
                schema: "public".into(),
                name: "clicks".into(),
                relkind: "p".into(),
                reltuples: -1.0,
                total_bytes: 0,
                has_default_partition: false,
                is_partition: false,
                validated_check: false,
                primary_key: false,
                published: false,
                not_null_checks: Vec::new(),
            }],
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let found = crate::lint::test_utils::lint_with_catalog("SG515", &[sql], &catalog);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
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

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
//! A view dropped and created again (in the transaction or not) is checked column by column:
//! when the new definition lacks an output column the old view had (as an earlier migration
//! created it, or as the catalog of `--env`/`--scratch` shows it), that is an error. When the
//! file drops a view whose columns neither show, a warning names what is not known. A new
//! definition whose columns cannot be read (`*`, expressions without a name) is not judged.
//!
//! ## Why is this bad?
//! Running code that queries the view fails; a materialized view's data is gone and must be
//! recomputed. Measured on PostgreSQL 15: after `DROP VIEW v; CREATE VIEW v AS SELECT id,
//! total ...` in one transaction, the old code's `SELECT id, state FROM v` fails with `column
//! "state" does not exist` (`CREATE OR REPLACE VIEW` refuses to drop a column: "cannot drop
//! columns from view").
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

use crate::lint::Severity;
use crate::lint::context::{KeyColumn, pair_hash};
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateView {
        name,
        materialized: false,
        columns: Some(columns),
        ..
    } = change
    {
        recreated_without_columns(ctx, name, columns, out);
        return;
    }
    if let Change::Drop {
        kind: kind @ (ObjectKind::View | ObjectKind::MaterializedView),
        names,
        ..
    } = change
    {
        let old: Vec<Name> = names
            .iter()
            .filter(|n| !ctx.is_new(n) && !ctx.file.created_earlier(*kind, n))
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

/// A view created again: the columns its old definition had that the new one lacks.
fn recreated_without_columns(ctx: &Ctx, view: &str, columns: &[Name], out: &mut Vec<Hit>) {
    if ctx.is_new(view) || ctx.file.created_earlier(ObjectKind::View, view) {
        return;
    }
    let help = "keep every column the old view had (CREATE OR REPLACE VIEW may only append); drop a column only after code stops reading it, or create a new view";
    let Some(old) = ctx.view_columns(view) else {
        if ctx.file.dropped_views.contains(view) {
            out.push(
                Hit::new(
                    format!(
                        "`{view}` is dropped and created again: {}",
                        ctx.unknown("whether it keeps every column it had")
                    ),
                    help,
                )
                .at(Severity::Warning),
            );
        }
        return;
    };
    let new: Vec<u64> = columns.iter().map(|c| pair_hash(view, c)).collect();
    let mut named = Vec::new();
    let mut hashed = 0;
    for column in &old {
        match column {
            KeyColumn::Named(column) if !columns.contains(column) => named.push(column.clone()),
            KeyColumn::Hashed(hash) if !new.contains(hash) => hashed += 1,
            _ => {}
        }
    }
    let them = if named.len() + hashed == 1 {
        "it"
    } else {
        "them"
    };
    let lost = match (named.is_empty(), hashed) {
        (true, 0) => return,
        (false, _) => format!("without {}", quote_all(&named)),
        (true, 1) => format!(
            "without one of the {} columns an earlier migration gave it",
            old.len()
        ),
        (true, n) => format!(
            "without {n} of the {} columns an earlier migration gave it",
            old.len()
        ),
    };
    let message = if ctx.file.dropped_views.contains(view) {
        format!(
            "`{view}` is dropped and created again {lost}: running code that reads {them} fails"
        )
    } else {
        format!(
            "`{view}` is replaced {lost}: PostgreSQL refuses that (\"cannot drop columns from view\"), and dropping the view first breaks running code that reads {them}"
        )
    };
    out.push(Hit::new(message, help));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_history, lint_ok_pg};

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
            // The view had the same columns (without the history, that is not known).
            let setup = "CREATE VIEW order_totals AS SELECT 1 AS x;\nCREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;";
            assert!(lint_history("SG309", &[setup, sql], 15).is_empty(), "{sql}");
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

    #[test]
    fn quiet_on_a_view_the_same_file_created_first() {
        lint_ok_pg(
            "SG309",
            "-- stagegate:no-transaction\nCREATE VIEW draft AS SELECT 1 AS x;\nDROP VIEW draft;",
            15,
        );
    }

    #[test]
    fn fires_when_the_view_comes_back_without_a_column() {
        let setup = "CREATE TABLE orders (id bigint, total numeric, status text);\nCREATE VIEW order_summary AS SELECT o.id, o.total, o.status AS state FROM orders o;";
        for sql in [
            "DROP VIEW IF EXISTS order_summary;\nCREATE VIEW order_summary AS SELECT o.id, o.total FROM orders o;",
            "-- stagegate:no-transaction\nBEGIN;\nDROP VIEW order_summary;\nCREATE VIEW order_summary (id, total) AS SELECT id, total FROM orders;\nCOMMIT;",
        ] {
            let found = lint_history("SG309", &[setup, sql], 15);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].message.contains("without one of the 3 columns"),
                "{}",
                found[0].message
            );
        }
        // A column renamed in a later migration is the one the view has.
        let found = lint_history(
            "SG309",
            &[
                setup,
                "ALTER VIEW order_summary RENAME COLUMN state TO status;",
                "DROP VIEW order_summary;\nCREATE VIEW order_summary AS SELECT id, total, status AS state FROM orders;",
            ],
            15,
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn names_the_lost_column_from_the_catalog() {
        use crate::lint::catalog::{Catalog, ColumnRow, Source, TableRow};
        let catalog = Catalog::from_rows(
            Source::Env("test".into()),
            None,
            Some(150_000),
            vec![TableRow {
                schema: "public".into(),
                name: "order_summary".into(),
                relkind: "v".into(),
                reltuples: -1.0,
                total_bytes: 0,
                has_default_partition: false,
                is_partition: false,
                validated_check: false,
                primary_key: false,
                published: false,
                not_null_checks: Vec::new(),
            }],
            ["id", "total", "state"]
                .iter()
                .map(|c| ColumnRow {
                    schema: "public".into(),
                    table: "order_summary".into(),
                    column: c.to_string(),
                    type_text: "text".into(),
                    not_null: false,
                    indexed: false,
                })
                .collect(),
            Vec::new(),
            Vec::new(),
        );
        let found = crate::lint::test_utils::lint_with_catalog(
            "SG309",
            &[
                "DROP VIEW order_summary;\nCREATE VIEW order_summary AS SELECT id, total FROM orders;",
            ],
            &catalog,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("without `state`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn names_what_is_not_known() {
        let found = crate::lint::test_utils::lint_sql(
            "DROP VIEW order_summary;\nCREATE VIEW order_summary AS SELECT id, total FROM orders;",
            15,
        );
        let mine: Vec<_> = found
            .findings
            .iter()
            .filter(|f| f.code == "SG309")
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].severity, crate::lint::Severity::Warning);
        assert!(
            mine[0].message.contains(
                "whether it keeps every column it had is not known: run with --env E or --scratch"
            ),
            "{}",
            mine[0].message
        );
    }

    #[test]
    fn quiet_when_the_view_keeps_its_columns() {
        let setup = "CREATE TABLE orders (id bigint, total numeric, status text);\nCREATE VIEW order_summary AS SELECT id, total FROM orders;";
        for sql in [
            "DROP VIEW order_summary;\nCREATE VIEW order_summary AS SELECT id, total, status FROM orders;",
            "CREATE OR REPLACE VIEW order_summary AS SELECT id, total, status FROM orders;",
            "DROP VIEW order_summary;\nCREATE VIEW order_summary AS SELECT * FROM orders;",
            "CREATE VIEW other AS SELECT id FROM orders;",
        ] {
            assert!(lint_history("SG309", &[setup, sql], 15).is_empty(), "{sql}");
        }
    }
}

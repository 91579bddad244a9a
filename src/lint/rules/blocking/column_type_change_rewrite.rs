//! # SG109 column-type-change-rewrite
//!
//! ## What it does
//! Flags `ALTER COLUMN ... TYPE` on an existing table unless the change is known to be free.
//! The column's current type is known when the migrations linted created or changed it, or
//! from a database's catalog (`--env`, `--scratch`; the files win).
//!
//! - Known and binary-coercible — the same type, varchar widening (`varchar(n)` to
//!   `varchar(m)`, m >= n), `varchar` to `text` and `text` to unbounded `varchar`, numeric
//!   precision increases, `cidr` to `inet` — is quiet.
//! - Known and not binary-coercible is an error: `char(n)` to `varchar` or `text` (measured:
//!   the table and every index are rewritten), `text` to `varchar(n)` and varchar shrinking
//!   (rewrite, and the statement fails if a value no longer fits), int to bigint, any `USING`.
//! - Unknown (the table comes from before the linted migrations) is a warning when some
//!   source type would make the change free (a target of `varchar`, `text`, `numeric`,
//!   `inet`, or a type the run does not know): the message says which fact is missing. A
//!   target that no other type reaches for free (bigint, integer, timestamptz, ...) is an
//!   error either way.
//! - `timestamp` to `timestamptz` (or back) rewrites the table unless the session's TimeZone
//!   is UTC, which the linter knows only from a `SET TimeZone = 'UTC'` (or `SET TIME ZONE
//!   'UTC'`; `SET LOCAL` inside the same transaction) earlier in the file on PostgreSQL >= 12,
//!   or, without a SET, from the server's TimeZone in a database's catalog.
//!   With it the table is not rewritten but every index on the column is rebuilt while the
//!   ACCESS EXCLUSIVE lock is held (measured on PostgreSQL 15: the table's storage is kept, the
//!   column's index gets new storage, the table is scanned once): a warning, since the build
//!   takes a time that grows with the table only when the column is indexed; with a catalog
//!   that shows no index on the column it is quiet. Without the SET or a catalog it is an
//!   error whose message names the missing fact: the server's TimeZone is not something a
//!   migration file shows.
//!
//! ## Why is this bad?
//! A type change that is not binary-coercible rewrites the table and rebuilds every index
//! under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole copy.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ALTER COLUMN id TYPE bigint;
//! ALTER TABLE orders ALTER COLUMN code TYPE varchar(20); -- code was char(20)
//! ```
//!
//! ## Use instead
//! ```sql
//! -- add a new column, keep it in sync with a trigger, backfill in batches,
//! -- build its indexes CONCURRENTLY, then swap the columns in one short transaction;
//! -- for timestamp -> timestamptz on PostgreSQL >= 12:
//! SET TimeZone = 'UTC';
//! ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;
//! ```

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

const REMEDY: &str = "add a new column, backfill it in batches and switch over; only the same type, varchar widening, varchar -> text and numeric precision increases are free";

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::AlterColumnType {
        table,
        column,
        to,
        using,
        collate,
    } = change
    else {
        return;
    };
    if ctx.is_new(table) {
        return;
    }
    if *collate
        && !*using
        && ctx
            .column(table, column)
            .is_none_or(|k| k.ty.change_to(to, false) == TypeChange::Free)
    {
        // A new collation keeps the table's storage and rebuilds the column's indexes
        // (measured: no index, no scan); a type change that is not free rewrites anyway,
        // which the rest of this rule reports.
        if ctx.column(table, column).is_some() || to.may_be_free_target() {
            index_rebuild(ctx, table, column, "to a new collation", out);
            return;
        }
    }
    let known = ctx.column(table, column);
    let from = known.and_then(|k| k.ty.builtin());
    let timestamps = |from: &ColumnType| {
        matches!(
            (from, to),
            (ColumnType::Timestamp, ColumnType::Timestamptz)
                | (ColumnType::Timestamptz, ColumnType::Timestamp)
        )
    };
    // timestamp <-> timestamptz: known, or the likely source when the type is unknown.
    let zone_change = !*using
        && match &from {
            Some(from) => timestamps(from),
            None => {
                known.is_none() && matches!(to, ColumnType::Timestamp | ColumnType::Timestamptz)
            }
        };
    let utc = ctx.utc_time_zone();
    if zone_change && ctx.pg >= 12 && utc == Some(true) {
        let zone = if ctx.file.time_zone_set {
            format!("to {} in TimeZone UTC", to.label())
        } else {
            format!("to {} in the server's TimeZone, UTC,", to.label())
        };
        index_rebuild(ctx, table, column, &zone, out);
        return;
    }
    // Without a SET in the file, a zone change is judged by the server's TimeZone, which only
    // a database can tell.
    let zone_unknown = if zone_change && ctx.pg >= 12 && utc.is_none() {
        format!("; {}", ctx.unknown("the server's TimeZone"))
    } else {
        String::new()
    };
    let cost = known.map(|k| k.ty.change_to(to, *using));
    match cost {
        Some(TypeChange::Free) => {}
        Some(cost) => {
            let from = from.map_or_else(|| "its type".to_string(), |f| f.label());
            let fit = if cost == TypeChange::Narrowing {
                ", and fails if a value no longer fits"
            } else {
                ""
            };
            let help = if zone_change {
                if ctx.pg >= 12 {
                    "SET TimeZone = 'UTC' earlier in the migration: then only the column's indexes are rebuilt".to_string()
                } else {
                    format!("on PostgreSQL < 12 this always rewrites: {REMEDY}")
                }
            } else {
                REMEDY.to_string()
            };
            out.push(Hit::new(
                format!(
                    "changing `{table}`.`{column}` from {from} to {} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes{fit}{zone_unknown}",
                    to.label()
                ),
                help,
            ).on(ctx.clause(&["ALTER"], Some(column))));
        }
        None if *using || !to.may_be_free_target() => out.push(Hit::new(
            format!(
                "changing `{table}`.`{column}` to {}{} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes{zone_unknown}",
                to.label(),
                if *using { " with USING" } else { "" }
            ),
            if zone_change && ctx.pg >= 12 {
                format!("from timestamp, SET TimeZone = 'UTC' earlier in the migration: then only the column's indexes are rebuilt; otherwise {REMEDY}")
            } else {
                REMEDY.to_string()
            },
        ).on(ctx.clause(&["ALTER"], Some(column)))),
        None => out.push(
            Hit::new(
                format!(
                    "changing `{table}`.`{column}` to {} may rewrite the table and its indexes under an ACCESS EXCLUSIVE lock: {}",
                    to.label(),
                    ctx.unknown(&format!("the old type of `{table}`.`{column}`"))
                ),
                format!("free only from a type it is binary-coercible from (varchar(n) widened, varchar -> text, numeric precision up): check the column's type; otherwise {REMEDY}"),
            )
            .at(Severity::Warning)
            .on(ctx.clause(&["ALTER"], Some(column))),
        ),
    }
}

/// A change that keeps the table but rebuilds every index on the column under ACCESS
/// EXCLUSIVE: an error when the column is indexed (the build grows with the table), quiet
/// when it is not, a warning naming the fact when that is not known.
fn index_rebuild(ctx: &Ctx, table: &str, column: &str, what: &str, out: &mut Vec<Hit>) {
    let indexed = ctx.column_indexed(table, column);
    let (severity, fact) = match indexed {
        Some(false) => return,
        Some(true) => (Severity::Error, format!("`{column}` is indexed")),
        None => (
            Severity::Warning,
            format!(
                "{}; without an index on it the lock is brief",
                ctx.unknown(&format!("whether `{table}`.`{column}` is indexed"))
            ),
        ),
    };
    out.push(
        Hit::new(
            format!(
                "changing `{table}`.`{column}` {what} keeps the table but rebuilds every index on `{column}` under an ACCESS EXCLUSIVE lock, blocking reads and writes while they build, a time that grows with the table ({fact})"
            ),
            format!("build a new column's indexes CONCURRENTLY and swap instead, or check that `{column}` has no index"),
        )
        .at(severity)
        .on(ctx.clause(&["ALTER"], Some(column))),
    );
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::test_utils::{assert_understood, lint_errors_pg, lint_history, lint_ok_pg};

    const ORDERS: &str = "CREATE TABLE orders (id int, code char(20), note text, tag varchar(20), total numeric(10, 2), created_at timestamp, kind mood);";

    /// The last script's SG109 findings, the table created by a released first script.
    fn after_create(sql: &str, pg: u32) -> Vec<(Severity, String)> {
        lint_history("SG109", &[ORDERS, sql], pg)
            .into_iter()
            .map(|f| (f.severity, f.message))
            .collect()
    }

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG109",
            "ALTER TABLE orders ALTER COLUMN id TYPE bigint;",
            15
        ));
    }

    #[test]
    fn known_rewrites_are_errors() {
        for sql in [
            "ALTER TABLE orders ALTER COLUMN id TYPE bigint;",
            "ALTER TABLE orders ALTER COLUMN code TYPE varchar(20);",
            "ALTER TABLE orders ALTER COLUMN code TYPE varchar;",
            "ALTER TABLE orders ALTER COLUMN code TYPE text;",
            "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);",
            "ALTER TABLE orders ALTER COLUMN tag TYPE varchar(10);",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(10, 4);",
            "ALTER TABLE orders ALTER COLUMN note TYPE text USING trim(note);",
            "ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
            "SET TimeZone = 'Europe/Paris';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
        ] {
            let found = after_create(sql, 15);
            assert_eq!(found.len(), 1, "{sql}: {found:?}");
            assert_eq!(found[0].0, Severity::Error, "{sql}: {found:?}");
            assert!(
                found[0].1.contains("rewrites the table"),
                "{sql}: {found:?}"
            );
        }
        let shrink = after_create("ALTER TABLE orders ALTER COLUMN tag TYPE varchar(10);", 15);
        assert!(
            shrink[0].1.contains("from varchar(20) to varchar(10)"),
            "{shrink:?}"
        );
        assert!(
            shrink[0].1.contains("fails if a value no longer fits"),
            "{shrink:?}"
        );
    }

    #[test]
    fn known_free_changes_are_quiet() {
        for sql in [
            "ALTER TABLE orders ALTER COLUMN tag TYPE varchar(40);",
            "ALTER TABLE orders ALTER COLUMN tag TYPE varchar(20);",
            "ALTER TABLE orders ALTER COLUMN tag TYPE text;",
            "ALTER TABLE orders ALTER COLUMN note TYPE varchar;",
            "ALTER TABLE orders ALTER COLUMN note TYPE text;",
            "ALTER TABLE orders ALTER COLUMN id TYPE integer;",
            "ALTER TABLE orders ALTER COLUMN kind TYPE mood;",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);",
            "ALTER TABLE orders ALTER COLUMN created_at TYPE timestamp;",
        ] {
            assert_understood(sql);
            assert_eq!(after_create(sql, 15), [], "{sql}");
        }
    }

    #[test]
    fn an_unknown_source_type_is_a_possible_rewrite() {
        for sql in [
            "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);",
            "ALTER TABLE orders ALTER COLUMN note TYPE text;",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);",
        ] {
            let found = lint_history("SG109", &[sql], 15);
            assert_eq!(found.len(), 1, "{sql}");
            assert_eq!(found[0].severity, Severity::Warning, "{sql}");
            assert!(
                found[0].message.contains(
                    "the old type of `orders`.`note` is not known: run with --env E or --scratch"
                ) || found[0]
                    .message
                    .contains("the old type of `orders`.`total` is not known"),
                "{sql}"
            );
        }
        let found = lint_history(
            "SG109",
            &["ALTER TABLE orders ALTER COLUMN id TYPE bigint;"],
            15,
        );
        assert_eq!(found[0].severity, Severity::Error);
    }

    #[test]
    fn timestamp_to_timestamptz_in_utc_rebuilds_only_the_indexes() {
        for sql in [
            "SET TimeZone = 'UTC';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
            "SET TIME ZONE 'Etc/UTC';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
            "BEGIN;\nSET LOCAL timezone TO 'utc';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;\nCOMMIT;",
        ] {
            // The run created the table without an index on the column: brief.
            assert_eq!(after_create(sql, 15), [], "{sql}");
            // Indexed: an error.
            let indexed = lint_history(
                "SG109",
                &[ORDERS, "CREATE INDEX o_at ON orders (created_at);", sql],
                15,
            );
            assert_eq!(indexed[0].severity, Severity::Error, "{sql}");
            assert!(
                indexed[0]
                    .message
                    .contains("keeps the table but rebuilds every index")
            );
            // The table is unknown: a warning naming the fact.
            let alone = lint_history("SG109", &[sql], 15);
            assert_eq!(alone[0].severity, Severity::Warning, "{sql}");
        }
        // Before PostgreSQL 12, and after the SET LOCAL's transaction ended: a rewrite.
        for (sql, pg) in [
            (
                "SET TimeZone = 'UTC';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
                11,
            ),
            (
                "BEGIN;\nSET LOCAL TimeZone = 'UTC';\nCOMMIT;\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
                15,
            ),
            (
                "SET TimeZone = 'UTC';\nSET TimeZone = 'America/Chicago';\nALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;",
                15,
            ),
        ] {
            let found = after_create(sql, pg);
            assert_eq!(found.len(), 1, "{sql}");
            assert_eq!(found[0].0, Severity::Error, "{sql}");
        }
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG109",
            "CREATE TABLE orders (id int);\nALTER TABLE orders ALTER COLUMN id TYPE bigint;",
            15,
        );
    }
}

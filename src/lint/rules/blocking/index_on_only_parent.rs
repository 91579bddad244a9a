//! # SG126 index-on-only-parent
//!
//! ## What it does
//! Reports `CREATE INDEX ... ON ONLY t` on a table that existed before this lint run, unless
//! the same migration attaches partitions' indexes to it (`ALTER INDEX ... ATTACH
//! PARTITION`): that is the recipe, and each attach makes the index valid once every
//! partition has one.
//!
//! ## Why is this bad?
//! On a partitioned table, `ON ONLY` takes a brief SHARE lock on the parent alone and builds
//! nothing: the index it creates is invalid (not used by queries, and a unique one enforces
//! nothing across partitions) until an index of every partition has been attached to it with
//! `ALTER INDEX ... ATTACH PARTITION`. That is the first step of building an index on a
//! partitioned table without blocking writes, and it must not be the last. (A plain
//! `CREATE INDEX` on the parent instead holds SHARE on every partition while it builds, and
//! `CONCURRENTLY` is rejected there.) On a table that is not partitioned, `ONLY` changes
//! nothing: the build blocks writes like any `CREATE INDEX`.
//!
//! ## Example
//! ```sql
//! CREATE INDEX events_user_idx ON ONLY events (user_id);
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE INDEX events_user_idx ON ONLY events (user_id);
//! -- in a no-transaction migration, for each partition:
//! CREATE INDEX CONCURRENTLY events_2024_user_idx ON events_2024 (user_id);
//! ALTER INDEX events_user_idx ATTACH PARTITION events_2024_user_idx;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateIndex {
        table,
        only: true,
        name,
        ..
    } = change
        && !ctx.is_new(table)
        && !name
            .as_ref()
            .is_some_and(|n| ctx.file.attached_into.contains(n))
    {
        let message = match ctx.table_facts(table).map(|t| t.partitioned) {
            Some(false) => format!(
                "`{table}` is not partitioned: CREATE INDEX ON ONLY `{table}` builds the index like any CREATE INDEX and blocks writes while it builds (SHARE lock)"
            ),
            Some(true) => format!(
                "CREATE INDEX ON ONLY `{table}` builds no index on its partitions: the new index stays invalid (unused, enforcing nothing) until an index of every partition is attached"
            ),
            None => format!(
                "CREATE INDEX ON ONLY `{table}` builds no index on its partitions: the new index stays invalid (unused, enforcing nothing) until an index of every partition is attached; if `{table}` is not partitioned, the build blocks writes (SHARE lock)"
            ),
        };
        out.push(Hit::new(
            message,
            "build each partition's index with CREATE INDEX CONCURRENTLY, then ALTER INDEX <this index> ATTACH PARTITION <partition index> for each one",
        ).on(ctx.index_head(table)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG126",
            "CREATE INDEX events_user_idx ON ONLY events (user_id);",
            15
        ));
        // Not taken for a concurrent index build either.
        lint_ok_pg(
            "SG101",
            "CREATE INDEX events_user_idx ON ONLY events (user_id);",
            15,
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG126",
            "CREATE TABLE events (id bigint, user_id bigint) PARTITION BY RANGE (id);\nCREATE INDEX events_user_idx ON ONLY events (user_id);",
            15,
        );
        lint_ok_pg(
            "SG126",
            "CREATE INDEX events_user_idx ON events (user_id);",
            15,
        );
    }
}

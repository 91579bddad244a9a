//! # SG509 concurrent-index-if-not-exists
//!
//! ## What it does
//! Notes `CREATE INDEX CONCURRENTLY IF NOT EXISTS` on an existing table when the migration does
//! not first drop an invalid leftover of the same name.
//!
//! ## Why is this bad?
//! A concurrent build that fails part way (a duplicate key for a unique index, a lock timeout, a
//! cancel) cannot roll back: it leaves an INVALID index behind, maintained on every write, used
//! by no query and, when unique, enforcing nothing. On the retry, `IF NOT EXISTS` finds that
//! leftover by its name and does nothing, so the migration looks done while the index is not
//! there. (`stagegate migrate apply` checks `pg_index.indisvalid` and refuses; other runners do
//! not.)
//!
//! ## Example
//! ```sql
//! -- stagegate:no-transaction
//! CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! -- a failed earlier build left it INVALID: drop it first (a valid one is rebuilt too; to keep a
//! -- valid one, check pg_index.indisvalid in a DO block instead)
//! DROP INDEX CONCURRENTLY IF EXISTS users_email_key;
//! CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::CreateIndex {
        name: Some(name),
        table,
        concurrently: true,
        if_not_exists: true,
        ..
    } = change
    else {
        return;
    };
    if ctx.is_new(table) || ctx.file.dropped_indexes.contains(name) {
        return;
    }
    out.push(Hit::new(
        format!(
            "IF NOT EXISTS skips an INVALID `{name}` left by a failed concurrent build, and the \
             migration then counts as done without a usable index"
        ),
        format!(
            "drop the leftover first: `DROP INDEX CONCURRENTLY IF EXISTS {name};` before the \
             build (or check pg_index.indisvalid in a DO block)"
        ),
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG509",
            "-- stagegate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);",
            15
        ));
    }

    #[test]
    fn quiet() {
        // The leftover is dropped first.
        lint_ok_pg(
            "SG509",
            "-- stagegate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS users_email_key;\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);",
            15,
        );
        // No IF NOT EXISTS: a leftover makes the build fail loudly.
        lint_ok_pg(
            "SG509",
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
            15,
        );
        // Not concurrent: a failure rolls back and leaves nothing.
        lint_ok_pg(
            "SG509",
            "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);",
            15,
        );
    }
}

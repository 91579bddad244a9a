//! # SG503 non-idempotent-no-transaction
//!
//! ## What it does
//! Flags statements without `IF NOT EXISTS` / `IF EXISTS` in a migration marked `--
//! stagegate:no-transaction`.
//!
//! ## Why is this bad?
//! Without a transaction, a migration that fails halfway leaves its first statements applied.
//! The retry runs them again and fails on the objects they already created or dropped.
//!
//! ## Example
//! ```sql
//! -- stagegate:no-transaction
//! CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! -- a failed build leaves an INVALID index of that name: drop it, then build (the recipe of
//! -- SG509, which IF NOT EXISTS alone would not follow)
//! DROP INDEX CONCURRENTLY IF EXISTS orders_user_id_idx;
//! CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);
//! ```
//!
//! An index dropped with `IF EXISTS` earlier in the same migration is rebuilt from scratch
//! on a retry, so its `CREATE INDEX` needs no `IF NOT EXISTS`.

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.in_transaction || ctx.statement.in_do_block {
        return;
    }
    let fragile = match change {
        // Dropped (IF EXISTS, or flagged here) before it is built: a retry starts over.
        Change::CreateIndex {
            if_not_exists: false,
            name: Some(name),
            ..
        } if ctx.file.dropped_indexes.contains(name) => return,
        Change::CreateIndex {
            if_not_exists: false,
            ..
        } => "CREATE INDEX without IF NOT EXISTS",
        Change::DropIndex {
            if_exists: false, ..
        } => "DROP INDEX without IF EXISTS",
        Change::AddColumn {
            if_not_exists: false,
            ..
        } => "ADD COLUMN without IF NOT EXISTS",
        Change::Drop {
            if_exists: false, ..
        } => "DROP without IF EXISTS",
        Change::CreateSequence {
            if_not_exists: false,
            ..
        } => "CREATE SEQUENCE without IF NOT EXISTS",
        Change::CreateSchema {
            if_not_exists: false,
            ..
        } => "CREATE SCHEMA without IF NOT EXISTS",
        _ => return,
    };
    let help = match change {
        // The one recipe SG509 asks for too: IF NOT EXISTS would keep an INVALID leftover.
        Change::CreateIndex {
            name: Some(name), ..
        } => format!(
            "drop a leftover first, then build: `DROP INDEX CONCURRENTLY IF EXISTS {name};` \
             before this statement (a failed build leaves an INVALID index that IF NOT EXISTS \
             would keep)"
        ),
        _ => "make it idempotent (IF NOT EXISTS / IF EXISTS), and drop an INVALID index left by \
              a failed build before retrying"
            .to_string(),
    };
    out.push(Hit::new(
        format!("{fragile} runs outside a transaction: if the migration fails after it, the retry fails here"),
        help,
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG503",
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);",
            15
        ));
    }

    #[test]
    fn the_recipe_of_sg509_is_quiet() {
        let sql = "-- stagegate:no-transaction\n\
                   DROP INDEX CONCURRENTLY IF EXISTS orders_user_id_idx;\n\
                   CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);";
        lint_ok_pg("SG503", sql, 15);
        lint_ok_pg("SG509", sql, 15);
        // Another index's drop does not make this build rerunnable.
        let other = "-- stagegate:no-transaction\n\
                     DROP INDEX CONCURRENTLY IF EXISTS orders_old_idx;\n\
                     CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);";
        assert!(
            lint_errors_pg("SG503", other, 15)
                .contains("DROP INDEX CONCURRENTLY IF EXISTS orders_user_id_idx")
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG503",
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);",
            15,
        );
        lint_ok_pg(
            "SG503",
            "CREATE INDEX orders_user_id_idx ON orders (user_id);",
            15,
        );
    }
}

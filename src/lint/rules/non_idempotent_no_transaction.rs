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
//! -- (drop an INVALID leftover of a failed build first: DROP INDEX CONCURRENTLY IF EXISTS ...)
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.in_transaction || ctx.statement.in_do_block {
        return;
    }
    let fragile = match change {
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
    out.push(Hit::new(
        format!("{fragile} runs outside a transaction: if the migration fails after it, the retry fails here"),
        "make it idempotent (IF NOT EXISTS / IF EXISTS), and drop an INVALID index left by a failed build before retrying",
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

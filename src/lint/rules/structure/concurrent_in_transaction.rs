//! # SG501 concurrent-in-transaction
//!
//! ## What it does
//! Flags `CREATE/DROP INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY`, `DETACH PARTITION
//! CONCURRENTLY`, `VACUUM` and `REINDEX SCHEMA/DATABASE` in a migration that runs inside a
//! transaction.
//!
//! ## Why is this bad?
//! These commands refuse to run inside a transaction block, so the migration fails; stagegate
//! runs every migration in a transaction unless it is marked `-- stagegate:no-transaction`.
//!
//! ## Example
//! ```sql
//! CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if !ctx.file.in_txn_now || ctx.statement.in_do_block {
        return;
    }
    let what = match change {
        Change::CreateIndex {
            concurrently: true, ..
        } => "CREATE INDEX CONCURRENTLY",
        Change::DropIndex {
            concurrently: true, ..
        } => "DROP INDEX CONCURRENTLY",
        Change::Reindex {
            concurrently: true, ..
        } => "REINDEX CONCURRENTLY",
        Change::Reindex { many: true, .. } => "REINDEX SCHEMA/DATABASE",
        Change::DetachPartition {
            concurrently: true, ..
        } => "DETACH PARTITION CONCURRENTLY",
        Change::Vacuum => "VACUUM",
        Change::Rewrite {
            command: RewriteCommand::VacuumFull,
            ..
        } => "VACUUM FULL",
        _ => return,
    };
    out.push(Hit::new(
        format!("{what} can not run inside a transaction block, and this migration runs in one"),
        "mark the migration `-- stagegate:no-transaction` and keep the statement alone in it",
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG501",
            "CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG501",
            "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);",
            15,
        );
    }
}

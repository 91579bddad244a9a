//! # SG116 require-lock-timeout
//!
//! ## What it does
//! Flags the first statement of a file that takes a lock blocking reads or writes of an
//! existing table when no lock_timeout is in force: no `SET lock_timeout` earlier in the file,
//! no `-- stagegate:lock-timeout` directive, and no `lock_timeout` configured for the
//! environment given with `--env`.
//!
//! ## Why is this bad?
//! Locks are granted in queue order. While the DDL waits for a long-running transaction to
//! finish, every later query on the table queues behind it, so even a millisecond ALTER can
//! stall the application for as long as the oldest transaction lives.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```
//!
//! ## Use instead
//! ```sql
//! SET lock_timeout = '2s';
//! ALTER TABLE orders ADD COLUMN note text;
//! -- or: -- stagegate:lock-timeout 2s
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.file.lock_timeout_set || ctx.file.blocking_lock_taken {
        return;
    }
    if let Some(lock) = locks(change, ctx.pg)
        .into_iter()
        .find(|l| l.mode.blocks_traffic() && !ctx.is_new(&l.table))
    {
        out.push(Hit::new(
            format!(
                "{} lock on `{}` is requested without a lock_timeout: while it waits, every query on `{}` queues behind it",
                lock.mode.label(),
                lock.table,
                lock.table
            ),
            "SET lock_timeout = '2s' first (or `-- stagegate:lock-timeout 2s`, or lock_timeout in the environment) and retry on timeout",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG116",
            "ALTER TABLE orders ADD COLUMN note text;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG116",
            "SET lock_timeout = '2s';\nALTER TABLE orders ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "-- stagegate:lock-timeout 2s\nALTER TABLE orders ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "CREATE TABLE t (id bigint);\nALTER TABLE t ADD COLUMN note text;",
            15,
        );
        lint_ok_pg(
            "SG116",
            "CREATE SEQUENCE s;\nALTER SEQUENCE s OWNED BY t.id;",
            15,
        );
    }
}

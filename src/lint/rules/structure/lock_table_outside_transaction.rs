//! # SG513 lock-table-outside-transaction
//!
//! ## What it does
//! Flags `LOCK TABLE` in a no-transaction migration outside `BEGIN ... COMMIT`.
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: outside a transaction block it fails with "LOCK TABLE can only
//! be used in transaction blocks", and the statements after it do not run with the lock the
//! migration meant to hold.
//!
//! ## Example
//! ```sql
//! -- stagegate:no-transaction
//! LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- a transactional migration (the default), or BEGIN; LOCK TABLE ...; ...; COMMIT;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::LockTable { tables, .. } = change
        && !ctx.file.in_txn_now
    {
        out.push(Hit::new(
            format!("LOCK TABLE {} outside a transaction block fails: PostgreSQL accepts it only inside one", quote_all(tables)),
            "run it in a transactional migration, or inside BEGIN ... COMMIT",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG513",
            "-- stagegate:no-transaction\nLOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG513", "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;", 15);
        lint_ok_pg(
            "SG513",
            "-- stagegate:no-transaction\nBEGIN;\nLOCK TABLE accounts;\nCOMMIT;",
            15,
        );
    }
}

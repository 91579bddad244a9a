//! # SG502 transaction-control-in-migration
//!
//! ## What it does
//! Flags `BEGIN`, `COMMIT` and `ROLLBACK` in a migration that stagegate already runs inside a
//! transaction.
//!
//! ## Why is this bad?
//! A COMMIT in the middle ends stagegate's transaction early: a later failure leaves the first
//! half applied with no record of it; a nested BEGIN only warns, and the ROLLBACK then undoes
//! more than intended.
//!
//! ## Example
//! ```sql
//! BEGIN;
//! ALTER TABLE orders ADD COLUMN note text;
//! COMMIT;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! -- or mark the file `-- stagegate:no-transaction` if it must control transactions itself
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Transaction(control) = change
        && ctx.in_transaction
        && !ctx.statement.in_do_block
    {
        let what = match control {
            TxnControl::Begin => "BEGIN",
            TxnControl::Commit => "COMMIT",
            TxnControl::Rollback => "ROLLBACK",
        };
        out.push(Hit::new(
            format!("{what} inside a migration that already runs in a transaction breaks its all-or-nothing apply"),
            "remove it; mark the migration `-- stagegate:no-transaction` if it must control transactions itself",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG502",
            "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCOMMIT;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG502",
            "-- stagegate:no-transaction\nBEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCOMMIT;",
            15,
        );
    }
}

//! # SG502 transaction-control-in-migration
//!
//! ## What it does
//! Flags transaction control that `migrate apply` refuses to run: `BEGIN`, `COMMIT`,
//! `ROLLBACK` (and `START TRANSACTION`, `END`, `ABORT`) in a migration that stagegate already
//! runs inside a transaction; in a `-- stagegate:no-transaction` migration, a `BEGIN` inside
//! an open block, a block never closed, and `COMMIT`, `ROLLBACK` or a savepoint command with
//! no block open; everywhere, two-phase commit (`PREPARE TRANSACTION`, `COMMIT PREPARED`,
//! `ROLLBACK PREPARED`) and `AND CHAIN`. Savepoints inside stagegate's transaction are fine.
//! The verdict is the statement classifier's (`sql::classify`), the one apply, down, trace
//! and check-reversible use.
//!
//! ## Why is this bad?
//! A COMMIT in the middle ends stagegate's transaction early: a later failure leaves the first
//! half applied with no record of it; a nested BEGIN only warns, and the ROLLBACK then undoes
//! more than intended. A prepared transaction keeps its locks (an ACCESS EXCLUSIVE one blocks
//! every read of the table) until someone commits it by hand.
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

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Transaction(_) = change
        && !ctx.statement.in_do_block
        && let Some(refusal) = ctx.file.txn_refusals.get(&ctx.file.index)
    {
        out.push(Hit::new(refusal.hazard.clone(), refusal.remedy));
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
    fn fires_on_misplaced_control_in_a_no_transaction_migration() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG502",
            "-- stagegate:no-transaction\nSAVEPOINT s;\nBEGIN;\nPREPARE TRANSACTION 'x';\nBEGIN;\nSELECT 1;",
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
        lint_ok_pg(
            "SG502",
            "SAVEPOINT s;\nALTER TABLE orders ADD COLUMN note text;\nROLLBACK TO SAVEPOINT s;\nRELEASE s;",
            15,
        );
    }
}

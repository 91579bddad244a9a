//! # SG514 enum-value-used-in-transaction
//!
//! ## What it does
//! Flags a statement that uses, as a string literal, an enum label that `ALTER TYPE ... ADD
//! VALUE` added earlier in the same transaction (PostgreSQL 12+; before 12 the ADD VALUE
//! itself fails there, which SG507 reports).
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: a new label cannot be used before the transaction that added it
//! commits. An `UPDATE ... SET status = 'new_value'` (even one that matches no row), a `SET
//! DEFAULT 'new_value'` or a CHECK naming it fails with "unsafe use of new value", and the
//! migration with it.
//!
//! ## Example
//! ```sql
//! ALTER TYPE plan ADD VALUE 'team';
//! ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TYPE plan ADD VALUE IF NOT EXISTS 'team';
//! -- migration 2
//! ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.pg < 12 || matches!(change, Change::EnumAddValue { .. }) {
        return;
    }
    if let Some(value) = ctx.file.uses_new_enum_value(ctx.text) {
        out.push(Hit::new(
            format!("'{value}' was added to its enum earlier in this transaction: using it before that commits fails with \"unsafe use of new value\""),
            "add the value in a migration of its own (or commit after ADD VALUE), then use it",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG514",
            "ALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';",
            15
        ));
        lint_errors_pg(
            "SG514",
            "ALTER TYPE order_status ADD VALUE 'refunded';\nUPDATE orders SET status = 'refunded' WHERE id = 7;",
            15,
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG514",
            "ALTER TYPE plan ADD VALUE 'team';\nUPDATE accounts SET note = 'free' WHERE id = 1;",
            15,
        );
        lint_ok_pg(
            "SG514",
            "-- stagegate:no-transaction\nALTER TYPE plan ADD VALUE 'team';\nALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'team';",
            15,
        );
        lint_ok_pg(
            "SG514",
            "CREATE TYPE plan AS ENUM ('free');\nALTER TYPE plan ADD VALUE 'team';\nCREATE TABLE a (p plan DEFAULT 'team');",
            15,
        );
    }
}

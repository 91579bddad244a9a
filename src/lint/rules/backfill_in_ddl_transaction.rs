//! # SG118 backfill-in-ddl-transaction
//!
//! ## What it does
//! Flags `UPDATE` or `DELETE` without `WHERE` in a transaction that already changed the schema
//! of an existing table.
//!
//! ## Why is this bad?
//! The DDL's locks (often ACCESS EXCLUSIVE) are held until the transaction commits, so the
//! table stays blocked for the whole backfill; a one-shot update of every row also produces a
//! burst of dead tuples, WAL and replica lag.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN status text;
//! UPDATE orders SET status = 'new';
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE orders ADD COLUMN status text;
//! -- migration 2 (no-transaction, or a background job): update in batches by primary key range
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let (Change::Update {
        table,
        has_where: false,
    }
    | Change::Delete {
        table,
        has_where: false,
    }) = change
    else {
        return;
    };
    if ctx.file.in_txn_now && !ctx.file.ddl_tables.is_empty() && !ctx.is_new(table) {
        out.push(Hit::new(
            format!(
                "this touches every row of `{table}` in the same transaction as DDL on {}, whose locks are held for the whole backfill",
                quote_all(ctx.file.ddl_tables.names())
            ),
            "commit the schema change first, then backfill in batches in separate transactions",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new';",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG118", "UPDATE orders SET status = 'new';", 15);
        lint_ok_pg(
            "SG118",
            "ALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'new' WHERE id < 10000;",
            15,
        );
    }
}

//! # SG507 enum-add-value-in-transaction
//!
//! ## What it does
//! Flags `ALTER TYPE ... ADD VALUE` inside a transaction when `postgres_version` is below 12
//! (unless the enum was created in the same run).
//!
//! ## Why is this bad?
//! Before PostgreSQL 12, ADD VALUE refuses to run inside a transaction block, so the migration
//! fails. From 12 on it is allowed, but the new value can not be used until the transaction
//! commits.
//!
//! ## Example
//! ```sql
//! ALTER TYPE order_status ADD VALUE 'refunded';
//! ```
//!
//! ## Use instead
//! ```sql
//! -- stagegate:no-transaction
//! ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if ctx.pg < 12
        && ctx.file.in_txn_now
        && let Change::EnumAddValue { type_name, .. } = change
        && !ctx.run.is_new_type(type_name)
    {
        out.push(Hit::new(
            format!("on PostgreSQL {} ALTER TYPE `{type_name}` ADD VALUE can not run inside a transaction block, and this migration runs in one", ctx.pg),
            "mark the migration `-- stagegate:no-transaction`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG507",
            "ALTER TYPE order_status ADD VALUE 'refunded';",
            11
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG507", "ALTER TYPE order_status ADD VALUE 'refunded';", 12);
    }
}

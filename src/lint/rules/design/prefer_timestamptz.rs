//! # SG405 prefer-timestamptz
//!
//! ## What it does
//! Flags columns declared `timestamp` (without time zone).
//!
//! ## Why is this bad?
//! The UTC offset of every input is discarded: '12:00+02' and '12:00-06' are stored as the same
//! wall-clock time, and the meaning depends on whoever wrote it.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ADD COLUMN shipped_at timestamp;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    for (table, column) in columns_of(change) {
        if column.ty == ColumnType::Timestamp {
            out.push(Hit::new(
                format!("`{table}`.`{}` is timestamp without time zone: the UTC offset of every input is discarded", column.name),
                "use timestamptz",
            ).on(ctx.column_clause(change, &column.name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG405",
            "ALTER TABLE orders ADD COLUMN shipped_at timestamp;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG405",
            "ALTER TABLE orders ADD COLUMN shipped_at timestamptz;",
            15,
        );
    }
}

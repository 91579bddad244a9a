//! # SG406 prefer-jsonb
//!
//! ## What it does
//! Flags columns declared `json`.
//!
//! ## Why is this bad?
//! `json` has no equality operator, so `SELECT DISTINCT`, `GROUP BY` and `UNION` over rows with
//! such a column fail — including queries of running code that used to work. It also keeps
//! duplicate keys and whitespace.
//!
//! ## Example
//! ```sql
//! ALTER TABLE events ADD COLUMN payload json;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE events ADD COLUMN payload jsonb;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    for (table, column) in columns_of(change) {
        if column.ty == ColumnType::Json {
            out.push(Hit::new(
                format!("`{table}`.`{}` is json: it has no equality operator, so DISTINCT, GROUP BY and UNION over it fail", column.name),
                "use jsonb",
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
            "SG406",
            "ALTER TABLE events ADD COLUMN payload json;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG406", "ALTER TABLE events ADD COLUMN payload jsonb;", 15);
    }
}

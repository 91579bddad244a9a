//! # SG404 ban-char
//!
//! ## What it does
//! Flags columns declared `char(n)` / `character(n)`.
//!
//! ## Why is this bad?
//! Values are blank-padded to the length, trailing spaces are ignored in comparisons and lost
//! on concatenation, and there is no speed benefit.
//!
//! ## Example
//! ```sql
//! CREATE TABLE countries (code char(2) PRIMARY KEY);
//! ```
//!
//! ## Use instead
//! ```sql
//! CREATE TABLE countries (code text PRIMARY KEY CHECK (length(code) = 2));
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    for (table, column) in columns_of(change) {
        if let ColumnType::Char(_) = column.ty {
            out.push(Hit::new(
                format!("`{table}`.`{}` is {}: values are blank-padded and trailing spaces are ignored in comparisons", column.name, column.ty.label()),
                "use text (with a CHECK on the length if it matters)",
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
            "SG404",
            "CREATE TABLE countries (code char(2) PRIMARY KEY);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG404",
            "CREATE TABLE countries (code text PRIMARY KEY);",
            15,
        );
    }
}

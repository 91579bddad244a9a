//! # SG403 prefer-text-over-varchar
//!
//! ## What it does
//! Flags columns declared `varchar(n)` / `character varying(n)`.
//!
//! ## Why is this bad?
//! The limit is a constraint in disguise: raising it is cheap, but lowering it rewrites the
//! table under an ACCESS EXCLUSIVE lock, and `text` performs the same. A CHECK constraint can
//! be changed online (NOT VALID, then VALIDATE).
//!
//! ## Example
//! ```sql
//! ALTER TABLE users ADD COLUMN nickname varchar(30);
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE users ADD COLUMN nickname text;
//! ALTER TABLE users ADD CONSTRAINT users_nickname_length CHECK (length(nickname) <= 30) NOT VALID;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    for (table, column) in columns_of(change) {
        if let ColumnType::Varchar(Some(n)) = column.ty {
            out.push(Hit::new(
                format!(
                    "`{table}`.`{}` is varchar({n}): lowering the limit later rewrites the table",
                    column.name
                ),
                "use text with a CHECK (length(column) <= n) constraint, which can change online",
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
            "SG403",
            "ALTER TABLE users ADD COLUMN nickname varchar(30);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG403", "ALTER TABLE users ADD COLUMN nickname text;", 15);
        lint_ok_pg("SG403", "ALTER TABLE users ADD COLUMN code varchar;", 15);
    }
}

//! # SG307 drop-cascade
//!
//! ## What it does
//! Flags `CASCADE` on `DROP` statements and on `DROP COLUMN` / `DROP CONSTRAINT`.
//!
//! ## Why is this bad?
//! CASCADE drops whatever depends on the object — views, materialized views with their data,
//! foreign keys, columns of a type — without naming any of it in the migration.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders DROP COLUMN legacy_total CASCADE;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- drop or replace the dependent views and constraints explicitly first, then drop without CASCADE
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let what = match change {
        Change::Drop {
            kind,
            names,
            cascade: true,
            ..
        } => format!("{} {}", kind.noun(), quote_all(names)),
        Change::DropIndex {
            names,
            cascade: true,
            ..
        } => format!("index {}", quote_all(names)),
        Change::DropColumn {
            table,
            column,
            cascade: true,
        } => format!("column `{table}`.`{column}`"),
        Change::DropConstraint {
            table,
            name,
            cascade: true,
        } => format!("constraint `{name}` of `{table}`"),
        _ => return,
    };
    out.push(Hit::new(
        format!("CASCADE also drops every object that depends on {what} (views, foreign keys, columns) without naming them"),
        "drop the dependent objects explicitly first, then drop without CASCADE",
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG307",
            "ALTER TABLE orders DROP COLUMN legacy_total CASCADE;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG307", "DROP VIEW IF EXISTS order_summary;", 15);
    }
}

//! # SG108 add-column-constrained-domain
//!
//! ## What it does
//! Flags adding a column whose type is a domain with a `CHECK` constraint (a domain created
//! earlier in the lint run).
//!
//! ## Why is this bad?
//! PostgreSQL must check the domain constraint for every existing row and rewrites the table
//! while holding an ACCESS EXCLUSIVE lock, blocking reads and writes.
//!
//! ## Example
//! ```sql
//! CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
//! ALTER TABLE orders ADD COLUMN quantity positive_int;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN quantity integer;
//! ALTER TABLE orders ADD CONSTRAINT orders_quantity_positive CHECK (quantity > 0) NOT VALID;
//! -- VALIDATE CONSTRAINT in a later migration
//! ```

use super::prelude::*;

pub fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddColumn { table, column, .. } = change
        && let ColumnType::Other(domain) = &column.ty
        && ctx.run.domain_has_check(domain)
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!(
                "adding `{}` of domain `{domain}` (which has a CHECK) rewrites `{table}` under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                column.name
            ),
            "use the domain's base type and a table CHECK constraint added NOT VALID, then VALIDATE it separately",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG108",
            "CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);\nALTER TABLE orders ADD COLUMN quantity positive_int;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG108",
            "CREATE DOMAIN label AS text;\nALTER TABLE orders ADD COLUMN tag label;",
            15,
        );
    }
}

//! # SG408 domain-with-check
//!
//! ## What it does
//! Flags `CREATE DOMAIN` with a `CHECK` constraint.
//!
//! ## Why is this bad?
//! Adding a column of a constrained domain rewrites the table, and changing the domain's
//! constraint later scans every table that uses it under SHARE locks. Table CHECK constraints
//! can be added online.
//!
//! ## Example
//! ```sql
//! CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
//! ```
//!
//! ## Use instead
//! ```sql
//! -- use text columns with table CHECK constraints (added NOT VALID, then VALIDATE)
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::CreateDomain {
        name,
        has_check: true,
    } = change
    {
        out.push(Hit::new(
            format!("domain `{name}` has a CHECK: adding a column of it rewrites the table, and changing the check locks every table using it"),
            "use the base type with table CHECK constraints, which can be added NOT VALID and validated online",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG408",
            "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG408", "CREATE DOMAIN email AS text;", 15);
    }
}

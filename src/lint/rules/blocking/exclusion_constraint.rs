//! # SG114 exclusion-constraint
//!
//! ## What it does
//! Flags `ADD CONSTRAINT ... EXCLUDE` on an existing table.
//!
//! ## Why is this bad?
//! An exclusion constraint builds an index and checks every row while the table is locked
//! ACCESS EXCLUSIVE, and it can not be added `NOT VALID`: there is no online way to add one.
//!
//! ## Example
//! ```sql
//! ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- create a new table with the constraint and move the data in batches,
//! -- or, when the rule is plain uniqueness, use a unique index built CONCURRENTLY
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AddConstraint { table, constraint } = change
        && constraint.kind == ConstraintKind::Exclude
        && !ctx.is_new(table)
    {
        out.push(Hit::new(
            format!("adding an EXCLUDE constraint builds an index and checks every row of `{table}` under an ACCESS EXCLUSIVE lock, blocking reads and writes"),
            "create the constraint on a new table and move the data, or use a unique index built CONCURRENTLY",
        ).on(ctx.change_clause(change)));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG114",
            "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG114",
            "CREATE TABLE bookings (room int, during tstzrange);\nALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);",
            15,
        );
    }
}

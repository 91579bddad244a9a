//! # SG213 rename-function
//!
//! ## What it does
//! Flags `ALTER FUNCTION` / `ALTER PROCEDURE` / `ALTER ROUTINE ... RENAME TO` (or `SET
//! SCHEMA`) of a function that existed before the run.
//!
//! ## Why is this bad?
//! A trigger keeps its function (it refers to it by OID), but every caller that names it does
//! not: application queries, and PL/pgSQL bodies, which resolve names when they run. Measured
//! on PostgreSQL 15: after the rename, a PL/pgSQL function (for instance a trigger's) calling
//! the old name fails with "function ... does not exist".
//!
//! ## Example
//! ```sql
//! ALTER FUNCTION touch_updated_at() RENAME TO set_updated_at;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- create the function under the new name, switch callers (and triggers) to it,
//! -- and drop the old one in a later release
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::RenameFunction { name } = change
        && !ctx.run.is_new_function(name)
    {
        out.push(Hit::new(
            format!("renaming function `{name}` breaks every caller that names it: running queries and PL/pgSQL bodies (including trigger functions) fail with \"function does not exist\""),
            "create the function under the new name, move callers to it, drop the old one in a later release",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG213",
            "ALTER FUNCTION touch_updated_at() RENAME TO set_updated_at;",
            15
        ));
        lint_errors_pg("SG213", "ALTER PROCEDURE app.refresh SET SCHEMA jobs;", 15);
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG213",
            "CREATE FUNCTION tmp() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nALTER FUNCTION tmp() RENAME TO answer;",
            15,
        );
        lint_ok_pg("SG213", "ALTER FUNCTION f() OWNER TO app;", 15);
    }
}

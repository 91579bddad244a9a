//! # SG209 revoke-privileges
//!
//! ## What it does
//! Flags `REVOKE`, unless every table or function it names was created earlier in the same
//! migration or by an unreleased one (nobody uses it yet: revoking the default `EXECUTE`
//! from `PUBLIC` on a new function is the usual hardening).
//!
//! ## Why is this bad?
//! Code of the running release that still uses the privilege fails with `permission denied` as
//! soon as the REVOKE commits.
//!
//! ## Example
//! ```sql
//! REVOKE INSERT ON orders FROM app_writer;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- revoke in a post-deploy migration, after no running release needs the privilege
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Revoke { tables, functions } = change
        && (tables.is_empty() || !tables.iter().all(|t| ctx.is_new(t)))
        && (functions.is_empty() || !functions.iter().all(|f| ctx.run.is_new_function(f)))
    {
        let what = if tables.is_empty() {
            "the objects".to_string()
        } else {
            quote_all(tables)
        };
        out.push(Hit::new(
            format!("REVOKE on {what} makes running code that still needs the privilege fail with permission denied"),
            "revoke in a post-deploy migration, after no running release uses the privilege",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG209",
            "REVOKE INSERT ON orders FROM app_writer;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG209",
            "CREATE FUNCTION app.rotate() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nREVOKE ALL ON FUNCTION app.rotate() FROM PUBLIC;",
            15,
        );
        lint_errors_pg(
            "SG209",
            "REVOKE ALL ON FUNCTION app.rotate() FROM PUBLIC;",
            15,
        );
        lint_ok_pg("SG209", "GRANT SELECT ON orders TO reporting;", 15);
    }
}

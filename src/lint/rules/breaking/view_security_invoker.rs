//! # SG215 view-security-invoker
//!
//! ## What it does
//! Flags `ALTER VIEW ... SET (security_invoker = true)`, and `CREATE OR REPLACE VIEW ... WITH
//! (security_invoker = true)` of a view that existed before the run.
//!
//! ## Why is this bad?
//! With `security_invoker` the view checks the privileges (and row level security policies)
//! of the role querying it on the underlying tables, instead of the view owner's. Measured on
//! PostgreSQL 15: a role granted SELECT on the view only reads it before the change and gets
//! "permission denied for table ..." after it.
//!
//! ## Example
//! ```sql
//! ALTER VIEW salary_totals SET (security_invoker = true);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- grant the readers what they need on the underlying tables first (and check their
//! -- policies), in an earlier release; or create a new view with security_invoker
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let view = match change {
        Change::ViewSecurityInvoker { view } => view,
        Change::CreateView {
            name,
            security_invoker: true,
            materialized: false,
            ..
        } if !ctx.file.created_earlier(ObjectKind::View, name) => name,
        _ => return,
    };
    if ctx.is_new(view) {
        return;
    }
    if let Change::CreateView { .. } = change
        && !ctx.run.table_seen(view)
        && ctx.table_facts(view).is_none()
    {
        // CREATE OR REPLACE of a view not known to exist: taken as a new one.
        return;
    }
    out.push(Hit::new(
        format!("security_invoker on `{view}` makes it check the querying role's privileges and policies on its tables: readers granted only the view get permission denied"),
        "grant readers what they need on the underlying tables first, or create a new view",
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_history};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG215",
            "ALTER VIEW salary_totals SET (security_invoker = true);",
            15
        ));
        let found = lint_history(
            "SG215",
            &[
                "CREATE VIEW v AS SELECT 1 AS a;",
                "CREATE OR REPLACE VIEW v WITH (security_invoker = on) AS SELECT 1 AS a;",
            ],
            15,
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn quiet() {
        assert!(
            lint_history(
                "SG215",
                &["CREATE VIEW v WITH (security_invoker = true) AS SELECT 1 AS a;"],
                15
            )
            .is_empty()
        );
        assert!(
            lint_history(
                "SG215",
                &["ALTER VIEW v SET (security_invoker = false);"],
                15
            )
            .is_empty()
        );
    }
}

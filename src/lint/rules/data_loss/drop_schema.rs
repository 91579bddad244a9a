//! # SG302 drop-schema
//!
//! ## What it does
//! Flags `DROP SCHEMA`.
//!
//! ## Why is this bad?
//! Every table, view and function in the schema goes, with its data; running code that uses any
//! of them fails.
//!
//! ## Example
//! ```sql
//! DROP SCHEMA reporting CASCADE;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- drop the objects explicitly, after code stops using them, then the empty schema
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::Drop {
        kind: ObjectKind::Schema,
        names,
        ..
    } = change
    {
        let old: Vec<Name> = names
            .iter()
            .filter(|n| !ctx.file.created_earlier(ObjectKind::Schema, n))
            .cloned()
            .collect();
        if old.is_empty() {
            return;
        }
        out.push(Hit::new(
            format!(
                "dropping schema {} deletes every object in it and breaks code that uses them",
                quote_all(&old)
            ),
            "drop the objects explicitly after code stops using them, then the empty schema",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG302",
            "DROP SCHEMA reporting CASCADE;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG302", "CREATE SCHEMA IF NOT EXISTS reporting;", 15);
    }

    #[test]
    fn quiet_on_a_schema_the_same_file_created() {
        lint_ok_pg(
            "SG302",
            "CREATE SCHEMA scratch;\nCREATE TABLE scratch.t (id int);\nDROP SCHEMA scratch CASCADE;",
            15,
        );
    }

    #[test]
    fn fires_on_a_schema_created_only_after_the_drop() {
        let out = lint_errors_pg(
            "SG302",
            "DROP SCHEMA reporting CASCADE;\nCREATE SCHEMA reporting;",
            15,
        );
        assert!(out.contains("reporting"), "{out}");
    }
}

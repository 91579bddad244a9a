//! # SG207 drop-default-on-not-null
//!
//! ## What it does
//! Flags `ALTER COLUMN ... DROP DEFAULT` on an existing table, unless the column is known to be
//! nullable: from the migrations linted, or from a database's catalog (`--env`, `--scratch`).
//! When neither shows the column, the message says its nullability is not known.
//! `ALTER COLUMN ... DROP IDENTITY` is the same for an identity column, which is always NOT
//! NULL: inserts that leave the column out fail (measured: "null value in column violates
//! not-null constraint"), unless the same migration gives the column a default again.
//!
//! ## Why is this bad?
//! If the column is NOT NULL, INSERTs from the running release that leave the column out relied
//! on the default and start failing.
//!
//! ## Example
//! ```sql
//! ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- drop the default in a post-deploy migration, after every running release writes the column
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::DropIdentity { table, column } = change
        && !ctx.is_new(table)
        && !ctx.file.sets_default(table, column)
    {
        out.push(Hit::new(
            format!(
                "dropping the identity of `{table}`.`{column}` leaves a NOT NULL column without a default: INSERTs from running code that omit it fail"
            ),
            "give the column a default in the same migration (SET DEFAULT nextval(...)), or drop the identity after no running code relies on it",
        ).on(ctx.clause(&["ALTER"], Some(column))));
        return;
    }
    if let Change::DropDefault { table, column } = change
        && !ctx.is_new(table)
    {
        let message = match ctx.column(table, column) {
            Some(known) if !known.not_null => return,
            Some(_) => format!(
                "`{table}`.`{column}` is NOT NULL: dropping its default makes INSERTs from running code that omit it fail"
            ),
            None => format!(
                "dropping the default of `{table}`.`{column}` makes INSERTs from running code that omit it fail if the column is NOT NULL; {}",
                ctx.unknown(&format!("whether `{table}`.`{column}` is NOT NULL"))
            ),
        };
        out.push(Hit::new(
            message,
            "drop the default in a post-deploy migration, after every running release writes the column",
        ).on(ctx.clause(&["ALTER"], Some(column))));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG207",
            "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;",
            15
        ));
    }

    #[test]
    fn drop_identity_without_a_default_fires() {
        let result = crate::lint::test_utils::lint_sql(
            "ALTER TABLE invoices ALTER COLUMN id DROP IDENTITY IF EXISTS;",
            15,
        );
        assert!(
            result.findings.iter().any(|f| f.code == "SG207"
                && f.message
                    .starts_with("dropping the identity of `invoices`.`id`")),
            "{:?}",
            result.findings
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG207",
            "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';",
            15,
        );
        // DROP IDENTITY with a default from a sequence of its own in the same migration:
        // measured, the old release's INSERT that leaves the id out still gets one.
        lint_ok_pg(
            "SG207",
            "CREATE SEQUENCE invoices_id_seq2 OWNED BY invoices.id;\nALTER TABLE invoices ALTER COLUMN id DROP IDENTITY;\nALTER TABLE invoices ALTER COLUMN id SET DEFAULT nextval('invoices_id_seq2');",
            15,
        );
    }
}

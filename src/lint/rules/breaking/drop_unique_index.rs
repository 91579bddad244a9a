//! # SG217 drop-unique-index
//!
//! ## What it does
//! Flags `DROP INDEX` of a unique index, and `DROP CONSTRAINT` of a UNIQUE or PRIMARY KEY
//! constraint, that existed before this migration, unless the same migration first creates
//! another unique index on the same table. Uniqueness comes from the run (`CREATE UNIQUE
//! INDEX`, `UNIQUE` / `PRIMARY KEY` in an earlier migration) or a database's catalog (`--env`,
//! `--scratch`); an index neither shows is reported as information naming that fact.
//!
//! ## Why is this bad?
//! Running code that writes `INSERT ... ON CONFLICT (columns)` needs a unique index on those
//! columns: measured on PostgreSQL 15, once it is dropped the INSERT fails with "there is no
//! unique or exclusion constraint matching the ON CONFLICT specification"; other writers
//! start inserting duplicates.
//!
//! ## Example
//! ```sql
//! DROP INDEX CONCURRENTLY IF EXISTS carts_user_sku;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- build the replacement first, then drop the old one
//! CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS carts_user_sku_v2 ON carts (user_id, sku);
//! DROP INDEX CONCURRENTLY IF EXISTS carts_user_sku;
//! ```

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let help = "create the replacement unique index (CONCURRENTLY) before dropping this one, and keep it until no running code uses ON CONFLICT on these columns";
    match change {
        Change::DropIndex { names, .. } => {
            for name in names {
                if ctx.is_new(name) || ctx.file.unique_index_created {
                    continue;
                }
                let unique = ctx
                    .run
                    .index_unique(name)
                    .or_else(|| ctx.catalog.and_then(|c| c.index(name)).map(|i| i.unique));
                match unique {
                    Some(false) => {}
                    Some(true) => out.push(Hit::new(
                        format!("`{name}` is a unique index: running INSERT ... ON CONFLICT on its columns fails without it, and duplicates get in"),
                        help,
                    )),
                    None => out.push(Hit::new(
                        format!("if `{name}` is unique, running INSERT ... ON CONFLICT on its columns fails without it: {}", ctx.unknown(&format!("whether `{name}` is a unique index"))),
                        help,
                    ).at(Severity::Info)),
                }
            }
        }
        Change::DropConstraint { table, name, .. }
            if !ctx.is_new(table)
                && !ctx.file.unique_index_created
                && ctx.run.is_unique_index(Some(table), name) =>
        {
            out.push(Hit::new(
                format!("`{name}` is a UNIQUE or PRIMARY KEY constraint of `{table}`: running INSERT ... ON CONFLICT on its columns fails without it, and duplicates get in"),
                help,
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::test_utils::{lint_errors_pg, lint_history};

    #[test]
    fn fires() {
        let found = lint_history(
            "SG217",
            &[
                "CREATE UNIQUE INDEX carts_user_sku ON carts (user_id, sku);",
                "DROP INDEX carts_user_sku;",
            ],
            15,
        );
        assert_eq!(found[0].severity, Severity::Error);
        insta::assert_snapshot!(lint_errors_pg("SG217", "DROP INDEX some_idx;", 15));
        let found = lint_history(
            "SG217",
            &[
                "CREATE TABLE e (id bigint PRIMARY KEY, a text, CONSTRAINT e_a_key UNIQUE (a));",
                "ALTER TABLE e DROP CONSTRAINT e_a_key;",
            ],
            15,
        );
        assert_eq!(found[0].severity, Severity::Error);
        let found = lint_history(
            "SG217",
            &["DROP INDEX CONCURRENTLY IF EXISTS some_idx;"],
            15,
        );
        assert_eq!(found[0].severity, Severity::Info);
    }

    #[test]
    fn quiet() {
        assert!(
            lint_history("SG217", &["CREATE INDEX i ON t (a);", "DROP INDEX i;"], 15).is_empty()
        );
        assert!(
            lint_history(
                "SG217",
                &[
                    "CREATE UNIQUE INDEX i ON t (a);",
                    "CREATE UNIQUE INDEX CONCURRENTLY i2 ON t (a);\nDROP INDEX CONCURRENTLY i;"
                ],
                15
            )
            .is_empty()
        );
    }
}

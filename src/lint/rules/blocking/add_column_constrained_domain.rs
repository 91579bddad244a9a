//! # SG108 add-column-constrained-domain
//!
//! ## What it does
//! Flags adding a column whose type is a domain with a `CHECK` constraint: a domain created
//! earlier in the lint run, or one a database's catalog shows (`--env`, `--scratch`). A type
//! neither shows is a warning saying that whether it is a domain with a CHECK is not known.
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

use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::AddColumn { table, column, .. } = change else {
        return;
    };
    let ColumnType::Other(domain) = &column.ty else {
        return;
    };
    // Arrays of a domain are checked element by element, the same way.
    let domain = domain.trim_end_matches("[]").trim_end();
    if ctx.is_new(table) || builtin(domain) {
        return;
    }
    let help = "use the domain's base type and a table CHECK constraint added NOT VALID, then VALIDATE it separately";
    match ctx.domain_has_check(domain) {
        Some(false) => {}
        Some(true) => out.push(Hit::new(
            format!(
                "adding `{}` of domain `{domain}` (which has a CHECK) rewrites `{table}` under an ACCESS EXCLUSIVE lock, blocking reads and writes",
                column.name
            ),
            help,
        )),
        None => out.push(
            Hit::new(
                format!(
                    "adding `{}` of type `{domain}` rewrites `{table}` under an ACCESS EXCLUSIVE lock if it is a domain with a CHECK: {}",
                    column.name,
                    ctx.unknown(&format!("whether `{domain}` is a domain with a CHECK"))
                ),
                help,
            )
            .at(crate::lint::Severity::Warning),
        ),
    }
}

/// PostgreSQL's own types that [`ColumnType`] does not list: never a domain.
fn builtin(name: &str) -> bool {
    let base = name.split('(').next().unwrap_or(name).trim();
    let base = base.strip_prefix("pg_catalog.").unwrap_or(base);
    if !matches!(ColumnType::parse(base), ColumnType::Other(_)) {
        return true;
    }
    const BUILTIN: &[&str] = &[
        "bytea",
        "interval",
        "time",
        "timetz",
        "time without time zone",
        "time with time zone",
        "bit",
        "varbit",
        "bit varying",
        "money",
        "xml",
        "tsvector",
        "tsquery",
        "point",
        "line",
        "lseg",
        "box",
        "path",
        "polygon",
        "circle",
        "macaddr",
        "macaddr8",
        "oid",
        "regclass",
        "regtype",
        "regproc",
        "name",
        "\"char\"",
        "int4range",
        "int8range",
        "numrange",
        "tsrange",
        "tstzrange",
        "daterange",
        "int4multirange",
        "int8multirange",
        "nummultirange",
        "tsmultirange",
        "tstzmultirange",
        "datemultirange",
        "jsonpath",
        "pg_lsn",
        "pg_snapshot",
        "txid_snapshot",
        "float",
        "float4",
        "float8",
        "decimal",
    ];
    BUILTIN.contains(&base)
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::catalog::{Catalog, Source};
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg, lint_with_catalog};

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

    #[test]
    fn a_domain_the_run_does_not_know_is_decided_by_the_catalog() {
        let sql = "ALTER TABLE orders ADD COLUMN quantity positive_int;";
        let unknown = lint_with_catalog("SG108", &[sql], &Catalog::default());
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].severity, Severity::Warning);
        assert!(
            unknown[0].message.contains(
                "whether `positive_int` is a domain with a CHECK is not known: run with --env E or --scratch"
            ),
            "{}",
            unknown[0].message
        );
        let catalog = |has_check| {
            Catalog::from_rows(
                Source::Env("prod".into()),
                None,
                None,
                Vec::new(),
                Vec::new(),
                vec![("public".into(), "positive_int".into(), has_check)],
                Vec::new(),
            )
        };
        let checked = lint_with_catalog("SG108", &[sql], &catalog(true));
        assert_eq!(checked.len(), 1);
        assert_eq!(checked[0].severity, Severity::Error);
        assert!(lint_with_catalog("SG108", &[sql], &catalog(false)).is_empty());
        // Created by an earlier migration of the run: known without a database.
        assert!(
            lint_with_catalog(
                "SG108",
                &["CREATE TYPE positive_int AS ENUM ('a');", sql],
                &Catalog::default()
            )
            .is_empty()
        );
    }
}

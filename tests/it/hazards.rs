//! The project's hazard catalog is covered: every row of `docs/hazards.md` (section 1, the
//! hazard tables) has an entry in `tests/hazards/coverage.toml` that names the rule firing
//! on it with a firing and a quiet case, or a safe statement stagegate must stay quiet on, or
//! says why no rule can catch it. The cases run through the real lint engine; the coverage
//! table in `docs/hazards-coverage.md` is rendered from the same file.
//!
//! After editing `coverage.toml`, regenerate the table with
//! `STAGEGATE_BLESS=1 cargo nextest run -E 'test(hazards)'` and review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stagegate::{
    Finding, Input, Options, RULES, RunState, Severity, find_rule, get_rule, lint_script,
    parse_directives,
};

const BEGIN: &str = "<!-- BEGIN GENERATED: tests/hazards/coverage.toml -->";
const END: &str = "<!-- END GENERATED -->";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Coverage {
    /// Rules that are not about a catalog row (engine hygiene, directives), with why.
    hygiene: BTreeMap<String, String>,
    row: Vec<Row>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: u32,
    /// The row's operation cell, exactly as docs/hazards.md writes it.
    operation: String,
    #[serde(default)]
    case: Vec<Case>,
    #[serde(default)]
    safe: Vec<Safe>,
    /// What no rule catches, and what would be needed: "needs the catalog: ...".
    gap: Option<String>,
}

/// A rule firing on the row's statement, and staying quiet on the safe alternative.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    severity: String,
    /// PostgreSQL major version to lint for (default: stagegate's default).
    pg: Option<u32>,
    /// Earlier, released migrations that the schema knowledge comes from.
    #[serde(default)]
    setup: Vec<String>,
    fire: String,
    quiet: String,
}

/// A statement of the row that is safe as written: no rule may report anything on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Safe {
    pg: Option<u32>,
    #[serde(default)]
    setup: Vec<String>,
    sql: String,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn coverage() -> Coverage {
    let path = root().join("tests/hazards/coverage.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The catalog, in the repository: nothing outside the clone is read.
fn hazards_path() -> PathBuf {
    root().join("docs/hazards.md")
}

/// `(id, operation)` of every numbered row of the catalog's hazard tables (section 1).
fn catalog() -> Vec<(u32, String)> {
    let path = hazards_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the hazard catalog {}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut in_hazard_tables = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_hazard_tables = line.starts_with("## 1.");
        }
        if !in_hazard_tables {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| 12 | operation | ...`: cells[0] is the empty text before the first `|`.
        if cells.len() > 3
            && cells[0].is_empty()
            && let Ok(id) = cells[1].parse::<u32>()
        {
            rows.push((id, cells[2].to_string()));
        }
    }
    assert!(
        rows.len() >= 100,
        "only {} numbered rows in {}",
        rows.len(),
        path.display()
    );
    rows
}

fn severity(label: &str) -> Severity {
    Severity::parse(label).unwrap_or_else(|| panic!("unknown severity `{label}`"))
}

/// Lints `setup` as released migrations, then `sql` as the next one, like `stagegate lint`
/// on a directory does; returns the findings of `sql`.
fn lint(setup: &[String], sql: &str, pg: Option<u32>) -> Vec<Finding> {
    let options = Options {
        postgres_version: pg.unwrap_or(stagegate::DEFAULT_POSTGRES_VERSION),
        ..Options::default()
    };
    let mut run = RunState::default();
    let mut last = Vec::new();
    for text in setup.iter().map(String::as_str).chain([sql]) {
        let (directives, settings) = parse_directives(text, 1)
            .unwrap_or_else(|e| panic!("directive in {text:?}: {}", e.message));
        let input = Input {
            text,
            first_line: 1,
            directives: &directives,
            settings: &settings,
            unreleased: false,
            edited_since: None,
        };
        last = lint_script(input, &options, &mut run).findings;
    }
    last
}

fn listed(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {} {}", f.code, f.severity.label(), f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hazards_coverage_has_every_catalog_row_in_order() {
    let catalog = catalog();
    let coverage = coverage();
    let ours: Vec<(u32, &str)> = coverage
        .row
        .iter()
        .map(|r| (r.id, r.operation.as_str()))
        .collect();
    let theirs: Vec<(u32, &str)> = catalog.iter().map(|(i, o)| (*i, o.as_str())).collect();
    for (index, (mine, catalog)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            mine, catalog,
            "entry {index} of coverage.toml does not match docs/hazards.md (id, operation)"
        );
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "coverage.toml has {} rows, docs/hazards.md {}",
        ours.len(),
        theirs.len()
    );
    for row in &coverage.row {
        assert!(
            !row.case.is_empty() || !row.safe.is_empty() || row.gap.is_some(),
            "row #{} maps to no rule, no safe statement and no gap",
            row.id
        );
        if let Some(gap) = &row.gap {
            assert!(
                gap.contains("need") || gap.contains("no statement"),
                "row #{}: a gap says what would be needed: {gap}",
                row.id
            );
        }
    }
}

#[test]
fn hazards_coverage_names_every_rule_of_the_registry() {
    let coverage = coverage();
    let mut mapped = BTreeSet::new();
    for row in &coverage.row {
        for case in &row.case {
            let rule = find_rule(&case.rule)
                .unwrap_or_else(|| panic!("row #{}: {} is not a rule", row.id, case.rule));
            assert_eq!(
                rule.code, case.rule,
                "row #{}: write the code, not the name",
                row.id
            );
            assert_eq!(
                severity(&case.severity),
                rule.severity,
                "row #{}: {} is documented as {} but its default is {}",
                row.id,
                rule.code,
                case.severity,
                rule.severity.label()
            );
            mapped.insert(rule.code);
        }
    }
    for (code, why) in &coverage.hygiene {
        assert!(find_rule(code).is_some(), "hygiene: {code} is not a rule");
        assert!(!why.is_empty(), "hygiene: {code} needs a reason");
        assert!(
            !mapped.contains(code.as_str()),
            "{code} is both mapped to a catalog row and listed as hygiene"
        );
    }
    let missing: Vec<&str> = RULES
        .iter()
        .map(|r| r.code)
        .filter(|c| !mapped.contains(c) && !coverage.hygiene.contains_key(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "rules neither mapped to a catalog row nor listed as hygiene: {missing:?}"
    );
}

#[test]
fn hazards_coverage_cases_fire_and_stay_quiet() {
    let coverage = coverage();
    let mut failures = Vec::new();
    let mut cases = 0;
    for row in &coverage.row {
        for case in &row.case {
            cases += 1;
            let wanted = severity(&case.severity);
            let fired = lint(&case.setup, &case.fire, case.pg);
            if !fired
                .iter()
                .any(|f| f.code == case.rule && f.severity == wanted)
            {
                failures.push(format!(
                    "row #{}: {} ({}) did not fire on:\n{}\nfindings:\n{}",
                    row.id,
                    case.rule,
                    case.severity,
                    case.fire,
                    listed(&fired)
                ));
            }
            let quiet = lint(&case.setup, &case.quiet, case.pg);
            if quiet.iter().any(|f| f.code == case.rule) {
                failures.push(format!(
                    "row #{}: {} fired on its quiet case:\n{}\nfindings:\n{}",
                    row.id,
                    case.rule,
                    case.quiet,
                    listed(&quiet)
                ));
            }
        }
        for safe in &row.safe {
            let found = lint(&safe.setup, &safe.sql, safe.pg);
            if !found.is_empty() {
                failures.push(format!(
                    "row #{}: the safe statement has findings:\n{}\nfindings:\n{}",
                    row.id,
                    safe.sql,
                    listed(&found)
                ));
            }
        }
    }
    assert!(cases >= 100, "only {cases} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// SQL for a table cell: one line, `|` escaped, in backticks.
fn code(sql: &str) -> String {
    let one_line = sql
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("`{}`", one_line.replace('|', "\\|"))
}

fn with_setup(setup: &[String], sql: &str) -> String {
    if setup.is_empty() {
        return code(sql);
    }
    let earlier: Vec<String> = setup.iter().map(|s| code(s)).collect();
    format!("after {}: {}", earlier.join(", "), code(sql))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn render(coverage: &Coverage) -> String {
    let mut out = String::new();
    out.push_str("| # | Operation (docs/hazards.md) | Rule | Severity | Fires on | Quiet on |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for row in &coverage.row {
        let op = cell(&row.operation);
        for case in &row.case {
            let rule = get_rule(&case.rule);
            let pg = case.pg.map(|v| format!(" (PG {v})")).unwrap_or_default();
            out.push_str(&format!(
                "| {} | {op} | {} {}{pg} | {} | {} | {} |\n",
                row.id,
                rule.code,
                rule.name,
                case.severity,
                with_setup(&case.setup, &case.fire),
                with_setup(&case.setup, &case.quiet),
            ));
        }
        for safe in &row.safe {
            let pg = safe.pg.map(|v| format!(" (PG {v})")).unwrap_or_default();
            out.push_str(&format!(
                "| {} | {op} | safe: no finding{pg} | — | — | {} |\n",
                row.id,
                with_setup(&safe.setup, &safe.sql),
            ));
        }
        if let Some(gap) = &row.gap {
            let label = if row.case.is_empty() && row.safe.is_empty() {
                "not covered"
            } else {
                "not covered (the rest)"
            };
            out.push_str(&format!(
                "| {} | {op} | {label} | — | {} | — |\n",
                row.id,
                cell(gap)
            ));
        }
    }
    out.push_str("\nRules not from the catalog:\n\n| Rule | Why |\n|---|---|\n");
    for (code, why) in &coverage.hygiene {
        let rule = get_rule(code);
        out.push_str(&format!(
            "| {} {} | {} |\n",
            rule.code,
            rule.name,
            cell(why)
        ));
    }
    out
}

#[test]
fn hazards_coverage_doc_is_generated_from_the_cases() {
    let path = root().join("docs/hazards-coverage.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{} lacks the {BEGIN} ... {END} markers", path.display());
    };
    let generated = render(&coverage());
    let current = &doc[begin + BEGIN.len()..end];
    let wanted = format!("\n{generated}");
    if current == wanted {
        return;
    }
    if std::env::var_os("STAGEGATE_BLESS").is_some() {
        let updated = format!("{}{BEGIN}{wanted}{}", &doc[..begin], &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "{} is out of date with tests/hazards/coverage.toml: run \
         `STAGEGATE_BLESS=1 cargo nextest run -E 'test(hazards)'` and review the diff",
        path.display()
    );
}

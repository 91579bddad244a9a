//! `stagegate lint` and `stagegate rule` on the real binary: the unsafe and safe fixtures,
//! output formats, exit codes, suppressions, and a large generated corpus.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::support::project::{Output, stagegate_in};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

fn stagegate(dir: &Path, args: &[&str]) -> Output {
    Output::from(stagegate_in(dir).args(args).output().unwrap())
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", output.stdout, output.stderr))
}

fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// Unsafe fixtures whose hazard hangs on a fact only a database shows: alone, lint names that
/// fact in a warning instead of guessing (`lint_catalog` shows the error with `--env`).
const UNSAFE_BY_CATALOG: &[(&str, &str)] = &[(
    "20240105000000_note_not_null.up.sql",
    "SG110", // whether `orders` has a validated CHECK (note IS NOT NULL)
)];

#[test]
fn every_unsafe_fixture_has_an_error() {
    let dir = fixtures("unsafe");
    let files = sql_files(&dir);
    assert!(files.len() >= 10, "{} unsafe fixtures", files.len());
    for file in &files {
        let output = stagegate(
            root(),
            &["lint", "--format", "json", file.to_str().unwrap()],
        );
        let report = json(&output);
        let errors = report["summary"]["errors"].as_u64().unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        if let Some((_, code)) = UNSAFE_BY_CATALOG.iter().find(|(f, _)| *f == name) {
            let named = report["findings"].as_array().unwrap().iter().any(|f| {
                f["code"] == *code
                    && f["severity"] == "warning"
                    && f["message"]
                        .as_str()
                        .unwrap()
                        .contains("is not known: run with --env E or --scratch")
            });
            assert!(
                named,
                "{name}: no {code} naming the unknown fact\n{}",
                output.stdout
            );
            continue;
        }
        assert!(
            errors > 0,
            "{}: no error\n{}",
            file.display(),
            output.stdout
        );
        assert_eq!(output.code, 1, "{}", file.display());
    }
    // As one migration set, too: no table of the set is created inside it, so nothing is exempt.
    let output = stagegate(root(), &["lint", dir.to_str().unwrap()]);
    assert_eq!(output.code, 1, "{}", output.stdout);
}

#[test]
fn safe_recipes_have_no_error() {
    let output = stagegate(root(), &["lint", "--format", "json", "fixtures/safe"]);
    let report = json(&output);
    let errors: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(report["version"], 1);
    assert_eq!(
        report["summary"]["suppressed"], 1,
        "the allow directive of the contract step"
    );
}

#[test]
fn text_report_underlines_the_statement_and_names_the_rule() {
    let output = stagegate(
        root(),
        &["lint", "fixtures/unsafe/20240101000000_index_orders.up.sql"],
    );
    assert_eq!(output.code, 1);
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn json_report_is_versioned_and_stable() {
    let output = stagegate(
        root(),
        &[
            "lint",
            "--format",
            "json",
            "fixtures/unsafe/20240108000000_drop_legacy.up.sql",
        ],
    );
    assert_eq!(output.code, 1);
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("create_orders.sql");
    std::fs::write(&file, "CREATE TABLE orders (id integer PRIMARY KEY);\n").unwrap();
    let path = file.to_str().unwrap();
    let output = stagegate(tmp.path(), &["lint", path]);
    assert_eq!(output.code, 0, "{}", output.stdout);
    assert!(
        output.stdout.contains("warning[SG401]"),
        "{}",
        output.stdout
    );
    let output = stagegate(tmp.path(), &["lint", "--deny-warnings", path]);
    assert_eq!(output.code, 1);
}

/// `--env` takes the environment's lock_timeout (and reads its state, which needs a server).
#[test]
fn environment_lock_timeout_satisfies_the_lock_timeout_rule() {
    // Staging sets a lock_timeout, preview does not: without --env, either may run it.
    let project = crate::support::project::Project::new(
        "lock_timeout = \"3s\"\n\n[environments.preview]\nurl = \"${SG_UNSET_PREVIEW_URL}\"",
    );
    let file = project.dir.path().join("add_note.sql");
    std::fs::write(&file, "ALTER TABLE orders ADD COLUMN note text;\n").unwrap();
    let path = file.to_str().unwrap();
    let without = project.run(&["lint", path]);
    assert!(without.stdout.contains("SG116"), "{}", without.stdout);
    let with = project.run(&["lint", "--env", "staging", path]);
    assert!(!with.stdout.contains("SG116"), "{}", with.stdout);
    assert_eq!(with.code, 0, "{}", with.stderr);
}

#[test]
fn postgres_version_changes_what_rewrites() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("status.sql");
    std::fs::write(
        &file,
        "SET lock_timeout = '1s';\nALTER TABLE orders ADD COLUMN status text DEFAULT 'new';\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(stagegate(tmp.path(), &["lint", path]).code, 0);
    let old = stagegate(tmp.path(), &["lint", "--postgres-version", "10", path]);
    assert_eq!(old.code, 1);
    assert!(old.stdout.contains("SG105"), "{}", old.stdout);
}

#[test]
fn bad_config_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        "[lint]\ndisable = [\"SG999\"]\n",
    )
    .unwrap();
    let output = stagegate(
        tmp.path(),
        &["lint", root().join("fixtures/safe").to_str().unwrap()],
    );
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains("unknown rule `SG999`"),
        "{}",
        output.stderr
    );
}

#[test]
fn config_disables_and_reclassifies_rules() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        "[lint]\ndisable = [\"require-lock-timeout\"]\nseverity = { SG201 = \"warning\" }\n",
    )
    .unwrap();
    let file = tmp.path().join("drop.sql");
    std::fs::write(&file, "ALTER TABLE users DROP COLUMN legacy;\n").unwrap();
    let output = stagegate(tmp.path(), &["lint", file.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{}", output.stdout);
    assert!(
        output.stdout.contains("warning[SG201]"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains("SG116"), "{}", output.stdout);
}

/// `--select` runs only the rules it names (even one `[lint] disable` lists), `--ignore`
/// drops rules and wins over `--select`; unknown rules exit 2.
#[test]
fn select_and_ignore_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        "[lint]\ndisable = [\"require-lock-timeout\"]\n",
    )
    .unwrap();
    let file = tmp.path().join("drop.sql");
    std::fs::write(
        &file,
        "ALTER TABLE users DROP COLUMN legacy;\nCREATE INDEX users_a ON users (a);\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let codes = |args: &[&str]| {
        let mut all = vec!["lint", "--format", "json"];
        all.extend_from_slice(args);
        all.push(path);
        let output = stagegate(tmp.path(), &all);
        let mut codes: Vec<String> = json(&output)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        codes.sort();
        codes.dedup();
        (output.code, codes)
    };
    let (code, all) = codes(&[]);
    assert_eq!(code, 1);
    assert!(all.contains(&"SG101".into()) && all.contains(&"SG201".into()));
    assert!(!all.contains(&"SG116".into()), "{all:?}");
    assert_eq!(
        codes(&["--select", "drop-column"]),
        (1, vec!["SG201".into()])
    );
    assert_eq!(
        codes(&["--select", "SG1", "--ignore", "SG101"]),
        (1, vec!["SG116".into(), "SG117".into()]),
        "a prefix selects a family, the selection overrides [lint] disable"
    );
    // What is left is a warning: it fails only with --deny-warnings.
    assert_eq!(
        codes(&["--ignore", "SG101,drop-column"]),
        (0, vec!["SG117".into()])
    );
    assert_eq!(
        codes(&["--ignore", "SG101,drop-column", "--deny-warnings"]).0,
        1
    );
    let output = stagegate(tmp.path(), &["lint", "--ignore", "SG999", path]);
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains("--ignore: unknown rule `SG999`"),
        "{}",
        output.stderr
    );
}

#[test]
fn rule_lists_the_catalog_and_prints_docs() {
    let output = stagegate(root(), &["rule"]);
    assert_eq!(output.code, 0);
    assert!(output.stdout.lines().count() > 35, "{}", output.stdout);
    assert!(output.stdout.starts_with("CODE"));
    let doc = stagegate(root(), &["rule", "SG101"]);
    assert_eq!(doc.code, 0);
    for section in [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
    ] {
        assert!(doc.stdout.contains(section), "{}", doc.stdout);
    }
    let by_name = stagegate(root(), &["rule", "drop-column"]);
    assert!(
        by_name.stdout.starts_with("# SG201 drop-column"),
        "{}",
        by_name.stdout
    );
    assert_eq!(stagegate(root(), &["rule", "SG999"]).code, 2);
}

/// Thousands of varied statements, garbage included: lint must finish without a panic and
/// keep reporting the statements after the garbage.
#[test]
fn large_mixed_corpus_never_panics() {
    const PIECES: &[&str] = &[
        "CREATE TABLE t{n} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name varchar(20), at timestamp, doc json);",
        "ALTER TABLE big{n} ADD COLUMN c{n} uuid DEFAULT gen_random_uuid();",
        "CREATE INDEX i{n} ON big{n} (a, lower(b)) WHERE c IS NOT NULL;",
        "DROP INDEX CONCURRENTLY IF EXISTS i{n};",
        "DO $body$ BEGIN IF true THEN ALTER TABLE big{n} DROP COLUMN x; END IF; END $body$;",
        "COMMENT ON COLUMN big{n}.a IS 'it''s ; tricky';",
        "SELECT $$ ; $$, E'\\' ;', \"weird;name\" FROM x{n};",
        "REINDEX (VERBOSE) TABLE CONCURRENTLY big{n};",
        "ALTER TABLE big{n} ALTER COLUMN a TYPE bigint USING a::bigint, ADD CONSTRAINT k{n} CHECK (a > 0) NOT VALID;",
        "CREATE FUNCTION f{n}() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
        "UPDATE big{n} SET a = a + 1;",
        "ALTER TABLE ((( garbage {n} ;;",
        "CREATE TABLE ",
        "))) ) ( WHERE WHERE {n};",
        "/* nested /* comment */ still */ VACUUM FULL big{n};",
        "ALTER TYPE e{n} ADD VALUE 'v{n}';",
        "COPY big{n} FROM stdin;\n1\t2\n\\.\n",
        "\\set ON_ERROR_STOP on",
        "ALTER TABLE big{n} ALTER COLUMN x SET STATISTICS 500, SET TABLESPACE fast;",
        "ÿ€ 🙂 ALTER ⊥;",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u{n} ON ONLY big{n} USING btree (a DESC NULLS LAST);",
        "TRUNCATE big{n}, other{n} RESTART IDENTITY CASCADE;",
        "ALTER TABLE big{n} DETACH PARTITION p{n} FINALIZE;",
        "GRANT ALL ON ALL TABLES IN SCHEMA s{n} TO r;",
    ];
    let mut sql = String::new();
    for n in 0..4000 {
        let piece = PIECES[(n * 7 + n / PIECES.len()) % PIECES.len()];
        sql.push_str(&piece.replace("{n}", &n.to_string()));
        sql.push('\n');
    }
    sql.push_str("ALTER TABLE final_table DROP COLUMN last_column;\n");
    // Unterminated constructs run to the end of the text, as in psql.
    sql.push_str("DO $$ unterminated\n'unterminated string");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("corpus.sql");
    std::fs::write(&file, &sql).unwrap();
    let output = stagegate(
        tmp.path(),
        &["lint", "--format", "json", file.to_str().unwrap()],
    );
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let report = json(&output);
    assert!(report["summary"]["statements"].as_u64().unwrap() > 3000);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["code"] == "SG201"
            && f["snippet"] == "ALTER TABLE final_table DROP COLUMN last_column;"),
        "the statement after the garbage was not checked"
    );
    assert!(
        findings.iter().any(|f| f["code"] == "SG505"),
        "garbage is reported as unrecognised"
    );
}

/// A directory's discovery error comes before any line of the report, whichever of several
/// targets it is in.
#[test]
fn discovery_errors_come_before_any_finding() {
    for (bad, expected) in [
        ("duplicate-version", "duplicate version 0001"),
        ("down-without-up", "down script without an up script"),
        ("ambiguous", "more than one layout"),
    ] {
        let bad = fixtures("layouts/bad").join(bad);
        for format in ["text", "json"] {
            let output = stagegate(
                root(),
                &[
                    "lint",
                    "--format",
                    format,
                    "fixtures/unsafe",
                    bad.to_str().unwrap(),
                ],
            );
            assert_eq!(output.code, 2, "{}", output.stderr);
            assert_eq!(output.stdout, "", "{format}");
            assert!(output.stderr.contains(expected), "{}", output.stderr);
        }
    }
}

/// More migrations than one discovery window: an error in the last window still comes
/// before any finding; without it the whole set is linted in version order, and a table
/// created in the first window by an unreleased migration is still new in the last (by
/// default the first is released, and the index on its table in the last is an error).
#[test]
fn a_directory_larger_than_a_window_is_checked_whole_then_linted_in_order() {
    let count = stagegate::LINT_WINDOW + 5;
    let tmp = tempfile::tempdir().unwrap();
    // Unpadded versions: name order (1, 10, 100, ...) is not version order.
    for n in 1..=count {
        let sql = if n == 1 {
            "CREATE TABLE fresh (a int);\n".to_string()
        } else if n == count {
            "CREATE INDEX fresh_a ON fresh (a);\n".to_string()
        } else {
            format!("CREATE INDEX orders_{n} ON orders (a);\n")
        };
        std::fs::write(tmp.path().join(format!("{n}_m.up.sql")), sql).unwrap();
    }
    let duplicate = tmp.path().join(format!("{count}_again.up.sql"));
    std::fs::write(&duplicate, "CREATE INDEX again ON orders (a);\n").unwrap();
    let dir = tmp.path().to_str().unwrap();
    let output = stagegate(tmp.path(), &["lint", dir]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert_eq!(output.stdout, "");
    assert!(
        output
            .stderr
            .contains(&format!("duplicate version {count}")),
        "{}",
        output.stderr
    );

    std::fs::remove_file(&duplicate).unwrap();
    let output = stagegate(tmp.path(), &["lint", "--format", "json", dir]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let flagged = |output: &Output| {
        json(output)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"].as_str().unwrap() == format!("{count}_m.up.sql"))
    };
    assert!(flagged(&output), "the index on a released table passed");
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        "[lint]\nreleased = \"0\"\n",
    )
    .unwrap();
    let output = stagegate(tmp.path(), &["lint", "--format", "json", dir]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let report = json(&output);
    assert_eq!(report["summary"]["files"], count);
    let findings = report["findings"].as_array().unwrap();
    let versions: Vec<usize> = findings
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().unwrap());
            let name = path.file_name().unwrap().to_str().unwrap();
            name.split('_').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(versions.is_sorted(), "findings out of version order");
    assert!(versions.contains(&2) && versions.contains(&(count - 1)));
    assert!(
        !versions.contains(&count),
        "an index on a table created in the same run was flagged"
    );
    // Alone, the last migration's index is flagged: the context came from the first window.
    let last = tmp.path().join(format!("{count}_m.up.sql"));
    let output = stagegate(tmp.path(), &["lint", last.to_str().unwrap()]);
    assert_eq!(output.code, 1, "{}", output.stdout);
}

/// The set's first migration tells the run the columns' types, so the second's type changes
/// are judged from them: the widening is quiet, the char -> varchar rewrite an error, and the
/// change of a column the run never saw a warning that names what is missing.
#[test]
fn type_changes_are_judged_from_the_types_earlier_migrations_gave() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("1_orders.up.sql"),
        "CREATE TABLE orders (id bigint, code char(8), tag varchar(20));\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("2_types.up.sql"),
        "SET lock_timeout = '2s';\n\
         ALTER TABLE orders ALTER COLUMN tag TYPE varchar(40);\n\
         ALTER TABLE orders ALTER COLUMN code TYPE varchar(8);\n\
         ALTER TABLE users ALTER COLUMN bio TYPE text;\n",
    )
    .unwrap();
    let output = stagegate(
        tmp.path(),
        &["lint", "--format", "json", tmp.path().to_str().unwrap()],
    );
    assert_eq!(output.code, 1, "{}", output.stdout);
    let report = json(&output);
    let sg109: Vec<(u64, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "SG109")
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["severity"].as_str().unwrap(),
                f["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sg109.len(), 2, "{sg109:#?}");
    assert_eq!((sg109[0].0, sg109[0].1), (3, "error"), "{sg109:#?}");
    assert!(
        sg109[0].2.contains("from char(8) to varchar(8) rewrites"),
        "{sg109:#?}"
    );
    assert_eq!((sg109[1].0, sg109[1].1), (4, "warning"), "{sg109:#?}");
    assert!(
        sg109[1]
            .2
            .contains("is not known: run with --env E or --scratch"),
        "{sg109:#?}"
    );
}

/// One finding per transaction for the lock-timeout rule, naming the other statements'
/// lines; an allow on the first statement moves it to the next, and the file-wide allow
/// silences it.
#[test]
fn lock_timeout_is_reported_once_per_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.sql");
    let statements = "ALTER TABLE orders ADD COLUMN a text;\nALTER TABLE orders ADD COLUMN b text;\nALTER TABLE users ADD COLUMN c text;\n";
    let sg116 = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let output = stagegate(
            tmp.path(),
            &["lint", "--format", "json", file.to_str().unwrap()],
        );
        json(&output)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "SG116")
            .map(|f| {
                (
                    f["line"].as_u64().unwrap(),
                    f["message"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let found = sg116(statements);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, 1);
    assert!(found[0].1.ends_with("(lines 2, 3)"), "{found:#?}");
    let found = sg116(&format!(
        "-- stagegate:allow SG116 -- new column\n{statements}"
    ));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, 3);
    assert!(found[0].1.ends_with("(line 4)"), "{found:#?}");
    let found = sg116(&format!(
        "-- stagegate:allow-file SG116 -- brief locks\n{statements}"
    ));
    assert!(found.is_empty(), "{found:#?}");
}

/// The real-world-like history (functions, triggers, views, enums, extensions, DO blocks)
/// holds no text PostgreSQL rejects and no dynamic SQL: none of it may be reported as such.
#[test]
fn real_world_like_history_has_no_syntax_or_dynamic_sql_finding() {
    let dir = fixtures("real-world-like");
    let output = stagegate(root(), &["lint", "--format", "json", dir.to_str().unwrap()]);
    let report = json(&output);
    assert!(report["summary"]["statements"].as_u64().unwrap() > 50);
    let wrong: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| ["SG505", "SG511", "SG512"].contains(&f["code"].as_str().unwrap()))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A missing `;` is an error at the line where the second statement starts; a finding on a
/// clause has that clause's position in every format, and the text report shows the lines
/// of its statement around it.
#[test]
fn a_missing_semicolon_is_an_error_and_positions_follow_the_clause() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("1_m.up.sql");
    std::fs::write(
        &file,
        "ALTER TABLE users\n  DROP COLUMN legacy\nCREATE INDEX users_a ON users (a);\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let output = stagegate(tmp.path(), &["lint", "--format", "json", path]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let report = json(&output);
    let findings = report["findings"].as_array().unwrap();
    let at = |code: &str| {
        let f = findings
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {findings:#?}"));
        (f["line"].as_u64().unwrap(), f["column"].as_u64().unwrap())
    };
    assert_eq!(at("SG511"), (3, 1));
    assert_eq!(at("SG101"), (3, 1));
    assert_eq!(at("SG201"), (2, 3));
    let sarif = stagegate(tmp.path(), &["lint", "--format", "sarif", path]);
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let drop = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "SG201")
        .unwrap();
    let region = &drop["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (region["endLine"].as_u64(), region["endColumn"].as_u64()),
        (Some(2), Some(21))
    );
    let text = stagegate(tmp.path(), &["lint", path]);
    assert!(
        text.stdout.contains(
            "1 | ALTER TABLE users\n2 |   DROP COLUMN legacy\n  |   ^^^^^^^^^^^^^^^^^^\n"
        ),
        "{}",
        text.stdout
    );
}

/// The scripts are read and parsed on worker threads while the rules run in file order: the
/// report, the messages on stderr and the exit code are the same with one worker or several,
/// on the fixtures and on a generated set whose findings depend on the scripts before them
/// (tables created earlier, released or not), with blank and unreadable files among them.
#[test]
fn the_report_is_the_same_with_one_worker_or_several() {
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("migrations");
    std::fs::create_dir(&generated).unwrap();
    for n in 1..=300usize {
        let sql = match n % 10 {
            // Blank: nothing to lint.
            3 => "-- nothing here\n".to_string(),
            // Not UTF-8: an error on stderr, in file order, and exit 2.
            7 if n % 100 == 7 => {
                std::fs::write(
                    generated.join(format!("{n:04}_m.up.sql")),
                    b"SELECT '\xff';\n",
                )
                .unwrap();
                continue;
            }
            _ => format!(
                "CREATE TABLE t_{n} (id int PRIMARY KEY, name varchar(20));\n\
                 CREATE INDEX t_{p}_name ON t_{p} (name);\n\
                 ALTER TABLE t_{p} ALTER COLUMN name TYPE varchar(10);\n\
                 DO $$ BEGIN ALTER TABLE t_{p} DROP COLUMN name; END $$;\n\
                 -- stagegate:allow SG201 -- gone since release {n}\n\
                 ALTER TABLE orders DROP COLUMN c_{n};\n\
                 {garbage}\n",
                p = n - 1,
                garbage = if n % 11 == 0 {
                    "ALTER TABLE ((( ;"
                } else {
                    "SELECT 1;"
                }
            ),
        };
        std::fs::write(generated.join(format!("{n:04}_m.up.sql")), sql).unwrap();
    }
    let generated = generated.to_str().unwrap().to_string();
    let targets: Vec<Vec<String>> = vec![
        vec![generated.clone()],
        vec!["fixtures/unsafe".into(), "fixtures/safe".into()],
        vec!["fixtures/real-world-like".into()],
        vec![
            "fixtures/layouts/dbmate".into(),
            "fixtures/layouts/diesel".into(),
            "fixtures/layouts/flyway".into(),
            "fixtures/layouts/sqlx-crlf".into(),
        ],
    ];
    let mut compared = 0;
    for config in ["", "[lint]\nreleased = \"150\"\n"] {
        std::fs::write(tmp.path().join("stagegate.toml"), config).unwrap();
        for paths in &targets {
            for format in ["text", "json", "sarif"] {
                let run = |jobs: &str| {
                    let mut args = vec!["lint", "--jobs", jobs, "--format", format];
                    args.extend(paths.iter().map(String::as_str));
                    let mut command = Command::cargo_bin("stagegate").unwrap();
                    let output = command
                        .current_dir(root())
                        .env("STAGEGATE_CONFIG", tmp.path().join("stagegate.toml"))
                        .env("NO_COLOR", "1")
                        .args(&args)
                        .output()
                        .unwrap();
                    (
                        output.status.code(),
                        String::from_utf8(output.stdout).unwrap(),
                        String::from_utf8(output.stderr).unwrap(),
                    )
                };
                let one = run("1");
                assert!(!one.1.is_empty(), "{paths:?} {format}: {}", one.2);
                for jobs in ["2", "3"] {
                    let several = run(jobs);
                    assert!(
                        several == one,
                        "{paths:?} --format {format} --jobs {jobs} differs from --jobs 1\n{}\n{}",
                        several.2,
                        one.2
                    );
                    compared += 1;
                }
                if paths[0] == generated {
                    assert_eq!(one.0, Some(2), "unreadable files exit 2: {}", one.2);
                    assert_eq!(one.2.matches("not valid UTF-8").count(), 3, "{}", one.2);
                }
            }
        }
    }
    assert_eq!(compared, 2 * 4 * 3 * 2);
}

/// The column-type rules point at the column's definition, not at its `CREATE TABLE`: the
/// finding's line is the column's line in JSON and SARIF, and the text report underlines it.
/// A table named like the column and the column's name in an earlier `REFERENCES` are not
/// taken for it; in an `ALTER TABLE` the finding is on the `ADD COLUMN` clause's line.
#[test]
fn column_type_findings_are_on_the_line_of_the_column() {
    let tmp = tempfile::tempdir().unwrap();
    for (code, column) in [
        ("SG401", "code int PRIMARY KEY"),
        ("SG402", "code serial"),
        ("SG403", "code varchar(20)"),
        ("SG404", "code char(2)"),
        ("SG405", "code timestamp"),
        ("SG406", "code json"),
    ] {
        let file = tmp.path().join(format!("1_{code}.up.sql"));
        std::fs::write(
            &file,
            format!(
                "CREATE TABLE code (\n  name text NOT NULL,\n  parent bigint REFERENCES \
                 code (code),\n  {column},\n  note text\n);\n\
                 ALTER TABLE code\n  ADD COLUMN extra text,\n  ADD COLUMN {};\n",
                column.replacen("code", "later", 1)
            ),
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let output = stagegate(tmp.path(), &["lint", "--format", "json", path]);
        let report = json(&output);
        let lines: Vec<(u64, u64)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == code)
            .map(|f| (f["line"].as_u64().unwrap(), f["column"].as_u64().unwrap()))
            .collect();
        assert_eq!(lines, [(4, 3), (9, 3)], "{code}: {}", output.stdout);

        let sarif = stagegate(tmp.path(), &["lint", "--format", "sarif", path]);
        let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
        let starts: Vec<Option<u64>> = sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["ruleId"] == code)
            .map(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64())
            .collect();
        assert_eq!(starts, [Some(4), Some(9)], "{code}");

        let text = stagegate(tmp.path(), &["lint", path]);
        let underline = format!("4 |   {column},\n  |   {}\n", "^".repeat(column.len()));
        assert!(text.stdout.contains(&underline), "{code}: {}", text.stdout);
    }
}

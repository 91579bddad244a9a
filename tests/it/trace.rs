//! `stagegate trace`: the real binary traces migrations on a scratch database on the real
//! PostgreSQL and reports the locks, rewrites and disagreements with the lock model.

use serde_json::Value;

use crate::support::project::{Output, Project, assert_exit};

/// Runs `trace --shadow <the project's database> <args...>` and checks that nothing was left
/// on the server: no scratch database (nor its saved copy), nothing in the shadow database.
fn trace(project: &Project, args: &[&str]) -> Output {
    let url = project.db.database_url();
    let mut all = vec!["trace", "--shadow", url.expose()];
    all.extend_from_slice(args);
    let output = project
        .command()
        .env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL")
        .args(&all)
        .output()
        .unwrap();
    let out = Output::from(output);
    assert_nothing_left(project, &out);
    out
}

#[track_caller]
fn assert_nothing_left(project: &Project, out: &Output) {
    let name = out
        .stderr
        .split("scratch database ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    if let Some(name) = name {
        let left = project.scalar(&format!(
            "SELECT count(*) FROM pg_database WHERE datname IN ('{name}', '{name}_saved')"
        ));
        assert_eq!(left.as_deref(), Some("0"), "{name} left\n{}", out.stderr);
    }
    let objects = project.scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
    );
    assert_eq!(
        objects.as_deref(),
        Some("0"),
        "the shadow database was changed"
    );
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout))
}

/// The statements of the traced migration `index`.
fn statements(report: &Value, index: usize) -> Vec<Value> {
    report["migrations"][index]["statements"]
        .as_array()
        .unwrap()
        .clone()
}

/// The modes seen on `relation` by a statement.
fn modes(statement: &Value, relation: &str) -> Vec<String> {
    statement["locks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["relation"] == relation)
        .map(|l| l["mode"].as_str().unwrap().to_string())
        .collect()
}

fn rewritten(statement: &Value) -> Vec<String> {
    statement["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relation"].as_str().unwrap().to_string())
        .collect()
}

fn disagreements(statement: &Value) -> Vec<String> {
    statement["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

fn project() -> Project {
    let project = Project::new("");
    project.write(
        "0001_create_accounts.sql",
        "CREATE TABLE accounts (id int PRIMARY KEY, name varchar(50), note text);\n\
         INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 100) g;\n",
    );
    project.write(
        "0002_widen.sql",
        "ALTER TABLE accounts ALTER COLUMN id TYPE bigint;\n\
         ALTER TABLE accounts ALTER COLUMN name TYPE text;\n",
    );
    project.write(
        "0003_index_name.sql",
        "-- stagegate:no-transaction\nCREATE INDEX CONCURRENTLY accounts_name ON accounts (name);\n",
    );
    project
}

#[test]
fn int_to_bigint_rewrites_under_access_exclusive_and_varchar_to_text_does_not() {
    let project = project();
    let out = trace(&project, &["--format", "json", "migrations/0002_widen.sql"]);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["version"], 1);
    // Only 0002 is traced; 0001 (its table) was applied first.
    assert_eq!(report["migrations"].as_array().unwrap().len(), 1);
    assert_eq!(report["migrations"][0]["version"], "0002");
    assert!(
        out.stderr.contains("applying 0001_create_accounts"),
        "{}",
        out.stderr
    );
    let statements = statements(&report, 0);
    assert_eq!(statements.len(), 2);
    let bigint = &statements[0];
    assert_eq!(bigint["line"], 1);
    // ACCESS EXCLUSIVE, and the SHARE lock of rebuilding its primary key index (the index is
    // made anew, so only the table's relfilenode changes).
    assert_eq!(modes(bigint, "accounts"), ["SHARE", "ACCESS_EXCLUSIVE"]);
    assert_eq!(rewritten(bigint), ["accounts"]);
    assert!(
        disagreements(bigint).is_empty(),
        "{:?}",
        disagreements(bigint)
    );
    let text = &statements[1];
    assert_eq!(text["line"], 2);
    assert!(rewritten(text).is_empty(), "{:?}", rewritten(text));
    // The lock was taken by the first statement already; the second holds it too.
    let held: Vec<&str> = text["held"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["relation"] == "accounts")
        .map(|l| l["mode"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["SHARE", "ACCESS_EXCLUSIVE"]);
    assert!(modes(text, "accounts").is_empty(), "{text}");
    assert!(disagreements(text).is_empty(), "{:?}", disagreements(text));
    assert!(statements.iter().all(|s| s["ms"].as_f64().unwrap() >= 0.0));
}

#[test]
fn create_index_concurrently_holds_share_update_exclusive_only() {
    let project = project();
    let out = trace(
        &project,
        &["--format", "json", "migrations/0003_index_name.sql"],
    );
    assert_exit(&out, 0);
    let report = json(&out);
    let migration = &report["migrations"][0];
    assert_eq!(migration["no_transaction"], true);
    let statements = statements(&report, 0);
    assert_eq!(statements.len(), 1);
    let index = &statements[0];
    assert_eq!(index["observed"], "sampled");
    assert_eq!(modes(index, "accounts"), ["SHARE_UPDATE_EXCLUSIVE"]);
    // The index being built is locked too, but nobody else can see it yet.
    for lock in index["locks"].as_array().unwrap() {
        if lock["relation"] == "accounts_name" {
            assert_eq!(lock["new"], true, "{lock}");
            continue;
        }
        let mode = lock["mode"].as_str().unwrap();
        assert!(
            matches!(
                mode,
                "ACCESS_SHARE" | "ROW_SHARE" | "ROW_EXCLUSIVE" | "SHARE_UPDATE_EXCLUSIVE"
            ),
            "{lock}"
        );
    }
    assert!(rewritten(index).is_empty());
    assert!(
        disagreements(index).is_empty(),
        "{:?}",
        disagreements(index)
    );
}

#[test]
fn every_migration_is_traced_on_top_of_the_earlier_ones_in_text_and_markdown() {
    let project = project();
    let out = trace(&project, &[]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("0001_create_accounts (in one transaction, rolled back)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("0003_index_name (no-transaction"),
        "{}",
        out.stdout
    );
    let widen = out
        .stdout
        .lines()
        .find(|l| l.contains("ALTER TABLE accounts ALTER COLUMN id TYPE bigint"))
        .unwrap();
    assert!(widen.contains("accounts ACCESS EXCLUSIVE"), "{widen}");
    assert!(widen.contains("accounts_pkey ACCESS EXCLUSIVE"), "{widen}");
    let index = out
        .stdout
        .lines()
        .find(|l| l.contains("CREATE INDEX CONCURRENTLY"))
        .unwrap();
    assert!(index.contains("accounts SHARE UPDATE EXCLUSIVE"), "{index}");
    assert!(index.contains("(sampled)"), "{index}");
    assert!(
        out.stdout.contains("3 migration(s), 5 statement(s) traced"),
        "{}",
        out.stdout
    );

    let out = trace(&project, &["--format", "markdown", "migrations"]);
    assert_exit(&out, 0);
    assert!(out.stdout.starts_with("# Lock trace\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("| line | statement | locks taken | rewrites | ms | lint vs trace |")
    );
    assert!(
        out.stdout.contains(
            "| 1 | `ALTER TABLE accounts ALTER COLUMN id TYPE bigint;` | accounts ACCESS EXCLUSIVE"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn where_lint_and_the_trace_disagree_the_output_says_so() {
    let project = Project::new("");
    project.write(
        "0001_t.sql",
        "CREATE TABLE t (id int, c int);\nCREATE TABLE u (id int);\n",
    );
    // `EXECUTE` of text built at run time is unknown to the lock model; int -> numeric
    // looks like a target that may be binary-coercible to a model without the old type, but
    // rewrites.
    project.write(
        "0002_t.sql",
        "DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'u'); END $$;\n\
         ALTER TABLE t ALTER COLUMN c TYPE numeric;\n",
    );
    let out = trace(&project, &["--format", "json", "migrations/0002_t.sql"]);
    assert_exit(&out, 0);
    let report = json(&out);
    let statements = statements(&report, 0);
    assert_eq!(
        disagreements(&statements[0]),
        ["trace saw ACCESS EXCLUSIVE on u that lint did not predict"]
    );
    assert_eq!(
        disagreements(&statements[1]),
        ["trace saw a rewrite of t that lint did not predict"]
    );
    assert_eq!(report["disagreements"], 2);
    let out = trace(&project, &["migrations/0002_t.sql"]);
    assert!(
        out.stdout
            .contains("! trace saw ACCESS EXCLUSIVE on u that lint did not predict"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_failing_statement_is_reported_and_the_later_migrations_are_not_traced() {
    let project = Project::new("");
    project.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    project.write(
        "0002_b.sql",
        "ALTER TABLE a ADD COLUMN b int;\nALTER TABLE missing ADD COLUMN c int;\n",
    );
    project.write("0003_c.sql", "ALTER TABLE a ADD COLUMN c int;\n");
    let out = trace(&project, &["--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    let error = report["migrations"][1]["error"].as_str().unwrap();
    assert!(
        error.contains("relation \"missing\" does not exist"),
        "{error}"
    );
    assert!(error.contains("line 2"), "{error}");
    assert!(
        report["stopped"]
            .as_str()
            .unwrap()
            .contains("0002_b failed while traced")
    );
    assert_eq!(report["migrations"].as_array().unwrap().len(), 2);
}

#[test]
fn a_path_that_is_no_up_script_is_a_usage_error() {
    let project = project();
    std::fs::write(project.dir.path().join("notes.txt"), "x").unwrap();
    let out = trace(&project, &["notes.txt"]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("notes.txt"), "{}", out.stderr);
    let out = trace(&project, &["migrations/0009_nothing.sql"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("no such file or directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_shadow_a_throwaway_cluster_is_traced_on() {
    let project = project();
    let output = project
        .command()
        .env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL")
        .args(["trace", "--format", "json", "migrations/0002_widen.sql"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("starting a throwaway PostgreSQL"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let statements = statements(&report, 0);
    assert_eq!(
        modes(&statements[0], "accounts"),
        ["SHARE", "ACCESS_EXCLUSIVE"]
    );
    assert!(rewritten(&statements[0]).contains(&"accounts".to_string()));
}

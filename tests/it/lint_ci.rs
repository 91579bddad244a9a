//! `stagegate lint` in CI: which tables are new (released and unreleased migrations, from
//! `[lint] released`, `--changed-since` against a real git repository, `--env` against a real
//! PostgreSQL), edited history, and the CI formats.

use std::path::Path;

use assert_cmd::Command;

use crate::support::project::{Output, Project, stagegate_in};
use crate::support::tools::git;

fn stagegate(dir: &Path, args: &[&str]) -> Output {
    let output = stagegate_in(dir)
        .env_remove("GITHUB_ACTIONS")
        .args(args)
        .output()
        .unwrap();
    Output::from(output)
}

const FIRST: &str = "1_create_orders.up.sql";
const SECOND: &str = "2_create_notes.up.sql";
const THIRD: &str = "3_index_orders.up.sql";

/// The three migrations of the issue: the third indexes the table the first creates.
fn write_three(dir: &Path, which: &[&str]) {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for name in which {
        let sql = match *name {
            FIRST => "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint);\n",
            SECOND => "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
            _ => "CREATE INDEX orders_customer ON orders (customer);\n",
        };
        std::fs::write(migrations.join(name), sql).unwrap();
    }
}

/// A repository whose commit `base` holds `at_base`; the rest of the three are added after.
fn repository(at_base: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    std::fs::write(tmp.path().join("README"), "project\n").unwrap();
    write_three(tmp.path(), at_base);
    git(tmp.path(), &["add", "."]);
    git(tmp.path(), &["commit", "-q", "-m", "base"]);
    git(tmp.path(), &["tag", "base"]);
    write_three(tmp.path(), &[FIRST, SECOND, THIRD]);
    tmp
}

#[test]
fn an_index_on_a_table_of_an_earlier_migration_is_an_error_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    write_three(tmp.path(), &[FIRST, SECOND, THIRD]);
    let output = stagegate(tmp.path(), &["lint", "migrations"]);
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("error[SG101]"), "{}", output.stdout);
    assert!(output.stdout.contains(THIRD), "{}", output.stdout);
    // Within one file a new table stays new.
    let one = tmp.path().join("one.sql");
    std::fs::write(
        &one,
        "CREATE TABLE fresh (a int);\nCREATE INDEX fresh_a ON fresh (a);\n",
    )
    .unwrap();
    let output = stagegate(tmp.path(), &["lint", one.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{}", output.stdout);
}

#[test]
fn released_version_in_config_marks_later_migrations_unreleased() {
    let tmp = tempfile::tempdir().unwrap();
    write_three(tmp.path(), &[FIRST, SECOND, THIRD]);
    let toml = tmp.path().join("stagegate.toml");
    std::fs::write(&toml, "[lint]\nreleased = \"0\"\n").unwrap();
    let output = stagegate(tmp.path(), &["lint", "migrations"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    std::fs::write(&toml, "[lint]\nreleased = \"1\"\n").unwrap();
    let output = stagegate(tmp.path(), &["lint", "migrations"]);
    assert_eq!(output.code, 1, "{}", output.stdout);
    assert!(output.stdout.contains("error[SG101]"), "{}", output.stdout);
    std::fs::write(&toml, "[lint]\nreleased = \"one\"\n").unwrap();
    let output = stagegate(tmp.path(), &["lint", "migrations"]);
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains("[lint] released = `one`"),
        "{}",
        output.stderr
    );
}

#[test]
fn changed_since_knows_which_tables_are_new() {
    // Both the first and the third are new since the ref: quiet.
    let tmp = repository(&[]);
    let output = stagegate(
        tmp.path(),
        &["lint", "--changed-since", "base", "migrations"],
    );
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("in 3 files"),
        "every added file is reported: {}",
        output.stdout
    );

    // The first existed at the ref: it is released, and the index on its table is an error;
    // the first itself is not reported.
    let tmp = repository(&[FIRST]);
    let output = stagegate(
        tmp.path(),
        &[
            "lint",
            "--changed-since",
            "base",
            "--format",
            "json",
            "migrations",
        ],
    );
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["summary"]["files"], 2, "{}", output.stdout);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["path"].as_str().unwrap().ends_with(THIRD)),
        "{}",
        output.stdout
    );
    assert!(findings.iter().any(|f| f["code"] == "SG101"));
}

#[test]
fn an_edited_migration_that_existed_at_the_ref_is_an_error() {
    let tmp = repository(&[FIRST, SECOND]);
    let second = tmp.path().join("migrations").join(SECOND);
    // Line endings alone do not count.
    std::fs::write(
        &second,
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\r\n",
    )
    .unwrap();
    let args = ["lint", "--changed-since", "base", "migrations"];
    let output = stagegate(tmp.path(), &args);
    assert!(!output.stdout.contains("SG510"), "{}", output.stdout);
    assert!(output.stdout.contains("in 1 file "), "{}", output.stdout);

    std::fs::write(
        &second,
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text, author text);\n",
    )
    .unwrap();
    let output = stagegate(tmp.path(), &args);
    assert_eq!(output.code, 1, "{}", output.stdout);
    assert!(
        output
            .stdout
            .contains("error[SG510]: this migration existed at `base`"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains(SECOND), "{}", output.stdout);
    assert!(!output.stdout.contains(FIRST), "{}", output.stdout);
}

#[test]
fn a_ref_missing_from_the_clone_names_fetch_depth() {
    let tmp = repository(&[FIRST]);
    let output = stagegate(
        tmp.path(),
        &["lint", "--changed-since", "origin/main", "migrations"],
    );
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert_eq!(output.stdout, "");
    assert!(
        output.stderr.contains("fetch-depth: 0"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("`origin/main`"), "{}", output.stderr);

    let plain = tempfile::tempdir().unwrap();
    write_three(plain.path(), &[FIRST]);
    let output = stagegate(
        plain.path(),
        &["lint", "--changed-since", "main", "migrations"],
    );
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("not inside a git repository"),
        "{}",
        output.stderr
    );
}

/// `--env`: a migration that has run there is released; the others are new.
#[test]
fn env_state_says_which_migrations_are_released() {
    let project = Project::new("");
    project.write(
        FIRST,
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint);\n",
    );
    let lint = || project.run(&["lint", "--env", "staging"]);
    project.write(
        SECOND,
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
    );
    project.write(
        THIRD,
        "CREATE INDEX orders_customer ON orders (customer);\n",
    );
    // Nothing has run on staging yet.
    let before = lint();
    assert_eq!(before.code, 0, "{}{}", before.stdout, before.stderr);

    std::fs::remove_file(project.migrations().join(SECOND)).unwrap();
    std::fs::remove_file(project.migrations().join(THIRD)).unwrap();
    let applied = project.apply();
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    project.write(
        SECOND,
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
    );
    project.write(
        THIRD,
        "CREATE INDEX orders_customer ON orders (customer);\n",
    );
    let after = lint();
    assert_eq!(after.code, 1, "{}{}", after.stdout, after.stderr);
    assert!(after.stdout.contains("error[SG101]"), "{}", after.stdout);
}

#[test]
fn an_unreachable_env_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_three(tmp.path(), &[FIRST]);
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        "[environments.staging]\nurl = \"postgres://postgres@127.0.0.1:1/none?connect_timeout=2\"\n",
    )
    .unwrap();
    let output = stagegate(tmp.path(), &["lint", "--env", "staging", "migrations"]);
    assert_eq!(output.code, 4, "{}", output.stderr);
    assert_eq!(output.stdout, "");
    assert!(
        output
            .stderr
            .contains("reading which migrations have run on `staging`"),
        "{}",
        output.stderr
    );
}

/// Every CI format on the real binary: stdout holds the report alone, the exit code follows
/// the findings.
#[test]
fn ci_formats_render_the_unsafe_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = "fixtures/unsafe/20240101000000_index_orders.up.sql";
    let run = |format: &str| {
        let output = stagegate(root, &["lint", "--format", format, file]);
        assert_eq!(output.code, 1, "{format}: {}", output.stderr);
        output.stdout
    };
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "SG101");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        file
    );
    let github = run("github");
    assert!(
        github.starts_with(&format!("::error file={file},line=")),
        "{github}"
    );
    let gitlab: Vec<serde_json::Value> = serde_json::from_str(&run("gitlab")).unwrap();
    assert_eq!(gitlab[0]["location"]["path"], file);
    let markdown = run("markdown");
    assert!(markdown.starts_with("## stagegate lint\n"), "{markdown}");
    assert!(markdown.contains(&format!("### `{file}`")), "{markdown}");
}

/// In GitHub Actions the default text report carries annotations too; an explicit
/// `--format text` does not.
#[test]
fn text_in_github_actions_also_annotates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = "fixtures/unsafe/20240101000000_index_orders.up.sql";
    let run = |args: &[&str]| {
        let output = Command::cargo_bin("stagegate")
            .unwrap()
            .current_dir(root)
            .env_remove("STAGEGATE_CONFIG")
            .env("NO_COLOR", "1")
            .env("GITHUB_ACTIONS", "true")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let default = run(&["lint", file]);
    assert!(default.contains("error[SG101]"), "{default}");
    assert!(default.contains("\n::error file="), "{default}");
    let text = run(&["lint", "--format", "text", file]);
    assert!(!text.contains("::error"), "{text}");
}

/// `verify --against REF` reads git only: edited, deleted and out-of-order history are
/// problems (exit 2), a change of line endings and a migration added in order are not.
#[test]
fn verify_against_a_ref_checks_the_history() {
    let tmp = repository(&[FIRST, SECOND]);
    let verify = || stagegate(tmp.path(), &["verify", "--against", "base"]);
    let migrations = tmp.path().join("migrations");
    // THIRD was added after the ref, in order.
    let output = verify();
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.ends_with("ok\n"), "{}", output.stdout);

    std::fs::write(
        migrations.join(SECOND),
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\r\n",
    )
    .unwrap();
    assert_eq!(verify().code, 0, "line endings are not an edit");

    std::fs::write(
        migrations.join(SECOND),
        "CREATE TABLE notes (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(migrations.join("0_early.up.sql"), "SELECT 1;\n").unwrap();
    std::fs::remove_file(migrations.join(FIRST)).unwrap();
    let output = verify();
    assert_eq!(output.code, 2, "{}", output.stderr);
    for expected in [
        &format!("{SECOND}: existed at `base` and was edited since"),
        "0_early.up.sql: added since `base` with version 0, older than 2",
        &format!("migrations/{FIRST}: existed at `base` and was deleted"),
        "3 problem(s)",
    ] {
        assert!(
            output.stderr.contains(expected) || output.stdout.contains(expected),
            "{expected}\n{}{}",
            output.stdout,
            output.stderr
        );
    }

    // A duplicate version is a problem with or without a ref.
    std::fs::write(migrations.join("3_again.up.sql"), "SELECT 1;\n").unwrap();
    let output = verify();
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains("duplicate version 3"),
        "{}",
        output.stderr
    );

    std::fs::remove_file(migrations.join("3_again.up.sql")).unwrap();
    let output = stagegate(tmp.path(), &["verify", "--against", "origin/main"]);
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains("fetch-depth: 0"),
        "{}",
        output.stderr
    );
}

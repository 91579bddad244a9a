//! The five teams' release playbooks (issue 24), each point with the real binary: CI output
//! that names files from the repository root, a directory without migrations that fails
//! instead of passing, and lint that knows the lock_timeout the runner sets.

use std::path::Path;

use assert_cmd::Command;

use crate::harness::TestDb;
use crate::lint_ci::git;
use crate::runner::{Output, assert_exit};

/// The binary in `dir`, with nothing from the caller's environment that changes its output.
fn stagegate(dir: &Path, args: &[&str]) -> Output {
    stagegate_with(dir, args, &[])
}

/// As [`stagegate`], with variables set.
fn stagegate_with(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let output = Command::cargo_bin("stagegate")
        .unwrap()
        .current_dir(dir)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env_remove("STAGEGATE_CONFIG")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const INDEX: &str = "CREATE INDEX orders_customer ON orders (customer);\n";

/// Every path a CI format names, wherever the command ran from and however the directory was
/// given, is the file's path from the repository root.
#[test]
fn ci_formats_name_files_from_the_repository_root() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    git(root, &["init", "-q"]);
    // A monorepo: the service's stagegate.toml sits below the repository root.
    write(&root.join("services/api/stagegate.toml"), "");
    write(&root.join("services/api/migrations/1_index.up.sql"), INDEX);
    let api = root.join("services/api");
    let absolute_dir = api.join("migrations").display().to_string();
    let expected = "services/api/migrations/1_index.up.sql";
    let runs: [(&Path, Vec<&str>); 4] = [
        (&api, vec![]),
        (&api, vec!["migrations"]),
        (&api, vec![absolute_dir.as_str()]),
        (root, vec!["--config", "services/api/stagegate.toml"]),
    ];
    for (cwd, extra) in runs {
        for format in ["json", "sarif", "github", "gitlab", "markdown", "text"] {
            let mut args = vec!["lint", "--format", format];
            args.extend(extra.iter().copied());
            let out = stagegate(cwd, &args);
            assert_exit(&out, 1);
            assert!(
                out.stdout.contains(expected),
                "{format} {extra:?} from {}: {}",
                cwd.display(),
                out.stdout
            );
            assert!(
                !out.stdout.contains(&root.display().to_string()),
                "{format} {extra:?}: an absolute path: {}",
                out.stdout
            );
            match format {
                "json" => {
                    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                    assert_eq!(json["findings"][0]["path"], expected);
                }
                "sarif" => {
                    let sarif: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                    assert_eq!(
                        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                            ["uri"],
                        expected
                    );
                }
                "gitlab" => {
                    let issues: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                    assert_eq!(issues[0]["location"]["path"], expected);
                }
                "github" => assert!(
                    out.stdout
                        .contains(&format!("::error file={expected},line=1")),
                    "{}",
                    out.stdout
                ),
                _ => {}
            }
        }
    }

    // Outside a git repository, paths are relative to the configuration's directory.
    let plain = tempfile::tempdir().unwrap();
    write(&plain.path().join("db/stagegate.toml"), "");
    write(&plain.path().join("db/migrations/1_index.up.sql"), INDEX);
    let out = stagegate(
        plain.path(),
        &["lint", "--format", "json", "--config", "db/stagegate.toml"],
    );
    assert_exit(&out, 1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["findings"][0]["path"], "migrations/1_index.up.sql");

    // A file outside both keeps the path it was given.
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("2_index.sql");
    write(&file, INDEX);
    let out = stagegate(
        plain.path(),
        &["lint", "--format", "json", file.to_str().unwrap()],
    );
    assert_exit(&out, 1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["findings"][0]["path"], file.display().to_string());
}

/// A directory lint can read nothing from fails (exit 2) and says what it holds instead,
/// in every format, so a CI job never goes green having checked nothing.
#[test]
fn a_directory_without_migrations_is_an_error_naming_what_it_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let migrations = tmp.path().join("migrations");
    // An Alembic project's versions and SQL files applied by hand, without versions.
    write(
        &migrations.join("1a2b3c_add_orders.py"),
        "revision = '1a2b3c'\n",
    );
    write(
        &migrations.join("4d5e6f_add_notes.py"),
        "revision = '4d5e6f'\n",
    );
    write(&migrations.join("add_feature.sql"), INDEX);
    write(&migrations.join("__pycache__/x.pyc"), "");
    for args in [
        vec!["lint"],
        vec!["lint", "migrations"],
        vec!["lint", "--format", "sarif"],
        vec!["lint", "--format", "gitlab", "migrations"],
    ] {
        let out = stagegate(tmp.path(), &args);
        assert_exit(&out, 2);
        assert!(
            out.stderr.contains(
                "migrations: no sqlx migration in this directory, so nothing was linted; it \
                 holds 2 `.py` files, 1 `.sql` file, 1 directory"
            ),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    // An empty directory says so.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("migrations")).unwrap();
    let out = stagegate(empty.path(), &["lint"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("it holds nothing (it is empty)"),
        "{}",
        out.stderr
    );
    // The hand-applied file itself, named, is linted whatever its name.
    let out = stagegate(tmp.path(), &["lint", "migrations/add_feature.sql"]);
    assert_exit(&out, 1);
    assert!(out.stdout.contains("SG101"), "{}", out.stdout);
}

/// SG116 (no lock_timeout) is quiet where the runner sets one: the environment named with
/// `--env`, or, without it, every configured environment.
#[test]
fn lint_knows_the_lock_timeout_the_runner_sets() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("migrations/1_add.up.sql"),
        "ALTER TABLE orders ADD COLUMN note text;\n",
    );
    let config = |text: &str| write(&tmp.path().join("stagegate.toml"), text);
    // `--env` reads which migrations ran there (none) and the catalog.
    let (staging, production) = (TestDb::create(), TestDb::create());
    let vars = [
        ("STAGING_URL", staging.database_url().expose().to_string()),
        (
            "PRODUCTION_URL",
            production.database_url().expose().to_string(),
        ),
    ];
    let fires = |args: &[&str]| {
        let mut all = vec!["lint", "--format", "json"];
        all.extend_from_slice(args);
        let out = stagegate_with(tmp.path(), &all, &vars);
        assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "SG116")
    };
    // No stagegate.toml: nothing sets a lock_timeout.
    assert!(fires(&[]));
    config(
        "[environments.staging]\nurl = \"${STAGING_URL}\"\nlock_timeout = \"3s\"\n\n\
         [environments.production]\nurl = \"${PRODUCTION_URL}\"\nlock_timeout = \"2s\"\n",
    );
    assert!(!fires(&[]));
    assert!(!fires(&["--env", "production"]));
    config(
        "[environments.staging]\nurl = \"${STAGING_URL}\"\n\n\
         [environments.production]\nurl = \"${PRODUCTION_URL}\"\nlock_timeout = \"2s\"\n",
    );
    // One environment runs it without a lock_timeout.
    assert!(fires(&[]));
    assert!(fires(&["--env", "staging"]));
    assert!(!fires(&["--env", "production"]));
}

/// `migrate status` without `--env` in a job that has only staging's secrets: production is
/// shown as not configured here and staging is read (exit 0); named with `--env`, the missing
/// variable is still an error (exit 2). A misspelled environment gets a suggestion.
#[test]
fn status_reads_the_environments_this_job_can_reach() {
    let project = crate::runner::Project::new(
        "\n[environments.production]\nurl = \"${SG_PLAYBOOK_UNSET_PRODUCTION_URL}\"\npromote_from = \"staging\"\nconfirm = true",
    );
    project.write("1_orders.up.sql", "CREATE TABLE orders (id int);\n");
    project.write("2_notes.up.sql", "CREATE TABLE notes (id int);\n");
    assert_exit(
        &project.run(&["migrate", "apply", "--env", "staging", "--to", "1"]),
        0,
    );

    let out = project.run(&["migrate", "status"]);
    assert_exit(&out, 0);
    let header = out.stdout.lines().find(|l| l.contains("version")).unwrap();
    assert!(
        header.contains("staging") && !header.contains("production"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "production: not configured here: variable SG_PLAYBOOK_UNSET_PRODUCTION_URL is not set"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("staging: 1 applied, 1 pending"),
        "{}",
        out.stdout
    );

    let json = project.run(&["migrate", "status", "--format", "json"]);
    assert_exit(&json, 0);
    let value = crate::json::assert_matches("status", &json);
    let environments = value["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 2);
    assert_eq!(environments[0]["name"], "staging");
    assert!(environments[0].get("configured").is_none());
    assert_eq!(environments[1]["name"], "production");
    assert_eq!(environments[1]["configured"], false);
    assert_eq!(environments[1]["reachable"], false);
    assert_eq!(
        value["migrations"][1]["environments"]["staging"]["state"],
        "pending"
    );
    assert!(
        value["migrations"][1]["environments"]
            .get("production")
            .is_none()
    );

    // Named, it must be configured.
    let named = project.run(&["migrate", "status", "--env", "production"]);
    assert_exit(&named, 2);
    assert!(
        named.stderr.contains(
            "environment `production`: variable SG_PLAYBOOK_UNSET_PRODUCTION_URL is not set"
        ),
        "{}",
        named.stderr
    );

    // A misspelled name, in any command that takes one.
    for args in [
        vec!["migrate", "status", "--env", "prodution"],
        vec!["migrate", "plan", "--env", "prodution"],
        vec!["migrate", "apply", "--env", "Production"],
    ] {
        let out = project.run(&args);
        assert_exit(&out, 2);
        assert!(
            out.stderr.contains("did you mean `production`?"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let far = project.run(&["migrate", "status", "--env", "qa"]);
    assert_exit(&far, 2);
    assert!(!far.stderr.contains("did you mean"), "{}", far.stderr);
    assert!(
        far.stderr.contains("configured: staging, production"),
        "{}",
        far.stderr
    );

    // With no environment readable here, there is nothing to show: exit 2, naming the variables.
    let mut cmd = project.command();
    cmd.env_remove("SG_TEST_TARGET_URL");
    let out = cmd.args(["migrate", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("no environment can be read here: staging: variable SG_TEST_TARGET_URL is not set; production: variable SG_PLAYBOOK_UNSET_PRODUCTION_URL is not set"),
        "{stderr}"
    );
}

/// `check-reversible` on a DROP COLUMN of a column that was not the last: its down adds the
/// column back at the end, which is the same table. A down that brings it back with another
/// type is a difference, described.
#[test]
fn check_reversible_takes_a_column_added_back_last_as_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let migrations = tmp.path().join("migrations");
    let files = [
        (
            "1_players.up.sql",
            "CREATE TABLE players (id bigint PRIMARY KEY, nickname text, rating integer NOT NULL DEFAULT 0);\n",
        ),
        ("1_players.down.sql", "DROP TABLE players;\n"),
        (
            "2_drop_nickname.up.sql",
            "ALTER TABLE players DROP COLUMN nickname;\n",
        ),
        (
            "2_drop_nickname.down.sql",
            "ALTER TABLE players ADD COLUMN nickname text;\n",
        ),
        (
            "3_drop_rating.up.sql",
            "ALTER TABLE players DROP COLUMN rating;\n",
        ),
        // Not the column it dropped: another type, no default.
        (
            "3_drop_rating.down.sql",
            "ALTER TABLE players ADD COLUMN rating bigint;\n",
        ),
    ];
    for (name, sql) in files {
        write(&migrations.join(name), sql);
    }
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = stagegate(
        tmp.path(),
        &["check-reversible", "--shadow", url.expose(), "migrations"],
    );
    assert_exit(&out, 1);
    let line = |label: &str| {
        out.stdout
            .lines()
            .find(|line| line.starts_with(&format!("{label}: ")))
            .unwrap_or_else(|| panic!("no line for {label}\n{}", out.stdout))
            .to_string()
    };
    assert!(
        line("2_drop_nickname").ends_with(": ok: the down script restores the schema"),
        "{}",
        out.stdout
    );
    assert!(
        line("3_drop_rating").ends_with(
            "changed: table public.players: left over `rating bigint`; missing `rating integer DEFAULT 0 NOT NULL`"
        ),
        "{}",
        out.stdout
    );
}

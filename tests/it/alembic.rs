//! Alembic projects, end to end: the real binary, the real Alembic and SQLAlchemy of the test
//! virtual environment (scripts/test-requirements.txt; a test fails if it is missing), and a
//! real PostgreSQL. The project is examples/alembic's backend/ (the workflow users copy, so
//! these tests keep it working): a backend/ directory as a team keeps it, with a branch, a
//! merge, `depends_on`, an enum, `autocommit_block()` with a concurrent index, a data
//! migration and a downgrade that is `pass`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::support::harness::TestDb;
use crate::support::project::{Output, assert_exit, query};
use crate::support::tools;

const VARS: [&str; 2] = ["SG_ALEMBIC_STAGING_URL", "SG_ALEMBIC_PROD_URL"];

/// A copy of examples/alembic's backend/ with a stagegate.toml of its own: two environments
/// that set lock_timeout, as examples/alembic's does (so SG116 stays quiet: the runner sets it).
struct Project {
    dir: tempfile::TempDir,
    staging: TestDb,
    production: TestDb,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Project {
    fn new() -> Project {
        Project::with_config("")
    }

    /// The project, with `extra` appended to its stagegate.toml.
    fn with_config(extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &tools::root().join("examples/alembic/backend"),
            &dir.path().join("backend"),
        );
        let python = tools::venv().join("bin/python");
        std::fs::write(
            dir.path().join("stagegate.toml"),
            format!(
                "[migrations]\ndir = \"backend\"\nlayout = \"alembic\"\n\n\
                 [alembic]\npython = \"{}\"\nurl_env = \"DATABASE_URL\"\n\n\
                 [environments.staging]\nurl = \"${{{}}}\"\nlock_timeout = \"3s\"\n\n\
                 [environments.production]\nurl = \"${{{}}}\"\npromote_from = \"staging\"\n\
                 lock_timeout = \"3s\"\nconfirm = true\n{extra}\n",
                python.display(),
                VARS[0],
                VARS[1]
            ),
        )
        .unwrap();
        Project {
            dir,
            staging: TestDb::create(),
            production: TestDb::create(),
        }
    }

    fn versions(&self) -> PathBuf {
        self.dir.path().join("backend/alembic/versions")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("stagegate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .env("STAGEGATE_LOCK_WAIT", "5s")
            .env(VARS[0], self.staging.database_url().expose())
            .env(VARS[1], self.production.database_url().expose());
        cmd
    }

    /// What the team's own `alembic` says or does with `db` (`current`, `upgrade heads`).
    fn alembic(&self, db: &TestDb, args: &[&str]) -> String {
        let out = std::process::Command::new(tools::venv().join("bin/alembic"))
            .args(args)
            .current_dir(self.dir.path().join("backend"))
            .env("DATABASE_URL", db.database_url().expose())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "alembic {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        Output::from(out)
    }
}

/// Alembic's version table of `db`.
fn heads(db: &TestDb) -> Vec<String> {
    query(
        db,
        "SELECT version_num FROM alembic_version ORDER BY version_num",
    )
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

fn columns(db: &TestDb, table: &str) -> Vec<String> {
    query(
        db,
        &format!(
            "SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
    )
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

#[test]
fn apply_runs_the_rendered_revisions_keeps_alembic_version_true_and_promotes_with_the_gates() {
    let project = Project::new();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(
        columns(&project.staging, "users"),
        ["id", "email", "created_at", "display_name"]
    );
    let index = query(
        &project.staging,
        "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = 'orders_created_at_idx'",
    );
    assert_eq!(index, [[Some("true".to_string())]]);
    // Alembic agrees: the one head is the newest revision.
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
    let current = project.alembic(&project.staging, &["current"]);
    assert!(current.contains("c81d4a07e5f3 (head)"), "{current}");
    // Every revision recorded with its file's checksum, in graph order.
    let recorded = query(
        &project.staging,
        "SELECT version FROM stagegate.migrations WHERE status = 'applied' ORDER BY started_at, version",
    );
    assert_eq!(recorded.len(), 6);

    // The same revisions run by Alembic itself leave the same version table.
    let by_alembic = TestDb::create();
    project.alembic(&by_alembic, &["upgrade", "heads"]);
    assert_eq!(heads(&by_alembic), heads(&project.staging));
    assert_eq!(
        columns(&by_alembic, "users"),
        columns(&project.staging, "users")
    );

    // Production: confirmation required, then the same revisions.
    let out = project.run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&out, 3);
    assert!(heads_exist(&project.production).is_empty());
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release 12",
    ]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.production), ["c81d4a07e5f3"]);
}

#[test]
fn a_revision_not_applied_on_staging_is_not_promoted_and_an_edited_applied_one_is_drift() {
    let project = Project::new();
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--to",
        "3c9d2e7a41b0",
    ]);
    assert_exit(&out, 0);
    // --to a revision on a branch applies it and what it follows, not the other branch.
    assert_eq!(heads(&project.staging), ["3c9d2e7a41b0"]);
    assert!(
        project
            .alembic(&project.staging, &["current"])
            .contains("3c9d2e7a41b0")
    );
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release 12",
    ]);
    assert_exit(&out, 3);
    assert!(out.stderr.contains("7b1f0c6d9e22"), "{}", out.stderr);
    assert!(
        out.stderr.contains("not applied on `staging`"),
        "{}",
        out.stderr
    );
    assert!(heads_exist(&project.production).is_empty());

    // The other branch is applied after it: not out of order (it does not precede 3c9d...).
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);

    let path = project
        .versions()
        .join("3c9d2e7a41b0_add_users_display_name.py");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sa.Text(), nullable=True", "sa.String(200), nullable=True");
    std::fs::write(&path, text).unwrap();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("3c9d2e7a41b0_add_users_display_name was applied with checksum"),
        "{}",
        out.stderr
    );
}

#[test]
fn sql_that_renders_differently_from_an_unchanged_file_is_told_apart_from_an_edit() {
    let project = Project::new();
    // A revision that takes a value from the application's code, as real ones do.
    std::fs::write(
        project.dir.path().join("backend/shop_settings.py"),
        "DEFAULT_CURRENCY = 'EUR'\n",
    )
    .unwrap();
    std::fs::write(
        project
            .versions()
            .join("0d1e2f3a4b5c_add_orders_currency.py"),
        "\"\"\"add orders.currency\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
         from shop_settings import DEFAULT_CURRENCY\n\n\
         revision = \"0d1e2f3a4b5c\"\ndown_revision = \"c81d4a07e5f3\"\n\n\n\
         def upgrade() -> None:\n    op.add_column(\"orders\", sa.Column(\"currency\", sa.Text(), \
         server_default=DEFAULT_CURRENCY))\n\n\n\
         def downgrade() -> None:\n    op.drop_column(\"orders\", \"currency\")\n",
    )
    .unwrap();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    let recorded = query(
        &project.staging,
        "SELECT rendered_checksum IS NOT NULL, rendered_by FROM stagegate.migrations \
         WHERE version = '0d1e2f3a4b5c'",
    );
    assert_eq!(recorded[0][0].as_deref(), Some("t"));
    assert!(
        recorded[0][1]
            .as_deref()
            .is_some_and(|by| by.starts_with("alembic 1.20.1, SQLAlchemy 2.1.9")),
        "{recorded:?}"
    );

    std::fs::write(
        project.dir.path().join("backend/shop_settings.py"),
        "DEFAULT_CURRENCY = 'USD'\n",
    )
    .unwrap();
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release 12",
    ]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("0d1e2f3a4b5c_add_orders_currency: the file is the one applied on `staging`, but it renders to other SQL"),
        "{}",
        out.stderr
    );
    assert!(heads_exist(&project.production).is_empty());
    // On staging it is no edit (no drift refusal), and it is said.
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert!(
        out.stderr.contains("0d1e2f3a4b5c_add_orders_currency: the file is unchanged since it was applied, but it renders to other SQL"),
        "{}",
        out.stderr
    );
}

#[test]
fn down_reverts_a_revision_with_its_rendered_downgrade_and_refuses_a_pass_downgrade() {
    let project = Project::new();
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--to",
        "3c9d2e7a41b0",
    ]);
    assert_exit(&out, 0);
    let out = project.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    // display_name holds no rows yet: the guard lets the DROP COLUMN through.
    assert_exit(&out, 0);
    assert_eq!(
        columns(&project.staging, "users"),
        ["id", "email", "created_at"]
    );
    assert_eq!(heads(&project.staging), ["9f8e7d6c5b4a"]);
    assert!(
        project
            .alembic(&project.staging, &["current"])
            .contains("9f8e7d6c5b4a")
    );

    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
    // The backfill's downgrade() is `pass`: no way back.
    let out = project.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 3);
    assert!(out.stderr.contains("c81d4a07e5f3"), "{}", out.stderr);
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
}

/// A `downgrade()` that raises when Alembic renders it (here the common `raise
/// NotImplementedError(...)` of a revision meant to be one-way): `migrate down` refuses it
/// naming the revision and the error, and `check-reversible` says why it has no down script,
/// instead of both reporting a plain missing down script.
#[test]
fn a_downgrade_that_raises_is_refused_by_down_and_check_reversible_with_its_error() {
    let project = Project::new();
    std::fs::write(
        project.versions().join("0d1e2f3a4b5c_users_note.py"),
        "\"\"\"users.note\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
         revision = \"0d1e2f3a4b5c\"\ndown_revision = \"c81d4a07e5f3\"\n\n\n\
         def upgrade() -> None:\n    op.add_column(\"users\", sa.Column(\"note\", sa.Text()))\n\n\n\
         def downgrade() -> None:\n    raise NotImplementedError(\"one-way: notes are kept\")\n",
    )
    .unwrap();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["0d1e2f3a4b5c"]);
    let out = project.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 3);
    let stderr = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        stderr.contains("0d1e2f3a4b5c")
            && stderr.contains("downgrade() could not be rendered to SQL")
            && stderr.contains("NotImplementedError: one-way: notes are kept (line 14:"),
        "{stderr}"
    );
    assert_eq!(heads(&project.staging), ["0d1e2f3a4b5c"]);
    assert_eq!(
        columns(&project.staging, "users"),
        ["id", "email", "created_at", "display_name", "note"]
    );

    let scratch = TestDb::create();
    let url = scratch.database_url();
    let out = project.run(&[
        "check-reversible",
        "--scratch",
        url.expose(),
        "--from",
        "0d1e2f3a4b5c",
    ]);
    assert_exit(&out, 1);
    let stdout = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        stdout.contains(
            "no down script: downgrade() could not be rendered to SQL (NotImplementedError: \
             one-way: notes are kept"
        ),
        "{stdout}"
    );
}

/// Alembic's version table of `db`, or nothing when it does not exist.
fn heads_exist(db: &TestDb) -> Vec<String> {
    query(
        db,
        "SELECT 1 FROM pg_tables WHERE tablename = 'alembic_version'",
    )
    .into_iter()
    .flat_map(|_| heads(db))
    .collect()
}

#[test]
fn lint_renders_every_revision_with_alembic_and_names_the_revision() {
    let project = Project::new();
    // Without lock_timeout in the environments, lint cannot count on the runner setting it:
    // SG116 (an error) shows the locks the rendered SQL takes.
    let config = project.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("lock_timeout = \"3s\"\n", "")).unwrap();
    let out = project.run(&["lint", "--format", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let text = report.to_string();
    // The concurrent index inside autocommit_block() is understood as outside a transaction,
    // and the finding points at the operation's line in the revision file.
    let findings = report["findings"].as_array().expect("findings");
    let finding = findings
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("7b1f0c6d9e22_index_orders_created_at.py")
        })
        .unwrap_or_else(|| panic!("the index revision is linted: {text}"));
    assert_eq!(finding["code"], "SG503", "{text}");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .starts_with("revision 7b1f0c6d9e22 (index_orders_created_at): "),
        "{text}"
    );
    assert_eq!(finding["line"], 24, "{text}");
    // The ALTER TABLE that Alembic renders for op.add_column is linted as SQL.
    assert!(
        text.contains(
            "revision 3c9d2e7a41b0 (add_users_display_name): ACCESS EXCLUSIVE lock on `users`"
        ),
        "{text}"
    );
    assert!(
        out.stderr.is_empty() || !out.stderr.contains("error"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hazard_in_a_revision_fails_lint_in_every_format_and_an_allow_comment_in_python_passes() {
    let project = Project::new();
    std::fs::write(
        project.versions().join("0d1e2f3a4b5c_index_users_created_at.py"),
        "\"\"\"index users.created_at\n\nRevision ID: 0d1e2f3a4b5c\nRevises: c81d4a07e5f3\n\
         Create Date: 2024-06-01 10:00:00\n\"\"\"\nfrom alembic import op\n\n\
         revision = \"0d1e2f3a4b5c\"\ndown_revision = \"c81d4a07e5f3\"\n\
         branch_labels = None\ndepends_on = None\n\n\n\
         def upgrade() -> None:\n    op.create_index(\"users_created_at_idx\", \"users\", [\"created_at\"])\n\n\n\
         def downgrade() -> None:\n    op.drop_index(\"users_created_at_idx\", table_name=\"users\")\n",
    )
    .unwrap();
    for format in ["text", "github", "sarif", "markdown", "gitlab"] {
        let out = project.run(&["lint", "--format", format]);
        assert_exit(&out, 1);
        assert!(
            out.stdout
                .contains("0d1e2f3a4b5c_index_users_created_at.py")
                && out
                    .stdout
                    .contains("revision 0d1e2f3a4b5c (index_users_created_at)"),
            "{format}: {}",
            out.stdout
        );
    }
    let github = project.run(&["lint", "--format", "github"]);
    assert!(
        github
            .stdout
            .contains("0d1e2f3a4b5c_index_users_created_at.py,line=16,"),
        "{}",
        github.stdout
    );
    // The allow written as a Python comment above the operation.
    let path = project
        .versions()
        .join("0d1e2f3a4b5c_index_users_created_at.py");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "    op.create_index(",
        "    # stagegate:allow SG101 -- users is tiny in every environment\n    op.create_index(",
    );
    std::fs::write(&path, text).unwrap();
    let out = project.run(&["lint", "--format", "text"]);
    assert_exit(&out, 0);
}

#[test]
fn a_revision_that_reads_the_database_is_an_error_naming_it() {
    let project = Project::new();
    std::fs::write(
        project.versions().join("0d1e2f3a4b5c_count_users.py"),
        "\"\"\"count users\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
         revision = \"0d1e2f3a4b5c\"\ndown_revision = \"c81d4a07e5f3\"\n\n\n\
         def upgrade() -> None:\n    rows = op.get_bind().execute(sa.text(\"SELECT count(*) FROM users\")).scalar()\n\
         \x20   op.execute(f\"COMMENT ON TABLE users IS '{rows} users'\")\n\n\n\
         def downgrade() -> None:\n    pass\n",
    )
    .unwrap();
    let out = project.run(&["lint"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("cannot be rendered offline")
            && out.stderr.contains("0d1e2f3a4b5c")
            && out.stderr.contains("0d1e2f3a4b5c_count_users.py"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_reports_a_missing_parent_a_cycle_a_duplicate_and_two_heads() {
    let project = Project::new();
    let out = project.run(&["verify"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("alembic layout, 6 migrations"),
        "{}",
        out.stdout
    );

    let write = |name: &str, id: &str, parent: &str| {
        std::fs::write(
            project.versions().join(name),
            format!(
                "revision = \"{id}\"\ndown_revision = {parent}\n\ndef upgrade():\n    pass\n\n\
                 def downgrade():\n    pass\n"
            ),
        )
        .unwrap();
    };
    write(
        "aaaa00000001_second_head.py",
        "aaaa00000001",
        "\"9f8e7d6c5b4a\"",
    );
    let out = project.run(&["verify"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("2 heads (c81d4a07e5f3, aaaa00000001)")
            || out.stderr.contains("2 heads (aaaa00000001, c81d4a07e5f3)"),
        "{}",
        out.stderr
    );

    write(
        "aaaa00000001_second_head.py",
        "aaaa00000001",
        "\"ffffffffffff\"",
    );
    let out = project.run(&["verify"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("revision aaaa00000001")
            && out
                .stderr
                .contains("its down_revision ffffffffffff is not in"),
        "{}",
        out.stderr
    );

    write("aaaa00000001_second_head.py", "1a2b3c4d5e6f", "None");
    let out = project.run(&["verify"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("duplicate revision id 1a2b3c4d5e6f"),
        "{}",
        out.stderr
    );

    std::fs::remove_file(project.versions().join("aaaa00000001_second_head.py")).unwrap();
    let first = project.versions().join("1a2b3c4d5e6f_create_users.py");
    let text = std::fs::read_to_string(&first).unwrap().replace(
        "down_revision: Union[str, Sequence[str], None] = None",
        "down_revision: Union[str, Sequence[str], None] = \"c81d4a07e5f3\"",
    );
    std::fs::write(&first, text).unwrap();
    let out = project.run(&["verify"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("the revision graph has a cycle: "),
        "{}",
        out.stderr
    );
}

/// Runs `stagegate <args>` in `dir`, which has no stagegate.toml above it.
fn stagegate_in(dir: &Path, args: &[&str]) -> Output {
    let out = Command::cargo_bin("stagegate")
        .unwrap()
        .current_dir(dir)
        .env_remove("STAGEGATE_CONFIG")
        .env_remove("VIRTUAL_ENV")
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Output::from(out)
}

/// examples/alembic's backend/ in a new directory, with the test virtual environment as its
/// `backend/.venv`, as a team keeps one.
fn backend_with_venv() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &tools::root().join("examples/alembic/backend"),
        &dir.path().join("backend"),
    );
    std::os::unix::fs::symlink(tools::venv(), dir.path().join("backend/.venv")).unwrap();
    dir
}

#[test]
fn init_finds_the_project_in_backend_and_names_it_its_python_and_its_url_variable() {
    let dir = backend_with_venv();
    let out = stagegate_in(dir.path(), &["init"]);
    assert_exit(&out, 0);
    for said in [
        "found an Alembic project: backend/alembic.ini, script_location backend/alembic, 6 \
         revision(s), 1 head(s)",
        "revisions are rendered offline with backend/.venv/bin/python (Alembic 1.20.1)",
        "env.py reads the database URL from $DATABASE_URL",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    assert!(
        out.stdout
            .contains("record its revisions (alembic_version) as applied"),
        "{}",
        out.stdout
    );
    let config = std::fs::read_to_string(dir.path().join("stagegate.toml")).unwrap();
    assert!(config.contains("\ndir = \"backend\"\n"), "{config}");
    assert!(config.contains("\nlayout = \"alembic\"\n"), "{config}");
    assert!(
        config.contains("\npython = \"backend/.venv/bin/python\"\n"),
        "{config}"
    );
    assert!(
        config.contains("\nurl_env = \"DATABASE_URL\"\n"),
        "{config}"
    );
    // The config it wrote works as it is: the revisions render and lint.
    let out = stagegate_in(dir.path(), &["lint", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("revision 7b1f0c6d9e22 (index_orders_created_at)"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_env_py_that_reads_the_url_from_alembic_ini_renders_out_of_the_box() {
    let dir = backend_with_venv();
    // Alembic's own template: the URL of alembic.ini, which holds the template's placeholder.
    let env_py = dir.path().join("backend/alembic/env.py");
    let text = std::fs::read_to_string(&env_py).unwrap().replace(
        "    url = os.environ[\"DATABASE_URL\"]\n",
        "    url = config.get_main_option(\"sqlalchemy.url\")\n",
    );
    assert!(!text.contains("os.environ"), "{text}");
    std::fs::write(&env_py, text).unwrap();
    let out = stagegate_in(dir.path(), &["init"]);
    assert_exit(&out, 0);
    assert!(
        out.stderr.contains(
            "env.py reads no URL variable and alembic.ini's sqlalchemy.url is not a PostgreSQL URL"
        ),
        "{}",
        out.stderr
    );
    let config = std::fs::read_to_string(dir.path().join("stagegate.toml")).unwrap();
    assert!(!config.contains("\nurl_env ="), "{config}");
    let out = stagegate_in(dir.path(), &["lint", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("revision 7b1f0c6d9e22 (index_orders_created_at)"),
        "{}",
        out.stdout
    );
}

#[test]
fn trace_check_reversible_and_report_work_on_the_rendered_revisions() {
    let project = Project::new();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = project.run(&["trace", "--shadow", url.expose(), "--format", "json"]);
    assert_exit(&out, 0);
    let trace: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let index = trace["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == "7b1f0c6d9e22")
        .unwrap_or_else(|| panic!("{trace}"));
    // The SQL Alembic rendered, outside a transaction, at the operation's line of the .py file.
    assert_eq!(index["no_transaction"], true, "{index}");
    let statement = &index["statements"][0];
    assert!(
        statement["sql"]
            .as_str()
            .unwrap()
            .starts_with("CREATE INDEX CONCURRENTLY orders_created_at_idx ON orders"),
        "{statement}"
    );
    assert_eq!(statement["line"], 24, "{statement}");

    let out = project.run(&[
        "check-reversible",
        "--shadow",
        url.expose(),
        "--format",
        "json",
    ]);
    // The backfill's downgrade() is `pass`: not reversible.
    assert_exit(&out, 1);
    let checked: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let statuses: Vec<(String, String)> = checked["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let status = |id: &str| {
        statuses
            .iter()
            .find(|(v, _)| v == id)
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("{id} in {statuses:?}"))
    };
    // Every downgrade rendered and run: the concurrent index's in autocommit too.
    assert_eq!(status("1a2b3c4d5e6f"), "ok");
    assert_eq!(status("7b1f0c6d9e22"), "ok");
    assert_eq!(status("3c9d2e7a41b0"), "ok");
    // A merge renders no SQL either way: its way back is Alembic's bookkeeping alone.
    assert_eq!(status("5e0a8b3f2d17"), "ok");
    assert_eq!(status("c81d4a07e5f3"), "empty-down");
    // --from takes a revision id.
    let out = project.run(&[
        "check-reversible",
        "--shadow",
        url.expose(),
        "--from",
        "5e0a8b3f2d17",
    ]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("1 of 2 checked migration(s)")
            && out.stdout.contains("4 applied before --from"),
        "{}",
        out.stdout
    );

    // report --since takes a revision id: the revisions after it in the graph's order.
    let out = project.run(&["report", "--since", "3c9d2e7a41b0", "--format", "json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let versions: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["5e0a8b3f2d17", "c81d4a07e5f3"]);
    let out = project.run(&["report", "--since", "ffffffffffff"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("--since ffffffffffff"),
        "{}",
        out.stderr
    );
}

/// A revision whose upgrade runs statements before, inside and after `autocommit_block()`,
/// the statement after it failing.
const AUTOCOMMIT_REVISION: &str = r#""""orders.note, indexed

Revision ID: d4e5f6a7b8c9
Revises: c81d4a07e5f3
Create Date: 2024-06-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "d4e5f6a7b8c9"
down_revision = "c81d4a07e5f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))
    with op.get_context().autocommit_block():
        op.create_index("orders_note_idx", "orders", ["note"], postgresql_concurrently=True)
    op.add_column("orders", sa.Column("note_checked", sa.Boolean(), nullable=True))
    op.execute("SELECT 1/0")


def downgrade() -> None:
    op.drop_column("orders", "note_checked")
    with op.get_context().autocommit_block():
        op.drop_index("orders_note_idx", table_name="orders", postgresql_concurrently=True)
    op.drop_column("orders", "note")
"#;

#[test]
fn only_the_statements_of_an_autocommit_block_run_outside_a_transaction() {
    let project = Project::new();
    let path = project
        .versions()
        .join("d4e5f6a7b8c9_orders_note_and_index.py");
    std::fs::write(&path, AUTOCOMMIT_REVISION).unwrap();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("d4e5f6a7b8c9_orders_note_and_index failed in the transaction block")
            && out.stderr.contains("division by zero"),
        "{}",
        out.stderr
    );
    // As Alembic runs it: what came before the block committed, the block's index built
    // outside any transaction, and what came after it rolled back as one transaction.
    let orders = columns(&project.staging, "orders");
    assert!(orders.contains(&"note".to_string()), "{orders:?}");
    assert!(!orders.contains(&"note_checked".to_string()), "{orders:?}");
    let index = query(
        &project.staging,
        "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = 'orders_note_idx'",
    );
    assert_eq!(index, [[Some("true".to_string())]]);
    // Not applied for Alembic either, and stagegate knows how far it got.
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
    let row = query(
        &project.staging,
        "SELECT status, statements_done::text FROM stagegate.migrations \
         WHERE version = 'd4e5f6a7b8c9'",
    );
    assert_eq!(
        row,
        [[Some("failed".to_string()), Some("4".to_string())]],
        "{row:?}"
    );

    // resolve names the failed revision by its id.
    let out = project.run(&[
        "migrate",
        "resolve",
        "--env",
        "staging",
        "d4e5f6a7b8c9",
        "--reason",
        "the division by zero is taken out of the revision",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("resolved the failed attempt of d4e5f6a7b8c9_orders_note_and_index"),
        "{}",
        out.stdout
    );
    // Fixed (the statements that ran are untouched), apply resumes after them.
    let text = AUTOCOMMIT_REVISION.replace("    op.execute(\"SELECT 1/0\")\n", "");
    std::fs::write(&path, text).unwrap();
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert!(columns(&project.staging, "orders").contains(&"note_checked".to_string()));
    assert_eq!(heads(&project.staging), ["d4e5f6a7b8c9"]);
    assert!(
        project
            .alembic(&project.staging, &["current"])
            .contains("d4e5f6a7b8c9 (head)")
    );

    // The downgrade the same way, back to where Alembic's own downgrade leaves it.
    let out = project.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 0);
    let orders = columns(&project.staging, "orders");
    assert!(
        !orders.contains(&"note".to_string()) && !orders.contains(&"note_checked".to_string()),
        "{orders:?}"
    );
    assert!(
        query(
            &project.staging,
            "SELECT 1 FROM pg_class WHERE relname = 'orders_note_idx'"
        )
        .is_empty()
    );
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
}

#[test]
fn down_reverts_a_merge_by_its_bookkeeping_and_takes_a_revision_id_for_to() {
    let project = Project::new();
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "staging",
        "--to",
        "5e0a8b3f2d17",
    ]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["5e0a8b3f2d17"]);
    let out = project.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 0);
    // Back to the two heads the merge joined, as `alembic downgrade -1` leaves them.
    assert_eq!(heads(&project.staging), ["3c9d2e7a41b0", "7b1f0c6d9e22"]);
    let current = project.alembic(&project.staging, &["current"]);
    assert!(
        current.contains("3c9d2e7a41b0") && current.contains("7b1f0c6d9e22"),
        "{current}"
    );
    // --to takes a revision id: down to the root, both branches reverted.
    let out = project.run(&[
        "migrate",
        "down",
        "--env",
        "staging",
        "--to",
        "9f8e7d6c5b4a",
    ]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["9f8e7d6c5b4a"]);
}

/// stagegate's record of `db`: (version, status), by version.
fn recorded(db: &TestDb) -> Vec<(String, String)> {
    query(
        db,
        "SELECT version, status FROM stagegate.migrations ORDER BY version",
    )
    .into_iter()
    .map(|row| (row[0].clone().unwrap(), row[1].clone().unwrap()))
    .collect()
}

#[test]
fn baseline_adopts_a_database_alembic_upgraded_from_its_alembic_version() {
    let project = Project::with_config("\n[environments.qa]\nurl = \"${SG_ALEMBIC_QA_URL}\"\n");
    // The team ran `alembic upgrade` on one branch: alembic_version holds its head.
    project.alembic(&project.staging, &["upgrade", "3c9d2e7a41b0"]);
    let out = project.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "adopted from alembic upgrade",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("baselined 3 migration(s) from alembic (public.alembic_version)"),
        "{}",
        out.stdout
    );
    // The head and what it follows; the other branch's revision stays pending, though it is
    // ranked before the head.
    let applied: Vec<String> = recorded(&project.staging)
        .into_iter()
        .map(|(version, _)| version)
        .collect();
    assert_eq!(applied, ["1a2b3c4d5e6f", "3c9d2e7a41b0", "9f8e7d6c5b4a"]);
    assert!(
        out.stdout
            .contains("pending    7b1f0c6d9e22_index_orders_created_at"),
        "{}",
        out.stdout
    );
    // From there stagegate applies the rest, and Alembic agrees.
    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.staging), ["c81d4a07e5f3"]);
    assert!(
        project
            .alembic(&project.staging, &["current"])
            .contains("c81d4a07e5f3 (head)")
    );
    assert_eq!(
        columns(&project.staging, "users"),
        ["id", "email", "created_at", "display_name"]
    );

    // A revision no file has: refused with its id, nothing recorded.
    query(
        &project.production,
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); \
         INSERT INTO alembic_version VALUES ('ffffffffffff')",
    );
    let baseline_production = |project: &Project| {
        project.run(&[
            "migrate",
            "baseline",
            "--env",
            "production",
            "--confirm",
            "production",
            "--reason",
            "adopted from alembic upgrade",
        ])
    };
    let out = baseline_production(&project);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("names revision ffffffffffff, which no revision file here has"),
        "{}",
        out.stderr
    );
    assert!(
        query(
            &project.production,
            "SELECT 1 FROM pg_namespace WHERE nspname = 'stagegate'"
        )
        .is_empty()
            || query(&project.production, "SELECT 1 FROM stagegate.migrations").is_empty()
    );

    // Two heads (both branches upgraded, not merged): every revision either follows.
    query(&project.production, "DROP TABLE alembic_version");
    project.alembic(&project.production, &["upgrade", "3c9d2e7a41b0"]);
    project.alembic(&project.production, &["upgrade", "7b1f0c6d9e22"]);
    assert_eq!(heads(&project.production), ["3c9d2e7a41b0", "7b1f0c6d9e22"]);
    let out = baseline_production(&project);
    assert_exit(&out, 0);
    let applied: Vec<String> = recorded(&project.production)
        .into_iter()
        .map(|(version, _)| version)
        .collect();
    assert_eq!(
        applied,
        [
            "1a2b3c4d5e6f",
            "3c9d2e7a41b0",
            "7b1f0c6d9e22",
            "9f8e7d6c5b4a"
        ]
    );

    // --to takes a revision id: it and the revisions it follows.
    let qa = TestDb::create();
    let out = project
        .command()
        .env("SG_ALEMBIC_QA_URL", qa.database_url().expose())
        .args([
            "migrate",
            "baseline",
            "--env",
            "qa",
            "--to",
            "3c9d2e7a41b0",
            "--reason",
            "restored from a dump at 3c9d2e7a41b0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let applied: Vec<String> = recorded(&qa).into_iter().map(|(v, _)| v).collect();
    assert_eq!(applied, ["1a2b3c4d5e6f", "3c9d2e7a41b0", "9f8e7d6c5b4a"]);
}

#[test]
fn production_gets_a_verified_backup_and_plan_shows_findings_at_the_revision_lines() {
    let project = Project::with_config("backup = { dir = \"backups/production\", keep = 2 }\n");
    // plan lints each revision's rendered SQL, at the operation's line of the .py file.
    let out = project.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&out, 0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let finding = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["version"] == "7b1f0c6d9e22")
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(finding["line"], 24, "{finding}");

    let out = project.run(&["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    let out = project.run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release 12",
    ]);
    assert_exit(&out, 0);
    assert_eq!(heads(&project.production), ["c81d4a07e5f3"]);
    // The backup was taken before the first revision ran, recorded and verifiable.
    let dumps: Vec<String> = std::fs::read_dir(project.dir.path().join("backups/production"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let out = project.run(&["backup", "list", "--env", "production"]);
    assert_exit(&out, 0);
    assert!(out.stdout.contains(&dumps[0]), "{}", out.stdout);
    let out = project.run(&["backup", "verify", "--env", "production"]);
    assert_exit(&out, 0);
    // The backup holds the database as it was before: no revision's table yet.
    let out = std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(
            project
                .dir
                .path()
                .join("backups/production")
                .join(&dumps[0]),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("TABLE public users"), "{listing}");
}

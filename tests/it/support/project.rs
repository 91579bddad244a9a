//! A project directory with one environment on a database of its own, the binary run in it,
//! and the few checks on its output that most tests share.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use tokio_postgres::SimpleQueryMessage;

use crate::support::harness::{TestDb, block_on, run_output};

/// The variable the test configs read the database URL from.
pub(crate) const URL_VAR: &str = "SG_TEST_TARGET_URL";

/// A project directory (stagegate.toml + migrations/) pointed at a scratch database.
pub(crate) struct Project {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    /// A finished run's exit code (-1 when a signal ended it) and its output as text.
    fn from(out: std::process::Output) -> Output {
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

impl Project {
    /// One environment, `staging`, with `extra` lines added to its table.
    pub(crate) fn new(extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        std::fs::write(
            dir.path().join("stagegate.toml"),
            format!("[environments.staging]\nurl = \"${{{URL_VAR}}}\"\n{extra}\n"),
        )
        .unwrap();
        Project {
            dir,
            db: TestDb::create(),
        }
    }

    pub(crate) fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    pub(crate) fn write(&self, name: &str, text: &str) {
        let path = self.migrations().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("stagegate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env("NO_COLOR", "1")
            .env("STAGEGATE_LOCK_WAIT", "5s")
            .env(URL_VAR, self.db.database_url().expose())
            // Bounded wherever it is run from (see `support::harness::run_output`).
            .timeout(crate::support::harness::DEADLINE);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let output = run_output(
            self.command().args(args),
            &format!("stagegate {}", args.join(" ")),
        );
        Output::from(output)
    }

    /// `stagegate ARGS` to run as a child process, with the same environment as
    /// [`Project::command`] and its output piped; wait for it with [`finish`].
    pub(crate) fn child(&self, args: &[&str]) -> std::process::Command {
        let template = self.command();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"));
        for (key, value) in template.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.current_dir(self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub(crate) fn apply(&self) -> Output {
        self.run(&["migrate", "apply", "--env", "staging"])
    }

    /// Runs `sql` (simple protocol) and returns the rows as text.
    pub(crate) fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query(&self.db, sql)
    }

    pub(crate) fn scalar(&self, sql: &str) -> Option<String> {
        self.query(sql).remove(0).remove(0)
    }
}

/// The binary in `dir`, with no configuration file named by the environment and no colour.
pub(crate) fn stagegate_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stagegate").unwrap();
    cmd.current_dir(dir)
        .env_remove("STAGEGATE_CONFIG")
        .env("NO_COLOR", "1");
    cmd
}

/// Waits for a child of [`Project::child`] to end (bounded: see [`crate::support::harness::DEADLINE`]).
#[track_caller]
pub(crate) fn finish(child: std::process::Child, what: &str) -> Output {
    let out = crate::support::harness::wait_output(child, what);
    Output::from(out)
}

pub(crate) fn query(db: &TestDb, sql: &str) -> Vec<Vec<Option<String>>> {
    let url = db.database_url();
    let sql = sql.to_string();
    block_on(async move {
        let client = stagegate::connect(&url).await.unwrap();
        let messages = client
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    })
}

#[track_caller]
pub(crate) fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.code, code,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

/// The tables of schema `public`, by name.
pub(crate) fn tables(project: &Project) -> Vec<String> {
    project
        .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect()
}

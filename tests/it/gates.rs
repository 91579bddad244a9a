//! The gates on the way to production, with three real databases: preview → staging →
//! production (and, on one environment, the promotion gate's refusal and the lint gate; the
//! backup gate is in backup.rs). Promotion reads the source's state live; confirmation is typed through a real
//! pseudo-terminal or given with `--confirm ENV --reason`; everything refused leaves the
//! target untouched.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

use crate::support::harness::{DEADLINE, TestDb, run_output};
use crate::support::project::{Output, Project, URL_VAR, assert_exit, query};

/// A project with three environments, each on a database of its own.
struct Chain {
    dir: tempfile::TempDir,
    preview: TestDb,
    staging: TestDb,
    production: TestDb,
}

const VARS: [&str; 3] = [
    "SG_GATE_PREVIEW_URL",
    "SG_GATE_STAGING_URL",
    "SG_GATE_PROD_URL",
];

impl Chain {
    /// `staging` and `production` get the extra lines given.
    fn new(staging: &str, production: &str) -> Chain {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        std::fs::write(
            dir.path().join("stagegate.toml"),
            format!(
                "[environments.preview]\nurl = \"${{{}}}\"\n\n\
                 [environments.staging]\nurl = \"${{{}}}\"\n{staging}\n\n\
                 [environments.production]\nurl = \"${{{}}}\"\n{production}\n",
                VARS[0], VARS[1], VARS[2]
            ),
        )
        .unwrap();
        Chain {
            dir,
            preview: TestDb::create(),
            staging: TestDb::create(),
            production: TestDb::create(),
        }
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("migrations").join(name), text).unwrap();
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join("migrations").join(name)).unwrap();
    }

    fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("stagegate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env("NO_COLOR", "1")
            .env("STAGEGATE_LOCK_WAIT", "5s")
            .env(VARS[0], self.preview.database_url().expose())
            .env(VARS[1], self.staging.database_url().expose())
            .env(VARS[2], self.production.database_url().expose())
            .timeout(DEADLINE);
        cmd
    }

    fn run_with(&self, cmd: &mut Command, args: &[&str]) -> Output {
        let out = run_output(cmd.args(args), &format!("stagegate {}", args.join(" ")));
        Output::from(out)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(&mut self.command(), args)
    }

    fn apply(&self, env: &str, extra: &[&str]) -> Output {
        let mut args = vec!["migrate", "apply", "--env", env];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn tables(db: &TestDb) -> Vec<String> {
        query(
            db,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect()
    }

    /// Applied versions recorded in `db` (none when the state schema is not there).
    fn applied(db: &TestDb) -> Vec<String> {
        query(
            db,
            "SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM \
             (SELECT version FROM stagegate.migrations WHERE status = 'applied') m \
             WHERE to_regclass('stagegate.migrations') IS NOT NULL",
        )
        .into_iter()
        .flat_map(|row| row[0].clone())
        .filter(|s| !s.is_empty())
        .flat_map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect()
    }
}

fn state_exists(db: &TestDb) -> bool {
    query(db, "SELECT to_regclass('stagegate.migrations') IS NOT NULL")[0][0].as_deref()
        == Some("t")
}

#[test]
fn production_gets_only_what_staging_ran_with_the_same_checksums() {
    let c = Chain::new("", "promote_from = \"staging\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    c.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    c.write("3_c.up.sql", "CREATE TABLE c (id int);\nSELECT 1/0;\n");
    assert_exit(&c.apply("staging", &[]), 4);
    assert_eq!(Chain::applied(&c.staging), ["1", "2"]);
    // Since staging ran them: 1 got a down script, 2 was edited, 3 was fixed, 4 is new.
    c.write("1_a.down.sql", "DROP TABLE a;\n");
    c.write("2_b.up.sql", "CREATE TABLE b (id bigint);\n");
    c.write("3_c.up.sql", "CREATE TABLE c (id int);\n");
    c.write("4_d.up.sql", "CREATE TABLE d (id int);\n");

    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    for expected in [
        "promotion gate: promote_from = \"staging\": 4 of 4 pending migration(s) cannot be promoted",
        "1_a: different checksum than the one applied on `staging` (down none there, sha256:",
        "2_b: different checksum than the one applied on `staging` (up sha256:",
        "3_c: failed on `staging`",
        "4_d: not applied on `staging`",
        "there is no flag that skips this gate",
    ] {
        assert!(out.stderr.contains(expected), "{expected}\n{}", out.stderr);
    }
    assert!(Chain::tables(&c.production).is_empty());
    assert!(!state_exists(&c.production), "nothing was recorded either");
    // plan says the same, with the same exit code.
    let plan = c.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 3);
    assert!(
        plan.stdout
            .contains("promotion    refuse: promote_from = \"staging\""),
        "{}",
        plan.stdout
    );

    // What staging ran as it is now passes.
    c.remove("1_a.down.sql");
    let out = c.apply("production", &["--to", "1"]);
    assert_exit(&out, 0);
    assert_eq!(Chain::tables(&c.production), ["a"]);

    // Staging unreachable is a refusal that says so, never a pass.
    let mut cmd = c.command();
    cmd.env(
        VARS[1],
        "postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2",
    );
    c.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    let out = c.run_with(&mut cmd, &["migrate", "apply", "--env", "production"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("cannot read `staging`'s state")
            && out.stderr.contains("postgres://postgres:***@127.0.0.1:1/x"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"));
    assert_eq!(Chain::tables(&c.production), ["a"]);

    // staging's variable missing: a configuration error naming it (exit 2).
    let mut cmd = c.command();
    cmd.env_remove(VARS[1]);
    let out = c.run_with(&mut cmd, &["migrate", "apply", "--env", "production"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("`production` promotes from `staging`, whose state the promotion gate reads")
            && out.stderr.contains(VARS[1]),
        "{}",
        out.stderr
    );
}

#[test]
fn a_migration_reverted_on_staging_is_not_promoted() {
    let c = Chain::new("", "promote_from = \"staging\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    c.write("1_a.down.sql", "DROP TABLE a;\n");
    assert_exit(&c.apply("staging", &[]), 0);
    assert_exit(
        &c.run(&["migrate", "down", "--env", "staging", "--steps", "1"]),
        0,
    );
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("1_a: reverted on `staging`"),
        "{}",
        out.stderr
    );
    assert!(Chain::tables(&c.production).is_empty());
}

#[test]
fn each_environment_of_a_chain_checks_its_own_source_and_soaks() {
    let c = Chain::new(
        "promote_from = \"preview\"",
        "promote_from = \"staging\"\nmin_soak = \"30m\"",
    );
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = c.apply("staging", &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("1_a: not applied on `preview`"),
        "{}",
        out.stderr
    );
    assert_exit(&c.apply("preview", &[]), 0);
    // Production checks staging, not preview.
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("1_a: not applied on `staging`"),
        "{}",
        out.stderr
    );
    assert_exit(&c.apply("staging", &[]), 0);
    // Applied on staging a moment ago: nearly all of the 30 minutes of soak remain.
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("1_a: applied on `staging` ")
            && out.stderr.contains("min_soak is 30m 00s: ")
            && out.stderr.contains(" remaining"),
        "{}",
        out.stderr
    );
    assert!(Chain::tables(&c.production).is_empty());
}

#[test]
fn a_soak_that_has_passed_lets_the_migration_through() {
    let c = Chain::new("", "promote_from = \"staging\"\nmin_soak = \"1s\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    assert_exit(&c.apply("staging", &[]), 0);
    std::thread::sleep(Duration::from_millis(1500));
    let out = c.apply("production", &[]);
    assert_exit(&out, 0);
    assert_eq!(Chain::tables(&c.production), ["a"]);
}

#[test]
fn without_a_terminal_confirmation_takes_the_environment_name_and_a_reason() {
    let c = Chain::new("", "confirm = true");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    for (args, expected) in [
        (
            vec![],
            "`production` needs a confirmation: run on a terminal to type it, or pass --confirm production --reason",
        ),
        (
            vec!["--confirm", "staging", "--reason", "x"],
            "--confirm names `staging`, but the target is `production`",
        ),
        (
            vec!["--confirm", "production"],
            "--confirm production needs --reason",
        ),
        (
            vec!["--confirm", "production", "--reason", "  "],
            "--reason shows nothing",
        ),
        // Invisible characters say nothing either.
        (
            vec!["--confirm", "production", "--reason", "\u{200b}\u{200b}"],
            "--reason shows nothing",
        ),
        (
            vec!["--confirm", "production", "--reason", "\u{2800}"],
            "--reason shows nothing",
        ),
        (
            vec!["--confirm", "production", "--reason", " \u{180e} "],
            "--reason shows nothing",
        ),
    ] {
        let out = c.apply("production", &args);
        assert_exit(&out, 3);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert!(Chain::tables(&c.production).is_empty());
    }

    // A git repository, a CI run, and no USER in the environment: all of it is recorded.
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .current_dir(c.dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "migrations"]);
    let head = String::from_utf8(
        std::process::Command::new("git")
            .current_dir(c.dir.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let mut cmd = c.command();
    cmd.env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/shop")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_ACTOR", "octocat")
        .env("GITHUB_SHA", &head)
        // Not the host: the system's own name wins over the variable.
        .env("HOSTNAME", "not-this-host");
    let out = c.run_with(
        &mut cmd,
        &[
            "migrate",
            "apply",
            "--env",
            "production",
            "--confirm",
            "production",
            "--reason",
            "ship table a (JIRA-12)",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(Chain::tables(&c.production), ["a"]);
    let rows = query(
        &c.production,
        "SELECT detail, os_user FROM stagegate.events WHERE kind = 'confirmation'",
    );
    assert_eq!(rows.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(rows[0][0].as_deref().unwrap()).unwrap();
    assert_eq!(detail["reason"], "ship table a (JIRA-12)");
    assert_eq!(detail["method"], "flag");
    assert_eq!(detail["environment"], "production");
    assert_eq!(detail["migrations"], serde_json::json!(["1"]));
    let who = &detail["who"];
    assert!(
        who["os_user"].as_str().is_some_and(|u| !u.is_empty()),
        "{who}"
    );
    assert_eq!(rows[0][1].as_deref(), who["os_user"].as_str());
    // (Mutants in who.rs: `host` returning another name, or skipping the system's name for
    // `HOSTNAME`; `git_commit`'s `!s.is_empty()` with the `!` deleted, which calls a clean
    // checkout dirty.)
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(!host.trim().is_empty());
    assert_eq!(who["host"], host.trim(), "{who}");
    assert_eq!(who["git_commit"], head.as_str());
    assert!(who.get("git_dirty").is_none(), "a clean checkout: {who}");
    assert_eq!(who["ci"]["system"], "github-actions");
    assert_eq!(who["ci"]["repository"], "acme/shop");
    assert_eq!(who["ci"]["run_id"], "4242");
    assert_eq!(who["ci"]["actor"], "octocat");
    assert_eq!(who["ci"]["sha"], head.as_str());
    assert_exit(&c.run(&["audit", "--env", "production", "--verify"]), 0);
}

/// A phrase with a blank or a quote is shown as one shell word, so the `--confirm` command
/// the plan and the refusal give can be copied as it is, and it works. (Mutant:
/// deploy/confirm.rs `shell_word`'s `&&` made `||`, which leaves any non-empty phrase
/// unquoted.)
#[test]
fn in_ci_a_phrase_with_a_blank_or_a_quote_is_shown_quoted_for_the_shell() {
    let c = Chain::new("", "confirm = \"don't SHIP\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let quoted = r"--confirm 'don'\''t SHIP' --reason";
    let plan = c.run(&["migrate", "plan", "--env", "production"]);
    assert_exit(&plan, 0);
    assert!(plan.stdout.contains(quoted), "{}", plan.stdout);
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    assert!(out.stderr.contains(quoted), "{}", out.stderr);
    assert!(Chain::tables(&c.production).is_empty());
    // What the shell makes of the quoted word is the phrase.
    let out = c.apply("production", &["--confirm", "don't SHIP", "--reason", "x"]);
    assert_exit(&out, 0);
    assert_eq!(Chain::tables(&c.production), ["a"]);
}

#[test]
fn in_ci_the_confirm_flag_takes_exactly_the_configured_phrase() {
    let c = Chain::new("", "confirm = \"deploy-to-production\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    // The plan and the refusal name the phrase, as the prompt would.
    let plan = c.run(&["migrate", "plan", "--env", "production"]);
    assert!(
        plan.stdout
            .contains("--confirm deploy-to-production --reason"),
        "{}",
        plan.stdout
    );
    for (confirm, expected) in [
        (None, "or pass --confirm deploy-to-production --reason"),
        (
            Some("production"),
            "--confirm says `production`, but `production` is confirmed with `deploy-to-production`",
        ),
        (
            Some("Deploy-To-Production"),
            "--confirm says `Deploy-To-Production`",
        ),
        (Some("deploy-to-prod"), "--confirm says `deploy-to-prod`"),
        (Some(""), "--confirm says ``"),
    ] {
        let mut args = vec!["--reason", "release 42"];
        if let Some(confirm) = confirm {
            args.extend(["--confirm", confirm]);
        }
        let out = c.apply("production", &args);
        assert_exit(&out, 3);
        assert!(out.stderr.contains(expected), "{confirm:?}: {}", out.stderr);
        assert!(Chain::tables(&c.production).is_empty());
        assert!(Chain::applied(&c.production).is_empty());
    }
    // The phrase is what the workflow_dispatch input carries (surrounding blanks of a typed
    // input are ignored, as at the prompt).
    let out = c.apply(
        "production",
        &[
            "--confirm",
            " deploy-to-production ",
            "--reason",
            "release 42",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(Chain::tables(&c.production), ["a"]);
    let rows = query(
        &c.production,
        "SELECT detail FROM stagegate.events WHERE kind = 'confirmation'",
    );
    let detail: serde_json::Value = serde_json::from_str(rows[0][0].as_deref().unwrap()).unwrap();
    assert_eq!(detail["method"], "flag");
    assert_eq!(detail["reason"], "release 42");

    // Down and baseline take the same phrase.
    let down = c.run(&[
        "migrate",
        "down",
        "--env",
        "production",
        "--steps",
        "1",
        "--confirm",
        "production",
        "--reason",
        "x",
    ]);
    assert_exit(&down, 3);
    assert!(
        down.stderr.contains("--confirm says `production`"),
        "{}",
        down.stderr
    );
    let baseline = c.run(&[
        "migrate",
        "baseline",
        "--env",
        "production",
        "--to",
        "1",
        "--confirm",
        "production",
        "--reason",
        "x",
    ]);
    assert_exit(&baseline, 3);
    assert!(
        baseline.stderr.contains("--confirm says `production`"),
        "{}",
        baseline.stderr
    );
}

#[test]
fn apply_refuses_a_plan_that_changed_since_it_was_printed() {
    let c = Chain::new("", "");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let plan = c.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&plan, 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let hash = plan["hash"].as_str().unwrap().to_string();
    c.write("1_a.up.sql", "CREATE TABLE a (id bigint);\n");
    let out = c.apply("staging", &["--to", "1", "--plan-hash", &hash]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("the plan changed since it was reviewed")
            && out
                .stderr
                .contains("run `stagegate migrate plan --env staging --to 1` again"),
        "{}",
        out.stderr
    );
    assert!(Chain::tables(&c.staging).is_empty());
}

/// A child process on a pseudo-terminal, and what it has written so far.
pub(crate) struct Pty {
    child: std::process::Child,
    master: std::fs::File,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Pty {
    fn spawn(c: &Chain, args: &[&str]) -> Pty {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"));
        let template = c.command();
        for (key, value) in template.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.current_dir(c.dir.path()).args(args);
        Pty::spawn_command(cmd)
    }

    /// Runs `cmd` (program, arguments, environment and directory set) on a new terminal.
    pub(crate) fn spawn_command(mut cmd: std::process::Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two file descriptors into the integers given; the optional
        // name, termios and window size are null, which it accepts.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened by openpty and are owned here alone.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(master);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child has closed the terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Pty {
            child,
            master,
            seen,
        }
    }

    /// Waits (bounded) until the terminal shows `text`; fails showing what it does show.
    pub(crate) fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.seen.lock().unwrap().contains(text) {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "waited {} s for `{text}` on the terminal, which shows:\n{}",
                    DEADLINE.as_secs(),
                    self.seen.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn type_line(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
        self.master.write_all(b"\r").unwrap();
    }

    /// Ctrl-D: end of input at the start of a line.
    pub(crate) fn end_input(&mut self) {
        self.master.write_all(&[4]).unwrap();
    }

    /// Waits (bounded) for the child to end: one that still waits for input (a gate that let
    /// a wrong answer through and now asks for the reason) is killed, and the test fails
    /// showing the terminal.
    pub(crate) fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the child on the terminal did not end within {} s (still waiting for \
                     input?); the terminal shows:\n{}",
                    DEADLINE.as_secs(),
                    self.seen.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let seen = self.seen.lock().unwrap().clone();
        (status.code().unwrap_or(-1), seen)
    }
}

#[test]
fn on_a_terminal_the_plan_is_shown_then_the_phrase_and_a_reason_are_typed() {
    let c = Chain::new(
        "",
        "confirm = \"SHIP IT\"\nlock_timeout = \"2s\"\nbackup = { dir = \"backups\" }",
    );
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let confirmed = ["--confirm", "SHIP IT", "--reason", "table a first"];
    assert_exit(&c.apply("production", &confirmed), 0);
    // Two locks on `a`, the weaker first: the summary shows the stronger.
    c.write("2_a_idx.up.sql", "CREATE INDEX a_id ON a (id);\n");
    c.write("3_a_b.up.sql", "ALTER TABLE a ADD COLUMN b int;\n");
    let args = ["migrate", "apply", "--env", "production"];
    let column_b = || {
        query(
            &c.production,
            "SELECT count(*)::text FROM information_schema.columns \
             WHERE table_name = 'a' AND column_name = 'b'",
        )[0][0]
            .clone()
            .unwrap()
    };

    // A wrong phrase: nothing is applied.
    let mut pty = Pty::spawn(&c, &args);
    pty.wait_for("Type `SHIP IT` to apply 2 migration(s) on `production`: ");
    pty.type_line("production");
    let (code, seen) = pty.finish();
    assert_eq!(code, 3, "{seen}");
    assert!(
        seen.contains("`production` was typed, not `SHIP IT`"),
        "{seen}"
    );
    assert_eq!(column_b(), "0");

    // End of input at the reason: nothing is applied.
    let mut pty = Pty::spawn(&c, &args);
    pty.wait_for("Type `SHIP IT`");
    pty.type_line("SHIP IT");
    pty.wait_for("Reason (recorded in the event log): ");
    pty.end_input();
    let (code, seen) = pty.finish();
    assert_eq!(code, 3, "{seen}");
    assert!(
        seen.contains("no reason was given (end of input)"),
        "{seen}"
    );
    assert_eq!(column_b(), "0");

    // The plan first, then the phrase and a reason.
    let mut pty = Pty::spawn(&c, &args);
    pty.wait_for("Type `SHIP IT`");
    pty.type_line("SHIP IT");
    pty.wait_for("Reason (recorded in the event log): ");
    pty.type_line("new table a with its index");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    let prompt = seen.find("Type `SHIP IT`").unwrap();
    let plan = &seen[..prompt];
    // (Mutants in deploy/confirm.rs `summary` and `lock_rank`: the findings not filtered or
    // shown without their heading, the first lock per table kept instead of the strongest;
    // `backup_line` returning `None`, an empty or another line: where the backup goes not
    // shown.)
    for expected in [
        "About to apply 2 migration(s) on `production`:",
        "2 a_idx (transaction, 1 statement(s))",
        "3 a_b (transaction, 1 statement(s))",
        "Findings:",
        "  2 line 1: error SG101 ",
        "Locks (strongest per table):",
        "  a: ACCESS EXCLUSIVE (blocks ",
        "Backup: pg_dump into ",
        "backups, before the first statement",
    ] {
        assert!(plan.contains(expected), "{expected}:\n{seen}");
    }
    assert!(!plan.contains("a: SHARE"), "{seen}");
    assert_eq!(column_b(), "1");
    let detail = query(
        &c.production,
        "SELECT detail FROM stagegate.events WHERE kind = 'confirmation' ORDER BY id DESC LIMIT 1",
    );
    let detail: serde_json::Value = serde_json::from_str(detail[0][0].as_deref().unwrap()).unwrap();
    assert_eq!(detail["method"], "typed");
    assert_eq!(detail["reason"], "new table a with its index");
}

#[test]
fn on_a_terminal_a_file_name_cannot_hide_the_summary_or_the_prompt() {
    let c = Chain::new("", "confirm = true");
    c.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    // `ESC [8m` (conceal) would hide everything after it; `\r` and U+202E would rewrite it.
    c.write(
        "2_tidy_comments\x1b[8m.up.sql",
        "COMMENT ON TABLE users IS 'tidy \x1b[8m\r\u{202e}';\n",
    );
    let args = ["migrate", "apply", "--env", "production"];
    let mut pty = Pty::spawn(&c, &args);
    pty.wait_for("Type `production` to apply 2 migration(s) on `production`: ");
    pty.type_line("production\x1b[8m");
    let (code, seen) = pty.finish();
    assert_eq!(code, 3, "{seen}");
    // Nothing the files or the typed answer hold reaches the terminal raw (NO_COLOR is
    // set, so stagegate writes no escape of its own); the terminal's own echo of what was
    // typed is the one exception.
    let echoed = seen.replacen("production\x1b[8m", "", 1);
    assert!(
        !echoed.contains('\x1b') && !echoed.contains('\u{202e}'),
        "{seen:?}"
    );
    let prompt = seen.find("Type `production`").unwrap();
    assert!(
        seen[..prompt].contains("2 tidy_comments\\x1b[8m (transaction, 1 statement(s))"),
        "{seen}"
    );
    assert!(
        seen.contains("`production\\x1b[8m` was typed, not `production`"),
        "{seen}"
    );
    assert!(Chain::tables(&c.production).is_empty());
}

#[test]
fn a_typed_reason_must_show_something() {
    let c = Chain::new("", "confirm = true");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let mut pty = Pty::spawn(&c, &["migrate", "apply", "--env", "production"]);
    pty.wait_for("Type `production`");
    pty.type_line("production");
    pty.wait_for("Reason (recorded in the event log): ");
    pty.type_line("\u{200b}\u{2800}\u{180e}");
    let (code, seen) = pty.finish();
    assert_eq!(code, 3, "{seen}");
    assert!(seen.contains("the reason shows nothing"), "{seen}");
}

/// The typed phrase is compared exactly: `ship it` is not `SHIP IT`, at the prompt and in
/// `--confirm` alike. (Mutant this guards against: the comparison made case-insensitive,
/// `eq_ignore_ascii_case`, in deploy/confirm.rs.)
#[test]
fn the_confirmation_phrase_must_match_in_case_too() {
    let c = Chain::new("", "confirm = \"SHIP IT\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let mut pty = Pty::spawn(&c, &["migrate", "apply", "--env", "production"]);
    pty.wait_for("Type `SHIP IT` to apply 1 migration(s) on `production`: ");
    pty.type_line("ship it");
    let (code, seen) = pty.finish();
    assert_eq!(code, 3, "{seen}");
    assert!(
        seen.contains("`ship it` was typed, not `SHIP IT`"),
        "{seen}"
    );
    assert!(Chain::tables(&c.production).is_empty());

    // `--confirm` takes what the prompt asks for, in its own case too.
    for given in ["PRODUCTION", "ship it"] {
        let out = c.apply("production", &["--confirm", given, "--reason", "x"]);
        assert_exit(&out, 3);
        assert!(
            out.stderr.contains(&format!(
                "--confirm says `{given}`, but `production` is confirmed with `SHIP IT`"
            )),
            "{}",
            out.stderr
        );
        assert!(Chain::tables(&c.production).is_empty());
    }
}

/// A verify script edited (or added) since staging ran the migration is a different
/// migration. (Mutant: the verify checksum comparison in deploy/promote.rs disabled,
/// `if false && !same(verify…)`.)
#[test]
fn promotion_refuses_a_verify_script_that_is_not_the_one_staging_ran() {
    let c = Chain::new("", "promote_from = \"staging\"");
    c.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    c.write("1_a.verify.sql", "SELECT 1 FROM a LIMIT 0;\n");
    c.write("2_b.up.sql", "CREATE TABLE b (id int);\n");
    assert_exit(&c.apply("staging", &[]), 0);
    // 1's verify script edited; 2 gets one it did not have on staging.
    c.write("1_a.verify.sql", "SELECT 2 FROM a LIMIT 0;\n");
    c.write("2_b.verify.sql", "SELECT 1 FROM b LIMIT 0;\n");
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    for expected in [
        "1_a: different checksum than the one applied on `staging` (verify sha256:",
        "2_b: different checksum than the one applied on `staging` (verify none there, sha256:",
    ] {
        assert!(out.stderr.contains(expected), "{expected}\n{}", out.stderr);
    }
    assert!(Chain::tables(&c.production).is_empty());
    // The scripts staging ran pass.
    c.write("1_a.verify.sql", "SELECT 1 FROM a LIMIT 0;\n");
    c.remove("2_b.verify.sql");
    assert_exit(&c.apply("production", &[]), 0);
    assert_eq!(Chain::tables(&c.production), ["a", "b"]);
}

/// A migration still running on staging (here: its no-transaction script is half done and
/// sleeping) has not succeeded there. (Mutant: the `RowStatus::Running` arm of
/// deploy/promote.rs passing.)
#[test]
fn promotion_refuses_a_migration_still_running_on_staging() {
    let c = Chain::new("", "promote_from = \"staging\"");
    c.write(
        "1_a.up.sql",
        "-- stagegate:no-transaction\nCREATE TABLE a (id int);\nSELECT pg_sleep(60);\n",
    );
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"));
    for (key, value) in c.command().get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let staging = cmd
        .current_dir(c.dir.path())
        .args(["migrate", "apply", "--env", "staging"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while query(
        &c.staging,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()",
    )[0][0]
        .as_deref()
        != Some("1")
    {
        assert!(
            started.elapsed() < DEADLINE,
            "staging's apply never reached pg_sleep(60)"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let out = c.apply("production", &[]);
    // Ctrl-C ends staging's run (and cancels its sleep on the server) before any assertion.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &staging.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let staging = crate::support::harness::wait_output(staging, "staging's apply after SIGINT");
    assert_eq!(
        staging.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&staging.stderr)
    );
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("1_a: still running, or interrupted, on `staging` (not applied there)"),
        "{}",
        out.stderr
    );
    assert!(Chain::tables(&c.production).is_empty());
}

/// A migration whose no-transaction down stopped half way on staging is partly reverted there,
/// not applied. (Mutant: the `RowStatus::Reverting` arm of deploy/promote.rs passing.)
#[test]
fn promotion_refuses_a_migration_partly_reverted_on_staging() {
    let c = Chain::new("", "promote_from = \"staging\"");
    c.write(
        "1_a.up.sql",
        "CREATE TABLE a (id int);\nCREATE TABLE a2 (id int);\n",
    );
    c.write(
        "1_a.down.sql",
        "-- stagegate:no-transaction\nDROP TABLE a2;\nSELECT 1/0;\nDROP TABLE a;\n",
    );
    assert_exit(&c.apply("staging", &[]), 0);
    let out = c.run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&out, 4);
    assert_eq!(
        query(&c.staging, "SELECT status FROM stagegate.migrations")[0][0].as_deref(),
        Some("reverting")
    );
    let out = c.apply("production", &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("1_a: partly reverted on `staging` (not applied there)"),
        "{}",
        out.stderr
    );
    assert!(Chain::tables(&c.production).is_empty());
}

#[test]
fn promotion_gate_names_what_is_missing() {
    let p = Project::new("");
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        format!(
            "[environments.staging]\nurl = \"${{{URL_VAR}}}\"\n\
             [environments.production]\nurl = \"${{{URL_VAR}}}\"\npromote_from = \"staging\"\n"
        ),
    )
    .unwrap();
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("promotion gate: promote_from = \"staging\": 1 of 1 pending")
            && out.stderr.contains("1_a: not applied on `staging`"),
        "{}",
        out.stderr
    );
}

#[test]
fn lint_deny_refuses_error_findings_until_fixed_or_allowed() {
    let p = Project::new("lint = \"deny\"\nlock_timeout = \"2s\"");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);

    p.write("2_idx.up.sql", "CREATE INDEX t_id ON t (id);\n");
    let plan = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&plan, 3);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "SG101" && f["version"] == "2" && f["line"] == 1),
        "{findings:?}"
    );
    let locks = json["locks"].as_array().unwrap();
    assert!(
        locks
            .iter()
            .any(|l| l["table"] == "t" && l["lock"] == "SHARE" && l["effect"] == "scan"),
        "{locks:?}"
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("lint gate: lint = \"deny\": 1 error-level finding(s)")
            && out.stderr.contains("SG101 2 line 1"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 't_id'")
            .as_deref(),
        Some("0")
    );

    // An allow directive with a reason lets it through.
    p.write(
        "2_idx.up.sql",
        "-- stagegate:allow SG101 -- t holds a handful of rows\nCREATE INDEX t_id ON t (id);\n",
    );
    let out = p.apply();
    assert_exit(&out, 0);
    assert_eq!(
        p.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 't_id'")
            .as_deref(),
        Some("1")
    );
}

#[test]
fn lint_warn_shows_findings_and_applies() {
    let p = Project::new("lock_timeout = \"2s\"");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    assert_exit(&p.apply(), 0);
    p.write("2_drop.up.sql", "ALTER TABLE t DROP COLUMN id;\n");
    let plan = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&plan, 0);
    assert!(
        plan.stdout.contains("lint findings:") && plan.stdout.contains("SG"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("ACCESS EXCLUSIVE on t"),
        "{}",
        plan.stdout
    );
    // Apply shows the same error and warning findings on stderr before it runs.
    let shown: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("  2 line ") && !l.contains(": info "))
        .map(str::trim)
        .collect();
    assert!(!shown.is_empty(), "{}", plan.stdout);
    let out = p.apply();
    assert_exit(&out, 0);
    for finding in &shown {
        assert!(
            out.stderr.contains(&format!("warning: lint: {finding}")),
            "{finding}: {}",
            out.stderr
        );
    }
    let lint_at = out.stderr.find("lint: 2 line").unwrap();
    let run_at = out.stderr.find("2_drop").unwrap();
    assert!(
        lint_at < run_at,
        "findings come before the run: {}",
        out.stderr
    );

    // Nothing to say about a migration without findings.
    p.write("3_t2.up.sql", "CREATE TABLE t2 (id int);\n");
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(!out.stderr.contains("lint:"), "{}", out.stderr);
}

//! A pull request as an attacker writes it: links and special files among the migrations,
//! terminal escapes in file names and SQL, invisible reasons. The real binary, with a real
//! PostgreSQL where a command connects.

use std::path::Path;
use std::time::Duration;

use crate::support::project::{Output, Project, assert_exit};

/// What a link planted among the migrations points at: a file outside the repository.
const SECRET: &str = "CI_DEPLOY_TOKEN=hunter2-do-not-print";

/// No command waits longer than this (a named pipe read would block forever).
const DEADLINE: Duration = Duration::from_secs(120);

fn run(p: &Project, args: &[&str]) -> Output {
    let output = p.command().args(args).timeout(DEADLINE).output().unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A file outside the project holding [`SECRET`] as SQL would (so a linter that followed the
/// link would quote it).
fn outside_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{SECRET}\nDROP TABLE users;\n")).unwrap();
    file
}

#[track_caller]
fn assert_refused(out: &Output, named: &str, what: &str) {
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.contains("hunter2") && !all.contains("DROP TABLE users"),
        "a byte of the linked file reached the output:\n{all}"
    );
    assert!(
        out.stderr.contains(named)
            && out
                .stderr
                .contains(&format!("it is {what}, not a regular file")),
        "the refusal names {named} as {what}:\n{}",
        out.stderr
    );
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn a_linked_migration_is_refused_by_every_command_and_never_read() {
    let p = Project::new("");
    let outside = outside_file();
    p.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    symlink(outside.path(), &p.migrations().join("2_tidy.up.sql"));
    for args in [
        &["lint"][..],
        &["lint", "--format", "json"],
        &["lint", "--format", "sarif"],
        &["lint", "--format", "markdown"],
        &["lint", "migrations/2_tidy.up.sql"],
        &["verify"],
        &["report", "--env", "staging"],
        &["migrate", "plan", "--env", "staging"],
        &["migrate", "apply", "--env", "staging"],
    ] {
        let out = run(&p, args);
        assert_refused(&out, "2_tidy.up.sql", "a symbolic link");
    }
    // Nothing was applied: the refusal came before the first statement.
    assert_eq!(
        p.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'users'"),
        Some("0".to_string())
    );
}

#[test]
fn a_link_or_a_named_pipe_in_any_layout_is_refused() {
    let outside = outside_file();
    // diesel: a linked migration directory, and a linked up.sql in a real one.
    let p = Project::new("");
    let linked_dir = tempfile::tempdir().unwrap();
    std::fs::copy(outside.path(), linked_dir.path().join("up.sql")).unwrap();
    symlink(
        linked_dir.path(),
        &p.migrations().join("2024-01-02-000000_linked"),
    );
    p.write(
        "2024-01-01-000000_users/up.sql",
        "CREATE TABLE users (id int);\n",
    );
    let out = run(&p, &["lint", "--format", "json"]);
    assert_refused(&out, "2024-01-02-000000_linked", "a symbolic link");
    std::fs::remove_file(p.migrations().join("2024-01-02-000000_linked")).unwrap();
    symlink(
        outside.path(),
        &p.migrations().join("2024-01-02-000000_tidy/up.sql"),
    );
    let out = run(&p, &["lint"]);
    assert_refused(&out, "2024-01-02-000000_tidy/up.sql", "a symbolic link");

    // flyway, named by layout; and a named pipe, which would block a read forever.
    let p = Project::new("[migrations]\nlayout = \"flyway\"");
    p.write("V1__users.sql", "CREATE TABLE users (id int);\n");
    symlink(outside.path(), &p.migrations().join("V2__tidy.sql"));
    assert_refused(&run(&p, &["verify"]), "V2__tidy.sql", "a symbolic link");
    std::fs::remove_file(p.migrations().join("V2__tidy.sql")).unwrap();
    let fifo = std::ffi::CString::new(
        p.migrations()
            .join("V2__tidy.sql")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    assert_refused(&run(&p, &["lint"]), "V2__tidy.sql", "a named pipe");
    assert_refused(&run(&p, &["verify"]), "V2__tidy.sql", "a named pipe");
}

#[test]
fn a_linked_file_that_is_no_migration_is_skipped_unread() {
    let p = Project::new("");
    let outside = outside_file();
    p.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    symlink(outside.path(), &p.migrations().join("README.md"));
    let out = run(&p, &["lint"]);
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
}

#[test]
fn a_linked_config_is_refused() {
    let p = Project::new("");
    let outside = outside_file();
    std::fs::remove_file(p.dir.path().join("stagegate.toml")).unwrap();
    symlink(outside.path(), &p.dir.path().join("stagegate.toml"));
    let out = run(&p, &["lint"]);
    assert_refused(&out, "stagegate.toml", "a symbolic link");
}

/// The largest resident size of this test process's waited-for children, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the struct given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    // Linux reports kilobytes.
    u64::try_from(usage.ru_maxrss).unwrap() * 1024
}

/// One 50 MB statement (a data load): lint reads its head, says the rest was not read, and
/// stays under 300 MB (it took 1.6 GB when sqlparser read it whole).
#[test]
fn lint_of_one_50_mb_statement_stays_under_300_mb() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let mut sql = String::with_capacity(50_100_000);
    sql.push_str("INSERT INTO t (a, b) VALUES ");
    let mut i = 0u64;
    while sql.len() < 50_000_000 {
        use std::fmt::Write as _;
        let _ = write!(sql, "({i}, 'value {i}'), ");
        i += 1;
    }
    sql.push_str("(0, 'end');\n");
    std::fs::write(migrations.join("1_load.up.sql"), &sql).unwrap();
    drop(sql);
    for format in ["text", "json"] {
        let output = assert_cmd::Command::cargo_bin("stagegate")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env("NO_COLOR", "1")
            .args(["lint", "--format", format])
            .timeout(DEADLINE)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("a statement of 47.7 MiB, read only as far as its first 1.0 MiB"),
            "{}",
            &stdout[..stdout.len().min(2_000)]
        );
    }
    let peak = children_peak_rss();
    assert!(peak < 300 << 20, "lint peaked at {} MiB", peak >> 20);
}

/// Every plain-text report on stdout makes the control characters of what it quotes visible
/// (file names, directories, migration names, SQL, server messages), the same way the
/// terminal's messages and tables do: nothing a pull request names can hide or rewrite the
/// lines after it. The JSON outputs keep the exact text.
#[test]
fn reports_on_stdout_show_escapes_in_names_and_server_messages() {
    const ESC: &str = "\x1b[8m";
    const SHOWN: &str = "\\x1b[8m";
    // A migrations directory and a backup directory whose names hold the escape too.
    let p = Project::new(
        "backup = { dir = \"backups\\u001b[8m\", keep = 5 }\n\
         [migrations]\ndir = \"migrations\\u001b[8m\"",
    );
    let dir = p.dir.path().join(format!("migrations{ESC}"));
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    std::fs::create_dir(&dir).unwrap();
    write(
        &format!("1_users{ESC}.up.sql"),
        &format!("CREATE TABLE users (id int);\nCOMMENT ON TABLE users IS 'u{ESC}\r';\n"),
    );
    write(
        &format!("1_users{ESC}.down.sql"),
        &format!("COMMENT ON TABLE users IS 'gone{ESC}';\nDROP TABLE users;\n"),
    );
    write(
        "2_fails.up.sql",
        &format!("DO $$ BEGIN RAISE EXCEPTION E'boom{ESC}\\u202e hidden'; END $$;\n"),
    );
    let clean = |what: &str, out: &Output| {
        for text in [&out.stdout, &out.stderr] {
            assert!(
                !text.contains('\x1b') && !text.contains('\u{202e}') && !text.contains('\r'),
                "{what} wrote a control character raw:\n{text:?}"
            );
        }
    };
    let shows = |what: &str, out: &Output, expected: &str| {
        clean(what, out);
        assert!(
            out.stdout.contains(expected),
            "{what}: stdout shows no `{expected}`:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    };

    let verify = run(&p, &["verify"]);
    assert_exit(&verify, 0);
    shows("verify", &verify, &format!("migrations{SHOWN}"));

    let apply = run(&p, &["migrate", "apply", "--env", "staging", "--to", "1"]);
    assert_exit(&apply, 0);
    shows("apply", &apply, &format!("users{SHOWN}"));

    let failed = run(&p, &["migrate", "apply", "--env", "staging"]);
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    clean("a failed apply", &failed);
    assert!(
        failed
            .stderr
            .contains(&format!("boom{SHOWN}\\u{{202e}} hidden")),
        "{}",
        failed.stderr
    );

    for (args, expected) in [
        (&["migrate", "status"][..], "users"),
        (&["migrate", "plan", "--env", "staging"][..], "backups"),
    ] {
        let out = run(&p, args);
        shows(&args.join(" "), &out, &format!("{expected}{SHOWN}"));
    }

    let audit = run(&p, &["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 0);
    shows("audit", &audit, "verified");
    let json = run(&p, &["audit", "--env", "staging", "--format", "json"]);
    assert_exit(&json, 0);
    assert!(
        json.stdout.contains("boom\\u001b[8m\u{202e} hidden"),
        "JSON keeps the exact text, escaped as JSON escapes it:\n{}",
        json.stdout
    );

    let backup = run(&p, &["backup", "create", "--env", "staging"]);
    assert_exit(&backup, 0);
    shows("backup create", &backup, &format!("backups{SHOWN}"));
    let listed = run(&p, &["backup", "list", "--env", "staging"]);
    assert_exit(&listed, 0);
    clean("backup list", &listed);
    let checked = run(&p, &["backup", "verify", "--env", "staging"]);
    clean("backup verify", &checked);

    std::fs::remove_file(dir.join("2_fails.up.sql")).unwrap();
    let resolve = run(
        &p,
        &[
            "migrate",
            "resolve",
            "--env",
            "staging",
            "2",
            "--abandon",
            "--reason",
            "dropped",
        ],
    );
    assert_exit(&resolve, 0);
    let dry = run(
        &p,
        &[
            "migrate",
            "down",
            "--env",
            "staging",
            "--steps",
            "1",
            "--dry-run",
        ],
    );
    assert_exit(&dry, 0);
    shows("down --dry-run", &dry, &format!("1_users{SHOWN}"));
    assert!(
        dry.stdout.contains(&format!("'gone{SHOWN}'")),
        "{}",
        dry.stdout
    );
    let down = run(&p, &["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&down, 0);
    shows("down", &down, &format!("users{SHOWN}"));
}

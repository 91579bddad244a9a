//! The binary's command line: help, exit codes, init, new, verify.

use std::path::Path;

use crate::support::project::{Output, stagegate_in};
use crate::support::tools::fixture;

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = stagegate_in(dir).args(args).output().unwrap();
    Output::from(output)
}

/// A directory with a stagegate.toml whose migrations dir is `migrations`.
fn config_for(migrations: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toml::Value::String(migrations.display().to_string());
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        format!("[migrations]\ndir = {dir}\n"),
    )
    .unwrap();
    tmp
}

const SUBCOMMANDS: &[&str] = &[
    "lint",
    "rule",
    "verify",
    "migrate status",
    "migrate plan",
    "migrate apply",
    "migrate approve",
    "migrate down",
    "migrate resolve",
    "migrate rebind",
    "migrate replace-down",
    "audit",
    "backup create",
    "backup list",
    "backup verify",
    "report",
    "trace",
    "check-reversible",
    "init",
    "new",
    "completions",
];

#[test]
fn top_level_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("help", out.stdout);
}

#[test]
fn every_subcommand_has_help_that_explains_each_flag() {
    let dir = tempfile::tempdir().unwrap();
    for command in SUBCOMMANDS {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let out = run(dir.path(), &args);
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
        assert!(
            out.stdout.contains(&format!("Usage: stagegate {command}")),
            "{command}:\n{}",
            out.stdout
        );
        // Every option line has an explanation after it (clap prints undocumented flags bare).
        let mut lines = out.stdout.lines().peekable();
        while let Some(line) = lines.next() {
            let trimmed = line.trim_start();
            let bytes = trimmed.as_bytes();
            // clap starts an option at two or six columns; deeper lines are its wrapped help,
            // which may begin with a flag's name.
            let indent = line.len() - trimmed.len();
            let is_option = indent <= 6
                && (trimmed.starts_with("--")
                    || (bytes.len() > 2
                        && bytes[0] == b'-'
                        && bytes[1].is_ascii_alphabetic()
                        && matches!(bytes[2], b',' | b' ')));
            if is_option {
                let documented = trimmed.contains("  ")
                    || lines
                        .peek()
                        .is_some_and(|next| next.starts_with("          "));
                assert!(documented, "{command}: undocumented option `{trimmed}`");
            }
        }
        let snapshot = format!("help-{}", command.replace(' ', "-"));
        insta::assert_snapshot!(snapshot, out.stdout);
    }
}

#[test]
fn report_with_an_unknown_environment_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["report", "--env", "nowhere"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("nowhere"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["migrate", "down", "--env", "staging"]);
    assert_eq!(out.code, 2, "down needs --steps or --to");
    assert!(
        out.stderr.contains("--steps") && out.stderr.contains("--to"),
        "{}",
        out.stderr
    );
    assert_eq!(run(dir.path(), &["no-such-command"]).code, 2);
}

#[test]
fn broken_config_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stagegate.toml"),
        "[migrations]\ndir = \"m\"\nlayuot = \"sqlx\"\n",
    )
    .unwrap();
    let nested = dir.path().join("sub");
    std::fs::create_dir(&nested).unwrap();
    let out = run(&nested, &["verify"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("stagegate.toml"), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown field `layuot`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
}

#[test]
fn init_then_new_in_each_layout() {
    for (layout, expect_up, expect_down) in [
        ("sqlx", ".up.sql", Some(".down.sql")),
        (
            "flyway",
            "__add_orders_status.sql",
            Some("__add_orders_status.sql"),
        ),
        ("diesel", "up.sql", Some("down.sql")),
        ("dbmate", "_add_orders_status.sql", None),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &["init", "--layout", layout]);
        assert_eq!(out.code, 0, "{layout}: {}", out.stderr);
        let attributes = std::fs::read_to_string(dir.path().join(".gitattributes")).unwrap();
        assert!(attributes.contains("*.sql text eol=lf"));
        assert!(dir.path().join("migrations").is_dir());

        let out = run(dir.path(), &["new", "Add orders status"]);
        assert_eq!(out.code, 0, "{layout}: {}", out.stderr);
        let created: Vec<&str> = out.stdout.lines().collect();
        assert!(
            created[0].starts_with("created ") && created[0].ends_with(expect_up),
            "{layout}: {created:?}"
        );
        match expect_down {
            Some(down) => assert!(created[1].ends_with(down), "{layout}: {created:?}"),
            None => assert_eq!(
                created.len(),
                1,
                "{layout}: dbmate keeps both sections in one file"
            ),
        }

        // The new migration is found in the configured layout, and its placeholder up
        // script is reported (a warning) as empty until someone writes SQL into it.
        let out = run(dir.path(), &["verify"]);
        assert_eq!(out.code, 0, "{layout}: {}", out.stdout);
        assert!(
            out.stderr.contains("up script is empty"),
            "{layout}: {}",
            out.stderr
        );
        assert!(
            out.stdout
                .contains(&format!("{layout} layout, 1 migrations")),
            "{layout}: {}",
            out.stdout
        );
    }
}

#[test]
fn new_continues_a_numbered_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("0009_init.up.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    let out = run(dir.path(), &["new", "second", "--no-down"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        migrations.join("0010_second.sql").is_file(),
        "{}",
        out.stdout
    );
    let out = run(dir.path(), &["new", "third", "--layout", "flyway"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("holds sqlx migrations"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_accepts_every_fixture_layout() {
    for layout in [
        "sqlx",
        "sqlx-crlf",
        "golang-migrate",
        "flyway",
        "diesel",
        "dbmate",
        "dbmate-crlf",
    ] {
        let tmp = config_for(&fixture(layout));
        let out = run(tmp.path(), &["verify"]);
        assert_eq!(out.code, 0, "{layout}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.ends_with("ok\n"), "{layout}: {}", out.stdout);
    }
}

#[test]
fn verify_reports_each_bad_input_with_its_file() {
    for (bad, expected) in [
        ("duplicate-version", "duplicate version 0001"),
        (
            "down-without-up",
            "0002_create_orders.down.sql: down script without an up script",
        ),
        ("not-utf8", "0001_latin1.up.sql: not valid UTF-8"),
        (
            "allow-without-reason",
            "0001_drop_note.up.sql:1: `stagegate:allow SG301` has no reason",
        ),
        ("ambiguous", "more than one layout"),
    ] {
        let tmp = config_for(&fixture(&format!("bad/{bad}")));
        let out = run(tmp.path(), &["verify"]);
        assert_eq!(out.code, 2, "{bad}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{bad}: {}", out.stderr);
    }
    // An up script not written yet is a warning: apply refuses it, the set stays usable.
    let tmp = config_for(&fixture("bad/empty-up"));
    let out = run(tmp.path(), &["verify"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("warning: ")
            && out
                .stderr
                .contains("0002_placeholder.up.sql: up script is empty"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("2 migrations"), "{}", out.stdout);
    // A file that is not a migration of the layout would never run: an error naming it.
    let tmp = config_for(&fixture("bad/unknown-file"));
    let out = run(tmp.path(), &["verify"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("0002_create_orders.up.sq: skipped, not a sqlx migration"),
        "{}",
        out.stderr
    );
}

/// Copies a layout fixture into a temporary directory, to add files to it.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(&fixture(name), tmp.path());
    tmp
}

#[test]
fn verify_fails_when_the_files_are_not_of_the_configured_layout() {
    let migrations = copy_fixture("diesel");
    let tmp = config_for(migrations.path());
    let toml = std::fs::read_to_string(tmp.path().join("stagegate.toml")).unwrap();
    std::fs::write(
        tmp.path().join("stagegate.toml"),
        format!("{toml}layout = \"sqlx\"\n"),
    )
    .unwrap();
    let out = run(tmp.path(), &["verify"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("2024-01-05-093000_create_users: skipped, not a sqlx migration"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("no sqlx migrations found, but 4 entries were skipped")
            && out
                .stderr
                .contains("look like diesel migrations (4 of them)")
            && out.stderr.contains("layout = \"diesel\""),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("ok\n"), "{}", out.stdout);

    // More skipped entries than are shown end with a count.
    for n in 0..12 {
        std::fs::write(migrations.path().join(format!("junk{n:02}.sql")), "").unwrap();
    }
    let out = run(tmp.path(), &["verify"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("and 6 more skipped entries"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_accepts_the_files_runners_leave_next_to_migrations() {
    let migrations = copy_fixture("diesel");
    for name in [
        "README.md",
        ".keep",
        ".gitkeep",
        ".diesel_lock",
        "diesel.toml",
    ] {
        std::fs::write(migrations.path().join(name), "").unwrap();
    }
    let tmp = config_for(migrations.path());
    let out = run(tmp.path(), &["verify"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.ends_with("ok\n"), "{}", out.stdout);
    assert!(!out.stderr.contains("skipped"), "{}", out.stderr);
}

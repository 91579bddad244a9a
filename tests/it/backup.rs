//! `backup create|list|verify`, the backup gate of `migrate apply` and the backup status
//! line: the real binary, the real pg_dump and pg_restore, a real PostgreSQL.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use stagegate::Manifest;

use crate::support::harness::TestDb;
use crate::support::project::{Output, Project, URL_VAR, assert_exit, query, tables};

/// A project whose `staging` backs up into `backups/` with `extra` lines in its table, and
/// `tables` users (3 rows) and orders (2 rows).
fn project(extra: &str) -> Project {
    let p = Project::new(extra);
    p.query(
        "CREATE TABLE users (id int PRIMARY KEY, name text);
         INSERT INTO users VALUES (1, 'a'), (2, 'b'), (3, 'c');
         CREATE SCHEMA shop;
         CREATE TABLE shop.\"Orders\" (id int PRIMARY KEY);
         INSERT INTO shop.\"Orders\" VALUES (1), (2);",
    );
    p
}

fn run_with(p: &Project, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = p.command();
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let output = cmd.args(args).output().unwrap();
    Output::from(output)
}

fn create(p: &Project) -> Output {
    p.run(&["backup", "create", "--env", "staging"])
}

/// The `file:` line of `backup create`.
fn created_file(out: &Output) -> PathBuf {
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("file:"))
        .unwrap_or_else(|| panic!("no file line in\n{}", out.stdout));
    PathBuf::from(line.trim())
}

fn manifests(p: &Project) -> Vec<Manifest> {
    p.query("SELECT detail FROM stagegate.events WHERE kind = 'backup' ORDER BY id")
        .into_iter()
        .map(|row| serde_json::from_str(row[0].as_deref().unwrap()).unwrap())
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A real client program: the first on PATH.
fn real(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on PATH; the backup tests need the PostgreSQL client programs")
        })
}

/// A directory holding an executable `pg_dump` script with `body`, and the real pg_restore
/// beside it.
fn wrapper(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pg_dump");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(real("pg_restore"), dir.path().join("pg_restore")).unwrap();
    dir
}

fn toml_path(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

#[test]
fn backup_create_writes_a_private_archive_with_exact_counts_that_list_can_restore() {
    let p = project("backup = { dir = \"backups/staging\", keep = 5 }");
    let out = create(&p);
    assert_exit(&out, 0);
    let file = created_file(&out);
    let dir = p.dir.path().join("backups/staging");
    assert_eq!(file.parent().unwrap(), dir);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600, "archive mode");
    assert_eq!(mode(&dir), 0o700, "directory mode");
    assert_eq!(mode(&p.dir.path().join("backups")), 0o700);
    assert_eq!(
        files_in(&dir).len(),
        1,
        "no partial file left: {:?}",
        files_in(&dir)
    );

    let recorded = manifests(&p);
    assert_eq!(recorded.len(), 1);
    let manifest = &recorded[0];
    let (size, sha256) = stagegate::hash_file(&file).unwrap();
    assert_eq!(
        (manifest.size, manifest.sha256.as_str()),
        (size, sha256.as_str())
    );
    assert!(out.stdout.contains(&sha256), "{}", out.stdout);
    assert_eq!(manifest.file, file.file_name().unwrap().to_string_lossy());
    assert_eq!(manifest.why, "backup create");
    let server = p.scalar("SHOW server_version").unwrap();
    assert_eq!(
        Some(manifest.server_version.as_str()),
        server.split(' ').next()
    );
    let count = |schema: &str, table: &str| {
        manifest
            .tables
            .iter()
            .find(|t| t.schema == schema && t.table == table)
            .map(|t| t.rows)
    };
    assert_eq!(count("public", "users"), Some(3));
    assert_eq!(count("shop", "Orders"), Some(2));
    // The state schema's own tables are in the dump too, counted as they were in its snapshot.
    assert!(
        count("stagegate", "events").is_some(),
        "{:?}",
        manifest.tables
    );
    assert_eq!(
        p.scalar("SELECT name || ' ' || checksum FROM stagegate.events WHERE kind = 'backup'"),
        Some(format!("{} {sha256}", manifest.file))
    );

    let listed = std::process::Command::new(real("pg_restore"))
        .arg("--list")
        .arg(&file)
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("TABLE DATA shop Orders"));

    // The event log still verifies with backup events (no migration) in it.
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);

    // `backup list` shows it with a pg_restore command that restores it as printed.
    let list = p.run(&["backup", "list", "--env", "staging"]);
    assert_exit(&list, 0);
    assert!(list.stdout.contains(&manifest.file), "{}", list.stdout);
    assert!(
        list.stdout.contains("yes"),
        "present on disk: {}",
        list.stdout
    );
    let json = p.run(&["backup", "list", "--env", "staging", "--format", "json"]);
    assert_exit(&json, 0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["backups"][0]["sha256"], sha256.as_str());
    assert_eq!(value["backups"][0]["present"], true);
    let command = list
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| l.contains("pg_restore ") && l.contains(&manifest.file))
        .unwrap_or_else(|| panic!("no restore command in\n{}", list.stdout))
        .to_string();
    p.query("DROP TABLE users; DELETE FROM shop.\"Orders\" WHERE id = 1;");
    let restored = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM users"),
        Some("3".into())
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM shop.\"Orders\""),
        Some("2".into())
    );
    // The event log is restored with the rest: to the snapshot, before its own backup event.
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.events WHERE kind = 'backup'"),
        Some("0".into())
    );

    // The same command, pointed at a fresh database, restores it there.
    let fresh = TestDb::create();
    let elsewhere = command.replace(
        &format!("dbname={}", p.db.name),
        &format!("dbname={}", fresh.name),
    );
    assert_ne!(elsewhere, command);
    let restored = std::process::Command::new("sh")
        .arg("-c")
        .arg(&elsewhere)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        query(&fresh, "SELECT count(*)::text FROM users")[0][0],
        Some("3".into())
    );
}

/// The archive is the owner's to read and write (0600) whatever the umask: the file is
/// created with what the umask leaves of 0600 (here write only, which pg_restore and the hash
/// could not read as a user other than root), then set to 0600. (The mutant: `set_mode`
/// in backup/archive.rs returning `Ok(())` without setting the mode; under the usual umasks
/// the file is 0600 anyway.)
#[test]
fn backup_archive_is_0600_under_a_umask_that_takes_the_owners_read_bit() {
    let p = project("backup = { dir = \"backups\", keep = 5 }");
    let stagegate = p.child(&["backup", "create", "--env", "staging"]);
    let mut cmd = std::process::Command::new("sh");
    for (key, value) in stagegate.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.current_dir(p.dir.path())
        .arg("-c")
        .arg("umask 0477 && exec \"$0\" \"$@\"")
        .arg(stagegate.get_program())
        .args(stagegate.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = Output::from(crate::support::harness::wait_output(
        cmd.spawn().unwrap(),
        "stagegate backup create under umask 0477",
    ));
    assert_exit(&out, 0);
    let file = created_file(&out);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "archive mode of {}", file.display());
}

#[test]
fn backup_password_is_never_on_argv_and_lock_wait_follows_lock_timeout() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let bin = wrapper(&format!(
        "echo \"ARGV $0 $*\" >> {log}\nfor name in $(env | cut -d= -f1); do echo \"ENV $name\" >> {log}; done\n\
         echo \"CMDLINE $(tr '\\0' ' ' < /proc/$$/cmdline)\" >> {log}\nexec {real} \"$@\"",
        log = log.path().display(),
        real = real("pg_dump").display()
    ));
    let p = project(&format!(
        "lock_timeout = \"2s\"\nbackup = {{ dir = \"backups\", keep = 5 }}\n[backup]\npg_dump = {}",
        toml_path(&bin.path().join("pg_dump"))
    ));
    let password = "Sup3rSecretPw";
    let url =
        p.db.database_url()
            .expose()
            .replacen("postgres@", &format!("postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let out = run_with(
        &p,
        &["backup", "create", "--env", "staging"],
        &[(URL_VAR, &url)],
    );
    assert_exit(&out, 0);
    let list = run_with(
        &p,
        &["backup", "list", "--env", "staging"],
        &[(URL_VAR, &url)],
    );
    assert_exit(&list, 0);
    let recorded = std::fs::read_to_string(log.path()).unwrap();
    assert!(recorded.contains("ARGV "), "{recorded}");
    assert!(recorded.contains("--lock-wait-timeout=2000"), "{recorded}");
    assert!(recorded.contains("--snapshot="), "{recorded}");
    assert!(recorded.contains("ENV PGPASSFILE"), "{recorded}");
    assert!(!recorded.contains("ENV PGPASSWORD"), "{recorded}");
    for text in [
        &recorded,
        &out.stdout,
        &out.stderr,
        &list.stdout,
        &list.stderr,
    ] {
        assert!(!text.contains(password), "the password leaked:\n{text}");
    }
}

#[test]
fn backup_blocked_by_a_lock_fails_after_lock_timeout_and_leaves_no_file() {
    let p = project("lock_timeout = \"1s\"\nbackup = { dir = \"backups\", keep = 5 }");
    let mut holder = std::process::Command::new(real("psql"))
        .arg(p.db.database_url().expose())
        .args([
            "-c",
            "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while p.scalar(
        "SELECT count(*)::text FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted \
         AND relation = 'users'::regclass",
    ) != Some("1".into())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "psql never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = create(&p);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_exit(&out, 3);
    assert!(out.stderr.contains("pg_dump"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("longer than the environment's lock_timeout of 1s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("partial file was removed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        files_in(&p.dir.path().join("backups")),
        Vec::<String>::new()
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.events WHERE kind = 'backup'"),
        Some("0".into())
    );
}

#[test]
fn backup_refuses_a_missing_an_old_and_a_failing_pg_dump() {
    // Missing: the configured one is the only one considered, whatever PATH holds.
    let p = project(
        "backup = { dir = \"backups\", keep = 5 }\n[backup]\npg_dump = \"/nonexistent/pg_dump\"",
    );
    let out = run_with(
        &p,
        &["backup", "create", "--env", "staging"],
        &[("PATH", "/nonexistent")],
    );
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("/nonexistent/pg_dump: does not exist"),
        "{}",
        out.stderr
    );
    assert!(!p.dir.path().join("backups").exists());

    // Older than the server.
    let old = wrapper(&format!(
        "if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 9.6.24'; exit 0; fi\nexec {} \"$@\"",
        real("pg_dump").display()
    ));
    let program = old.path().join("pg_dump");
    let p = project(&format!(
        "backup = {{ dir = \"backups\", keep = 5 }}\n[backup]\npg_dump = {}",
        toml_path(&program)
    ));
    let out = create(&p);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains(&program.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("it is version 9.6.24, older than the server"),
        "{}",
        out.stderr
    );
    assert_eq!(
        files_in(&p.dir.path().join("backups")),
        Vec::<String>::new()
    );

    // Failing: the real pg_dump, asked for a table that does not exist.
    let failing = wrapper(&format!(
        "exec {} \"$@\" --strict-names --table=no_such_table",
        real("pg_dump").display()
    ));
    let program = failing.path().join("pg_dump");
    let p = project(&format!(
        "backup = {{ dir = \"backups\", keep = 5 }}\n[backup]\npg_dump = {}",
        toml_path(&program)
    ));
    let out = create(&p);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains(&format!("{} failed", program.display())),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no_such_table"), "{}", out.stderr);
    assert_eq!(
        files_in(&p.dir.path().join("backups")),
        Vec::<String>::new()
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.events WHERE kind = 'backup'"),
        Some("0".into())
    );
}

#[test]
fn backup_finds_pg_dump_in_the_versioned_directory_when_path_has_none() {
    let major = query(
        &TestDb::create(),
        "SELECT (current_setting('server_version_num')::int / 10000)::text",
    )[0][0]
        .clone()
        .unwrap();
    let versioned = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/pg_dump"));
    assert!(
        versioned.is_file(),
        "this test needs the Debian layout: {} is missing",
        versioned.display()
    );
    let p = project("backup = { dir = \"backups\", keep = 5 }");
    let empty = tempfile::tempdir().unwrap();
    let out = run_with(
        &p,
        &["backup", "create", "--env", "staging"],
        &[("PATH", &empty.path().display().to_string())],
    );
    assert_exit(&out, 0);
    assert_eq!(manifests(&p)[0].pg_dump, versioned);
}

#[test]
fn backup_configuration_is_required_and_named() {
    let p = project("");
    let out = create(&p);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("has no backup configured: add `backup = {"),
        "{}",
        out.stderr
    );
}

#[test]
fn backup_prune_keeps_the_newest_and_never_touches_foreign_files() {
    let p = project("backup = { dir = \"backups\", keep = 2 }");
    let dir = p.dir.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let foreign = [
        "nightly.dump",
        // stagegate's pattern, but not in this database's event log.
        "stagegate-staging-20200101T000000.000Z.dump",
    ];
    for name in foreign {
        std::fs::write(dir.join(name), "not ours").unwrap();
    }
    let mut made = Vec::new();
    for _ in 0..3 {
        let out = create(&p);
        assert_exit(&out, 0);
        made.push(
            created_file(&out)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    let mut expected: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
    expected.extend(made[1..].iter().cloned());
    expected.sort();
    assert_eq!(files_in(&dir), expected);
    for name in foreign {
        assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), "not ours");
    }
    let list = p.run(&["backup", "list", "--env", "staging"]);
    assert_exit(&list, 0);
    assert!(
        list.stdout.contains("missing"),
        "the pruned one: {}",
        list.stdout
    );
}

#[test]
fn backup_verify_checks_sha_contents_and_restored_row_counts() {
    let p = project("backup = { dir = \"backups\", keep = 5 }");
    let out = create(&p);
    assert_exit(&out, 0);
    let file = created_file(&out);

    let ok = p.run(&["backup", "verify", "--env", "staging"]);
    assert_exit(&ok, 0);
    assert!(ok.stdout.contains("verified"), "{}", ok.stdout);

    // Restored into a database of its own on the scratch server, every count matches; the
    // database the server's URL names is left alone, and stagegate's own is dropped.
    let server = TestDb::create();
    let restored = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        "--shadow",
        server.database_url().expose(),
    ]);
    assert_exit(&restored, 0);
    assert!(
        restored.stdout.contains("row counts of all"),
        "{}",
        restored.stdout
    );
    assert_eq!(
        query(
            &server,
            "SELECT count(*)::text FROM pg_class WHERE relname = 'Orders'"
        )[0][0],
        Some("0".into())
    );
    assert_eq!(
        query(
            &server,
            "SELECT count(*)::text FROM pg_database WHERE datname LIKE 'stagegate\\_backup\\_%'"
        )[0][0],
        Some("0".into())
    );

    // Named with --restore-into, an existing database is restored into as it is.
    let named = TestDb::create();
    let into = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        "--restore-into",
        named.database_url().expose(),
    ]);
    assert_exit(&into, 0);
    assert_eq!(
        query(&named, "SELECT count(*)::text FROM shop.\"Orders\"")[0][0],
        Some("2".into())
    );

    // Restored on top of a table that already holds rows, the counts differ.
    let dirty = TestDb::create();
    query(
        &dirty,
        "CREATE TABLE users (id int PRIMARY KEY, name text); INSERT INTO users VALUES (100, 'x'), (101, 'y');",
    );
    let mismatch = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        "--restore-into",
        dirty.database_url().expose(),
    ]);
    assert_exit(&mismatch, 3);
    assert!(
        mismatch
            .stderr
            .contains("users: 3 rows recorded, 5 after restore"),
        "{}",
        mismatch.stderr
    );

    // The environment's own database is never restored into.
    let own = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        "--restore-into",
        p.db.database_url().expose(),
    ]);
    assert_exit(&own, 2);

    // One byte changed.
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let tampered = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        file.to_str().unwrap(),
    ]);
    assert_exit(&tampered, 3);
    assert!(
        tampered.stderr.contains("sha256 mismatch"),
        "{}",
        tampered.stderr
    );

    // A file the log does not record.
    let stranger = p.dir.path().join("other.dump");
    std::fs::write(&stranger, "x").unwrap();
    let unknown = p.run(&[
        "backup",
        "verify",
        "--env",
        "staging",
        stranger.to_str().unwrap(),
    ]);
    assert_exit(&unknown, 2);
    assert!(
        unknown.stderr.contains("is not a backup recorded"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn backup_status_shows_gates_and_the_last_backup() {
    let p = project("confirm = true\nbackup = { dir = \"backups\", keep = 3 }");
    let before = p.run(&["migrate", "status"]);
    assert!(
        before
            .stdout
            .contains("staging: gated: confirm (type `staging`), backup to"),
        "{}",
        before.stdout
    );
    assert!(
        before.stdout.contains("no backup recorded"),
        "{}",
        before.stdout
    );
    assert_exit(&create(&p), 0);
    let after = p.run(&["migrate", "status"]);
    assert_exit(&after, 0);
    assert!(
        after.stdout.contains("(keep 3); last backup 20"),
        "{}",
        after.stdout
    );
    let json = p.run(&["migrate", "status", "--format", "json"]);
    assert_exit(&json, 0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let env = &value["environments"][0];
    assert_eq!(env["gates"]["gated"], true);
    assert_eq!(env["gates"]["confirm"], "staging");
    assert_eq!(env["gates"]["backup"]["keep"], 3);
    assert_eq!(env["last_backup"]["size"], manifests(&p)[0].size);
}

/// `keep = 0` still keeps the archive just taken: the newest backup is never pruned.
/// (Mutant: `config.keep.max(1)` turned into `config.keep` in backup/manifest.rs.)
/// Pruning counts and removes only the archives of the directory configured now: after
/// `backup.dir` moves, the archives recorded in the former directory stay, and the new one
/// keeps `keep` of its own. (The mutants: `r.manifest.dir == dir && is_own_file_name(..)` in
/// `manifest::prune` made `||`, which prunes the former directory too, or `!=`, which prunes
/// only there.)
#[test]
fn backup_prune_leaves_the_archives_of_a_former_backup_directory() {
    let p = project("backup = { dir = \"old\", keep = 1 }");
    let first = created_file(&create(&p));
    let config = p.dir.path().join("stagegate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("dir = \"old\"", "dir = \"new\"")).unwrap();
    let mut made = Vec::new();
    for _ in 0..2 {
        let out = create(&p);
        assert_exit(&out, 0);
        made.push(created_file(&out));
    }
    assert!(first.is_file(), "{} was pruned", first.display());
    assert_eq!(
        files_in(&p.dir.path().join("old")),
        [first.file_name().unwrap().to_string_lossy()]
    );
    assert_eq!(
        files_in(&p.dir.path().join("new")),
        [made[1].file_name().unwrap().to_string_lossy()],
        "keep = 1 in the new directory"
    );
}

#[test]
fn backup_keep_zero_never_prunes_the_archive_just_taken() {
    let p = project("backup = { dir = \"backups\", keep = 0 }");
    let dir = p.dir.path().join("backups");
    let mut made = Vec::new();
    for _ in 0..2 {
        let out = create(&p);
        assert_exit(&out, 0);
        let file = created_file(&out);
        assert!(file.is_file(), "{} was pruned at once", file.display());
        made.push(file.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert_eq!(files_in(&dir), made[1..]);
    let verify = p.run(&["backup", "verify", "--env", "staging"]);
    assert_exit(&verify, 0);
}

/// An archive pg_restore cannot read never counts as a backup: `pg_restore --list` checks it
/// before it is renamed into place and recorded. (Mutant: the `archive::list_archive` check
/// removed from backup/take.rs.)
#[test]
fn backup_refuses_an_archive_pg_restore_cannot_list() {
    // A pg_dump that reports success but writes no archive.
    let broken = wrapper(&format!(
        "if [ \"$1\" = --version ]; then exec {} --version; fi\n\
         for arg in \"$@\"; do case \"$arg\" in --file=*) \
         printf 'not an archive' > \"${{arg#--file=}}\";; esac; done\nexit 0",
        real("pg_dump").display()
    ));
    let program = broken.path().join("pg_dump");
    let p = project(&format!(
        "backup = {{ dir = \"backups\", keep = 5 }}\n[backup]\npg_dump = {}",
        toml_path(&program)
    ));
    let out = create(&p);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("the archive does not pass `")
            && out.stderr.contains("pg_restore --list` (")
            && out.stderr.contains("it was removed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        files_in(&p.dir.path().join("backups")),
        Vec::<String>::new()
    );
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.events WHERE kind = 'backup'"),
        Some("0".into())
    );
    // The same through the gate: an apply that needs it runs nothing.
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.apply();
    assert_exit(&out, 3);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.migrations"),
        Some("0".into())
    );
}

#[test]
fn the_backup_gate_backs_up_before_the_first_statement_or_refuses() {
    // No usable pg_dump: refused, nothing applied, no file left.
    let p = Project::new("backup = { dir = \"backups\" }");
    std::fs::write(
        p.dir.path().join("stagegate.toml"),
        format!(
            "[backup]\npg_dump = \"/nonexistent/pg_dump\"\n\n\
             [environments.staging]\nurl = \"${{{URL_VAR}}}\"\nbackup = {{ dir = \"backups\" }}\n"
        ),
    )
    .unwrap();
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let plan = p.run(&["migrate", "plan", "--env", "staging"]);
    assert_exit(&plan, 0);
    assert!(
        plan.stdout.contains("backup       required: pg_dump into "),
        "{}",
        plan.stdout
    );
    let out = p.apply();
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("/nonexistent/pg_dump"),
        "{}",
        out.stderr
    );
    assert!(tables(&p).is_empty());
    let files = std::fs::read_dir(p.dir.path().join("backups"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0);

    // With the real pg_dump: the archive is taken, recorded, and then the migration runs.
    let p = Project::new("backup = { dir = \"backups\" }");
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    let out = p.apply();
    assert_exit(&out, 0);
    assert!(
        out.stderr.contains("backup of `staging`: "),
        "{}",
        out.stderr
    );
    assert_eq!(tables(&p), ["a"]);
    let kinds = p.query("SELECT kind FROM stagegate.events ORDER BY id");
    let kinds: Vec<&str> = kinds.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(kinds, ["bind", "backup", "apply"]);
    let dumps: Vec<_> = std::fs::read_dir(p.dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

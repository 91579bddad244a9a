//! `stagegate check-reversible`: the fixtures in `fixtures/reversible/`, one per real-world
//! way a down script fails to undo its up script, run by the real binary on a real PostgreSQL,
//! with pg_dump from PATH.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::support::harness::TestDb;
use crate::support::project::{Output, assert_exit, query, stagegate_in};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/reversible")
        .join(name)
}

/// The binary in a directory of its own (no stagegate.toml above it), without the
/// environment's shadow settings.
fn stagegate(dir: &Path, args: &[&str]) -> Output {
    let output = stagegate_in(dir)
        .env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL")
        .args(args)
        .output()
        .unwrap();
    Output::from(output)
}

/// Runs `check-reversible --shadow <shadow> <extra...> <dir>` and checks that the scratch
/// database it created is gone afterwards.
fn check_dir(shadow: &TestDb, dir: &Path, extra: &[&str]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let url = shadow.database_url();
    let mut args = vec!["check-reversible", "--shadow", url.expose()];
    args.extend_from_slice(extra);
    let dir = dir.display().to_string();
    args.push(&dir);
    let out = stagegate(cwd.path(), &args);
    assert_scratch_dropped(shadow, &out);
    out
}

fn check(name: &str, extra: &[&str]) -> Output {
    let shadow = TestDb::create();
    check_dir(&shadow, &fixture(name), extra)
}

/// The scratch database named on stderr no longer exists.
#[track_caller]
fn assert_scratch_dropped(shadow: &TestDb, out: &Output) {
    let Some(name) = scratch_name(&out.stderr) else {
        // Only a run that never reached the server has none (or one in a shadow database
        // it could not create a database beside).
        assert!(
            !matches!(out.code, 0 | 1)
                || out.stderr.contains("cannot create a database of its own"),
            "no scratch database named\n{}",
            out.stderr
        );
        return;
    };
    let left = query(
        shadow,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    );
    assert_eq!(
        left[0][0].as_deref(),
        Some("0"),
        "{name} is left on the server\n{}",
        out.stderr
    );
}

fn scratch_name(stderr: &str) -> Option<String> {
    let start = stderr.find("on scratch database ")? + "on scratch database ".len();
    let name: String = stderr[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(name.starts_with("stagegate_reversible_"), "{name}");
    Some(name)
}

/// The report line of one migration.
fn line_of<'a>(out: &'a Output, label: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|line| line.starts_with(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no line for {label}\n{}", out.stdout))
}

#[test]
fn reversible_set_passes_with_exit_0_including_a_no_transaction_migration() {
    let out = check("reversible", &[]);
    assert_exit(&out, 0);
    for label in [
        "20240301000000_create_users",
        "20240302000000_create_orders",
        "20240303000000_index_users_email",
        "20240304000000_order_totals_view",
        "20240305000000_users_display_name",
    ] {
        assert!(
            line_of(&out, label).ends_with(": ok: the down script restores the schema"),
            "{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("reversible: 5 of 5 checked migration(s)"),
        "{}",
        out.stdout
    );
    // Progress goes to stderr, the report to stdout.
    assert!(
        out.stderr
            .contains("checking 20240303000000_index_users_email: up, down, up")
    );
    assert!(!out.stdout.contains("checking "));
    assert!(scratch_name(&out.stderr).is_some(), "{}", out.stderr);
}

#[test]
fn view_still_depending_on_the_dropped_column_fails_the_down() {
    let out = check("view-depends-on-column", &[]);
    assert_exit(&out, 1);
    let line = line_of(&out, "20240302000000_add_display_name");
    assert!(
        line.contains(
            "down failed: cannot drop column display_name of table users because other \
             objects depend on it (2BP01) at line 2; detail: view user_display depends on \
             column display_name of table users"
        ),
        "{line}"
    );
    assert!(
        out.stdout.contains("file: ")
            && out
                .stdout
                .contains("20240302000000_add_display_name.down.sql"),
        "{}",
        out.stdout
    );
    assert!(
        line_of(&out, "20240301000000_create_users")
            .ends_with("ok: the down script restores the schema")
    );
    assert!(
        out.stdout
            .contains("not reversible: 1 of 2 checked migration(s) (1 down failed); 1 reversible"),
        "{}",
        out.stdout
    );
}

#[test]
fn unique_index_dropped_as_a_constraint_fails_and_says_it_is_an_index() {
    let out = check("unique-index-dropped-as-constraint", &[]);
    assert_exit(&out, 1);
    let line = line_of(&out, "20240302000000_unique_email");
    assert!(
        line.contains(
            "down failed: constraint \"users_email_key\" of relation \"users\" does not exist \
             (42704) at line 2; users_email_key is an index, not a constraint"
        ),
        "{line}"
    );
    assert!(line.contains("DROP INDEX users_email_key"), "{line}");
}

#[test]
fn empty_down_script_is_irreversible() {
    let out = check("empty-down", &[]);
    assert_exit(&out, 1);
    assert!(
        line_of(&out, "20240302000000_add_last_login")
            .ends_with("empty down script (comments only): there is no way back"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("(1 empty down script)"),
        "{}",
        out.stdout
    );
}

#[test]
fn tables_dropped_before_the_tables_that_reference_them_fail_the_down() {
    let out = check("drop-order", &[]);
    assert_exit(&out, 1);
    let line = line_of(&out, "20240301000000_create_users_and_orders");
    assert!(
        line.contains(
            "down failed: cannot drop table users because other objects depend on it (2BP01) \
             at line 2; detail: constraint orders_user_id_fkey on table orders depends on \
             table users"
        ),
        "{line}"
    );
}

#[test]
fn missing_semicolon_is_a_syntax_error_at_its_line() {
    let out = check("missing-semicolon", &[]);
    assert_exit(&out, 1);
    assert!(
        line_of(&out, "20240302000000_index_email")
            .ends_with("down failed: syntax error at or near \"ALTER\" (42601) at line 3"),
        "{}",
        out.stdout
    );
}

#[test]
fn downs_offset_by_one_version_leave_another_schema() {
    let out = check("offset-downs", &[]);
    assert_exit(&out, 1);
    assert!(line_of(&out, "20240301000000_create_users").contains(": ok:"));
    // The down of 0002 drops the table 0001 created.
    let second = line_of(&out, "20240302000000_add_users_email");
    assert!(
        second.contains("schema differs after the down script: missing: table public.users"),
        "{second}"
    );
    assert!(
        out.stdout.contains("  -CREATE TABLE public.users ("),
        "{}",
        out.stdout
    );
    // The down of 0003 drops the column 0002 added; it was checked from the schema after
    // 0002's up script, on a scratch database built again.
    let third = line_of(&out, "20240303000000_index_users_email");
    assert!(
        third.contains("changed: table public.users: missing `email text`"),
        "{third}"
    );
    assert!(out.stdout.contains("  -    email text"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("recreating the scratch database and applying the 2 up script(s)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("(2 schema differs)"), "{}", out.stdout);
}

#[test]
fn a_down_that_forgets_an_index_or_a_column_shows_what_is_left_over() {
    let out = check("forgotten-objects", &[]);
    assert_exit(&out, 1);
    assert!(
        line_of(&out, "20240302000000_index_users_name").ends_with(
            "schema differs after the down script: left over: index public.users_name_idx"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  +CREATE INDEX users_name_idx ON public.users USING btree (name);"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  --- schema before the up script of 20240302000000_index_users_name\n  +++ schema after its down script\n"),
        "{}",
        out.stdout
    );
    assert!(
        line_of(&out, "20240303000000_add_contact_columns")
            .ends_with("changed: table public.users: left over `phone text`"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  +    phone text"), "{}", out.stdout);
}

#[test]
fn json_report_has_a_stable_shape() {
    let out = check("forgotten-objects", &["--format", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let keys = |value: &serde_json::Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&report),
        ["migrations", "reversible", "stopped", "summary", "version"]
    );
    assert_eq!(report["version"], 1);
    assert_eq!(report["reversible"], false);
    assert_eq!(report["stopped"], serde_json::Value::Null);
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "checked": 3, "reversible": 1, "not_reversible": 2, "applied_only": 0, "not_checked": 0
        })
    );
    let migrations = report["migrations"].as_array().unwrap();
    let statuses: Vec<&str> = migrations
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "schema-differs", "schema-differs"]);
    for migration in migrations {
        assert_eq!(
            keys(migration),
            [
                "changed",
                "diff",
                "error",
                "file",
                "left_over",
                "missing",
                "name",
                "status",
                "version"
            ]
        );
    }
    let index = &migrations[1];
    assert_eq!(index["version"], "20240302000000");
    assert_eq!(index["name"], "index_users_name");
    assert_eq!(
        index["left_over"],
        serde_json::json!(["index public.users_name_idx"])
    );
    assert_eq!(index["missing"], serde_json::json!([]));
    assert!(
        index["diff"]
            .as_str()
            .unwrap()
            .contains("+CREATE INDEX users_name_idx ON public.users USING btree (name);"),
        "{}",
        index["diff"]
    );
    assert!(
        index["file"]
            .as_str()
            .unwrap()
            .ends_with("20240302000000_index_users_name.down.sql")
    );
    assert_eq!(migrations[0]["error"], serde_json::Value::Null);
    assert_eq!(migrations[0]["diff"], serde_json::Value::Null);
    assert_eq!(
        migrations[2]["changed"],
        serde_json::json!(["table public.users: left over `phone text`"])
    );
}

#[test]
fn from_applies_the_earlier_migrations_without_checking_them() {
    let out = check("forgotten-objects", &["--from", "20240303000000"]);
    assert_exit(&out, 1);
    assert!(
        line_of(&out, "20240301000000_create_users")
            .ends_with("applied, not checked (before --from)"),
        "{}",
        out.stdout
    );
    // 0002's forgotten index is not reported: it was only applied.
    assert!(
        line_of(&out, "20240302000000_index_users_name")
            .ends_with("applied, not checked (before --from)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("users_name_idx"), "{}", out.stdout);
    assert!(
        line_of(&out, "20240303000000_add_contact_columns").contains("left over `phone text`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("2 applied before --from"),
        "{}",
        out.stdout
    );

    // From the reversible one on, nothing is reported.
    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("forgotten-objects")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(
        dir.path().join("20240304000000_add_bio.up.sql"),
        "ALTER TABLE users ADD COLUMN bio text;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20240304000000_add_bio.down.sql"),
        "ALTER TABLE users DROP COLUMN bio;\n",
    )
    .unwrap();
    let out = check_dir(&shadow, dir.path(), &["--from", "20240304000000"]);
    assert_exit(&out, 0);
    assert!(
        line_of(&out, "20240304000000_add_bio").contains(": ok:"),
        "{}",
        out.stdout
    );

    let out = check("forgotten-objects", &["--from", "20990101000000"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("--from 20990101000000: no migration with that version in"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_down_script_is_reported_not_skipped_and_a_failing_up_stops_the_check() {
    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "1_users.up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    write(
        "2_nickname.up.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    write(
        "3_broken.up.sql",
        "-- the table is misspelt\nALTER TABLE userz ADD COLUMN email text;\n",
    );
    write(
        "3_broken.down.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    );
    write("4_later.up.sql", "CREATE TABLE later (id int);\n");
    write("4_later.down.sql", "DROP TABLE later;\n");
    let out = check_dir(&shadow, dir.path(), &[]);
    assert_exit(&out, 1);
    assert!(
        line_of(&out, "1_users").ends_with("no down script: there is no way back"),
        "{}",
        out.stdout
    );
    assert!(
        line_of(&out, "2_nickname").ends_with("no down script: there is no way back"),
        "{}",
        out.stdout
    );
    assert!(
        line_of(&out, "3_broken")
            .ends_with("up failed: relation \"userz\" does not exist (42P01) at line 2"),
        "{}",
        out.stdout
    );
    assert!(
        line_of(&out, "4_later").ends_with(": not checked"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "stopped: the up script of 3_broken failed, so the 1 migration(s) after it could \
             not start from the schema they were written for and were not checked"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 not checked"), "{}", out.stdout);
}

#[test]
fn shadow_comes_from_the_config_and_without_one_a_throwaway_cluster_is_started() {
    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let migrations = fixture("empty-down").display().to_string();
    // No shadow anywhere: a throwaway cluster of its own, gone when the run ends.
    let out = stagegate(dir.path(), &["check-reversible", &migrations]);
    assert_exit(&out, 1);
    assert!(
        out.stderr.contains("starting a throwaway PostgreSQL"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("empty down script"), "{}", out.stdout);
    // No server binaries where [shadow] bin_dir points: a usage error that names --shadow.
    std::fs::write(
        dir.path().join("stagegate.toml"),
        "[shadow]\nbin_dir = \"no-such-dir\"\n",
    )
    .unwrap();
    let out = stagegate(dir.path(), &["check-reversible", &migrations]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("no-such-dir") && out.stderr.contains("--scratch"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    // [shadow] url, with a variable; the migrations directory from [migrations] dir.
    std::fs::write(
        dir.path().join("stagegate.toml"),
        format!(
            "[migrations]\ndir = {}\n\n[shadow]\nurl = \"${{SG_TEST_SHADOW}}\"\n",
            toml::Value::String(migrations)
        ),
    )
    .unwrap();
    let output = Command::cargo_bin("stagegate")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("STAGEGATE_CONFIG")
        .env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL")
        .env("SG_TEST_SHADOW", shadow.database_url().expose())
        .arg("check-reversible")
        .output()
        .unwrap();
    let out = Output::from(output);
    assert_exit(&out, 1);
    assert!(out.stdout.contains("empty down script"), "{}", out.stdout);
    assert_scratch_dropped(&shadow, &out);
}

#[test]
fn unreachable_shadow_is_exit_4_naming_the_host_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = fixture("reversible").display().to_string();
    let out = stagegate(
        dir.path(),
        &[
            "check-reversible",
            "--shadow",
            "postgres://app:hunter2@127.0.0.1:1/scratch?connect_timeout=5",
            &migrations,
        ],
    );
    assert_exit(&out, 4);
    assert!(
        out.stderr
            .contains("cannot connect to postgres://app:***@127.0.0.1:1/scratch"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn pg_dump_that_cannot_run_is_exit_4_and_the_scratch_database_is_still_dropped() {
    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stagegate.toml"),
        "[backup]\npg_dump = \"no/such/pg_dump\"\n",
    )
    .unwrap();
    let url = shadow.database_url();
    let migrations = fixture("reversible").display().to_string();
    let out = stagegate(
        dir.path(),
        &["check-reversible", "--shadow", url.expose(), &migrations],
    );
    assert_exit(&out, 4);
    assert!(
        out.stderr.contains("cannot run ") && out.stderr.contains("no/such/pg_dump"),
        "{}",
        out.stderr
    );
    assert!(scratch_name(&out.stderr).is_some(), "{}", out.stderr);
    assert_scratch_dropped(&shadow, &out);
}

/// A role that may log in but not create databases, dropped at the end (after the
/// databases it owns, which are declared after it).
struct NoCreatedbRole {
    name: String,
    admin: TestDb,
}

impl NoCreatedbRole {
    fn create() -> NoCreatedbRole {
        let admin = TestDb::create();
        let name = format!("{}_role", admin.name);
        query(&admin, &format!("CREATE ROLE {name} LOGIN NOCREATEDB"));
        NoCreatedbRole { name, admin }
    }

    /// `db`'s URL, logging in as this role (which is made its owner).
    fn url_of(&self, db: &TestDb) -> String {
        query(
            &self.admin,
            &format!("ALTER DATABASE {} OWNER TO {}", db.name, self.name),
        );
        let url = db.database_url().expose().to_string();
        let start = url.find("://").unwrap() + 3;
        let host_start = url[start..].find('@').map_or(start, |at| start + at + 1);
        format!("{}{}@{}", &url[..start], self.name, &url[host_start..])
    }
}

impl Drop for NoCreatedbRole {
    fn drop(&mut self) {
        query(&self.admin, &format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A scratch server means one thing everywhere: stagegate works in a database it creates. A
/// server whose user may not create databases is refused, and nothing runs in the database
/// the URL names, empty or not.
#[test]
fn without_createdb_the_scratch_server_is_refused_and_its_database_left_alone() {
    let role = NoCreatedbRole::create();
    let shadow = TestDb::create();
    let url = role.url_of(&shadow);
    let dir = tempfile::tempdir().unwrap();
    let migrations = fixture("forgotten-objects").display().to_string();
    for command in ["check-reversible", "trace"] {
        let out = stagegate(dir.path(), &[command, "--shadow", &url, &migrations]);
        assert_exit(&out, 2);
        assert!(
            out.stderr
                .contains("cannot create a database of its own on")
                && out.stderr.contains("permission denied to create database")
                && out.stderr.contains("CREATEDB"),
            "{command}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{command}: {}", out.stdout);
        assert_eq!(
            query(
                &shadow,
                "SELECT count(*)::text FROM pg_class c JOIN pg_namespace n \
                 ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            )[0][0]
                .as_deref(),
            Some("0"),
            "{command} ran nothing in the URL's own database"
        );
    }
    drop(shadow);
}

#[test]
fn a_down_that_leaves_rows_behind_shows_when_the_up_runs_again() {
    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "1_settings.up.sql",
        "CREATE TABLE settings (key text PRIMARY KEY);\n",
    );
    write("1_settings.down.sql", "DROP TABLE settings;\n");
    write(
        "2_theme.up.sql",
        "ALTER TABLE settings ADD COLUMN value text;\nINSERT INTO settings (key) VALUES ('theme');\n",
    );
    // Same schema afterwards, but the row stays.
    write(
        "2_theme.down.sql",
        "ALTER TABLE settings DROP COLUMN value;\n",
    );
    write(
        "3_locale.up.sql",
        "INSERT INTO settings (key) VALUES ('locale');\n",
    );
    write(
        "3_locale.down.sql",
        "DELETE FROM settings WHERE key = 'locale';\n",
    );
    let out = check_dir(&shadow, dir.path(), &[]);
    assert_exit(&out, 1);
    let line = line_of(&out, "2_theme");
    assert!(
        line.contains("up failed when run again after the down script")
            && line.contains(
                "duplicate key value violates unique constraint \"settings_pkey\" (23505) at \
                 line 2; detail: Key (key)=(theme) already exists"
            ),
        "{line}"
    );
    // The database was rebuilt to the schema after 2's up, and 3 was checked from there.
    assert!(
        line_of(&out, "3_locale").contains(": ok:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(1 up failed again)"), "{}", out.stdout);
}

#[test]
fn ctrl_c_ends_the_run_with_exit_4_and_drops_the_scratch_database() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let shadow = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_sleep.up.sql"),
        "CREATE TABLE t (id int);\nSELECT pg_sleep(31.5);\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("1_sleep.down.sql"), "DROP TABLE t;\n").unwrap();
    let url = shadow.database_url();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"))
        .current_dir(dir.path())
        .env_remove("STAGEGATE_CONFIG")
        .env_remove("STAGEGATE_SCRATCH_URL")
        .env_remove("STAGEGATE_SHADOW_URL")
        .env("NO_COLOR", "1")
        .args(["check-reversible", "--shadow", url.expose()])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sleeping = "SELECT datname FROM pg_stat_activity WHERE query LIKE '%pg_sleep(31.5)%' \
                    AND state = 'active' AND pid <> pg_backend_pid()";
    let started = Instant::now();
    let scratch = loop {
        if let Some(row) = query(&shadow, sleeping).into_iter().next() {
            break row[0].clone().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the up script never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(scratch.starts_with("stagegate_reversible_"), "{scratch}");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = crate::support::harness::wait_output(child, "check-reversible after SIGINT");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
    assert!(out.stdout.is_empty());
    let left = query(
        &shadow,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{scratch}'"),
    );
    assert_eq!(left[0][0].as_deref(), Some("0"), "{scratch} is left");
    assert!(query(&shadow, sleeping).is_empty(), "the sleep was ended");
}

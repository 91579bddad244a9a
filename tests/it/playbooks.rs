//! The five teams' release playbooks (issue 24), each point with the real binary: CI output
//! that names files from the repository root, a directory without migrations that fails
//! instead of passing, and lint that knows the lock_timeout the runner sets.

use std::path::Path;

use crate::support::harness::TestDb;
use crate::support::project::{Output, assert_exit, stagegate_in};
use crate::support::tools::git;

/// The binary in `dir`, with nothing from the caller's environment that changes its output.
fn stagegate(dir: &Path, args: &[&str]) -> Output {
    stagegate_with(dir, args, &[])
}

/// As [`stagegate`], with variables set.
fn stagegate_with(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let output = stagegate_in(dir)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .args(args)
        .output()
        .unwrap();
    Output::from(output)
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
    let project = crate::support::project::Project::new(
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

/// Staging (lint = "warn") ran a migration; production (lint = "deny") needs an allow
/// directive for it. Adding the directive is no edit: staging still counts the migration as
/// applied, promotion takes it, and production records the checksum staging has.
#[test]
fn an_allow_directive_added_after_staging_ran_is_no_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let (staging, production) = (TestDb::create(), TestDb::create());
    for db in [&staging, &production] {
        crate::support::project::query(db, "CREATE TABLE orders (id int, customer int)");
    }
    write(
        &tmp.path().join("stagegate.toml"),
        "[environments.staging]\nurl = \"${STAGING_URL}\"\nlock_timeout = \"2s\"\nlint = \"warn\"\n\n\
         [environments.production]\nurl = \"${PRODUCTION_URL}\"\nlock_timeout = \"2s\"\n\
         lint = \"deny\"\npromote_from = \"staging\"\n",
    );
    let file = tmp.path().join("migrations/1_index.up.sql");
    write(&file, INDEX);
    let vars = [
        ("STAGING_URL", staging.database_url().expose().to_string()),
        (
            "PRODUCTION_URL",
            production.database_url().expose().to_string(),
        ),
    ];
    let run = |args: &[&str]| stagegate_with(tmp.path(), args, &vars);
    assert_exit(&run(&["migrate", "apply", "--env", "staging"]), 0);
    let refused = run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&refused, 3);
    assert!(
        refused.stderr.contains("lint = \"deny\"") && refused.stderr.contains("SG101"),
        "{}",
        refused.stderr
    );
    // What production's gate asks for, added to the file staging ran.
    write(
        &file,
        &format!(
            "-- stagegate:allow SG101 -- orders has 40 rows; built in the release window\n{INDEX}"
        ),
    );
    let status = run(&["migrate", "status", "--env", "staging"]);
    assert_exit(&status, 0);
    assert!(
        !status.stdout.contains("checksum mismatch") && status.stdout.contains("applied"),
        "{}",
        status.stdout
    );
    assert_exit(&run(&["verify"]), 0);
    let applied = run(&["migrate", "apply", "--env", "production"]);
    assert_exit(&applied, 0);
    let checksum = |db: &TestDb| {
        crate::support::project::query(
            db,
            "SELECT checksum FROM stagegate.migrations WHERE version = '1'",
        )[0][0]
            .clone()
            .unwrap()
    };
    assert_eq!(checksum(&staging), checksum(&production));
    // An edit of the SQL itself is still one.
    write(
        &file,
        "-- stagegate:allow SG101 -- orders has 40 rows; built in the release window\n\
         CREATE INDEX orders_customer ON orders (customer, id);\n",
    );
    let status = run(&["migrate", "status", "--env", "staging"]);
    assert!(
        status.stdout.contains("checksum mismatch"),
        "{}",
        status.stdout
    );
}

/// A real PgBouncer in front of the test server, in `mode`, as its own process (run as the
/// `postgres` user when the test runs as root: PgBouncer refuses root). Ends with the value.
struct Pooler {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Pooler {
    fn start(db: &TestDb, mode: &str) -> Pooler {
        use std::os::unix::fs::PermissionsExt;
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("pgbouncer is not installed: run scripts/test-deps.sh");
        let server: tokio_postgres::Config = db.database_url().expose().parse().unwrap();
        let host = match &server.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        };
        let server_port = server.get_ports().first().copied().unwrap_or(5432);
        let user = server.get_user().unwrap_or("postgres").to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={server_port} user={user}\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = any\npool_mode = {mode}\n\
                 default_pool_size = 4\nmax_client_conn = 50\n\
                 ignore_startup_parameters = extra_float_digits,options,search_path\n\
                 logfile = {log}\n",
                log = dir.path().join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut command = std::process::Command::new(binary);
        // PgBouncer will not run as root.
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if root {
            command.args(["-u", "postgres"]);
        }
        let child = command
            .arg(&ini)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "pgbouncer did not listen on {port}: {}",
                std::fs::read_to_string(dir.path().join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Pooler {
            child,
            port,
            _dir: dir,
        }
    }

    /// The test database's URL through this pooler.
    fn url(&self, db: &TestDb) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, db.name)
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Through a real PgBouncer in transaction mode (Supabase's port 6543 is one), stagegate's
/// session lock would be left on a server connection nobody owns: every command that takes
/// it refuses (exit 2) before changing anything, naming the direct connection. Through the
/// same PgBouncer in session mode, it runs.
#[test]
fn a_transaction_mode_pooler_is_refused_and_a_session_one_is_not() {
    let project = crate::support::project::Project::new("lock_timeout = \"2s\"");
    project.write("1_orders.up.sql", "CREATE TABLE orders (id int);\n");
    let transaction = Pooler::start(&project.db, "transaction");
    let through = |pooler: &Pooler, args: &[&str]| {
        let mut cmd = project.command();
        cmd.env("SG_TEST_TARGET_URL", pooler.url(&project.db));
        let out =
            crate::support::harness::run_output(cmd.args(args), "stagegate through pgbouncer");
        Output::from(out)
    };
    for args in [
        &["migrate", "apply", "--env", "staging"][..],
        &[
            "migrate", "baseline", "--env", "staging", "--to", "1", "--reason", "x",
        ][..],
    ] {
        let out = through(&transaction, args);
        assert_exit(&out, 2);
        assert!(
            out.stderr.contains("through a pooler in transaction mode")
                && out.stderr.contains("use a direct connection"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        project.scalar("SELECT to_regclass('stagegate.migrations')::text"),
        None
    );
    drop(transaction);
    let session = Pooler::start(&project.db, "session");
    let out = through(&session, &["migrate", "apply", "--env", "staging"]);
    assert_exit(&out, 0);
    assert_eq!(
        project.scalar("SELECT to_regclass('public.orders')::text"),
        Some("orders".to_string())
    );
}

/// A Supabase project: `init` finds supabase/migrations and keeps down scripts in
/// supabase/down (`supabase db push` would run any .sql file beside the up scripts);
/// `baseline` reads the CLI's `supabase_migrations.schema_migrations`; `new` writes the up
/// where the CLI reads it and the down where it does not; `migrate down` runs a down script
/// from supabase/down.
#[test]
fn a_supabase_project_is_adopted_with_its_down_scripts_apart() {
    let db = TestDb::create();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("supabase/migrations/20240101120000_create_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    write(
        &root.join("supabase/config.toml"),
        "project_id = \"shop\"\n",
    );
    let init = stagegate(root, &["init"]);
    assert_exit(&init, 0);
    assert!(
        init.stderr
            .contains("found 1 migration(s) in supabase/migrations/")
            && init.stderr.contains("down scripts go to supabase/down/"),
        "{}",
        init.stderr
    );
    let config = std::fs::read_to_string(root.join("stagegate.toml")).unwrap();
    assert!(
        config.contains("dir = \"supabase/migrations\"")
            && config.contains("\ndown_dir = \"supabase/down\""),
        "{config}"
    );
    assert!(root.join("supabase/down").is_dir());
    // The project's environments, as the team sets them.
    let config = config.replace(
        "url = \"${STAGING_DATABASE_URL}\"",
        "url = \"${SUPABASE_DB_URL}\"",
    );
    std::fs::write(root.join("stagegate.toml"), config).unwrap();
    let vars = [("SUPABASE_DB_URL", db.database_url().expose().to_string())];
    let run = |args: &[&str]| stagegate_with(root, args, &vars);

    // What `supabase db push` did before stagegate.
    crate::support::project::query(
        &db,
        "CREATE TABLE users (id bigint PRIMARY KEY);
         CREATE SCHEMA supabase_migrations;
         CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, \
             statements text[], name text);
         INSERT INTO supabase_migrations.schema_migrations VALUES \
             ('20240101120000', ARRAY['CREATE TABLE users (id bigint PRIMARY KEY)'], 'create_users');",
    );
    let baseline = run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "adopting the supabase project",
    ]);
    assert_exit(&baseline, 0);
    assert!(
        baseline.stdout.contains("from supabase"),
        "{}",
        baseline.stdout
    );

    let new = run(&["new", "add_orders"]);
    assert_exit(&new, 0);
    let created: Vec<&str> = new
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("created "))
        .collect();
    assert_eq!(created.len(), 2, "{}", new.stdout);
    let up = Path::new(created[0]);
    let down = Path::new(created[1]);
    assert!(
        up.parent().unwrap().ends_with("supabase/migrations")
            && up
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("_add_orders.sql")
            && !up.to_str().unwrap().ends_with(".up.sql"),
        "{}",
        new.stdout
    );
    assert!(
        down.parent().unwrap().ends_with("supabase/down")
            && down.to_str().unwrap().ends_with("_add_orders.down.sql"),
        "{}",
        new.stdout
    );
    std::fs::write(up, "CREATE TABLE orders (id bigint PRIMARY KEY);\n").unwrap();
    std::fs::write(down, "DROP TABLE orders;\n").unwrap();
    assert_exit(&run(&["verify"]), 0);
    assert_exit(&run(&["migrate", "apply", "--env", "staging"]), 0);
    assert_eq!(
        crate::support::project::query(&db, "SELECT to_regclass('public.orders')::text")[0][0]
            .as_deref(),
        Some("orders")
    );
    let reverted = run(&["migrate", "down", "--env", "staging", "--steps", "1"]);
    assert_exit(&reverted, 0);
    assert_eq!(
        crate::support::project::query(&db, "SELECT to_regclass('public.orders')::text")[0][0],
        None
    );

    // A down script whose up script is gone, and a stray file, are named.
    write(
        &root.join("supabase/down/20990101000000_ghost.down.sql"),
        "DROP TABLE ghost;\n",
    );
    let verify = run(&["verify"]);
    assert_exit(&verify, 2);
    assert!(
        verify
            .stderr
            .contains("20990101000000_ghost.down.sql: down script without an up script"),
        "{}",
        verify.stderr
    );
}

/// The way back repaired: a wrong down script is replaced, and a migration with nothing to
/// undo gets a no-op down, each through the environment's confirmation and recorded with the
/// reason and both checksums; then `migrate down` goes back past both, and the event log
/// still verifies.
#[test]
fn a_wrong_or_missing_down_is_replaced_through_the_gate_and_recorded() {
    let p = crate::support::project::Project::new("confirm = true");
    p.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    p.write("1_users.down.sql", "DROP TABLE userz;\n");
    p.write(
        "2_check.up.sql",
        "ALTER TABLE users ADD CONSTRAINT users_id CHECK (id > 0) NOT VALID;\n",
    );
    p.write(
        "3_validate.up.sql",
        "ALTER TABLE users VALIDATE CONSTRAINT users_id;\n",
    );
    p.write(
        "2_check.down.sql",
        "ALTER TABLE users DROP CONSTRAINT users_id;\n",
    );
    let confirm = ["--confirm", "staging", "--reason", "release 12"];
    let mut apply = vec!["migrate", "apply", "--env", "staging"];
    apply.extend(confirm);
    assert_exit(&p.run(&apply), 0);
    let down = |steps: &str| {
        let mut args = vec!["migrate", "down", "--env", "staging", "--steps", steps];
        args.extend(confirm);
        p.run(&args)
    };
    let refused = down("3");
    assert_exit(&refused, 3);
    assert!(
        refused.stderr.contains(
            "3_validate has no down script; write one and record it with `stagegate migrate \
             replace-down --env staging 3 --reason \"...\"`, or declare that undoing it needs \
             nothing: `stagegate migrate replace-down --env staging 3 --no-op --reason \"...\"`"
        ),
        "{}",
        refused.stderr
    );

    // No confirmation without a terminal: refused, nothing recorded.
    let unconfirmed = p.run(&[
        "migrate",
        "replace-down",
        "--env",
        "staging",
        "3",
        "--no-op",
        "--reason",
        "validating has nothing to undo",
    ]);
    assert_exit(&unconfirmed, 3);
    let replaced = p.run(&[
        "migrate",
        "replace-down",
        "--env",
        "staging",
        "3",
        "--no-op",
        "--reason",
        "validating has nothing to undo",
        "--confirm",
        "staging",
    ]);
    assert_exit(&replaced, 0);
    assert!(
        replaced
            .stdout
            .contains("3_validate now records a no-op (nothing to undo) (was no down script)"),
        "{}",
        replaced.stdout
    );

    // The wrong down of 1, fixed in the file: refused until recorded.
    p.write("1_users.down.sql", "DROP TABLE users;\n");
    let refused = down("3");
    assert_exit(&refused, 3);
    assert!(
        refused.stderr.contains("changed since 1_users was applied")
            && refused.stderr.contains("record the new one as its down"),
        "{}",
        refused.stderr
    );
    let old = p.scalar("SELECT down_checksum FROM stagegate.migrations WHERE version = '1'");
    assert_exit(
        &p.run(&[
            "migrate",
            "replace-down",
            "--env",
            "staging",
            "1",
            "--reason",
            "the down dropped a table that does not exist",
            "--confirm",
            "staging",
        ]),
        0,
    );
    let new = p.scalar("SELECT down_checksum FROM stagegate.migrations WHERE version = '1'");
    assert_ne!(old, new);
    let event = p.scalar(
        "SELECT detail FROM stagegate.events WHERE kind = 'down_replace' AND version = '1'",
    );
    let event: serde_json::Value = serde_json::from_str(&event.unwrap()).unwrap();
    assert_eq!(
        event["reason"],
        "the down dropped a table that does not exist"
    );
    assert_eq!(event["old_down_checksum"].as_str(), old.as_deref());
    assert_eq!(event["new_down_checksum"].as_str(), new.as_deref());
    // Each replacement went through the gate: a confirmation event with its action.
    assert_eq!(
        p.scalar(
            "SELECT count(*) FROM stagegate.events WHERE kind = 'confirmation' \
             AND detail::jsonb ->> 'action' = 'replace-down'"
        )
        .as_deref(),
        Some("2")
    );

    let reverted = down("3");
    assert_exit(&reverted, 0);
    assert_eq!(
        p.scalar("SELECT string_agg(status, ',' ORDER BY version) FROM stagegate.migrations")
            .as_deref(),
        Some("reverted,reverted,reverted")
    );
    assert_eq!(p.scalar("SELECT to_regclass('public.users')::text"), None);
    assert_exit(&p.run(&["audit", "--env", "staging", "--verify"]), 0);
}

/// `migrate replace-down` checks the new down script as `migrate down` will run it: a
/// transactional down with a `BEGIN`/`COMMIT` of its own is refused, naming the file and the
/// line, and nothing is recorded; marked `-- stagegate:no-transaction`, the same blocks are
/// recorded. (Mutant: deploy/replace_down.rs `check_script(&down,
/// !down.settings.no_transaction)` with the `!` deleted, which checks a transactional down as
/// a no-transaction one and records a down that cannot run.)
#[test]
fn a_wrong_or_missing_down_is_replaced_only_by_a_script_stagegate_can_run() {
    let p = crate::support::project::Project::new("");
    p.write("1_users.up.sql", "CREATE TABLE users (id int);\n");
    assert_exit(&p.run(&["migrate", "apply", "--env", "staging"]), 0);
    let replace = || {
        p.run(&[
            "migrate",
            "replace-down",
            "--env",
            "staging",
            "1",
            "--reason",
            "the down was never written",
        ])
    };
    let recorded =
        || p.scalar("SELECT down_checksum FROM stagegate.migrations WHERE version = '1'");
    p.write("1_users.down.sql", "BEGIN;\nDROP TABLE users;\nCOMMIT;\n");
    let refused = replace();
    assert_exit(&refused, 2);
    assert!(
        refused.stderr.contains("1_users.down.sql:1: ")
            && refused.stderr.contains("breaks its all-or-nothing apply"),
        "{}",
        refused.stderr
    );
    assert_eq!(recorded(), None);
    p.write(
        "1_users.down.sql",
        "-- stagegate:no-transaction\nBEGIN;\nDROP TABLE users;\nCOMMIT;\n",
    );
    assert_exit(&replace(), 0);
    assert!(recorded().is_some());
    assert_exit(
        &p.run(&["migrate", "down", "--env", "staging", "--steps", "1"]),
        0,
    );
    assert_eq!(p.scalar("SELECT to_regclass('public.users')::text"), None);
}

/// A diesel repository keeps a one-off data script beside its migration directories; diesel
/// ignores it, so `verify` warns about it and passes, and `[migrations] ignore` silences the
/// warning. A file the runner would not ignore is still a failure.
#[test]
fn entries_the_runner_ignores_are_warnings_and_ignore_silences_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("migrations/2021-02-02-153240_create_crates/up.sql"),
        "CREATE TABLE crates (id int);\n",
    );
    write(
        &root.join("migrations/2021-02-02-153240_create_crates/down.sql"),
        "DROP TABLE crates;\n",
    );
    write(
        &root.join("migrations/data_2021_backfill_downloads.sql"),
        "UPDATE crates SET id = id;\n",
    );
    write(&root.join("stagegate.toml"), "");
    let verify = stagegate(root, &["verify"]);
    assert_exit(&verify, 0);
    assert!(
        verify.stderr.contains(
            "data_2021_backfill_downloads.sql: skipped, diesel ignores it too (only directories \
             are migrations)"
        ),
        "{}",
        verify.stderr
    );
    write(
        &root.join("stagegate.toml"),
        "[migrations]\nignore = [\"data_*.sql\"]\n",
    );
    let verify = stagegate(root, &["verify"]);
    assert_exit(&verify, 0);
    assert!(!verify.stderr.contains("data_2021"), "{}", verify.stderr);
    // A directory diesel would try to run (no up.sql) still fails.
    write(
        &root.join("migrations/2021-03-03-000000_broken/notes.txt"),
        "todo\n",
    );
    let verify = stagegate(root, &["verify"]);
    assert_ne!(verify.code, 0, "{}", verify.stderr);
}

/// A team that applied `migrations/*.sql` by hand with psql: `init` names the files it
/// cannot use and prints the `git mv` commands that give them versions in the order they
/// were added; after those, `verify` passes. Before a baseline, `status` says that the tables
/// the pending migrations create already exist and a baseline is needed; after it, not.
#[test]
fn hand_applied_files_get_versions_and_status_asks_for_a_baseline() {
    let db = TestDb::create();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q"]);
    // Added in this order, which is not the order of their names.
    let files = [
        ("create_users.sql", "CREATE TABLE users (id int);\n"),
        ("add_orders.sql", "CREATE TABLE orders (id int);\n"),
        ("backfill.sql", "INSERT INTO users VALUES (1);\n"),
    ];
    for (day, (name, sql)) in files.iter().enumerate() {
        write(&root.join("migrations").join(name), sql);
        git(root, &["add", "."]);
        git(
            root,
            &[
                "commit",
                "-q",
                "-m",
                name,
                "--date",
                &format!("2021-01-0{} 12:00:00 +0000", day + 1),
            ],
        );
    }
    let init = stagegate(root, &["init"]);
    assert_exit(&init, 0);
    assert!(
        init.stderr.contains(
            "migrations/ holds 3 .sql file(s) without a version, which stagegate cannot order"
        ) && init.stderr.contains(
            "  git mv migrations/create_users.sql migrations/0001_create_users.sql\n  \
             git mv migrations/add_orders.sql migrations/0002_add_orders.sql\n  \
             git mv migrations/backfill.sql migrations/0003_backfill.sql\n"
        ) && init.stderr.contains("migrate baseline --env <name> --to 3"),
        "{}",
        init.stderr
    );
    // The commands, as printed.
    for line in init
        .stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("git mv "))
    {
        let args: Vec<&str> = line.split(' ').collect();
        git(root, &["mv", args[0], args[1]]);
    }
    assert_exit(&stagegate(root, &["verify"]), 0);
    git(root, &["commit", "-q", "-m", "version the migrations"]);
    // History kept: git follows the renamed file back to its first commit.
    let log = std::process::Command::new("git")
        .current_dir(root)
        .args([
            "log",
            "--follow",
            "--format=%s",
            "--",
            "migrations/0001_create_users.sql",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("create_users.sql"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );

    // The database they were applied to by hand.
    crate::support::project::query(
        &db,
        "CREATE TABLE users (id int); CREATE TABLE orders (id int);",
    );
    let config = std::fs::read_to_string(root.join("stagegate.toml"))
        .unwrap()
        .replace("${STAGING_DATABASE_URL}", "${APP_DB}");
    std::fs::write(root.join("stagegate.toml"), config).unwrap();
    let vars = [("APP_DB", db.database_url().expose().to_string())];
    let status = stagegate_with(root, &["migrate", "status", "--env", "staging"], &vars);
    assert_exit(&status, 0);
    assert!(
        status.stderr.contains(
            "staging: no migration is recorded here, but 2 table(s) that pending migrations \
             create already exist (users, orders)"
        ) && status
            .stderr
            .contains("stagegate migrate baseline --env staging"),
        "{}",
        status.stderr
    );
    let json = stagegate_with(
        root,
        &["migrate", "status", "--env", "staging", "--format", "json"],
        &vars,
    );
    let json = crate::json::assert_matches("status", &json);
    assert_eq!(
        json["environments"][0]["existing_tables"],
        serde_json::json!(["users", "orders"])
    );
    assert_exit(
        &stagegate_with(
            root,
            &[
                "migrate",
                "baseline",
                "--env",
                "staging",
                "--to",
                "3",
                "--reason",
                "applied by hand with psql",
            ],
            &vars,
        ),
        0,
    );
    let status = stagegate_with(root, &["migrate", "status", "--env", "staging"], &vars);
    assert_exit(&status, 0);
    assert!(
        !status.stderr.contains("already exist"),
        "{}",
        status.stderr
    );
}

/// The DBA report of what already ran on staging (`--env staging --since V`): a finding an
/// allow directive covers is shown as allowed, with the directive's reason, and counts in no
/// severity; the migrations that ran are linted as the files say, not against today's
/// catalog, so no bogus "unused allow" (SG506) appears.
#[test]
fn the_report_shows_allowed_findings_and_no_bogus_unused_allows() {
    let p = crate::support::project::Project::new("lock_timeout = \"2s\"");
    p.write(
        "1_orders.up.sql",
        "CREATE TABLE orders (id int, customer int);\n",
    );
    p.write(
        "2_index.up.sql",
        "-- stagegate:allow SG101 -- orders is written once a day, at night\n\
         CREATE INDEX orders_customer ON orders (customer);\n",
    );
    p.write(
        "3_note.up.sql",
        "ALTER TABLE orders ADD COLUMN note text;\n",
    );
    assert_exit(
        &p.run(&["migrate", "apply", "--env", "staging", "--to", "2"]),
        0,
    );
    let markdown = p.run(&[
        "report", "--env", "staging", "--since", "1", "--format", "markdown",
    ]);
    assert_exit(&markdown, 0);
    assert!(
        markdown.stdout.contains("| allowed |")
            && markdown.stdout.contains("> **allowed** SG101")
            && markdown.stdout.contains(
                "allowed by `-- stagegate:allow`: orders is written once a day, at night"
            ),
        "{}",
        markdown.stdout
    );
    assert!(
        !markdown.stdout.contains("SG506") && !markdown.stderr.contains("SG506"),
        "{}",
        markdown.stdout
    );
    let json = p.run(&[
        "report", "--env", "staging", "--since", "1", "--format", "json",
    ]);
    assert_exit(&json, 0);
    let json = crate::json::assert_matches("report", &json);
    let index = &json["migrations"][0];
    assert_eq!(index["version"], "2");
    assert_eq!(index["severity"], serde_json::Value::Null);
    assert_eq!(index["findings"][0]["code"], "SG101");
    assert_eq!(
        index["findings"][0]["allowed"],
        "orders is written once a day, at night"
    );
    assert_eq!(json["summary"]["errors"], 0);
}

/// In CI, an allow directive added to a released migration is no edit either: `lint
/// --changed-since` lints the file but reports no SG510 (edited released migration), and
/// `verify --against` passes; an edit of its SQL is still both.
#[test]
fn an_allow_directive_added_since_the_ref_is_no_edit_in_ci() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q"]);
    write(&root.join("stagegate.toml"), "");
    let file = root.join("migrations/1_index.up.sql");
    write(&file, INDEX);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "release"]);
    write(
        &file,
        &format!("-- stagegate:allow SG101 -- orders has 40 rows\n{INDEX}"),
    );
    let codes = |out: &Output| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let lint = stagegate(
        root,
        &["lint", "--changed-since", "HEAD", "--format", "json"],
    );
    assert!(lint.code == 0 || lint.code == 1, "{}", lint.stderr);
    assert!(
        !codes(&lint).contains(&"SG510".to_string()),
        "{}",
        lint.stdout
    );
    assert!(
        !codes(&lint).contains(&"SG101".to_string()),
        "{}",
        lint.stdout
    );
    assert_exit(&stagegate(root, &["verify", "--against", "HEAD"]), 0);

    write(
        &file,
        "-- stagegate:allow SG101 -- orders has 40 rows\n\
         CREATE INDEX orders_customer ON orders (customer, id);\n",
    );
    let lint = stagegate(
        root,
        &["lint", "--changed-since", "HEAD", "--format", "json"],
    );
    assert!(
        codes(&lint).contains(&"SG510".to_string()),
        "{}",
        lint.stdout
    );
    let verify = stagegate(root, &["verify", "--against", "HEAD"]);
    assert_ne!(verify.code, 0, "{}", verify.stderr);
    assert!(
        verify.stderr.contains("was edited since"),
        "{}",
        verify.stderr
    );
}

//! The connection target and the programs stagegate starts: a URL is the whole target (the
//! caller's `PG*` variables reach neither stagegate's drivers nor its children), SQLAlchemy
//! URLs are accepted, the password reaches pg_dump and pg_restore only through a passfile
//! nothing names on disk, and a backup interrupted by a signal, or killed, leaves no password
//! and no partial archive behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use stagegate::DatabaseUrl;
use stagegate::{Cluster, ScratchOptions};

use crate::support::harness::{TestDb, block_on};
use crate::support::project::{Output, Project, URL_VAR, assert_exit, query};

/// What an operator's shell may hold, none of which is the target's: every one of them
/// would send a child elsewhere, or make it fail, if it got through.
const HOSTILE: [(&str, &str); 9] = [
    ("PGHOST", "/nonexistent"),
    ("PGPORT", "1"),
    ("PGUSER", "nobody_here"),
    ("PGPASSWORD", "wrong-password"),
    ("PGDATABASE", "nowhere"),
    ("PGSERVICE", "bogus"),
    ("PGSERVICEFILE", "/nonexistent/pg_service.conf"),
    ("PGOPTIONS", "-c default_transaction_read_only=on"),
    ("PGSSLMODE", "verify-full"),
];

/// `p`'s command with the target `url` and the hostile variables.
fn run_hostile(p: &Project, url: &str, args: &[&str]) -> Output {
    let mut cmd = p.command();
    cmd.env(URL_VAR, url).envs(HOSTILE).args(args);
    Output::from(cmd.output().unwrap())
}

/// A throwaway cluster of the test's own that requires passwords (scram-sha-256) for every
/// connection, and the URL of its `postgres` database with the right password.
struct ScramCluster {
    cluster: Cluster,
    password: &'static str,
}

impl ScramCluster {
    fn start() -> ScramCluster {
        let cluster = Cluster::start(&ScratchOptions {
            bin_dir: None,
            prefer_major: Some(15),
        })
        .unwrap_or_else(|e| panic!("a throwaway cluster for the password test: {e}"));
        let password = "Scr@m:pa\\ss word";
        let trusted = cluster.url("postgres");
        block_on(async move {
            let client = stagegate::connect(&trusted).await.unwrap();
            client
                .batch_execute(&format!(
                    "SET password_encryption = 'scram-sha-256'; \
                     ALTER ROLE postgres PASSWORD '{}'",
                    password.replace('\'', "''")
                ))
                .await
                .unwrap();
        });
        // Passwords for every connection from now on, sockets included.
        let hba = cluster.dir().join("data").join("pg_hba.conf");
        std::fs::write(
            &hba,
            "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n\
             host all all ::1/128 scram-sha-256\n",
        )
        .unwrap();
        let trusted = cluster.url("postgres");
        block_on(async move {
            let client = stagegate::connect(&trusted).await.unwrap();
            client
                .batch_execute("SELECT pg_reload_conf()")
                .await
                .unwrap();
        });
        let scram = ScramCluster { cluster, password };
        // The reload takes effect for new sessions once the postmaster has read the file.
        let started = Instant::now();
        loop {
            let probe = DatabaseUrl::new(format!(
                "postgres://postgres@127.0.0.1:{}/postgres",
                scram.cluster.port()
            ));
            let refused = block_on(async move { stagegate::connect(&probe).await.is_err() });
            if refused {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the cluster never started asking for passwords"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        scram
    }

    /// `database`'s URL, with the password (percent-encoded).
    fn url(&self, database: &str) -> String {
        let encoded: String = self
            .password
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!(
            "postgres://postgres:{encoded}@127.0.0.1:{}/{database}",
            self.cluster.port()
        )
    }

    fn query(&self, database: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let url = DatabaseUrl::new(self.url(database));
        let sql = sql.to_string();
        block_on(async move {
            let client = stagegate::connect(&url).await.unwrap();
            client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    }
}

#[test]
fn backup_and_restore_on_a_password_server_ignore_the_callers_pg_variables() {
    let scram = ScramCluster::start();
    for database in ["shop", "scratch_server", "restored_here"] {
        scram.query("postgres", &format!("CREATE DATABASE {database}"));
    }
    scram.query(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 7)",
    );
    let p = Project::new("backup = { dir = \"backups\", keep = 3 }");
    let url = scram.url("shop");

    let created = run_hostile(&p, &url, &["backup", "create", "--env", "staging"]);
    assert_exit(&created, 0);
    assert!(created.stdout.contains("tables: "), "{}", created.stdout);

    // Restored into a database of its own on the scratch server (this cluster, with the
    // password in the URL), counted, dropped.
    let shadow = scram.url("scratch_server");
    let verified = run_hostile(
        &p,
        &url,
        &["backup", "verify", "--env", "staging", "--shadow", &shadow],
    );
    assert_exit(&verified, 0);
    assert!(
        verified.stdout.contains("row counts of all"),
        "{}",
        verified.stdout
    );
    assert_eq!(
        scram.query(
            "postgres",
            "SELECT count(*)::text FROM pg_database WHERE datname LIKE 'stagegate_%'"
        )[0][0]
            .as_deref(),
        Some("0"),
        "the scratch database was dropped"
    );
    assert_eq!(
        scram.query(
            "scratch_server",
            "SELECT count(*)::text FROM pg_class WHERE relname = 'orders'"
        )[0][0]
            .as_deref(),
        Some("0"),
        "nothing was restored into the server URL's own database"
    );

    // Named explicitly, a database is restored into as it is.
    let into = scram.url("restored_here");
    let restored = run_hostile(
        &p,
        &url,
        &[
            "backup",
            "verify",
            "--env",
            "staging",
            "--restore-into",
            &into,
        ],
    );
    assert_exit(&restored, 0);
    assert_eq!(
        scram.query("restored_here", "SELECT count(*)::text FROM orders")[0][0].as_deref(),
        Some("7")
    );
    for out in [&created, &verified, &restored] {
        assert!(!out.stderr.contains(scram.password), "{}", out.stderr);
        assert!(!out.stdout.contains(scram.password), "{}", out.stdout);
    }

    // Without the password in the URL, the caller's PGPASSWORD (even the right one) is not
    // used: the URL is the whole target.
    let without = format!(
        "postgres://postgres@127.0.0.1:{}/shop",
        scram.cluster.port()
    );
    let mut cmd = p.command();
    cmd.env(URL_VAR, &without)
        .env("PGPASSWORD", scram.password)
        .args(["backup", "create", "--env", "staging"]);
    let refused = Output::from(cmd.output().unwrap());
    assert_exit(&refused, 4);
    assert!(refused.stderr.contains("password"), "{}", refused.stderr);
}

#[test]
fn sqlalchemy_urls_reach_the_database_and_children() {
    let p = Project::new("backup = { dir = \"backups\", keep = 3 }");
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    let url = p.db.database_url().expose().to_string();
    let rest = url.strip_prefix("postgres://").unwrap();
    for scheme in ["postgresql+psycopg2", "postgresql+asyncpg"] {
        let aliased = format!("{scheme}://{rest}");
        let status = run_hostile(&p, &aliased, &["migrate", "status", "--env", "staging"]);
        assert_exit(&status, 0);
    }
    let aliased = format!("postgresql+psycopg2://{rest}");
    assert_exit(
        &run_hostile(&p, &aliased, &["migrate", "apply", "--env", "staging"]),
        0,
    );
    assert_exit(
        &run_hostile(&p, &aliased, &["backup", "create", "--env", "staging"]),
        0,
    );
    let bad = run_hostile(
        &p,
        &format!("mysql+pymysql://{rest}"),
        &["migrate", "status", "--env", "staging"],
    );
    assert_exit(&bad, 2);
    assert!(
        bad.stderr
            .contains("`mysql+pymysql://` is not a PostgreSQL URL scheme"),
        "{}",
        bad.stderr
    );
}

/// A directory holding a `pg_dump` script that records its environment into `log` and runs
/// the real one, and the real pg_restore beside it.
fn logging_pg_dump(log: &Path) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pg_dump"),
        format!(
            "#!/bin/sh\nenv > {log}.$$\nmv {log}.$$ {log}\nexec {real} \"$@\"\n",
            log = log.display(),
            real = real("pg_dump").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("pg_dump"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink(real("pg_restore"), dir.path().join("pg_restore")).unwrap();
    dir
}

/// A real client program: the first on PATH.
fn real(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH; these tests need the client programs"))
}

#[test]
fn pg_dump_sees_only_the_targets_libpq_settings() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("env");
    let bin = logging_pg_dump(&log);
    let p = Project::new(&format!(
        "backup = {{ dir = \"backups\", keep = 3 }}\n[backup]\npg_dump = {}",
        toml::Value::String(bin.path().join("pg_dump").display().to_string())
    ));
    let password = "Pw:with\\specials";
    let url =
        p.db.database_url()
            .expose()
            .replacen("postgres@", "postgres:Pw%3Awith%5Cspecials@", 1);
    let out = run_hostile(&p, &url, &["backup", "create", "--env", "staging"]);
    assert_exit(&out, 0);
    let env = std::fs::read_to_string(&log).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    assert_eq!(var("PGHOST").as_deref(), Some("127.0.0.1"), "{env}");
    assert_eq!(var("PGDATABASE").as_deref(), Some(p.db.name.as_str()));
    assert_eq!(var("PGUSER").as_deref(), Some("postgres"));
    assert_eq!(var("PGSSLMODE").as_deref(), Some("prefer"));
    assert_eq!(var("PGAPPNAME").as_deref(), Some("stagegate-backup"));
    for name in ["PGPASSWORD", "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS"] {
        assert_eq!(var(name), None, "{name} reached pg_dump:\n{env}");
    }
    let passfile = var("PGPASSFILE").unwrap();
    assert!(passfile.starts_with("/dev/fd/"), "{passfile}");
    assert!(!env.contains(password), "{env}");
}

/// `backup create` as a child process on `p` (the target `url`, `TMPDIR` set to `tmp`), its
/// output piped.
fn spawn_backup(p: &Project, url: &str, tmp: &Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("stagegate"))
        .current_dir(p.dir.path())
        .env_remove("STAGEGATE_CONFIG")
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp)
        .env(URL_VAR, url)
        .envs(HOSTILE)
        .args(["backup", "create", "--env", "staging"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Another session of `p`'s database holding ACCESS EXCLUSIVE on `users` until dropped (its
/// backend is then ended), so that pg_dump waits on its LOCK TABLE for as long as the test
/// needs.
struct LockHolder {
    child: Child,
    db: DatabaseUrl,
}

const HOLDER: &str = "sg_test_lock_holder";

impl LockHolder {
    fn take(p: &Project) -> LockHolder {
        let child = std::process::Command::new(real("psql"))
            .arg(format!(
                "{}?application_name={HOLDER}",
                p.db.database_url().expose()
            ))
            .args([
                "-c",
                "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)",
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
        LockHolder {
            child,
            db: p.db.database_url(),
        }
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The backend sleeps on with its lock until it notices: end it.
        let db = self.db.clone();
        block_on(async move {
            let client = stagegate::connect(&db).await.unwrap();
            client
                .batch_execute(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = '{HOLDER}' AND datname = current_database()"
                ))
                .await
                .unwrap();
        });
    }
}

/// The process id of the pg_dump `stagegate` started, once it waits for its table lock.
fn waiting_pg_dump(p: &Project) -> u32 {
    let started = Instant::now();
    loop {
        let pid = p.scalar(
            "SELECT coalesce(max(pid), 0)::text FROM pg_stat_activity \
             WHERE application_name = 'stagegate-backup' AND wait_event_type = 'Lock' \
             AND datname = current_database()",
        );
        if pid.as_deref() != Some("0") {
            // The server's backend: its client is the pg_dump on this machine.
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "pg_dump never started waiting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pgrep_pg_dump(&p.db.name).expect("a pg_dump process")
}

/// The process named pg_dump whose environment says it is stagegate's, dumping `database`.
fn pgrep_pg_dump(database: &str) -> Option<u32> {
    let wanted = format!("PGDATABASE={database}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "pg_dump")
                && std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|e| {
                    let environ = String::from_utf8_lossy(&e);
                    environ.contains("PGAPPNAME=stagegate-backup") && environ.contains(&wanted)
                })
        })
        .max()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
}

/// Every file under `dir` whose bytes contain `needle`, and every file whose name says it
/// is a passfile.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if path.to_string_lossy().contains("pgpass")
            || std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

/// Passfiles as stagegate once named them, in the system's temporary directory.
fn old_passfiles() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("stagegate-pgpass-")
        })
        .map(|e| e.path())
        .collect()
}

fn backup_project() -> Project {
    let p = Project::new("backup = { dir = \"backups\", keep = 3 }");
    p.query("CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (1), (2);");
    p
}

fn password_url(p: &Project, password: &str) -> String {
    p.db.database_url()
        .expose()
        .replacen("postgres@", &format!("postgres:{password}@"), 1)
}

#[test]
fn a_backup_killed_with_sigkill_leaves_no_password_on_disk_and_no_pg_dump_running() {
    let p = backup_project();
    let password = "NeverOnDisk4711";
    let tmp = tempfile::tempdir().unwrap();
    let holder = LockHolder::take(&p);
    let mut child = spawn_backup(&p, &password_url(&p, password), tmp.path());
    let pg_dump = waiting_pg_dump(&p);

    // While pg_dump runs: its passfile is a descriptor, named nowhere on disk.
    let environ =
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pg_dump}/environ")).unwrap())
            .into_owned();
    assert!(environ.contains("PGPASSFILE=/dev/fd/"), "{environ}");
    assert!(!environ.contains(password), "{environ}");
    let fd = environ
        .split('\0')
        .find_map(|v| v.strip_prefix("PGPASSFILE=/dev/fd/"))
        .unwrap()
        .to_string();
    let target = std::fs::read_link(format!("/proc/{pg_dump}/fd/{fd}")).unwrap();
    assert!(
        target.to_string_lossy().starts_with("/memfd:"),
        "an anonymous memory file: {}",
        target.display()
    );
    for dir in [tmp.path(), p.dir.path()] {
        assert_eq!(files_holding(dir, password), Vec::<PathBuf>::new());
    }
    assert_eq!(old_passfiles(), Vec::<PathBuf>::new());

    child.kill().unwrap();
    let _ = child.wait();
    // pg_dump goes with it, and with pg_dump the passfile.
    let started = Instant::now();
    while alive(pg_dump) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pg_dump {pg_dump} outlived the stagegate that started it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(holder);
    for dir in [tmp.path(), p.dir.path()] {
        assert_eq!(files_holding(dir, password), Vec::<PathBuf>::new());
    }
    assert_eq!(old_passfiles(), Vec::<PathBuf>::new());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing of stagegate's in its TMPDIR"
    );
}

fn interrupted_backup_removes_the_partial_archive(signal: &str, name: &str) {
    let p = backup_project();
    let tmp = tempfile::tempdir().unwrap();
    let holder = LockHolder::take(&p);
    let child = spawn_backup(&p, &password_url(&p, "SigPw1"), tmp.path());
    let pg_dump = waiting_pg_dump(&p);
    let backups = p.dir.path().join("backups");
    let partial: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        partial.iter().any(|f| f.starts_with(".stagegate-partial-")),
        "pg_dump writes a partial file: {partial:?}"
    );
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = Output::from(crate::support::harness::wait_output(child, "backup create"));
    drop(holder);
    assert_exit(&out, 4);
    let started = Instant::now();
    while alive(pg_dump) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        out.stderr.contains(&format!(
            "interrupted ({name}); the partial file was removed"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_dir(&backups).unwrap().count(),
        0,
        "the partial archive was removed"
    );
    assert!(!alive(pg_dump), "pg_dump was ended");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert_eq!(
        p.scalar("SELECT count(*)::text FROM stagegate.events WHERE kind = 'backup'"),
        Some("0".into())
    );
}

#[test]
fn sigterm_during_a_backup_removes_the_partial_archive() {
    interrupted_backup_removes_the_partial_archive("TERM", "SIGTERM");
}

#[test]
fn ctrl_c_during_a_backup_removes_the_partial_archive() {
    interrupted_backup_removes_the_partial_archive("INT", "Ctrl-C");
}

#[test]
fn the_shadow_variable_never_turns_a_restore_on_and_means_a_server() {
    let p = backup_project();
    assert_exit(&p.run(&["backup", "create", "--env", "staging"]), 0);
    let server = TestDb::create();
    let server_url = server.database_url().expose().to_string();
    let with_var = |args: &[&str]| {
        let mut cmd = p.command();
        cmd.env("STAGEGATE_SHADOW_URL", &server_url).args(args);
        Output::from(cmd.output().unwrap())
    };
    // Without --shadow: no restore anywhere.
    let plain = with_var(&["backup", "verify", "--env", "staging"]);
    assert_exit(&plain, 0);
    assert!(!plain.stdout.contains("restore"), "{}", plain.stdout);
    // --shadow alone: the variable's server, in a database of stagegate's own.
    let shadowed = with_var(&["backup", "verify", "--env", "staging", "--shadow"]);
    assert_exit(&shadowed, 0);
    assert!(
        shadowed.stdout.contains("row counts of all"),
        "{}",
        shadowed.stdout
    );
    assert_eq!(
        query(
            &server,
            "SELECT count(*)::text FROM pg_class WHERE relname = 'users'"
        )[0][0]
            .as_deref(),
        Some("0"),
        "the server URL's own database is left alone"
    );
    assert_eq!(
        query(
            &server,
            "SELECT count(*)::text FROM pg_database WHERE datname LIKE 'stagegate\\_backup\\_%'"
        )[0][0]
            .as_deref(),
        Some("0"),
        "stagegate's database was dropped"
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
    assert!(own.stderr.contains("never into the one"), "{}", own.stderr);
}

/// With a root file of its own (`sslrootcert`), the state connection's TLS is done by
/// stagegate's connector through a local socket: a directory that exists only until sqlx has
/// connected. While the run holds that connection open (a backup waiting on a lock), and after
/// it, stagegate's temporary directory is empty.
#[test]
fn the_state_connections_relay_leaves_no_directory_behind() {
    const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let p = backup_project();
    let url = p.db.database_url().expose().to_string();
    assert!(
        url.contains("127.0.0.1") && Path::new(SERVER_CERT).is_file(),
        "this test expects the local server at 127.0.0.1 with Debian's snakeoil certificate"
    );
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={SERVER_CERT}",
        url.replace("127.0.0.1", "localhost")
    );
    let tmp = tempfile::tempdir().unwrap();
    let holder = LockHolder::take(&p);
    let child = spawn_backup(&p, &verified, tmp.path());
    waiting_pg_dump(&p);
    assert_eq!(
        p.scalar(
            "SELECT count(*)::text FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'stagegate' AND s.ssl AND a.datname = current_database() \
             AND a.pid <> pg_backend_pid()"
        ),
        Some("3".into()),
        "the lock, the snapshot and the state connections, all over TLS"
    );
    let during: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    drop(holder);
    let out = Output::from(crate::support::harness::wait_output(child, "backup create"));
    assert_exit(&out, 0);
    assert_eq!(
        during,
        Vec::<String>::new(),
        "while the run held its connections"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "after it"
    );
}

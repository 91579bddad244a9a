//! The PostgreSQL the tests run against.
//!
//! `STAGEGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names
//! a server where the tests may create databases. Each [`TestDb`] is a new, uniquely named
//! database, dropped when the value is dropped. Where no server answers there, the harness
//! starts the throwaway cluster `--shadow`-less commands use ([`stagegate::Cluster`])
//! from the local server binaries, once per test process (under nextest, one for all its test
//! processes: [`shared_cluster`]); its watchdog stops it and removes its directory when the
//! process holding it exits (statics are never dropped). Without server binaries, a
//! pinned `postgres` image is started with testcontainers where a Docker engine is reachable.
//! Where none of these works, the test fails with a message saying how to provide one: it
//! never skips.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stagegate::DatabaseUrl;
use stagegate::STAGEGATE_TEST_DATABASE_URL;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Pinned so every run tests the same server.
const IMAGE: (&str, &str) = ("postgres", "15.10-alpine");
/// The major version a throwaway cluster prefers, where several are installed: the image's.
const MAJOR: u32 = 15;

/// A scratch database of its own for one test.
pub(crate) struct TestDb {
    pub name: String,
    url: String,
}

impl TestDb {
    pub(crate) fn create() -> TestDb {
        TestDb::create_with("")
    }

    /// A database created with `options` after its name (`ENCODING 'LATIN1' ...`).
    pub(crate) fn create_with(options: &str) -> TestDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let server = server();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "sg_test_{}_{}_{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin(server, &format!("CREATE DATABASE {name} {options}"));
        let url = with_database(server, &name);
        TestDb { name, url }
    }

    pub(crate) fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::new(self.url.clone())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // FORCE ends sessions a failed test may have left open.
        admin(
            server(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own, so it works
/// from plain tests, from async tests and from `Drop`.
pub(crate) fn block_on<F: Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime")
                    .block_on(future)
            })
            .join()
            .expect("harness thread panicked")
    })
}

fn admin(server: &str, sql: &str) {
    let url = DatabaseUrl::new(server.to_string());
    let sql = sql.to_string();
    block_on(async move {
        let client = stagegate::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// The admin URL of the server the tests use, found once per process.
fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| {
        let url = std::env::var(STAGEGATE_TEST_DATABASE_URL)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let probe = DatabaseUrl::new(format!(
            "{url}{}connect_timeout=5",
            if url.contains('?') { '&' } else { '?' }
        ));
        let reached = block_on(async move { stagegate::connect(&probe).await.map(drop) });
        let Err(error) = reached else {
            return url;
        };
        let cluster = if std::env::var_os("NEXTEST").is_some() {
            shared_cluster()
        } else {
            start_cluster()
        };
        match cluster {
            Ok(cluster_url) => cluster_url,
            Err(cluster_error) if docker_reachable() => {
                start_container().unwrap_or_else(|container_error| {
                    fail(
                        &url,
                        &error.to_string(),
                        &format!("{cluster_error}\nDocker: {container_error}"),
                    )
                })
            }
            Err(cluster_error) => fail(&url, &error.to_string(), &cluster_error),
        }
    })
}

/// Starts the throwaway cluster, kept for the life of the test process.
fn start_cluster() -> Result<String, String> {
    static CLUSTER: OnceLock<stagegate::Cluster> = OnceLock::new();
    let (cluster, url) = new_cluster()?;
    let _ = CLUSTER.set(cluster);
    Ok(url)
}

fn new_cluster() -> Result<(stagegate::Cluster, String), String> {
    use stagegate::{Cluster, ScratchOptions};
    let options = ScratchOptions {
        bin_dir: None,
        prefer_major: Some(MAJOR),
    };
    let cluster = Cluster::start(&options).map_err(|e| e.to_string())?;
    let url = cluster.url("postgres").expose().to_string();
    eprintln!(
        "tests: using a throwaway PostgreSQL {} at {url} ({})",
        cluster.major(),
        cluster.dir().display()
    );
    offer_tls(&cluster, &url)?;
    Ok((cluster, url))
}

/// Names the directory of the shared cluster's files, in the keeper process.
const KEEPER_VAR: &str = "STAGEGATE_TEST_CLUSTER_KEEPER";
/// How long the keeper waits, with no test process using its cluster, before it stops it.
const KEEPER_IDLE: Duration = Duration::from_secs(2);

/// Under nextest every test is a process of its own, and a cluster each would cost a second
/// of start-up per test. So one cluster serves them all, held by a keeper: this test binary
/// run again as `support::harness::keep_shared_cluster`. Every test process holds a shared lock on
/// `users.lock` for its lifetime (the kernel releases it however the process ends); the
/// keeper stops the cluster once nobody has held one for [`KEEPER_IDLE`]. `setup.lock`
/// orders starting a keeper, reading its URL and the keeper's decision to stop.
fn shared_cluster() -> Result<String, String> {
    use std::hash::{Hash, Hasher};
    static USING: OnceLock<std::fs::File> = OnceLock::new();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    exe.hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("stagegate-tests-{:016x}", hasher.finish()));
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(name))
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    // The keeper removes the directory when it stops, under both locks: a lock taken on a
    // file it has just unlinked is worth nothing, so check, and start over.
    let mut attempts = 0;
    let (users, setup) = loop {
        attempts += 1;
        let locked = std::fs::create_dir_all(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))
            .and_then(|()| {
                let users = open("users.lock")?;
                users.lock_shared().map_err(|e| e.to_string())?;
                let setup = open("setup.lock")?;
                setup.lock().map_err(|e| e.to_string())?;
                Ok((users, setup))
            });
        match locked {
            Ok((users, setup))
                if still_at(&users, &dir.join("users.lock"))
                    && still_at(&setup, &dir.join("setup.lock")) =>
            {
                break (users, setup);
            }
            Err(error) if attempts >= 20 => return Err(error),
            Ok(_) if attempts >= 20 => return Err(format!("{} keeps changing", dir.display())),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let _ = USING.set(users);
    let url_file = dir.join("url");
    let _held_until_return = setup;
    if let Ok(url) = std::fs::read_to_string(&url_file) {
        let probe = DatabaseUrl::new(url.clone());
        if block_on(async move { stagegate::connect(&probe).await.is_ok() }) {
            return Ok(url);
        }
    }
    let _ = std::fs::remove_file(&url_file);
    let error_file = dir.join("error");
    let _ = std::fs::remove_file(&error_file);
    let mut keeper = std::process::Command::new(&exe);
    keeper
        .args([
            "support::harness::keep_shared_cluster",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(KEEPER_VAR, &dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut keeper, 0);
    let mut keeper = keeper
        .spawn()
        .map_err(|e| format!("starting the cluster's keeper: {e}"))?;
    let started = std::time::Instant::now();
    loop {
        if let Ok(url) = std::fs::read_to_string(&url_file) {
            // Reaped by a thread, so it does not linger as a zombie of this process.
            std::thread::spawn(move || keeper.wait());
            return Ok(url);
        }
        if let Some(status) = keeper.try_wait().map_err(|e| e.to_string())? {
            let error = std::fs::read_to_string(&error_file).unwrap_or_default();
            return Err(format!("the cluster's keeper ended ({status}): {error}"));
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err("the cluster's keeper did not start a cluster in 120 s".to_string());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `file` is still the file at `path` (not unlinked or replaced since it was opened).
fn still_at(file: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), path.metadata()) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// The keeper of [`shared_cluster`]; runs only when started by it.
#[test]
#[ignore = "the keeper process of the cluster shared by nextest's test processes"]
fn keep_shared_cluster() {
    let Some(dir) = std::env::var_os(KEEPER_VAR).map(std::path::PathBuf::from) else {
        return;
    };
    let (cluster, url) = match new_cluster() {
        Ok(started) => started,
        Err(error) => {
            std::fs::write(dir.join("error"), &error).unwrap();
            panic!("{error}");
        }
    };
    let partial = dir.join("url.partial");
    std::fs::write(&partial, &url).unwrap();
    std::fs::rename(&partial, dir.join("url")).unwrap();
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(name))
            .unwrap()
    };
    let (users, setup) = (open("users.lock"), open("setup.lock"));
    let mut idle = Duration::ZERO;
    let tick = Duration::from_millis(250);
    loop {
        std::thread::sleep(tick);
        setup.lock().unwrap();
        let unused = users.try_lock().is_ok();
        idle = if unused { idle + tick } else { Duration::ZERO };
        if idle >= KEEPER_IDLE {
            // Under both locks: no test process reads the URL of a cluster going away, and
            // one that opened the lock files before they go sees that they went.
            drop(cluster);
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        if unused {
            users.unlock().unwrap();
        }
        setup.unlock().unwrap();
    }
}

/// Debian's snakeoil certificate and key, which the machine's own cluster serves.
const SNAKEOIL: (&str, &str) = (
    "/etc/ssl/certs/ssl-cert-snakeoil.pem",
    "/etc/ssl/private/ssl-cert-snakeoil.key",
);

/// Serves TLS with the snakeoil certificate where it exists, as the machine's cluster does, so
/// the TLS tests (and `sslmode=prefer`) see the same server. The key is copied into the
/// cluster's directory for the server's user, who may not read the original.
fn offer_tls(cluster: &stagegate::Cluster, url: &str) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (cert, key) = SNAKEOIL;
    let Ok(key_text) = std::fs::read(key) else {
        return Ok(());
    };
    let owner = cluster.dir().metadata().map_err(|e| e.to_string())?;
    let copy = |from: &str, name: &str, text: &[u8]| -> Result<String, String> {
        let to = cluster.dir().join(name);
        std::fs::write(&to, text).map_err(|e| format!("copying {from}: {e}"))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::os::unix::fs::chown(&to, Some(owner.uid()), Some(owner.gid())))
            .map_err(|e| format!("{}: {e}", to.display()))?;
        Ok(to.display().to_string())
    };
    let cert_text = std::fs::read(cert).map_err(|e| format!("{cert}: {e}"))?;
    let cert = copy(cert, "server.crt", &cert_text)?;
    let key = copy(key, "server.key", &key_text)?;
    // ALTER SYSTEM refuses a transaction block, which a multi-statement batch is.
    for setting in [
        format!("ssl_cert_file = '{cert}'"),
        format!("ssl_key_file = '{key}'"),
        "ssl = on".to_string(),
    ] {
        admin(url, &format!("ALTER SYSTEM SET {setting}"));
    }
    admin(url, "SELECT pg_reload_conf()");
    // The postmaster reloads on its own time; new sessions see it once it has.
    for _ in 0..100 {
        let probe = DatabaseUrl::new(url.to_string());
        let ssl = block_on(async move {
            let client = stagegate::connect(&probe).await.ok()?;
            let row = client.query_one("SHOW ssl", &[]).await.ok()?;
            Some(row.get::<_, String>(0))
        });
        if ssl.as_deref() == Some("on") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "the throwaway cluster at {url} did not turn ssl on"
    ))
}

fn fail(url: &str, why: &str, cluster: &str) -> ! {
    panic!(
        "\n\nNo PostgreSQL for the tests: {} did not answer ({why}), and no throwaway cluster \
         could be started:\n{cluster}\n\
         Provide one of:\n  \
         - the server binaries: apt-get install postgresql (Debian/Ubuntu)\n  \
         - a server where the tests may create databases, named by {STAGEGATE_TEST_DATABASE_URL}\n  \
         - a running Docker engine, so the tests start {}:{} with testcontainers\n",
        stagegate::redact(url),
        IMAGE.0,
        IMAGE.1
    )
}

/// `server` with its database replaced by `database`.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn docker_reachable() -> bool {
    if std::env::var_os("DOCKER_HOST").is_some() {
        return true;
    }
    #[cfg(unix)]
    {
        std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Starts the pinned image once and keeps it for the life of the test process.
fn start_container() -> Result<String, String> {
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ContainerAsync, GenericImage, ImageExt};

    static CONTAINER: OnceLock<ContainerAsync<GenericImage>> = OnceLock::new();
    let started = block_on(async {
        let container = GenericImage::new(IMAGE.0, IMAGE.1)
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr(
                "database system is ready to accept connections",
            ))
            .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
            .with_startup_timeout(Duration::from_secs(120))
            .start()
            .await
            .map_err(|e| e.to_string())?;
        let host = container.get_host().await.map_err(|e| e.to_string())?;
        let port = container
            .get_host_port_ipv4(5432)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((
            container,
            format!("postgres://postgres@{host}:{port}/postgres"),
        ))
    })?;
    let (container, url) = started;
    let _ = CONTAINER.set(container);
    // The image logs "ready" once for its init run and once for real; wait for the real one.
    for _ in 0..60 {
        let probe = DatabaseUrl::new(url.clone());
        if block_on(async move { stagegate::connect(&probe).await.is_ok() }) {
            return Ok(url);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!("container started but {url} did not answer"))
}

#[test]
fn database_url_swaps_only_the_database() {
    assert_eq!(
        with_database("postgres://u@h:5/postgres", "x"),
        "postgres://u@h:5/x"
    );
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
    assert_eq!(
        with_database("postgres://u@h/p?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
}

/// How long a test waits for anything it started (a child process, a terminal's output, a
/// thread holding a lock) before it gives up and fails saying what it waited for: a bug that
/// makes the binary wait for input or a lock must fail the test, not hang the suite.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

/// Waits for `child` to end, reading its piped stdout and stderr meanwhile. Past [`DEADLINE`]
/// it kills the child and fails, naming `what` and showing what the child had written.
#[track_caller]
pub(crate) fn wait_output(mut child: std::process::Child, what: &str) -> std::process::Output {
    use std::io::Read;
    fn drain<R: Read + Send + 'static>(
        pipe: Option<R>,
    ) -> (
        std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        std::thread::JoinHandle<()>,
    ) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            let Some(mut pipe) = pipe else { return };
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        (seen, reader)
    }
    drop(child.stdin.take());
    let (stdout, out_reader) = drain(child.stdout.take());
    let (stderr, err_reader) = drain(child.stderr.take());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not end within {} s, so it was killed\n--- stdout so far\n{}\n--- \
                 stderr so far\n{}",
                DEADLINE.as_secs(),
                String::from_utf8_lossy(&stdout.lock().unwrap()),
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A grandchild may hold the pipes open: give the readers a bounded time.
    for reader in [out_reader, err_reader] {
        let joined = std::time::Instant::now();
        while !reader.is_finished() && joined.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let take = |seen: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>| seen.lock().unwrap().clone();
    std::process::Output {
        status,
        stdout: take(&stdout),
        stderr: take(&stderr),
    }
}

/// Runs `cmd` (the real binary, built by a test) to its end, bounded by [`DEADLINE`].
#[track_caller]
pub(crate) fn run_output(cmd: &mut assert_cmd::Command, what: &str) -> std::process::Output {
    use std::os::unix::process::ExitStatusExt;
    let output = cmd.timeout(DEADLINE).output().unwrap();
    // assert_cmd kills the process at the deadline; nothing else sends a test's run SIGKILL.
    if output.status.signal() == Some(libc::SIGKILL) {
        panic!(
            "{what} did not end within {} s, so it was killed\n--- stdout\n{}\n--- stderr\n{}",
            DEADLINE.as_secs(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Receives from `rx` within [`DEADLINE`], or fails naming `what` it was waiting for.
#[track_caller]
pub(crate) fn recv<T>(rx: &std::sync::mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|error| panic!("waited {} s for {what}: {error}", DEADLINE.as_secs()))
}

/// Joins `thread` within [`DEADLINE`], or fails naming `what` it was waiting for.
#[track_caller]
pub(crate) fn join<T>(thread: std::thread::JoinHandle<T>, what: &str) -> T {
    let started = std::time::Instant::now();
    while !thread.is_finished() {
        assert!(
            started.elapsed() < DEADLINE,
            "waited {} s for {what} to end",
            DEADLINE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    thread.join().unwrap_or_else(|_| panic!("{what} panicked"))
}

/// Waits for `child` to end within [`DEADLINE`]; past it, kills it and fails naming `what`.
#[track_caller]
pub(crate) fn wait_status(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            return status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not end within {} s, so it was killed",
                DEADLINE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

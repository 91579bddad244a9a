//! The PostgreSQL the tests run against.
//!
//! `STAGEGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names
//! a server where the tests may create databases. Each [`TestDb`] is a new, uniquely named
//! database, dropped when the value is dropped. Where no server answers and a Docker engine is
//! reachable, a pinned `postgres` image is started once with testcontainers. Where neither is
//! available, the test fails with a message saying how to provide one: it never skips.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stagegate::config::DatabaseUrl;
use stagegate::env_vars::STAGEGATE_TEST_DATABASE_URL;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Pinned so every run tests the same server.
const IMAGE: (&str, &str) = ("postgres", "15.10-alpine");

/// A scratch database of its own for one test.
pub struct TestDb {
    pub name: String,
    url: String,
}

impl TestDb {
    pub fn create() -> TestDb {
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
        admin(server, &format!("CREATE DATABASE {name}"));
        let url = with_database(server, &name);
        TestDb { name, url }
    }

    pub fn database_url(&self) -> DatabaseUrl {
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
pub fn block_on<F: Future + Send>(future: F) -> F::Output
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
        let client = stagegate::db::connect(&url)
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
        let configured = std::env::var(STAGEGATE_TEST_DATABASE_URL)
            .ok()
            .filter(|v| !v.is_empty());
        let url = configured
            .clone()
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let probe = DatabaseUrl::new(format!(
            "{url}{}connect_timeout=5",
            if url.contains('?') { '&' } else { '?' }
        ));
        let reached = block_on(async move { stagegate::db::connect(&probe).await.map(drop) });
        match reached {
            Ok(()) => url,
            Err(error) if configured.is_none() && docker_reachable() => start_container()
                .unwrap_or_else(|container_error| {
                    fail(&url, &format!("{error}; Docker: {container_error}"))
                }),
            Err(error) => fail(&url, &error.to_string()),
        }
    })
}

fn fail(url: &str, why: &str) -> ! {
    panic!(
        "\n\nNo PostgreSQL for the tests: {} did not answer ({why}).\n\
         Provide one of:\n  \
         - a server where the tests may create databases, named by {STAGEGATE_TEST_DATABASE_URL}\n  \
         - the local server: pg_ctlcluster --skip-systemctl-redirect 15 main start\n  \
         - a running Docker engine, so the tests start {}:{} with testcontainers\n",
        stagegate::config::redact(url),
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
        if block_on(async move { stagegate::db::connect(&probe).await.is_ok() }) {
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

//! One stagegate run per database at a time: a session-level advisory lock held on a
//! connection of its own for the whole run.
//!
//! Advisory locks are scoped to the database, so one fixed key serves every database on a
//! server. The lock goes away with the connection, so a killed run never leaves it behind.
//!
//! The connection that runs the migrations holds a second key, [`SESSION_KEY`], for the same
//! run. A killed stagegate process closes its lock connection at once, but the server goes on
//! with the statement the migration connection had sent until it finishes; the next run waits
//! for that second key, so it never starts while a killed run's last statement still runs.
//!
//! Behind a pooler that hands out a server connection per transaction (PgBouncer or Supavisor
//! in `pool_mode = transaction`, Supabase's port 6543) a session lock means nothing: the next
//! statement may run on another server connection, and the lock stays behind on one nobody
//! owns. [`AdvisoryLock::acquire`] finds such a pooler first ([`per_transaction_pooler`]) and
//! refuses it, naming the direct connection to use instead.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

use super::DbError;
use crate::config::DatabaseUrl;

/// `pg_advisory_lock` key: the first 8 bytes of SHA-256("stagegate"), as a signed integer.
pub const LOCK_KEY: i64 = 0x5167_a5d2_77c0_3e11;

/// Held by the connection that runs the migrations, for as long as its backend lives.
pub(crate) const SESSION_KEY: i64 = LOCK_KEY + 1;

/// How often, at most, [`AdvisoryLock::check`] asks the server (a closed connection is seen
/// at once without asking).
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Default bound on the wait for another run's lock.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The session that holds the lock, from pg_locks and pg_stat_activity.
#[derive(Debug, Clone)]
pub struct Holder {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client: Option<String>,
    pub backend_start: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(user) = &self.user {
            write!(f, ", user {user}")?;
        }
        if let Some(app) = self.application.as_deref().filter(|a| !a.is_empty()) {
            write!(f, ", application {app}")?;
        }
        if let Some(client) = &self.client {
            write!(f, ", from {client}")?;
        }
        if let Some(start) = &self.backend_start {
            write!(f, ", connected since {start}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("taking the stagegate lock on {url}: {source}")]
    Query {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error(
        "another stagegate run holds the lock on {url} ({}); gave up after waiting {}s \
         (set {} to wait longer)",
        holder.as_ref().map_or_else(|| "holder not visible to this user".to_string(), ToString::to_string),
        waited.as_secs(),
        crate::env_vars::STAGEGATE_LOCK_WAIT
    )]
    Busy {
        url: String,
        holder: Option<Holder>,
        waited: Duration,
    },
    #[error(
        "the migration connection of an earlier stagegate run is still busy on {url} ({}); \
         its process is gone but the server is finishing what it was sent; gave up after \
         waiting {}s (set {} to wait longer, or end it with `SELECT pg_cancel_backend({})`)",
        holder.as_ref().map_or_else(|| "holder not visible to this user".to_string(), ToString::to_string),
        waited.as_secs(),
        crate::env_vars::STAGEGATE_LOCK_WAIT,
        holder.as_ref().map_or_else(|| "<pid>".to_string(), |h| h.pid.to_string())
    )]
    SessionBusy {
        url: String,
        holder: Option<Holder>,
        waited: Duration,
    },
    #[error(
        "lost the stagegate lock on {url}: its connection {why}; stopping before the next \
         migration so that no other run can interleave with this one"
    )]
    Lost { url: String, why: String },
    #[error(
        "{url} reaches PostgreSQL through a pooler in transaction mode (PgBouncer or Supavisor \
         with pool_mode = transaction{supabase}): {seen}. stagegate holds one session for a \
         whole run (its lock, no-transaction migrations), which such a pooler does not keep; \
         use a direct connection to the database instead (Supabase: the \"Direct connection\" \
         string, db.<project>.supabase.co:5432, or the session pooler on port 5432)"
    )]
    TransactionPooler {
        url: String,
        /// What showed it.
        seen: String,
        /// `, as Supabase's port 6543 is` where the port says so.
        supabase: &'static str,
    },
}

impl LockError {
    /// True when another run holds the lock (a refusal, not a failure).
    pub fn is_busy(&self) -> bool {
        matches!(self, LockError::Busy { .. } | LockError::SessionBusy { .. })
    }

    /// True when the URL leads to a pooler stagegate cannot run through (a configuration
    /// error, exit 2).
    pub fn is_pooler(&self) -> bool {
        matches!(self, LockError::TransactionPooler { .. })
    }
}

/// The held lock. Dropping it closes the connection, which releases the lock too;
/// [`AdvisoryLock::release`] does it explicitly.
pub(crate) struct AdvisoryLock {
    client: Client,
    url: String,
    checked: Instant,
}

/// Waits at most `wait` for advisory lock `key` on `client`'s session; `on_wait` is told
/// once who holds it. Returns the holder seen last when the wait runs out.
pub(crate) async fn wait_for(
    client: &Client,
    key: i64,
    wait: Duration,
    on_wait: impl FnOnce(Option<&Holder>),
) -> Result<Result<(), (Option<Holder>, Duration)>, tokio_postgres::Error> {
    let started = Instant::now();
    let mut on_wait = Some(on_wait);
    let mut pause = Duration::from_millis(50);
    loop {
        // Simple protocol: one round trip.
        let got = client
            .simple_query(&format!("SELECT pg_try_advisory_lock({key})"))
            .await?
            .iter()
            .any(|m| matches!(m, SimpleQueryMessage::Row(row) if row.get(0) == Some("t")));
        if got {
            return Ok(Ok(()));
        }
        let holder = holder_of(client, key).await?;
        if let Some(on_wait) = on_wait.take() {
            on_wait(holder.as_ref());
        }
        let waited = started.elapsed();
        if waited >= wait {
            return Ok(Err((holder, waited)));
        }
        tokio::time::sleep(pause.min(wait - waited)).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

impl AdvisoryLock {
    /// Takes the lock, waiting at most `wait`; `on_wait` is told once who holds it.
    pub(crate) async fn acquire(
        url: &DatabaseUrl,
        wait: Duration,
        on_wait: impl FnOnce(Option<&Holder>),
    ) -> Result<AdvisoryLock, LockError> {
        let client = super::connect(url).await?;
        Self::acquire_on(client, url, wait, on_wait, None).await
    }

    /// [`AdvisoryLock::acquire`] on `client`, a new connection to `url`; the pooler probe's
    /// second client is `probe` (a connection of the same run that holds nothing yet, so
    /// that no connection is opened for the probe alone), or one opened for it.
    pub(crate) async fn acquire_on(
        client: Client,
        url: &DatabaseUrl,
        wait: Duration,
        on_wait: impl FnOnce(Option<&Holder>),
        probe: Option<&Client>,
    ) -> Result<AdvisoryLock, LockError> {
        let query = |source| LockError::Query {
            url: url.redacted(),
            source,
        };
        if let Some(seen) = per_transaction_pooler(url, &client, probe).await? {
            let supabase = match url.target().ok().and_then(|t| t.first_tcp()) {
                Some((_, 6543)) => ", as Supabase's port 6543 is",
                _ => "",
            };
            return Err(LockError::TransactionPooler {
                url: url.redacted(),
                seen,
                supabase,
            });
        }
        match wait_for(&client, LOCK_KEY, wait, on_wait)
            .await
            .map_err(query)?
        {
            Ok(()) => Ok(AdvisoryLock {
                client,
                url: url.redacted(),
                checked: Instant::now(),
            }),
            Err((holder, waited)) => Err(LockError::Busy {
                url: url.redacted(),
                holder,
                waited,
            }),
        }
    }

    /// Fails when the lock's connection is gone (the backend was terminated, an idle timeout
    /// closed it, the network dropped it): the lock went with it. A closed connection is seen
    /// without a round trip; otherwise the server is asked at most once a second.
    pub(crate) async fn check(&mut self) -> Result<(), LockError> {
        let lost = |why: String| LockError::Lost {
            url: self.url.clone(),
            why,
        };
        if self.client.is_closed() {
            return Err(lost("was closed".to_string()));
        }
        if self.checked.elapsed() < CHECK_EVERY {
            return Ok(());
        }
        match tokio::time::timeout(Duration::from_secs(10), self.client.simple_query("")).await {
            Ok(Ok(_)) => {
                self.checked = Instant::now();
                Ok(())
            }
            Ok(Err(error)) => Err(lost(format!("failed: {}", super::with_causes(&error)))),
            Err(_) => Err(lost("did not answer within 10s".to_string())),
        }
    }

    /// Releases the lock and closes its connection.
    pub(crate) async fn release(self) {
        let _ = self
            .client
            .simple_query(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
            .await;
    }
}

/// How long the probe waits for a server connection while its other client holds one.
const POOLER_PROBE_WAIT: Duration = Duration::from_secs(5);

/// Whether `client` reaches the server through a pooler that hands out a server connection
/// per transaction, and what showed it. A second client opens a transaction (and so holds a
/// server connection for it); then `client` asks for its backend again. Connected directly
/// or through a session pooler, `client` keeps its own backend and the other client never
/// gets it. Through a transaction pooler, the other client gets the server connection
/// `client` just gave back (PgBouncer reuses the last one released), or `client` gets another
/// backend, or it waits for one (a pool of one). The other client is `probe` when given (it
/// must hold no transaction; it is left with none), else a connection opened for the probe.
pub(crate) async fn per_transaction_pooler(
    url: &DatabaseUrl,
    client: &Client,
    probe: Option<&Client>,
) -> Result<Option<String>, LockError> {
    let query = |source| LockError::Query {
        url: url.redacted(),
        source,
    };
    // Supabase documents its pooler's port 6543 as transaction mode: no need to ask.
    if let Some((host, 6543)) = url.target().ok().and_then(|t| t.first_tcp())
        && host.to_ascii_lowercase().ends_with(".pooler.supabase.com")
    {
        return Ok(Some(format!(
            "{host}:6543 is Supabase's pooler in transaction mode"
        )));
    }
    let first = backend_pid(client, "SELECT pg_backend_pid()")
        .await
        .map_err(query)?;
    let opened;
    let other = match probe {
        Some(probe) => probe,
        None => {
            opened = super::connect(url).await?;
            &opened
        }
    };
    let other_pid = backend_pid(other, "BEGIN; SELECT pg_backend_pid()")
        .await
        .map_err(query)?;
    let again = tokio::time::timeout(
        POOLER_PROBE_WAIT,
        backend_pid(client, "SELECT pg_backend_pid()"),
    )
    .await;
    let _ = other.simple_query("ROLLBACK").await;
    Ok(match again {
        Err(_) => Some(format!(
            "a statement waited more than {}s for a server connection while another client \
             held one in a transaction",
            POOLER_PROBE_WAIT.as_secs()
        )),
        Ok(again) => {
            let again = again.map_err(query)?;
            if other_pid == first {
                Some(format!(
                    "another client got this session's server process (pid {first}) as soon \
                     as its statement ended"
                ))
            } else if again != first {
                Some(format!(
                    "two statements of one session ran in different server processes (pid \
                     {first}, then {again})"
                ))
            } else {
                None
            }
        }
    })
}

/// The pid the last statement of `sql` (simple protocol) returns.
async fn backend_pid(client: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
        .await?
        .iter()
        .rev()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default())
}

/// Who holds advisory lock `key` in the current database, if anyone visible does.
async fn holder_of(client: &Client, key: i64) -> Result<Option<Holder>, tokio_postgres::Error> {
    // A bigint key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
    let row = client
        .query_opt(
            "SELECT l.pid, a.usename::text, a.application_name::text, \
                    host(a.client_addr) || ':' || a.client_port, \
                    to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = (($1::bigint >> 32) & 4294967295)::bigint::oid \
               AND l.objid = ($1::bigint & 4294967295)::bigint::oid \
             LIMIT 1",
            &[&key],
        )
        .await?;
    Ok(row.map(|row| Holder {
        pid: row.get(0),
        user: row.get(1),
        application: row.get(2),
        client: row.get(3),
        backend_start: row.get(4),
    }))
}

/// The bound on the lock wait: `STAGEGATE_LOCK_WAIT` if set, else [`DEFAULT_WAIT`].
pub(crate) fn configured_wait() -> Result<Duration, String> {
    match std::env::var(crate::env_vars::STAGEGATE_LOCK_WAIT) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<crate::config::HumanDuration>()
            .map(|d| d.0)
            .map_err(|e| format!("{}: {e}", crate::env_vars::STAGEGATE_LOCK_WAIT)),
        _ => Ok(DEFAULT_WAIT),
    }
}

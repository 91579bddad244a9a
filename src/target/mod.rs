//! The connection target: a database URL, parsed once into the one value every consumer reads.
//!
//! A [`DatabaseUrl`] is a connection string as configured; making one parses it into a
//! [`Target`], which answers every question about where and how to connect:
//!
//! - the session driver's settings (tokio-postgres, with TLS settings it cannot read itself:
//!   [`Target::session_config`], [`Target::tls`]);
//! - the state store's settings (sqlx: [`Target::state_options`]);
//! - libpq's environment for child programs: pg_dump, pg_restore, psql, a migration tool's
//!   interpreter ([`Target::child_env`]): every host, and the password only through a
//!   passfile no other process can open ([`child`]);
//! - the text to show, with its password masked ([`Target::redacted`]).
//!
//! Accepted: `postgres://` and `postgresql://` URLs, libpq `key=value` strings, and
//! SQLAlchemy's `postgresql+<driver>://` URLs (`postgresql+psycopg2://`,
//! `postgresql+asyncpg://`, ...), whose `+<driver>` names a Python driver and is otherwise
//! ignored; in a URL, asyncpg's `ssl=` means libpq's `sslmode=`. Nothing is taken from the
//! process environment: the text is the whole target (see [`child::set_aside_libpq_environment`]).

pub(crate) mod child;
mod redact;
pub(crate) mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions as _;

pub use child::set_aside_libpq_environment;
pub use redact::redact;
pub(crate) use redact::redact_text;
use tls::Tls;
use tokio_postgres::config::Host;

/// Applied when the connection string sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `application_name` stagegate's own connections use unless the URL sets one.
const APPLICATION_NAME: &str = "stagegate";

/// A PostgreSQL connection string (URL or `key=value` form) and what it parses into.
/// `Debug` and `Display` print it with any password replaced by `***`; only
/// [`DatabaseUrl::expose`] gives the real text.
#[derive(Clone)]
pub struct DatabaseUrl {
    text: String,
    parsed: Arc<Result<Target, String>>,
}

impl DatabaseUrl {
    /// Parses `url`; a string that is no connection string (or still holds `${VAR}`) keeps
    /// its error for [`DatabaseUrl::target`] to report.
    pub fn new(url: impl Into<String>) -> Self {
        let text = url.into();
        let parsed = Arc::new(Target::parse(&text));
        DatabaseUrl { text, parsed }
    }

    /// The full connection string, password included, as given.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The connection string with the password replaced.
    pub fn redacted(&self) -> String {
        redact(&self.text)
    }

    /// The parsed target, or why the text is no connection string (password masked).
    pub fn target(&self) -> Result<&Target, TargetError> {
        self.parsed
            .as_ref()
            .as_ref()
            .map_err(|message| TargetError {
                url: self.redacted(),
                message: message.clone(),
            })
    }

    /// This URL with its database replaced by `database` (a plain identifier): the path of a
    /// URL (and any `dbname` query parameter), or a `dbname=` setting added to a `key=value`
    /// string (the last setting of a key wins).
    pub fn with_database(&self, database: &str) -> DatabaseUrl {
        let text = self.expose();
        let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
            return DatabaseUrl::new(format!("{text} dbname={database}"));
        };
        let (base, query) = text
            .split_once('?')
            .map_or((text, None), |(base, query)| (base, Some(query)));
        let base = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        let query = query.map(|query| {
            query
                .split('&')
                .filter(|param| {
                    !param
                        .split_once('=')
                        .is_some_and(|(key, _)| key.eq_ignore_ascii_case("dbname"))
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        DatabaseUrl::new(match query.filter(|q| !q.is_empty()) {
            Some(query) => format!("{base}/{database}?{query}"),
            None => format!("{base}/{database}"),
        })
    }
}

impl PartialEq for DatabaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for DatabaseUrl {}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl<'de> serde::Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(DatabaseUrl::new)
    }
}

/// A connection string that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid connection string {url}: {message}")]
pub struct TargetError {
    /// The text, password masked.
    pub url: String,
    /// What is wrong, password masked.
    pub message: String,
}

/// A parsed connection string.
#[derive(Debug, Clone)]
pub struct Target {
    /// tokio-postgres's reading of it, TLS settings taken out (and its `ssl_mode` set from
    /// them).
    config: tokio_postgres::Config,
    tls: Tls,
    redacted: String,
}

impl Target {
    fn parse(text: &str) -> Result<Target, String> {
        let (normalised, is_url) = normalise_scheme(text)?;
        let (rest, tls) = tls::split(&normalised, is_url).map_err(|e| redact_text(&e))?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| redact_text(&e.to_string()))?;
        config.ssl_mode(tls.driver_mode());
        Ok(Target {
            config,
            tls,
            redacted: redact(text),
        })
    }

    /// The connection string with its password masked.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The TLS settings (`sslmode`, `sslrootcert`).
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// How long a connection attempt may take: `connect_timeout`, else 10 seconds.
    pub fn connect_timeout(&self) -> Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// tokio-postgres's configuration, with stagegate's defaults where the URL sets nothing
    /// (connect timeout, `application_name`). TLS is checked by the connector made from
    /// [`Target::tls`].
    pub fn session_config(&self) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        config.connect_timeout(self.connect_timeout());
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        config
    }

    /// sqlx's options for the state store: the first host, the same user, password, database
    /// and TLS settings. Its TCP connection sets `TCP_NODELAY` (sqlx 0.9.1).
    pub fn state_options(&self) -> sqlx::postgres::PgConnectOptions {
        let config = &self.config;
        let mut options = sqlx::postgres::PgConnectOptions::new_without_pgpass();
        match config.get_hosts().first() {
            Some(Host::Tcp(host)) => options = options.host(host),
            #[cfg(unix)]
            Some(Host::Unix(dir)) => options = options.socket(dir),
            None => {}
        }
        if let Some(address) = config.get_hostaddrs().first() {
            options = options.hostaddr(*address);
        }
        options = options.port(self.first_port());
        if let Some(user) = config.get_user() {
            options = options.username(user);
        }
        if let Some(password) = config.get_password() {
            options = options.password(&String::from_utf8_lossy(password));
        }
        if let Some(dbname) = config.get_dbname() {
            options = options.database(dbname);
        }
        options = options
            .application_name(config.get_application_name().unwrap_or(APPLICATION_NAME))
            .ssl_mode(self.tls.sqlx_mode())
            .statement_cache_capacity(32)
            .disable_statement_logging();
        if matches!(
            self.tls.effective_mode(),
            tls::SslMode::VerifyCa | tls::SslMode::VerifyFull
        ) && let Some(root) = self.tls.root_file()
        {
            options = options.ssl_root_cert(root);
        }
        options
    }

    /// The first TCP host and its port, when the first host is one.
    pub(crate) fn first_tcp(&self) -> Option<(String, u16)> {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) => Some((host.clone(), self.first_port())),
            _ => None,
        }
    }

    fn first_port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// Every host, as libpq's `host` setting writes them (TCP names, socket directories).
    fn hosts(&self) -> Vec<String> {
        self.config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    }

    /// The libpq settings of this target other than the password, in libpq's keywords, in
    /// the order a person reads them; each with the variable libpq reads it from.
    fn libpq_settings(&self) -> Vec<(&'static str, &'static str, String)> {
        let config = &self.config;
        let mut out = Vec::new();
        let hosts = self.hosts();
        if !hosts.is_empty() {
            out.push(("host", "PGHOST", hosts.join(",")));
        }
        let addresses: Vec<String> = config
            .get_hostaddrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        if !addresses.is_empty() {
            out.push(("hostaddr", "PGHOSTADDR", addresses.join(",")));
        }
        let ports: Vec<String> = config.get_ports().iter().map(ToString::to_string).collect();
        if !ports.is_empty() {
            out.push(("port", "PGPORT", ports.join(",")));
        }
        if let Some(user) = config.get_user() {
            out.push(("user", "PGUSER", user.to_string()));
        }
        if let Some(dbname) = config.get_dbname() {
            out.push(("dbname", "PGDATABASE", dbname.to_string()));
        }
        out.push(("sslmode", "PGSSLMODE", self.tls.mode.as_str().to_string()));
        if let Some(root) = &self.tls.root_cert {
            out.push(("sslrootcert", "PGSSLROOTCERT", root.display().to_string()));
        }
        if let Some(options) = config.get_options() {
            out.push(("options", "PGOPTIONS", options.to_string()));
        }
        use tokio_postgres::config::{ChannelBinding, LoadBalanceHosts, TargetSessionAttrs};
        match config.get_target_session_attrs() {
            TargetSessionAttrs::ReadWrite => out.push((
                "target_session_attrs",
                "PGTARGETSESSIONATTRS",
                "read-write".to_string(),
            )),
            TargetSessionAttrs::ReadOnly => out.push((
                "target_session_attrs",
                "PGTARGETSESSIONATTRS",
                "read-only".to_string(),
            )),
            _ => {}
        }
        match config.get_channel_binding() {
            ChannelBinding::Disable => {
                out.push(("channel_binding", "PGCHANNELBINDING", "disable".to_string()));
            }
            ChannelBinding::Require => {
                out.push(("channel_binding", "PGCHANNELBINDING", "require".to_string()));
            }
            _ => {}
        }
        if let LoadBalanceHosts::Random = config.get_load_balance_hosts() {
            out.push((
                "load_balance_hosts",
                "PGLOADBALANCEHOSTS",
                "random".to_string(),
            ));
        }
        out
    }

    /// The target as a libpq keyword string without the password, for a command a person
    /// pastes (libpq then takes the password from `PGPASSWORD` or `~/.pgpass`).
    pub fn conninfo(&self) -> String {
        self.libpq_settings()
            .into_iter()
            .filter(|(key, _, value)| !(*key == "sslmode" && value == "prefer"))
            .map(|(key, _, value)| format!("{key}={}", conninfo_value(&value)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A `postgresql://` URL of this target without its password (user, first host and
    /// port, database), for a program that only reads the URL's shape (Alembic's offline
    /// rendering picks its dialect from it) and takes the password from libpq's passfile.
    pub fn url_without_password(&self) -> String {
        let encode = |text: &str| {
            text.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let mut url = String::from("postgresql://");
        if let Some(user) = self.config.get_user() {
            url.push_str(&encode(user));
            url.push('@');
        }
        match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) if name.contains(':') => url.push_str(&format!("[{name}]")),
            Some(Host::Tcp(name)) => url.push_str(name),
            _ => url.push_str("localhost"),
        }
        if let Some(port) = self.config.get_ports().first() {
            url.push_str(&format!(":{port}"));
        }
        url.push('/');
        if let Some(dbname) = self.config.get_dbname() {
            url.push_str(&encode(dbname));
        }
        url
    }

    /// Whether `text` holds this target's password (a command line that would carry it).
    pub fn password_in(&self, text: &str) -> bool {
        self.config
            .get_password()
            .filter(|p| !p.is_empty())
            .is_some_and(|p| text.as_bytes().windows(p.len()).any(|w| w == p))
    }

    /// The URL carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// libpq's environment for a child program reaching this target, as `application_name`
    /// `application` (see [`child::ChildEnv`]).
    pub fn child_env(&self, application: &str) -> std::io::Result<child::ChildEnv> {
        let mut vars: Vec<(&'static str, String)> = self
            .libpq_settings()
            .into_iter()
            .map(|(_, var, value)| (var, value))
            .collect();
        // libpq takes 1 as 2 seconds; 0 would mean forever.
        vars.push((
            "PGCONNECT_TIMEOUT",
            self.connect_timeout().as_secs().max(2).to_string(),
        ));
        vars.push(("PGAPPNAME", application.to_string()));
        child::ChildEnv::new(vars, self.config.get_password())
    }

    /// Whether `other` names the same database on the same server, as far as the text
    /// shows (the same hosts, ports and database name).
    pub fn same_database(&self, other: &Target) -> bool {
        let key = |t: &Target| {
            let ports = t.config.get_ports();
            (
                t.hosts(),
                if ports.is_empty() {
                    vec![5432]
                } else {
                    ports.to_vec()
                },
                t.config.get_dbname().map(str::to_string),
            )
        };
        key(self) == key(other)
    }
}

/// The connection string in a form tokio-postgres reads, and whether it is a URL:
/// SQLAlchemy's `postgresql+<driver>://` becomes `postgresql://`; another scheme is refused.
fn normalise_scheme(text: &str) -> Result<(String, bool), String> {
    let scheme = text
        .split_once("://")
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        });
    let Some(scheme) = scheme else {
        return Ok((text.to_string(), false));
    };
    match scheme.split_once('+') {
        None if scheme == "postgres" || scheme == "postgresql" => Ok((text.to_string(), true)),
        Some(("postgresql", driver))
            if !driver.is_empty()
                && driver
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((format!("postgresql://{}", &text[scheme.len() + 3..]), true))
        }
        _ => Err(format!(
            "`{scheme}://` is not a PostgreSQL URL scheme: use postgres://, postgresql://, a \
             SQLAlchemy postgresql+<driver>:// URL, or libpq's key=value form"
        )),
    }
}

/// A libpq keyword value, quoted where needed.
fn conninfo_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        DatabaseUrl::new(url).target().unwrap().clone()
    }

    #[test]
    fn url_password_is_masked() {
        let url = DatabaseUrl::new("postgres://app:s3cr3t@db.internal:5432/app?sslmode=require");
        assert_eq!(
            url.to_string(),
            "postgres://app:***@db.internal:5432/app?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert_eq!(
            url.expose(),
            "postgres://app:s3cr3t@db.internal:5432/app?sslmode=require"
        );
        assert_eq!(
            url.target().unwrap().redacted(),
            "postgres://app:***@db.internal:5432/app?sslmode=require"
        );
    }

    #[test]
    fn sqlalchemy_urls_are_postgresql_urls() {
        for scheme in [
            "postgres",
            "postgresql",
            "postgresql+psycopg2",
            "postgresql+asyncpg",
            "postgresql+psycopg",
            "postgresql+pg8000",
        ] {
            let t = target(&format!("{scheme}://app:pw@db:6432/shop"));
            assert_eq!(
                t.conninfo(),
                "host=db port=6432 user=app dbname=shop",
                "{scheme}"
            );
            assert!(t.has_password(), "{scheme}");
        }
        let error = DatabaseUrl::new("mysql+pymysql://app:pw@db/shop")
            .target()
            .unwrap_err();
        assert!(
            error
                .message
                .contains("`mysql+pymysql://` is not a PostgreSQL URL scheme"),
            "{error}"
        );
        assert!(!error.to_string().contains("pw@"), "{error}");
        assert!(
            DatabaseUrl::new("postgresql+://db/shop").target().is_err(),
            "a driver name is required after +"
        );
        let asyncpg = target("postgresql+asyncpg://app@db/shop?ssl=require");
        assert_eq!(asyncpg.tls().mode, tls::SslMode::Require);
    }

    #[test]
    fn a_bad_url_keeps_its_error_without_the_password() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db:notaport/x");
        let error = url.target().unwrap_err().to_string();
        assert!(
            error.starts_with("invalid connection string postgres://app:***@"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        let tls = DatabaseUrl::new("postgres://u:hunter2@db/x?sslmode=sometimes")
            .target()
            .unwrap_err();
        assert!(tls.message.contains("sslmode `sometimes`"), "{tls}");
        assert!(!tls.to_string().contains("hunter2"), "{tls}");
    }

    #[test]
    fn every_host_reaches_the_child_and_the_conninfo() {
        let t = target(
            "postgresql://app:pw@db1:5433,db2:5434/shop?target_session_attrs=read-write&connect_timeout=3&sslmode=verify-full&sslrootcert=/ca.pem",
        );
        assert_eq!(
            t.conninfo(),
            "host=db1,db2 port=5433,5434 user=app dbname=shop sslmode=verify-full \
             sslrootcert=/ca.pem target_session_attrs=read-write"
        );
        let env = t.child_env("stagegate-test").unwrap();
        let get = |key: &str| env.var(key).map(str::to_string);
        assert_eq!(get("PGHOST").as_deref(), Some("db1,db2"));
        assert_eq!(get("PGPORT").as_deref(), Some("5433,5434"));
        assert_eq!(get("PGTARGETSESSIONATTRS").as_deref(), Some("read-write"));
        assert_eq!(get("PGCONNECT_TIMEOUT").as_deref(), Some("3"));
        assert_eq!(get("PGSSLMODE").as_deref(), Some("verify-full"));
        assert_eq!(get("PGSSLROOTCERT").as_deref(), Some("/ca.pem"));
        assert_eq!(get("PGAPPNAME").as_deref(), Some("stagegate-test"));
        assert_eq!(get("PGPASSWORD"), None);
    }

    #[test]
    fn conninfo_quotes_and_leaves_the_password_out() {
        let t = target("postgres://app:hun%3Ater%5C2@db.internal:6432/app%20db?sslmode=require");
        assert_eq!(
            t.conninfo(),
            "host=db.internal port=6432 user=app dbname='app db' sslmode=require"
        );
        let kv = target("host=/var/run/postgresql user=u dbname=x password='a b'");
        assert_eq!(kv.conninfo(), "host=/var/run/postgresql user=u dbname=x");
        assert!(kv.has_password());
    }

    #[test]
    fn database_is_replaced_in_every_form() {
        let swap = |url: &str| {
            DatabaseUrl::new(url)
                .with_database("x")
                .expose()
                .to_string()
        };
        assert_eq!(
            swap("postgres://u:pw@h:5/postgres"),
            "postgres://u:pw@h:5/x"
        );
        assert_eq!(swap("postgres://u@h"), "postgres://u@h/x");
        assert_eq!(
            swap("postgresql://h/app?sslmode=require&dbname=app"),
            "postgresql://h/x?sslmode=require"
        );
        assert_eq!(
            swap("postgres://h1,h2/app?dbname=app"),
            "postgres://h1,h2/x"
        );
        assert_eq!(
            swap("host=h user=u dbname=app"),
            "host=h user=u dbname=app dbname=x"
        );
        assert_eq!(
            swap("postgresql+asyncpg://u@h/app"),
            "postgresql+asyncpg://u@h/x"
        );
    }

    #[test]
    fn same_database_compares_hosts_ports_and_name() {
        let a = target("postgres://u:pw@db:5432/app");
        assert!(a.same_database(&target("postgresql://other@db:5432/app?sslmode=disable")));
        assert!(!a.same_database(&target("postgres://u@db:5432/app_copy")));
        assert!(!a.same_database(&target("postgres://u@db:5433/app")));
        assert!(
            a.same_database(&target("postgres://u@db/app")),
            "5432 is the default port"
        );
    }
}

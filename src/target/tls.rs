//! The TLS settings of a connection string, with libpq's `sslmode` and `sslrootcert` meanings.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require` and verifies nothing itself, so
//! the two settings are taken out of the connection string here ([`split`]) and applied by
//! stagegate's own rustls connector (`db::tls`); the same [`Tls`] settings configure sqlx and
//! the child programs' `PGSSLMODE` / `PGSSLROOTCERT`.
//!
//! | `sslmode` | TLS | certificate checked against roots | host name checked |
//! |---|---|---|---|
//! | `disable` | never | | |
//! | `allow`, `prefer` (default) | if the server offers it | no | no |
//! | `require` | always | only when a root certificate is given (as libpq) | no |
//! | `verify-ca` | always | yes | no |
//! | `verify-full` | always | yes | yes |
//!
//! Roots: `sslrootcert=FILE` (PEM), else `~/.postgresql/root.crt` when it exists, else the
//! system's certificate store.

use std::path::PathBuf;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                ));
            }
        })
    }

    /// As libpq spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS settings of a connection string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl Tls {
    /// What is checked, after libpq: `require` with a root certificate means `verify-ca`.
    pub(crate) fn effective_mode(&self) -> SslMode {
        if self.mode == SslMode::Require && self.root_file().is_some() {
            SslMode::VerifyCa
        } else {
            self.mode
        }
    }

    /// `sslrootcert`, or libpq's default file when it exists.
    pub(crate) fn root_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.root_cert {
            return Some(path.clone());
        }
        let home = std::env::var_os("HOME")?;
        let default = PathBuf::from(home).join(".postgresql").join("root.crt");
        default.is_file().then_some(default)
    }

    /// The certificate is checked against a root file of the target's own (not the system's
    /// store): only those roots may be trusted.
    pub(crate) fn verifies_with_own_root(&self) -> bool {
        matches!(
            self.effective_mode(),
            SslMode::VerifyCa | SslMode::VerifyFull
        ) && self.root_file().is_some()
    }

    /// The sqlx equivalent of these settings.
    pub(crate) fn sqlx_mode(&self) -> sqlx::postgres::PgSslMode {
        use sqlx::postgres::PgSslMode as M;
        match self.effective_mode() {
            SslMode::Disable => M::Disable,
            SslMode::Allow => M::Allow,
            SslMode::Prefer => M::Prefer,
            SslMode::Require => M::Require,
            SslMode::VerifyCa => M::VerifyCa,
            SslMode::VerifyFull => M::VerifyFull,
        }
    }

    /// The tokio-postgres setting: it only needs to know whether TLS is tried and whether it
    /// is required; the connector does the checking.
    pub(crate) fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as M;
        match self.mode {
            SslMode::Disable => M::Disable,
            SslMode::Allow | SslMode::Prefer => M::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => M::Require,
        }
    }
}

/// Takes the TLS settings out of a connection string (URL or `key=value` form), returning
/// the rest for tokio-postgres's parser and the settings. In a URL's query, `ssl` (asyncpg's
/// spelling, as SQLAlchemy URLs carry it) means `sslmode`; `true` and `false` there mean
/// `require` and `disable`.
pub(crate) fn split(conn: &str, is_url: bool) -> Result<(String, Tls), String> {
    let mut tls = Tls::default();
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => tls.mode = SslMode::parse(value)?,
            "ssl" if is_url => {
                tls.mode = match value {
                    "true" => SslMode::Require,
                    "false" => SslMode::Disable,
                    other => SslMode::parse(other).map_err(|e| format!("ssl: {e}"))?,
                }
            }
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(value)),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if is_url {
        match conn.split_once('?') {
            None => conn.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, &percent_decode(value))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = String::new();
        for (key, value, raw) in key_values(conn) {
            if !take(key, &value)? {
                if !kept.is_empty() {
                    kept.push(' ');
                }
                kept.push_str(raw);
            }
        }
        kept
    };
    Ok((rest, tls))
}

/// `%XX` escapes of a URL query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `key=value` settings of a libpq keyword string: (key, unquoted value, raw text).
fn key_values(conn: &str) -> Vec<(&str, String, &str)> {
    let mut out = Vec::new();
    let bytes = conn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = conn[start..i].trim();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'\'' {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        i += 1;
                    }
                    let ch = conn[i..].chars().next().expect("inside the string");
                    value.push(ch);
                    i += ch.len_utf8();
                }
                i = (i + 1).min(bytes.len());
            } else {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value.push_str(&conn[value_start..i]);
            }
        }
        out.push((key, value, &conn[start..i]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_connection_string() {
        let (rest, tls) = split(
            "postgres://u:p@db:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
            true,
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/app?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (rest, tls) = split("postgresql://db/app?sslmode=require", true).unwrap();
        assert_eq!(rest, "postgresql://db/app");
        assert_eq!(tls.mode, SslMode::Require);

        let (rest, tls) = split(
            "host=db sslmode = 'verify-ca' password='a b\\'c' sslrootcert=/x.pem dbname=app",
            false,
        )
        .unwrap();
        assert_eq!(rest, "host=db password='a b\\'c' dbname=app");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/x.pem")));

        let (rest, tls) = split("postgres://db/app", true).unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://db/app", SslMode::Prefer)
        );

        let error = split("postgres://db/app?sslmode=verify", true).unwrap_err();
        assert!(error.contains("sslmode `verify` is not one of"), "{error}");
    }

    #[test]
    fn asyncpg_ssl_parameter_means_sslmode() {
        let (rest, tls) = split("postgresql://db/app?ssl=require&x=1", true).unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgresql://db/app?x=1", SslMode::Require)
        );
        let (_, tls) = split("postgresql://db/app?ssl=true", true).unwrap();
        assert_eq!(tls.mode, SslMode::Require);
        let (_, tls) = split("postgresql://db/app?ssl=false", true).unwrap();
        assert_eq!(tls.mode, SslMode::Disable);
        let error = split("postgresql://db/app?ssl=maybe", true).unwrap_err();
        assert!(error.starts_with("ssl: sslmode `maybe`"), "{error}");
        // Not a libpq keyword: left for the parser, which names it.
        let (rest, _) = split("host=db ssl=true", false).unwrap();
        assert_eq!(rest, "host=db ssl=true");
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain_as_libpq() {
        let tls = Tls {
            mode: SslMode::Require,
            root_cert: Some(PathBuf::from("/some/ca.pem")),
        };
        assert_eq!(tls.effective_mode(), SslMode::VerifyCa);
        assert!(tls.verifies_with_own_root());
        assert_eq!(tls.driver_mode(), tokio_postgres::config::SslMode::Require);
    }
}

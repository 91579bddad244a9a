//! TLS for both drivers, with libpq's `sslmode` and `sslrootcert` meanings.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`, and verifies nothing itself, so
//! the two settings are taken out of the connection string here ([`split`]) and applied by a
//! rustls connector of our own ([`Connector`]); the same [`Tls`] settings configure sqlx.
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
//! system's certificate store. On Unix the state connection (sqlx) goes through [`relay`],
//! so the same connector checks it; elsewhere sqlx's own TLS differs in one point: it adds the
//! root file to the system's roots rather than using it alone.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

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

    /// TLS is mandatory.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
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
    fn effective_mode(&self) -> SslMode {
        if self.mode == SslMode::Require && self.root_file().is_some() {
            SslMode::VerifyCa
        } else {
            self.mode
        }
    }

    /// `sslrootcert`, or libpq's default file when it exists.
    fn root_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.root_cert {
            return Some(path.clone());
        }
        let home = std::env::var_os("HOME")?;
        let default = PathBuf::from(home).join(".postgresql").join("root.crt");
        default.is_file().then_some(default)
    }

    /// The sqlx equivalent of these settings.
    pub fn sqlx_mode(&self) -> sqlx::postgres::PgSslMode {
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

    /// The root certificate file sqlx should use, if any.
    pub fn sqlx_root_cert(&self) -> Option<PathBuf> {
        matches!(
            self.effective_mode(),
            SslMode::VerifyCa | SslMode::VerifyFull
        )
        .then(|| self.root_file())
        .flatten()
    }

    /// The tokio-postgres setting: it only needs to know whether TLS is tried and whether it
    /// is required; the connector does the checking.
    pub fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as M;
        match self.mode {
            SslMode::Disable => M::Disable,
            SslMode::Allow | SslMode::Prefer => M::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => M::Require,
        }
    }

    /// A rustls connector for tokio-postgres that checks what the mode asks for.
    pub fn connector(&self) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        let mode = self.effective_mode();
        let roots = match mode {
            SslMode::Disable | SslMode::Allow | SslMode::Prefer | SslMode::Require => None,
            SslMode::VerifyCa | SslMode::VerifyFull => Some(
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS set-up failed: {e}"))?,
            ),
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                roots,
                check_name: mode == SslMode::VerifyFull,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth();
        Ok(Connector {
            config: Arc::new(config),
        })
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        match self.root_file() {
            Some(path) => {
                let text = std::fs::read(&path)
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                let mut found = 0;
                for cert in rustls_pemfile_certs(&text) {
                    roots
                        .add(cert)
                        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                    found += 1;
                }
                if found == 0 {
                    return Err(format!(
                        "sslrootcert {}: no PEM certificate in the file",
                        path.display()
                    ));
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    // A system certificate rustls cannot use is skipped, as libpq would.
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err("no root certificates: the system store is empty; give \
                                sslrootcert=FILE"
                        .to_string());
                }
            }
        }
        Ok(roots)
    }
}

/// The certificates of a PEM file.
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL or `key=value` form),
/// returning the rest for tokio-postgres's parser and the TLS settings.
pub fn split(conn: &str) -> Result<(String, Tls), String> {
    let mut tls = Tls::default();
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => tls.mode = SslMode::parse(value)?,
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(value)),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
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

/// Checks the server's certificate as the mode asks: not at all (`prefer`, `require`
/// without a root certificate: encryption without authentication, as libpq), the chain
/// against the roots (`verify-ca`), or the chain and the host name (`verify-full`). The
/// handshake's signatures are always checked.
#[derive(Debug)]
struct Verifier {
    /// `None`: any certificate is accepted.
    roots: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// tokio-postgres's TLS hook, on rustls.
#[derive(Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<Connect, io::Error> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Connect {
            config: self.config.clone(),
            name,
        })
    }
}

/// One TLS handshake to come.
pub struct Connect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            let tls = connector.connect(self.name, stream).await?;
            Ok(Stream(tls))
        })
    }
}

/// A TLS connection to the server.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // Without channel binding SCRAM still authenticates; binding to the certificate's
        // hash would need its signature's hash algorithm, which is not worth a parser here.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The server side of a relay: TLS or, under `prefer` with a server without it, plain TCP.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// sqlx 0.9.0 leaves Nagle's algorithm on, and its TLS handshake then waits on delayed ACKs:
/// about 90 ms per connection on loopback, against 4 ms for tokio-postgres. So stagegate makes
/// the state connection's TCP connection (with `TCP_NODELAY`) and TLS handshake itself, with
/// the same checks as the session's, and hands sqlx the plain end of a relay: a Unix socket in
/// a private temporary directory, `.s.PGSQL.<port>`, that accepts one connection. sqlx is then
/// told `sslmode=disable` and this directory as its socket.
///
/// Drop the returned directory once sqlx has connected (the socket file goes; the connection
/// stays). `None`: no local socket could be made; connect sqlx directly.
#[cfg(unix)]
pub async fn relay(tls: &Tls, host: &str, port: u16) -> Result<Option<tempfile::TempDir>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // The local end first: where it cannot be made (no temporary directory, a path too long
    // for a Unix socket), sqlx connects on its own instead, stall and all.
    let Ok(dir) = tempfile::Builder::new().prefix("stagegate-").tempdir() else {
        return Ok(None);
    };
    let Ok(listener) = tokio::net::UnixListener::bind(dir.path().join(format!(".s.PGSQL.{port}")))
    else {
        return Ok(None);
    };
    let mut tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    // SSLRequest: length 8, code 80877103; the server answers one byte.
    tcp.write_all(&[0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer)
        .await
        .map_err(|e| format!("reading the answer to the TLS request: {e}"))?;
    let server: Box<dyn Duplex> = match answer[0] {
        b'S' => {
            let mut connector = tls.connector()?;
            let connect =
                MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(&mut connector, host)
                    .map_err(|e| e.to_string())?;
            let stream = TlsConnect::connect(connect, tcp)
                .await
                .map_err(|e| format!("error performing TLS handshake: {e}"))?;
            Box::new(stream)
        }
        b'N' if !tls.mode.requires_tls() => Box::new(tcp),
        b'N' => return Err("the server does not support TLS".to_string()),
        other => return Err(format!("unexpected answer {other:#x} to the TLS request")),
    };
    tokio::spawn(async move {
        let accepted =
            tokio::time::timeout(std::time::Duration::from_secs(60), listener.accept()).await;
        drop(listener);
        if let Ok(Ok((mut client, _))) = accepted {
            let mut server = server;
            // Ends when either side closes; errors end the state connection, which sqlx
            // reports on its next query.
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    });
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_connection_string() {
        let (rest, tls) = split(
            "postgres://u:p@db:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/app?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (rest, tls) = split("postgresql://db/app?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://db/app");
        assert_eq!(tls.mode, SslMode::Require);

        let (rest, tls) =
            split("host=db sslmode = 'verify-ca' password='a b\\'c' sslrootcert=/x.pem dbname=app")
                .unwrap();
        assert_eq!(rest, "host=db password='a b\\'c' dbname=app");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/x.pem")));

        let (rest, tls) = split("postgres://db/app").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://db/app", SslMode::Prefer)
        );

        let error = split("postgres://db/app?sslmode=verify").unwrap_err();
        assert!(error.contains("sslmode `verify` is not one of"), "{error}");
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain_as_libpq() {
        let tls = Tls {
            mode: SslMode::Require,
            root_cert: Some(PathBuf::from("/some/ca.pem")),
        };
        assert_eq!(tls.effective_mode(), SslMode::VerifyCa);
        assert_eq!(tls.driver_mode(), tokio_postgres::config::SslMode::Require);
    }
}

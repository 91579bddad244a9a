//! The state connection's TLS, done by stagegate, for a target that verifies the server
//! against a root file of its own.
//!
//! sqlx adds a root certificate file to the system's certificate authorities; libpq (and the
//! session's connector, `super::tls`) trusts the file alone. Under `verify-ca` (no host name
//! check) that difference would let any certificate a public authority signed pass for the
//! state connection. So for such a target ([`crate::target::tls::Tls::verifies_with_own_root`])
//! stagegate opens the TCP connection (`TCP_NODELAY`), asks for TLS and does the handshake
//! with the session's connector, and only then gives sqlx the plain end: a Unix socket
//! `.s.PGSQL.<port>` in a private temporary directory, which accepts one connection. The
//! directory is removed as soon as that connection is accepted (or after the connect timeout,
//! or when the relay is dropped): it exists for the moment sqlx takes to connect to it, and
//! outlives no connection. sqlx is told `sslmode=disable` and that directory as its socket.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use crate::target::tls::Tls;

/// The server side of the relay.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// A relay ready for sqlx to connect to: the socket's directory, removed once sqlx is in.
pub(super) struct Relay {
    dir: std::path::PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// The directory sqlx is given as its socket directory.
    pub(super) fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The directory still there: sqlx never connected (it failed, or was cancelled), so
        // nothing is relayed, and the directory goes. Once sqlx is in, the task relays on.
        if self.dir.exists() {
            self.task.abort();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Connects to `host:port` with TLS as `tls` asks (the server must offer it: verification
/// requires it), and listens for sqlx. Waits at most `timeout` for sqlx.
pub(super) async fn start(
    tls: &Tls,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Relay, String> {
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
        b'N' => return Err("the server does not support TLS".to_string()),
        other => return Err(format!("unexpected answer {other:#x} to the TLS request")),
    };
    // The local end only now, with the server's identity checked.
    let dir = tempfile::Builder::new()
        .prefix("stagegate-relay-")
        .tempdir()
        .map_err(|e| format!("a directory for the state connection's socket: {e}"))?;
    let listener = tokio::net::UnixListener::bind(dir.path().join(format!(".s.PGSQL.{port}")))
        .map_err(|e| format!("the state connection's socket: {e}"))?;
    let path = dir.path().to_path_buf();
    let task = tokio::spawn(async move {
        let accepted = tokio::time::timeout(timeout, listener.accept()).await;
        drop(listener);
        drop(dir);
        if let Ok(Ok((mut client, _))) = accepted {
            let mut server = server;
            // Ends when either side closes; an error ends the state connection, which sqlx
            // reports on its next query.
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    });
    Ok(Relay { dir: path, task })
}

//! A throwaway PostgreSQL cluster of stagegate's own, for a scratch server when none is
//! given.
//!
//! [`Cluster::start`] finds the local server programs ([`crate::programs::server_programs`]),
//! runs `initdb` in a temporary directory and starts the server on a free loopback port with
//! `pg_ctl -w`, as an unprivileged user when run as root (initdb refuses root). Before
//! anything is created, a watchdog (`/bin/sh`, in a process group of its own, so a terminal's
//! Ctrl-C does not reach it) waits on a pipe whose write end only this process holds.
//! Dropping the [`Cluster`] closes that end; so does the process ending in any way, SIGKILL
//! included. The watchdog then stops the server (`pg_ctl stop -m immediate`) and removes the
//! directory. Drop waits for it; after a crash it finishes on its own a fraction of a second
//! later. See `docs/scratch.md`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{ClusterError, ScratchOptions, find_binaries};
use crate::config::DatabaseUrl;
use crate::programs::ServerPrograms;

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}

/// A running throwaway server on 127.0.0.1 with trust authentication for user `postgres`.
/// Dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    major: u32,
    watchdog: Watchdog,
}

/// The user the server runs as when stagegate runs as root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// Settings for a server that holds nothing worth keeping.
const SETTINGS: &str = "\
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
wal_level = minimal
max_wal_senders = 0
huge_pages = off
jit = off
";

impl Cluster {
    /// Starts a server from the binaries [`find_binaries`] picks. A failure leaves nothing
    /// behind.
    pub fn start(options: &ScratchOptions) -> Result<Cluster, ClusterError> {
        let binaries = find_binaries(options)?;
        Self::start_with(&binaries)
    }

    #[cfg(not(unix))]
    pub(super) fn start_with(_binaries: &ServerPrograms) -> Result<Cluster, ClusterError> {
        Err(ClusterError::Unsupported)
    }

    #[cfg(unix)]
    pub(super) fn start_with(binaries: &ServerPrograms) -> Result<Cluster, ClusterError> {
        let (dir, run_as) = make_dir()?;
        let watchdog = Watchdog::spawn(&binaries.dir, &dir, run_as)?;
        let mut cluster = Cluster {
            dir,
            port: 0,
            major: binaries.major,
            watchdog,
        };
        cluster.init(binaries, run_as)?;
        // A port found free may be taken before the server binds it: try another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            cluster.port = free_port()?;
            match cluster.run_server(binaries, run_as) {
                Ok(()) => return Ok(cluster),
                Err(error) if attempt < 3 && error.to_string().contains("already in use") => {}
                Err(error) => return Err(error),
            }
        }
    }

    #[cfg(unix)]
    fn init(&self, binaries: &ServerPrograms, run_as: Option<RunAs>) -> Result<(), ClusterError> {
        let data = self.data_dir();
        let mut initdb = server_command(&binaries.dir.join("initdb"), &self.dir, run_as);
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            // initdb looks through the time zone files for the system's zone unless told.
            .env("TZ", "UTC");
        run(initdb, "initdb")?;
        let socket = if self.dir.as_os_str().len() < 90 {
            self.dir.display().to_string()
        } else {
            String::new() // too long for a socket path: TCP only
        };
        let conf = data.join("postgresql.conf");
        let mut text =
            std::fs::read_to_string(&conf).map_err(io(format!("reading {}", conf.display())))?;
        text.push_str("\n# stagegate scratch cluster\n");
        text.push_str(SETTINGS);
        text.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            socket.replace('\'', "''")
        ));
        std::fs::write(&conf, text).map_err(io(format!("writing {}", conf.display())))
    }

    #[cfg(unix)]
    fn run_server(
        &self,
        binaries: &ServerPrograms,
        run_as: Option<RunAs>,
    ) -> Result<(), ClusterError> {
        let log = self.dir.join("server.log");
        let mut pg_ctl = server_command(&binaries.dir.join("pg_ctl"), &self.dir, run_as);
        pg_ctl
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s", "-o"])
            .arg(format!("-p {}", self.port));
        run(pg_ctl, "pg_ctl start").map_err(|error| match error {
            ClusterError::Failed {
                program,
                status,
                output,
            } => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                ClusterError::Failed {
                    program,
                    status,
                    output: format!("{output}{}", tail(&log, 20)),
                }
            }
            other => other,
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A URL of `database` on this server ("postgres" exists; callers may create others).
    pub fn url(&self, database: &str) -> DatabaseUrl {
        DatabaseUrl::new(format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.port
        ))
    }

    /// The server's major version.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The temporary directory holding the data directory, the socket and the server log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id, from its pid file.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.watchdog.finish(&self.dir);
    }
}

/// The last `lines` lines of a log, indented, after a newline.
fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    let start = all.len().saturating_sub(lines);
    if start == all.len() {
        return String::new();
    }
    format!("\nserver log:\n{}", all[start..].join("\n"))
}

/// Runs a server program to completion; its output goes into the error when it fails.
fn run(mut command: Command, program: &str) -> Result<(), ClusterError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {program}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(ClusterError::Failed {
        program: program.to_string(),
        status: out.status.to_string(),
        output,
    })
}

/// A command for a server program: in the scratch directory, in a process group of its own
/// (the server it starts must not receive the terminal's Ctrl-C: the watchdog stops it), as
/// `run_as` when given.
#[cfg(unix)]
fn server_command(program: &Path, dir: &Path, run_as: Option<RunAs>) -> Command {
    use std::os::unix::process::CommandExt;
    // No PG* variable of stagegate's (PGDATA, PGPORT, PGHOST, PGOPTIONS, PGTZ, ...): the
    // cluster is what the arguments say.
    let mut command = crate::programs::command(program);
    command.current_dir(dir).process_group(0);
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

/// A free loopback port, as the kernel hands them out.
fn free_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(io("finding a free loopback port"))
}

/// Creates the scratch directory (mode 0700) and, when running as root, hands it to the user
/// the server will run as.
#[cfg(unix)]
fn make_dir() -> Result<(PathBuf, Option<RunAs>), ClusterError> {
    use std::os::unix::fs::MetadataExt;
    let base = std::env::temp_dir();
    let create = |base: &Path| {
        tempfile::Builder::new()
            .prefix("stagegate-scratch-")
            .tempdir_in(base)
            .map_err(io(format!("creating a directory in {}", base.display())))
    };
    let dir = create(&base)?;
    // A new directory belongs to the effective user: that tells whether we are root.
    let owner = dir
        .path()
        .metadata()
        .map_err(io("reading the scratch directory"))?
        .uid();
    if owner != 0 {
        return Ok((dir.keep(), None));
    }
    let user = unprivileged_user().ok_or_else(|| ClusterError::Io {
        action: "running as root, initdb needs an unprivileged user".to_string(),
        source: std::io::Error::other("neither `postgres` nor `nobody` is in /etc/passwd"),
    })?;
    let dir = if reachable(dir.path(), user) {
        dir
    } else {
        // e.g. TMPDIR under /root: the server's user could not reach it.
        let fallback = Path::new("/tmp");
        if !reachable(fallback, user) {
            return Err(ClusterError::Io {
                action: format!(
                    "creating a directory the server's user (uid {}) can reach",
                    user.uid
                ),
                source: std::io::Error::other(format!(
                    "neither {} nor /tmp is reachable by it; set TMPDIR",
                    base.display()
                )),
            });
        }
        create(fallback)?
    };
    std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid)).map_err(io(format!(
        "handing {} to uid {}",
        dir.path().display(),
        user.uid
    )))?;
    Ok((dir.keep(), Some(user)))
}

/// `postgres` if that user exists, else `nobody`, from /etc/passwd.
#[cfg(unix)]
fn unprivileged_user() -> Option<RunAs> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let lookup = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || fields[0] != name {
                return None;
            }
            let uid: u32 = fields[2].parse().ok()?;
            let gid: u32 = fields[3].parse().ok()?;
            (uid != 0).then_some(RunAs { uid, gid })
        })
    };
    lookup("postgres").or_else(|| lookup("nobody"))
}

/// Whether `user` may pass through every directory above `dir` (and `dir` itself).
#[cfg(unix)]
fn reachable(dir: &Path, user: RunAs) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors().skip(1).all(|ancestor| {
        ancestor.metadata().is_ok_and(|m| {
            let mode = m.mode();
            if m.uid() == user.uid {
                mode & 0o100 != 0
            } else if m.gid() == user.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            }
        })
    })
}

/// Stops the server and removes the directory when the pipe it reads closes: when the
/// [`Cluster`] is dropped or this process ends, however it ends.
#[derive(Debug)]
struct Watchdog {
    child: Option<Child>,
    pipe: Option<std::io::PipeWriter>,
}

/// `$1` pg_ctl, `$2` the data directory, `$3` the scratch directory. `read` returns at end
/// of file, which comes when the last write end closes.
const WATCHDOG: &str = r#"while read -r _; do :; done
if [ -f "$2/postmaster.pid" ]; then "$1" -D "$2" stop -m immediate -w -s >/dev/null 2>&1; fi
rm -rf "$3"
"#;

impl Watchdog {
    #[cfg(unix)]
    fn spawn(bin_dir: &Path, dir: &Path, run_as: Option<RunAs>) -> Result<Watchdog, ClusterError> {
        let (reader, writer) = std::io::pipe().map_err(io("creating the watchdog's pipe"))?;
        let mut command = server_command(Path::new("/bin/sh"), dir, run_as);
        command
            .arg("-c")
            .arg(WATCHDOG)
            .arg("stagegate-scratch-watchdog")
            .arg(bin_dir.join("pg_ctl"))
            .arg(dir.join("data"))
            .arg(dir)
            .stdin(reader)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match command.spawn() {
            Ok(child) => Ok(Watchdog {
                child: Some(child),
                pipe: Some(writer),
            }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(dir);
                Err(ClusterError::Io {
                    action: "starting the watchdog (/bin/sh)".to_string(),
                    source: error,
                })
            }
        }
    }

    /// Closes the pipe, waits for the watchdog, and removes what it could not.
    fn finish(&mut self, dir: &Path) {
        drop(self.pipe.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        if dir.exists() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

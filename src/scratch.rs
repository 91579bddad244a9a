//! The scratch database: a URL the user gave, or a throwaway PostgreSQL cluster of our own.
//!
//! [`Cluster::start`] finds the local server binaries, runs `initdb` in a temporary directory
//! and starts the server on a free loopback port with `pg_ctl -w`, as an unprivileged user when
//! run as root (initdb refuses root). Before anything is created, a watchdog (`/bin/sh`, in a
//! process group of its own, so a terminal's Ctrl-C does not reach it) waits on a pipe whose
//! write end only this process holds. Dropping the [`Cluster`] closes that end; so does the
//! process ending in any way, SIGKILL included. The watchdog then stops the server
//! (`pg_ctl stop -m immediate`) and removes the directory. Drop waits for it; after a crash it
//! finishes on its own a fraction of a second later. See `docs/scratch.md`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::config::{Config, DatabaseUrl};
use crate::env_vars;
use crate::printer::Printer;

/// How the throwaway cluster is made.
#[derive(Debug, Clone, Default)]
pub struct ScratchOptions {
    /// The directory holding initdb, pg_ctl and postgres (`[shadow] bin_dir`); when set, the
    /// only place looked at.
    pub bin_dir: Option<PathBuf>,
    /// The major version to prefer among the binaries found (`[lint] postgres_version`);
    /// without it, or when it is not installed, the newest.
    pub prefer_major: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) for a throwaway scratch \
         cluster; looked in: {}\n\
         give a database stagegate may modify with --shadow URL (or [shadow] url in \
         stagegate.toml), set [shadow] bin_dir, or install the server \
         (Debian/Ubuntu: apt-get install postgresql; its binaries go to \
         /usr/lib/postgresql/<N>/bin)",
        looked.join(", ")
    )]
    NotFound { looked: Vec<String> },
    #[error(
        "[shadow] bin_dir {}: {problem} (it must hold initdb, pg_ctl and postgres; or give \
         --shadow URL)",
        dir.display()
    )]
    BadBinDir { dir: PathBuf, problem: String },
    #[error("scratch cluster: {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("scratch cluster: {program} failed ({status}){}", indent(output))]
    Failed {
        program: String,
        status: String,
        output: String,
    },
    #[error("a throwaway scratch cluster needs a Unix system; give --shadow URL")]
    Unsupported,
}

fn indent(output: &str) -> String {
    let output = output.trim_end();
    if output.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", output.replace('\n', "\n  "))
    }
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ScratchError {
    let action = action.into();
    move |source| ScratchError::Io { action, source }
}

/// A directory of server binaries and the major version its `postgres` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub dir: PathBuf,
    pub major: u32,
}

const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where distributions install versioned server binaries: `<parent>/<prefix><N><rest>`.
const VERSIONED: [(&str, &str, &str); 8] = [
    ("/usr/lib/postgresql", "", "/bin"), // Debian, Ubuntu
    ("/usr", "pgsql-", "/bin"),          // PGDG RPMs (RHEL, Fedora)
    ("/usr/lib64", "postgresql-", "/bin"),
    ("/usr/lib", "postgresql", "/bin"), // Gentoo, openSUSE
    ("/opt/homebrew/opt", "postgresql@", "/bin"), // Homebrew, Apple silicon
    ("/usr/local/opt", "postgresql@", "/bin"), // Homebrew, Intel
    ("/opt/local/lib", "postgresql", "/bin"), // MacPorts
    ("/Applications/Postgres.app/Contents/Versions", "", "/bin"),
];
/// Unversioned install locations, looked at after the versioned ones.
const UNVERSIONED: [&str; 2] = ["/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql/bin"];

/// Finds the server binaries to use (see [`ScratchOptions`]).
pub fn find_binaries(options: &ScratchOptions) -> Result<Binaries, ScratchError> {
    if let Some(dir) = &options.bin_dir {
        let bad = |problem: String| ScratchError::BadBinDir {
            dir: dir.clone(),
            problem,
        };
        if !dir.is_dir() {
            return Err(bad("no such directory".to_string()));
        }
        if let Some(missing) = PROGRAMS.iter().find(|p| !is_executable(&dir.join(p))) {
            return Err(bad(format!("no executable {missing} there")));
        }
        let major = server_major(dir).map_err(bad)?;
        return Ok(Binaries {
            dir: dir.clone(),
            major,
        });
    }
    let mut looked = Vec::new();
    let mut found: Vec<Binaries> = Vec::new();
    for dir in candidate_dirs(&mut looked) {
        let Ok(dir) = dir.join("initdb").canonicalize() else {
            continue;
        };
        let Some(dir) = dir.parent().map(Path::to_path_buf) else {
            continue;
        };
        if found.iter().any(|b| b.dir == dir)
            || !PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
        {
            continue;
        }
        if let Ok(major) = server_major(&dir) {
            found.push(Binaries { dir, major });
        }
    }
    let preferred = options
        .prefer_major
        .and_then(|major| found.iter().find(|b| b.major == major));
    let newest = found.iter().max_by_key(|b| b.major);
    preferred
        .or(newest)
        .cloned()
        .ok_or(ScratchError::NotFound { looked })
}

/// Directories to look for initdb in, in order; `looked` gets a description of each place.
fn candidate_dirs(looked: &mut Vec<String>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            looked.push(format!("pg_config --bindir ({dir})"));
            dirs.push(PathBuf::from(dir));
        }
        _ => looked.push("pg_config --bindir (no pg_config on PATH)".to_string()),
    }
    looked.push("PATH".to_string());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    for (parent, prefix, rest) in VERSIONED {
        looked.push(format!("{parent}/{prefix}<N>{rest}"));
        dirs.extend(versioned(Path::new(parent), prefix, rest));
    }
    for dir in UNVERSIONED {
        looked.push(dir.to_string());
        dirs.push(PathBuf::from(dir));
    }
    dirs
}

/// `<parent>/<prefix><N><rest>` for each version N present, newest first.
fn versioned(parent: &Path, prefix: &str, rest: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?;
            let parts = version
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            let dir = PathBuf::from(format!("{}/{name}{rest}", parent.display()));
            Some((parts, dir))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The major version `postgres --version` reports.
fn server_major(dir: &Path) -> Result<u32, String> {
    let postgres = dir.join("postgres");
    let out = Command::new(&postgres)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", postgres.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_major(&text).ok_or_else(|| {
        format!(
            "{} --version said {:?}, not a PostgreSQL version",
            postgres.display(),
            text.trim()
        )
    })
}

/// `postgres (PostgreSQL) 15.10 (Debian 15.10-1)` → 15; `9.6.24` → 9; `17beta1` → 17.
fn parse_major(version_output: &str) -> Option<u32> {
    let version = version_output.split("(PostgreSQL)").nth(1)?.trim_start();
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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
    pub fn start(options: &ScratchOptions) -> Result<Cluster, ScratchError> {
        let binaries = find_binaries(options)?;
        Self::start_with(&binaries)
    }

    #[cfg(not(unix))]
    fn start_with(_binaries: &Binaries) -> Result<Cluster, ScratchError> {
        Err(ScratchError::Unsupported)
    }

    #[cfg(unix)]
    fn start_with(binaries: &Binaries) -> Result<Cluster, ScratchError> {
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
    fn init(&self, binaries: &Binaries, run_as: Option<RunAs>) -> Result<(), ScratchError> {
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
    fn run_server(&self, binaries: &Binaries, run_as: Option<RunAs>) -> Result<(), ScratchError> {
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
            ScratchError::Failed {
                program,
                status,
                output,
            } => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                ScratchError::Failed {
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
fn run(mut command: Command, program: &str) -> Result<(), ScratchError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {program}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(ScratchError::Failed {
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
    let mut command = Command::new(program);
    command.current_dir(dir).process_group(0);
    for var in ["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGTZ"] {
        command.env_remove(var);
    }
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

/// A free loopback port, as the kernel hands them out.
fn free_port() -> Result<u16, ScratchError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(io("finding a free loopback port"))
}

/// Creates the scratch directory (mode 0700) and, when running as root, hands it to the user
/// the server will run as.
#[cfg(unix)]
fn make_dir() -> Result<(PathBuf, Option<RunAs>), ScratchError> {
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
    let user = unprivileged_user().ok_or_else(|| ScratchError::Io {
        action: "running as root, initdb needs an unprivileged user".to_string(),
        source: std::io::Error::other("neither `postgres` nor `nobody` is in /etc/passwd"),
    })?;
    let dir = if reachable(dir.path(), user) {
        dir
    } else {
        // e.g. TMPDIR under /root: the server's user could not reach it.
        let fallback = Path::new("/tmp");
        if !reachable(fallback, user) {
            return Err(ScratchError::Io {
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
    fn spawn(bin_dir: &Path, dir: &Path, run_as: Option<RunAs>) -> Result<Watchdog, ScratchError> {
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
                Err(ScratchError::Io {
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

/// The scratch database a command uses: `--shadow` / `STAGEGATE_SHADOW_URL` / `[shadow] url`,
/// else a throwaway cluster.
#[derive(Debug)]
pub enum Shadow {
    Url(DatabaseUrl),
    Cluster(Cluster),
}

impl Shadow {
    /// `flag` is the `--shadow` value; the environment variable and the config file come
    /// next; without any, a throwaway cluster is started (announced on stderr).
    pub fn resolve(
        config: &Config,
        flag: Option<&str>,
        printer: &Printer,
    ) -> anyhow::Result<Shadow> {
        let from_env = std::env::var(env_vars::STAGEGATE_SHADOW_URL)
            .ok()
            .filter(|v| !v.is_empty());
        if let Some(url) = flag.map(str::to_string).or(from_env) {
            return Ok(Shadow::Url(DatabaseUrl::new(url)));
        }
        if let Some(url) = config.shadow_url()? {
            return Ok(Shadow::Url(url));
        }
        let options = ScratchOptions {
            bin_dir: config.shadow.bin_dir.clone(),
            prefer_major: Some(config.lint.postgres_version),
        };
        let binaries = find_binaries(&options)?;
        printer.note(&format!(
            "starting a throwaway PostgreSQL {} for the scratch database ({}; no --shadow or [shadow] url given)",
            binaries.major,
            binaries.dir.display()
        ));
        if binaries.major != config.lint.postgres_version {
            printer.warning(&format!(
                "the scratch database runs PostgreSQL {}, [lint] postgres_version is {} \
                 (point [shadow] bin_dir at PostgreSQL {}'s binaries, or give --shadow URL)",
                binaries.major, config.lint.postgres_version, config.lint.postgres_version
            ));
        }
        let cluster = Cluster::start_with(&binaries).map_err(crate::exit::execution)?;
        Ok(Shadow::Cluster(cluster))
    }

    /// The scratch database's URL (for a cluster, its `postgres` database).
    pub fn url(&self) -> DatabaseUrl {
        match self {
            Shadow::Url(url) => url.clone(),
            Shadow::Cluster(cluster) => cluster.url("postgres"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_are_read_from_postgres_version() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.10 (Debian 15.10-1.pgdg120+1)\n"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 9.6.24\n"), Some(9));
        assert_eq!(parse_major("postgres (PostgreSQL) 17beta1\n"), Some(17));
        assert_eq!(parse_major("something else 15.1"), None);
    }

    #[test]
    fn versioned_directories_are_listed_newest_first() {
        let root = tempfile::tempdir().unwrap();
        for name in ["9.6", "15", "12", "notes", "16beta"] {
            std::fs::create_dir(root.path().join(name)).unwrap();
        }
        let found = versioned(root.path(), "", "/bin");
        let names: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(root.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["15/bin", "12/bin", "9.6/bin"]);
    }

    #[test]
    fn no_binaries_names_where_it_looked_the_flag_and_the_package() {
        let error = ScratchError::NotFound {
            looked: vec![
                "PATH".to_string(),
                "/usr/lib/postgresql/<N>/bin".to_string(),
            ],
        }
        .to_string();
        assert!(
            error.contains("looked in: PATH, /usr/lib/postgresql/<N>/bin"),
            "{error}"
        );
        assert!(error.contains("--shadow URL"), "{error}");
        assert!(error.contains("[shadow] url"), "{error}");
        assert!(error.contains("apt-get install postgresql"), "{error}");
    }

    #[test]
    fn a_bin_dir_without_the_programs_is_named_in_the_error() {
        let empty = tempfile::tempdir().unwrap();
        let error = find_binaries(&ScratchOptions {
            bin_dir: Some(empty.path().to_path_buf()),
            prefer_major: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(&empty.path().display().to_string()),
            "{error}"
        );
        assert!(error.contains("no executable initdb"), "{error}");
        assert!(error.contains("--shadow"), "{error}");
    }
}

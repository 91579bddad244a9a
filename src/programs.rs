//! PostgreSQL's programs: the one place that finds them and reads their version.
//!
//! stagegate starts the client programs (`pg_dump`, `pg_restore`, `psql`) to back up,
//! restore and dump schemas, and the server programs (`initdb`, `pg_ctl`, `postgres`) for a
//! throwaway scratch cluster. Each is looked for the same way ([`search_dirs`]):
//!
//! 1. where the configuration says (`[backup] pg_dump`, `[scratch] bin_dir`): then only there;
//! 2. every directory on `PATH`;
//! 3. `pg_config --bindir`;
//! 4. the distributions' versioned directories (`/usr/lib/postgresql/<N>/bin`,
//!    `/usr/pgsql-<N>/bin`, Homebrew's `postgresql@<N>`, ...), the wanted major version
//!    first, then the newest first;
//! 5. the unversioned install locations (`/usr/local/pgsql/bin`, ...).
//!
//! Every program runs with only the few variables of stagegate's environment it needs (no
//! `PG*` variable among them: [`command`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a program may take to print its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where distributions install versioned binaries: `<parent>/<prefix><N><rest>`.
const VERSIONED: [(&str, &str, &str); 9] = [
    ("/usr/lib/postgresql", "", "/bin"), // Debian, Ubuntu
    ("/usr", "pgsql-", "/bin"),          // PGDG RPMs (RHEL, Fedora)
    ("/usr/local", "pgsql-", "/bin"),
    ("/usr/lib64", "postgresql-", "/bin"),
    ("/usr/lib", "postgresql", "/bin"), // Gentoo, openSUSE
    ("/opt/homebrew/opt", "postgresql@", "/bin"), // Homebrew, Apple silicon
    ("/usr/local/opt", "postgresql@", "/bin"), // Homebrew, Intel
    ("/opt/local/lib", "postgresql", "/bin"), // MacPorts
    ("/Applications/Postgres.app/Contents/Versions", "", "/bin"),
];
/// Unversioned install locations, looked at last.
const UNVERSIONED: [&str; 2] = ["/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql/bin"];

/// The server programs a scratch cluster needs, in one directory.
const SERVER_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A PostgreSQL version as `server_version_num` writes it (150020 for 15.20, 90624 for 9.6.24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgVersion {
    pub num: u32,
    pub text: String,
}

impl PgVersion {
    /// The major version as a number comparable across the 9.x and the 10+ numbering
    /// (906 for 9.6, 1500 for 15).
    pub(crate) fn major(&self) -> u32 {
        if self.num >= 100_000 {
            self.num / 10_000 * 100
        } else {
            self.num / 100
        }
    }

    /// The major version as people write it (`9.6`, `15`).
    pub(crate) fn major_text(&self) -> String {
        if self.num >= 100_000 {
            (self.num / 10_000).to_string()
        } else {
            format!("{}.{}", self.num / 10_000, self.num / 100 % 100)
        }
    }

    /// Reads `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`, `... 9.6.24` or
    /// `postgres (PostgreSQL) 18devel`.
    pub(crate) fn from_tool_output(output: &str) -> Option<PgVersion> {
        let rest = output.split("(PostgreSQL)").nth(1)?.trim_start();
        let text: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Vec<u32> = text
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let num = match parts.as_slice() {
            [major, ..] if *major >= 10 => major * 10_000 + parts.get(1).copied().unwrap_or(0),
            [major, minor, patch @ ..] => {
                major * 10_000 + minor * 100 + patch.first().copied().unwrap_or(0)
            }
            _ => return None,
        };
        Some(PgVersion {
            num,
            text: text.trim_end_matches('.').to_string(),
        })
    }
}

/// Variables of stagegate's environment a PostgreSQL program still sees: where programs
/// are, the home directory, who runs it, the language and time zone, where temporary files go.
/// Nothing else: not the operator's `PG*` variables, and not the variable a URL with its
/// password was read from.
const KEPT: [&str; 8] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
];

/// A command for `program` (a PostgreSQL program) with only the variables it needs of this
/// process's environment ([`KEPT`] and `LC_*`); a program that reaches a database
/// gets the target's settings on top ([`crate::target::child::ChildEnv::apply`]).
pub(crate) fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for (name, value) in std::env::vars_os() {
        let kept = name
            .to_str()
            .is_some_and(|n| KEPT.contains(&n) || n.starts_with("LC_"));
        if kept {
            command.env(name, value);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// A tokio command for `program` with no `PG*` variable of this process; killed when
/// dropped.
pub(crate) fn tokio_command(program: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(command(program));
    command.kill_on_drop(true);
    command
}

/// `program --version`, read: the version, or why it could not be read.
pub(crate) fn version_of(program: &Path) -> Result<PgVersion, String> {
    let mut child = command(program)
        .arg("--version")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < VERSION_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`--version` did not answer within {}s",
                    VERSION_TIMEOUT.as_secs()
                ));
            }
            Err(error) => return Err(format!("waiting for it: {error}")),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("reading its output: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`--version` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    PgVersion::from_tool_output(&stdout).ok_or_else(|| {
        format!(
            "`--version` printed `{}`, not a PostgreSQL version",
            stdout.trim()
        )
    })
}

/// The directories to look in, in order, without repeats; `looked` gets a description of
/// each place, for an error that says where nothing was found. `major` is looked for first
/// among the versioned directories.
fn search_dirs(major: Option<&str>, looked: &mut Vec<String>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    looked.push("PATH".to_string());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    match command(Path::new("pg_config"))
        .arg("--bindir")
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
    for (parent, prefix, rest) in VERSIONED {
        looked.push(format!("{parent}/{prefix}<N>{rest}"));
        let mut found = versioned(Path::new(parent), prefix, rest);
        if let Some(major) = major {
            let wanted = PathBuf::from(format!("{parent}/{prefix}{major}{rest}"));
            found.retain(|dir| *dir != wanted);
            found.insert(0, wanted);
        }
        dirs.extend(found);
    }
    for dir in UNVERSIONED {
        looked.push(dir.to_string());
        dirs.push(PathBuf::from(dir));
    }
    let mut seen = BTreeSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
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

/// One client program that was looked at, and why it was not used.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub program: PathBuf,
    pub why: String,
}

/// Every attempt on one line, for an error: `tried A: why; B: why`.
pub(crate) fn describe_attempts(attempts: &[Attempt]) -> String {
    let list: Vec<String> = attempts
        .iter()
        .map(|a| format!("{}: {}", a.program.display(), a.why))
        .collect();
    format!("tried {}", list.join("; "))
}

/// The client programs chosen for a server: pg_dump, and pg_restore beside it.
#[derive(Debug, Clone)]
pub(crate) struct ClientTools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    pub version: PgVersion,
}

/// Finds a pg_dump at least as new as `server` (a dump by an older pg_dump may miss what
/// the server has), with pg_restore beside it. With `configured` (`[backup] pg_dump`), only
/// that one is considered. Every program looked at and refused is in the error.
pub(crate) fn client_tools(
    configured: Option<&Path>,
    server: &PgVersion,
) -> Result<ClientTools, Vec<Attempt>> {
    let (programs, searched) = match configured {
        Some(path) => (vec![path.to_path_buf()], false),
        None => (
            search_dirs(Some(&server.major_text()), &mut Vec::new())
                .into_iter()
                .map(|dir| dir.join("pg_dump"))
                .collect(),
            true,
        ),
    };
    let mut attempts = Vec::new();
    for program in programs {
        if searched && !program.is_file() {
            continue;
        }
        match check_client(&program, server) {
            Ok(tools) => return Ok(tools),
            Err(why) => attempts.push(Attempt { program, why }),
        }
    }
    if attempts.is_empty() {
        attempts.push(Attempt {
            program: PathBuf::from("pg_dump"),
            why: format!(
                "not on PATH, nor in /usr/lib/postgresql/{0}/bin, /usr/pgsql-{0}/bin or \
                 /opt/homebrew/opt/postgresql@{0}/bin (install the PostgreSQL {0} client \
                 programs)",
                server.major_text()
            ),
        });
    }
    Err(attempts)
}

fn check_client(program: &Path, server: &PgVersion) -> Result<ClientTools, String> {
    if !program.exists() {
        return Err("does not exist".to_string());
    }
    let version = version_of(program)?;
    if version.major() < server.major() {
        return Err(format!(
            "it is version {}, older than the server ({}); pg_dump must be at least the \
             server's major version",
            version.text, server.text
        ));
    }
    let pg_restore = program.with_file_name("pg_restore");
    if !pg_restore.is_file() {
        return Err(format!(
            "there is no pg_restore beside it ({} does not exist)",
            pg_restore.display()
        ));
    }
    Ok(ClientTools {
        pg_dump: program.to_path_buf(),
        pg_restore,
        version,
    })
}

/// A directory of server programs and the major version its `postgres` reports (15; 9 for
/// 9.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPrograms {
    pub dir: PathBuf,
    pub major: u32,
}

/// Why no server programs were found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServerProgramsError {
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) for a throwaway scratch \
         cluster; looked in: {}\n\
         give a database server stagegate may create databases on with --scratch URL (or \
         [scratch] url in stagegate.toml), set [scratch] bin_dir, or install the server \
         (Debian/Ubuntu: apt-get install postgresql; its binaries go to \
         /usr/lib/postgresql/<N>/bin)",
        looked.join(", ")
    )]
    NotFound { looked: Vec<String> },
    #[error(
        "[scratch] bin_dir {}: {problem} (it must hold initdb, pg_ctl and postgres; or give \
         --scratch URL)",
        dir.display()
    )]
    BadBinDir { dir: PathBuf, problem: String },
}

/// Finds initdb, pg_ctl and postgres in one directory: `bin_dir` when given (the only place
/// then), else the version `prefer_major` where installed, else the newest found.
pub(crate) fn server_programs(
    bin_dir: Option<&Path>,
    prefer_major: Option<u32>,
) -> Result<ServerPrograms, ServerProgramsError> {
    if let Some(dir) = bin_dir {
        let bad = |problem: String| ServerProgramsError::BadBinDir {
            dir: dir.to_path_buf(),
            problem,
        };
        if !dir.is_dir() {
            return Err(bad("no such directory".to_string()));
        }
        if let Some(missing) = SERVER_PROGRAMS
            .iter()
            .find(|p| !is_executable(&dir.join(p)))
        {
            return Err(bad(format!("no executable {missing} there")));
        }
        let major = server_major(dir).map_err(bad)?;
        return Ok(ServerPrograms {
            dir: dir.to_path_buf(),
            major,
        });
    }
    let mut looked = Vec::new();
    let wanted = prefer_major.map(|major| major.to_string());
    let mut found: Vec<ServerPrograms> = Vec::new();
    for dir in search_dirs(wanted.as_deref(), &mut looked) {
        // PATH may hold a link to the real directory (or a wrapper of its own): the
        // directory initdb really is in.
        let Ok(initdb) = dir.join("initdb").canonicalize() else {
            continue;
        };
        let Some(dir) = initdb.parent().map(Path::to_path_buf) else {
            continue;
        };
        if found.iter().any(|b| b.dir == dir)
            || !SERVER_PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
        {
            continue;
        }
        if let Ok(major) = server_major(&dir) {
            found.push(ServerPrograms { dir, major });
        }
    }
    let preferred = prefer_major.and_then(|major| found.iter().find(|b| b.major == major));
    let newest = found.iter().max_by_key(|b| b.major);
    preferred
        .or(newest)
        .cloned()
        .ok_or(ServerProgramsError::NotFound { looked })
}

/// The major version `postgres --version` reports (15; 9 for 9.6).
fn server_major(dir: &Path) -> Result<u32, String> {
    let postgres = dir.join("postgres");
    version_of(&postgres)
        .map(|version| version.num / 10_000)
        .map_err(|why| format!("{}: {why}", postgres.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_both_numbering_schemes() {
        let v15 =
            PgVersion::from_tool_output("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n")
                .unwrap();
        assert_eq!(
            (v15.num, v15.major(), v15.text.as_str()),
            (150020, 1500, "15.20")
        );
        let v96 = PgVersion::from_tool_output("pg_dump (PostgreSQL) 9.6.24").unwrap();
        assert_eq!(
            (v96.num, v96.major(), v96.major_text()),
            (90624, 906, "9.6".into())
        );
        let devel = PgVersion::from_tool_output("pg_dump (PostgreSQL) 18devel").unwrap();
        assert_eq!(devel.major_text(), "18");
        let beta = PgVersion::from_tool_output("postgres (PostgreSQL) 17beta1").unwrap();
        assert_eq!(beta.num / 10_000, 17);
        assert!(PgVersion::from_tool_output("pg_dump 1.0").is_none());
        assert!(PgVersion::from_tool_output("something else 15.1").is_none());
        assert!(v96.major() < v15.major());
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
    fn the_wanted_major_is_looked_at_first_and_every_place_is_named() {
        let mut looked = Vec::new();
        let dirs = search_dirs(Some("15"), &mut looked);
        let debian = dirs
            .iter()
            .position(|d| d == Path::new("/usr/lib/postgresql/15/bin"))
            .unwrap();
        let rpm = dirs
            .iter()
            .position(|d| d == Path::new("/usr/pgsql-15/bin"))
            .unwrap();
        assert!(debian < rpm);
        assert_eq!(looked[0], "PATH");
        assert!(looked.iter().any(|l| l == "/usr/lib/postgresql/<N>/bin"));
        let unique: BTreeSet<&PathBuf> = dirs.iter().collect();
        assert_eq!(unique.len(), dirs.len(), "no directory twice");
    }

    #[test]
    fn no_binaries_names_where_it_looked_the_flag_and_the_package() {
        let error = ServerProgramsError::NotFound {
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
        assert!(error.contains("--scratch URL"), "{error}");
        assert!(error.contains("[scratch] url"), "{error}");
        assert!(error.contains("apt-get install postgresql"), "{error}");
    }

    #[test]
    fn a_bin_dir_without_the_programs_is_named_in_the_error() {
        let empty = tempfile::tempdir().unwrap();
        let error = server_programs(Some(empty.path()), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&empty.path().display().to_string()),
            "{error}"
        );
        assert!(error.contains("no executable initdb"), "{error}");
        assert!(error.contains("--scratch"), "{error}");
    }
}

//! What a child program sees of libpq's settings: the target's own, and nothing else.
//!
//! libpq reads a few dozen `PG*` variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGPASSFILE`, `PGDATABASE`, `PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`, `PGSSLMODE` and
//! the other `PGSSL*`, `PGOPTIONS`, `PGAPPNAME`, `PGTARGETSESSIONATTRS`,
//! `PGCONNECT_TIMEOUT`, `PGCLIENTENCODING`, `PGTZ`, `PGDATESTYLE`, ...), and an operator's
//! shell often sets some of them. A backup of production must not authenticate with whatever
//! `PGPASSWORD` the shell held, nor a restore follow a `PGSERVICE` to another server. So:
//!
//! - stagegate sets every `PG*` variable of its own process aside when it starts
//!   ([`set_aside_libpq_environment`]): sqlx, which reads them, never sees them; a
//!   `${PGPASSWORD}` in `stagegate.toml` still expands to the value ([`variable`]);
//! - every PostgreSQL program starts with only a few variables of stagegate's environment
//!   ([`crate::programs::command`]: none of them `PG*`), and one that reaches a database gets
//!   the target's settings ([`ChildEnv`], made by [`super::Target::child_env`], which also
//!   removes any `PG*` variable from a command made otherwise, such as a migration tool's
//!   interpreter): `PGHOST` with every host, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`,
//!   ... and `PGPASSFILE`;
//! - the password is never in a variable or on a command line: `PGPASSFILE` is
//!   `/dev/fd/<n>`, a file descriptor the child inherits. On Linux it is an anonymous memory
//!   file (`memfd_create`), elsewhere a temporary file unlinked before the child starts:
//!   nothing names it on disk, and it is gone when the last process holding it ends, however
//!   it ends (SIGKILL included). Without a password the file is empty, so `~/.pgpass` is not
//!   read either.

use std::ffi::{OsStr, OsString};
use std::io::{Seek as _, Write as _};
use std::sync::{Arc, OnceLock};

/// The `PG*` variables stagegate's process was started with, set aside.
static SET_ASIDE: OnceLock<Vec<(OsString, OsString)>> = OnceLock::new();

/// Whether `name` is one of libpq's variables (or a future one: every `PG*` name).
fn is_libpq(name: &OsStr) -> bool {
    name.as_encoded_bytes().starts_with(b"PG")
}

/// Removes every `PG*` variable from this process's environment, keeping the values for
/// [`variable`]. Call it first thing in `main`, while the process has one thread: changing
/// the environment is only sound when no other thread reads it.
pub fn set_aside_libpq_environment() {
    let found: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| is_libpq(name))
        .collect();
    for (name, _) in &found {
        // SAFETY: called at the start of `main`, before any other thread exists (see above),
        // so nothing reads the environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
    let _ = SET_ASIDE.set(found);
}

/// The value of environment variable `name` for `${VAR}` in `stagegate.toml`, including the
/// `PG*` variables set aside at start.
pub(crate) fn variable(name: &str) -> Option<String> {
    if let Some(set_aside) = SET_ASIDE.get()
        && let Some((_, value)) = set_aside.iter().find(|(n, _)| n == name)
    {
        return value.to_str().map(str::to_string);
    }
    std::env::var(name).ok()
}

/// Starts `command` without any `PG*` variable of this process.
fn scrub(command: &mut std::process::Command) {
    for (name, _) in std::env::vars_os().filter(|(name, _)| is_libpq(name)) {
        command.env_remove(name);
    }
    // Set on the command by its caller before, for another target: gone as well.
    let set: Vec<OsString> = command
        .get_envs()
        .filter(|(name, value)| is_libpq(name) && value.is_some())
        .map(|(name, _)| name.to_os_string())
        .collect();
    for name in set {
        command.env_remove(name);
    }
}

/// libpq's settings for one child program: variables, and the password in a file only the
/// child can open. Apply it to the command with [`ChildEnv::apply`] (or
/// [`ChildEnv::apply_tokio`]); the file lives as long as the command and the child.
pub struct ChildEnv {
    vars: Vec<(&'static str, String)>,
    passfile: PassFile,
}

impl ChildEnv {
    pub(super) fn new(
        vars: Vec<(&'static str, String)>,
        password: Option<&[u8]>,
    ) -> std::io::Result<ChildEnv> {
        let mut line = Vec::new();
        if let Some(password) = password {
            // hostname:port:database:username:password, `:` and `\` escaped.
            line.extend_from_slice(b"*:*:*:*:");
            for &byte in password {
                if byte == b':' || byte == b'\\' {
                    line.push(b'\\');
                }
                line.push(byte);
            }
            line.push(b'\n');
        }
        Ok(ChildEnv {
            vars,
            passfile: PassFile::new(&line)?,
        })
    }

    /// The value this environment gives `name` (not the password: it is in no variable).
    #[cfg(test)]
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Sets `command` up to reach the target: no `PG*` variable of this process, the
    /// target's, `PGPASSFILE` open in the child only. On Linux the child is also ended when
    /// the thread that starts it ends (a stagegate killed with SIGKILL leaves no pg_dump
    /// behind): start it from the thread that waits for it.
    pub fn apply(&self, command: &mut std::process::Command) {
        scrub(command);
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        self.passfile.hand_to(command);
    }

    /// [`ChildEnv::apply`] for a tokio command.
    pub fn apply_tokio(&self, command: &mut tokio::process::Command) {
        self.apply(command.as_std_mut());
    }
}

/// The passfile a child reads through `PGPASSFILE`.
struct PassFile {
    #[cfg(unix)]
    file: Arc<std::fs::File>,
    #[cfg(not(unix))]
    file: Arc<tempfile::NamedTempFile>,
}

impl PassFile {
    #[cfg(unix)]
    fn new(line: &[u8]) -> std::io::Result<PassFile> {
        use std::os::unix::fs::PermissionsExt;
        let mut file = anonymous_file()?;
        // libpq ignores a passfile that others may read.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(line)?;
        // Where opening /dev/fd/<n> duplicates the descriptor (not Linux), the child reads
        // from this offset.
        file.rewind()?;
        Ok(PassFile {
            file: Arc::new(file),
        })
    }

    #[cfg(not(unix))]
    fn new(line: &[u8]) -> std::io::Result<PassFile> {
        let mut file = tempfile::Builder::new()
            .prefix("stagegate-pgpass-")
            .tempfile()?;
        file.write_all(line)?;
        file.flush()?;
        Ok(PassFile {
            file: Arc::new(file),
        })
    }

    /// `PGPASSFILE=/dev/fd/<n>`, with `<n>` left open across `exec` in the child only (it is
    /// close-on-exec everywhere else, so no other child inherits it).
    #[cfg(unix)]
    fn hand_to(&self, command: &mut std::process::Command) {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = self.file.as_raw_fd();
        command.env("PGPASSFILE", format!("/dev/fd/{fd}"));
        // Held by the command, so the descriptor stays open (and its number ours) until the
        // command is dropped, after the child started.
        let file = Arc::clone(&self.file);
        #[cfg(target_os = "linux")]
        let parent = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // async-signal-safe functions (fcntl, prctl, getppid); it allocates nothing.
        unsafe {
            command.pre_exec(move || {
                let fd = file.as_raw_fd();
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags == -1 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                #[cfg(target_os = "linux")]
                {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The parent ended before the request took effect.
                    if u32::try_from(libc::getppid()).ok() != Some(parent) {
                        return Err(std::io::Error::other("stagegate ended"));
                    }
                }
                Ok(())
            });
        }
    }

    #[cfg(not(unix))]
    fn hand_to(&self, command: &mut std::process::Command) {
        command.env("PGPASSFILE", self.file.path());
    }
}

/// A file with no name: an anonymous memory file on Linux, an unlinked temporary file
/// elsewhere. Close-on-exec.
#[cfg(target_os = "linux")]
fn anonymous_file() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; a non-negative result is
    // a new descriptor that nothing else owns.
    let fd = unsafe { libc::memfd_create(c"stagegate-pgpass".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return tempfile::tempfile();
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn anonymous_file() -> std::io::Result<std::fs::File> {
    tempfile::tempfile()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_every_pg_variable_set_on_the_command() {
        let mut command = std::process::Command::new("true");
        command.env("PGSERVICE", "bogus").env("KEEP", "1");
        scrub(&mut command);
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("KEEP".to_string(), Some("1".to_string()))));
        assert!(envs.contains(&("PGSERVICE".to_string(), None)), "{envs:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_child_reads_the_escaped_password_and_nothing_names_the_file() {
        let env = ChildEnv::new(vec![("PGUSER", "app".into())], Some(b"hun:ter\\2")).unwrap();
        let mut command = std::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg("cat \"$PGPASSFILE\"; stat -L -c %a \"$PGPASSFILE\"; echo \"$PGUSER\"");
        env.apply(&mut command);
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            "*:*:*:*:hun\\:ter\\\\2\n600\napp\n"
        );
        let PassFile { file } = &env.passfile;
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if let Ok(link) = link {
            let link = link.to_string_lossy().into_owned();
            assert!(
                link.starts_with("/memfd:") || link.ends_with("(deleted)"),
                "{link}"
            );
        }
        // Another child, not given the file, cannot see it.
        let other = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("test -e /dev/fd/{}", file.as_raw_fd()))
            .status()
            .unwrap();
        assert!(!other.success(), "the descriptor leaked into another child");
    }

    #[cfg(unix)]
    #[test]
    fn without_a_password_the_file_is_empty() {
        let env = ChildEnv::new(Vec::new(), None).unwrap();
        let mut command = std::process::Command::new("/bin/sh");
        command.arg("-c").arg("wc -c < \"$PGPASSFILE\"");
        env.apply(&mut command);
        let output = command.output().unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), "0");
    }
}

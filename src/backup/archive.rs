//! The archive file: written privately, hashed, moved into place, read back with
//! `pg_restore --list`, restored with `pg_restore`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::manifest::{FILE_SUFFIX, file_name};
use crate::programs;
use crate::target::Target;

/// An archive being written: `.stagegate-partial-<random>.dump` (0600) in the backup
/// directory, removed when dropped (on an error, an early return, a panic's unwind or an
/// interruption) unless [`persist`] moved it to its name.
pub(super) fn partial(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix(".stagegate-partial-")
        .suffix(FILE_SUFFIX)
        .tempfile_in(dir)?;
    set_mode(file.path(), 0o600)?;
    Ok(file)
}

/// Moves the finished archive to its name for the time `at`, never over an existing file:
/// when that name is taken, the next of `-1` to `-9` that is free.
pub(super) fn persist(
    partial: tempfile::NamedTempFile,
    dir: &Path,
    env: &str,
    at: OffsetDateTime,
) -> Result<(PathBuf, String), (PathBuf, std::io::Error)> {
    let mut partial = partial;
    let mut attempt = 0;
    loop {
        let file = file_name(env, at, attempt);
        let path = dir.join(&file);
        match partial.persist_noclobber(&path) {
            Ok(_) => return Ok((path, file)),
            Err(error)
                if error.error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 9 =>
            {
                partial = error.file;
                attempt += 1;
            }
            Err(error) => return Err((path, error.error)),
        }
    }
}

/// Size and `sha256:<hex>` of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, format!("sha256:{hex}")))
}

/// `pg_restore --list FILE`: the archive's table of contents, or why it cannot be read.
pub(crate) async fn list_archive(pg_restore: &Path, file: &Path) -> Result<String, String> {
    let output = programs::tokio_command(pg_restore)
        .arg("--list")
        .arg(file)
        .output()
        .await
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}: {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Copies the database `from` names into the one `into` names: pg_dump's custom format
/// piped straight into pg_restore (`--no-owner --no-privileges`), so no file of the data is
/// ever written; what either program said when it failed.
pub(crate) async fn copy(
    pg_dump: &Path,
    pg_restore: &Path,
    from: &Target,
    into: &Target,
) -> Result<(), String> {
    let mut dump = programs::tokio_command(pg_dump);
    from.child_env("stagegate-copy")
        .map_err(|e| format!("cannot write a passfile: {e}"))?
        .apply_tokio(&mut dump);
    let mut dump = dump
        .arg("--no-password")
        .arg("--format=custom")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", pg_dump.display()))?;
    let archive: std::process::Stdio = dump
        .stdout
        .take()
        .expect("pg_dump's stdout is piped")
        .try_into()
        .map_err(|e| format!("cannot pipe pg_dump into pg_restore: {e}"))?;
    let mut command = programs::tokio_command(pg_restore);
    into.child_env("stagegate-restore")
        .map_err(|e| format!("cannot write a passfile: {e}"))?
        .apply_tokio(&mut command);
    let restore = command
        .arg("--no-password")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(format!("--dbname={}", into.conninfo()))
        .stdin(archive)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", pg_restore.display()))?;
    // The command holds this process's copy of the pipe's reading end: closed now, so a
    // pg_restore that stops early ends pg_dump (a broken pipe) instead of leaving it blocked.
    drop(command);
    let (dumped, restored) = tokio::join!(dump.wait_with_output(), restore.wait_with_output());
    let dumped = dumped.map_err(|e| format!("pg_dump: {e}"))?;
    let restored = restored.map_err(|e| format!("pg_restore: {e}"))?;
    for (program, output) in [("pg_dump", &dumped), ("pg_restore", &restored)] {
        if !output.status.success() {
            return Err(format!(
                "{program} {}: {}",
                output.status,
                last_lines(&String::from_utf8_lossy(&output.stderr))
            ));
        }
    }
    Ok(())
}

/// Restores `file` into the database `target` names (`pg_restore --no-owner
/// --no-privileges`); what pg_restore said when it reported errors.
pub(crate) async fn restore(pg_restore: &Path, target: &Target, file: &Path) -> Result<(), String> {
    let mut command = programs::tokio_command(pg_restore);
    target
        .child_env("stagegate-restore")
        .map_err(|e| format!("cannot write a passfile: {e}"))?
        .apply_tokio(&mut command);
    let output = command
        .arg("--no-password")
        .arg("--no-owner")
        .arg("--no-privileges")
        // pg_restore restores into a database only when one is named; libpq's variables
        // say which (and the password stays in the passfile).
        .arg(format!("--dbname={}", target.conninfo()))
        .arg(file)
        .output()
        .await
        .map_err(|e| format!("cannot run it: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr))
        ))
    }
}

/// The last few lines a program wrote, redacted, on one line.
pub(super) fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    let joined = lines[start..].join(" / ");
    if joined.is_empty() {
        "no message".to_string()
    } else {
        crate::target::redact_text(&joined)
    }
}

/// Creates `dir` (and its parents) with mode 0700 where missing.
pub(super) fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two backups in the same millisecond never overwrite each other: the second takes the
    /// name with `-1`, and so on to `-9`; with all ten taken it is an error and the finished
    /// archive is not moved. (The mutants: the `AlreadyExists && attempt < 9` guard made
    /// `true`, `false`, `||`, `!=`, `==`, `>` or `<=`; `attempt += 1` made `-=` or `*=`.)
    #[test]
    fn a_taken_name_gets_the_next_suffix_and_ten_taken_names_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_692_130_123_000_000).unwrap();
        for attempt in 0..10 {
            let partial = partial(dir.path()).unwrap();
            std::fs::write(partial.path(), format!("archive {attempt}")).unwrap();
            let (path, file) = persist(partial, dir.path(), "prod", at).unwrap();
            assert_eq!(file, file_name("prod", at, attempt));
            assert_eq!(path, dir.path().join(&file));
        }
        let partial = partial(dir.path()).unwrap();
        let kept = partial.path().to_path_buf();
        let (path, error) = persist(partial, dir.path(), "prod", at).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists, "{error}");
        assert_eq!(path, dir.path().join(file_name("prod", at, 9)));
        assert!(!kept.exists(), "the partial file is removed");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 10, "{names:?}");
        for attempt in 0..10 {
            let file = file_name("prod", at, attempt);
            let text = std::fs::read_to_string(dir.path().join(&file)).unwrap();
            assert_eq!(text, format!("archive {attempt}"), "{file} was overwritten");
        }
    }
}

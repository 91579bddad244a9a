//! Files a pull request may have planted are read only when they are regular files: never
//! through a symbolic link (`0001_x.up.sql -> /proc/self/environ` would put the CI job's
//! secrets in a lint snippet), never a named pipe (which blocks a read forever) or a device.
//!
//! [`kind`] says what a path or a directory entry is without following a link; [`read`]
//! opens a file without following a link and reads it only when the opened file is a
//! regular one, so a file swapped for a link after it was listed is refused too.
//! [`refusal`] is the one wording of the refusal.

use std::path::Path;

/// What a directory entry is, as seen without following a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    /// A symbolic link, a named pipe, a socket or a device: never read. What it is, for
    /// the error (`a symbolic link`).
    Other(&'static str),
}

impl Kind {
    /// The kind of a file type (which `DirEntry::file_type` and `symlink_metadata` give
    /// without following a link).
    pub(crate) fn of(file_type: std::fs::FileType) -> Kind {
        if file_type.is_symlink() {
            return Kind::Other("a symbolic link");
        }
        if file_type.is_file() {
            return Kind::File;
        }
        if file_type.is_dir() {
            return Kind::Dir;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt as _;
            if file_type.is_fifo() {
                return Kind::Other("a named pipe");
            }
            if file_type.is_socket() {
                return Kind::Other("a socket");
            }
            if file_type.is_block_device() || file_type.is_char_device() {
                return Kind::Other("a device");
            }
        }
        Kind::Other("not a regular file")
    }

    pub(crate) fn is_dir(self) -> bool {
        self == Kind::Dir
    }
}

/// What `path` is, without following a link; `None` when nothing is there.
pub(crate) fn kind(path: &Path) -> std::io::Result<Option<Kind>> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) => Ok(Some(Kind::of(metadata.file_type()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The error for a file that is not read because it is `what` (`a symbolic link`).
pub(crate) fn refusal(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "it is {what}, not a regular file; stagegate reads only regular files (a link \
             could show a file from outside the repository): replace it with the file itself"
        ),
    )
}

/// The bytes of the regular file at `path`, opened without following a link.
pub(crate) fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = open(path)?;
    let metadata = file.metadata()?;
    let kind = Kind::of(metadata.file_type());
    if kind != Kind::File {
        let what = match kind {
            Kind::Dir => "a directory",
            Kind::Other(what) => what,
            Kind::File => unreachable!("checked above"),
        };
        return Err(refusal(what));
    }
    read_sized(&mut file, usize::try_from(metadata.len()).unwrap_or(0))
}

/// Reads `file` to its end, `size` bytes expected: into a buffer of that size and one more
/// byte, so that a file of that size takes two reads (its bytes, then the end). Not
/// `read_to_end`, which asks the file its size and position again (two more system calls
/// per file: a no-op apply reads every migration file).
fn read_sized(file: &mut impl std::io::Read, size: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; size.saturating_add(1)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            // Grown since it was measured.
            bytes.resize(filled.saturating_mul(2).max(64), 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// The UTF-8 text of the regular file at `path` ([`read`]); a file that is not UTF-8 is an
/// `InvalidData` error naming the offset of its first bad byte.
pub(crate) fn read_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read(path)?).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not valid UTF-8 (first bad byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: opening a named pipe does not wait for a writer (it is refused right
    // after); it changes nothing for a regular file.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    match opened {
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => Err(refusal("a symbolic link")),
        other => other,
    }
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(Kind::Other(what)) = kind(path)? {
        return Err(refusal(what));
    }
    std::fs::File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_whole_whatever_size_it_was_measured_at() {
        let text: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for size in [0, 1, 999, 1000, 1001, 5000] {
            let got = read_sized(&mut &text[..], size).unwrap();
            assert_eq!(got, text, "measured at {size}");
        }
        assert_eq!(read_sized(&mut &b""[..], 0).unwrap(), b"");
        assert_eq!(read_sized(&mut &b""[..], 10).unwrap(), b"");
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.sql");
        std::fs::write(&file, "SELECT 1;").unwrap();
        assert_eq!(read(&file).unwrap(), b"SELECT 1;");
        assert_eq!(kind(&file).unwrap(), Some(Kind::File));

        let link = dir.path().join("link.sql");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let error = read(&link).unwrap_err().to_string();
        assert!(
            error.contains("a symbolic link, not a regular file"),
            "{error}"
        );
        assert_eq!(kind(&link).unwrap(), Some(Kind::Other("a symbolic link")));

        let fifo = dir.path().join("fifo.sql");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        // Returns at once (no writer is waited for), refused.
        let error = read(&fifo).unwrap_err().to_string();
        assert!(error.contains("a named pipe"), "{error}");

        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("a directory"), "{error}");
        assert_eq!(kind(&dir.path().join("none")).unwrap(), None);
        let error = read(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(error.contains("a device"), "{error}");
    }
}

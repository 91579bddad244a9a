//! What git says about migration files since a ref: which were added, edited or deleted.
//! Runs `git` as a subprocess; used by `lint --changed-since` (and kept out of `lint/`, which
//! does no I/O).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A git question that could not be answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("cannot run git: {0} (--changed-since needs git on PATH)")]
    Spawn(std::io::Error),
    #[error("{} is not inside a git repository, so --changed-since has nothing to compare with", dir.display())]
    NotARepository { dir: PathBuf },
    #[error(
        "`{reference}` is not a commit in this clone{shallow}: fetch the history it needs (in GitHub Actions, `fetch-depth: 0` in actions/checkout; elsewhere `git fetch origin <branch>`)"
    )]
    UnknownRef {
        reference: String,
        shallow: &'static str,
    },
    #[error("git {args} failed: {message}")]
    Failed { args: String, message: String },
}

/// How a file differs from the ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileChange {
    /// Not at the ref (committed since, staged, or untracked).
    Added,
    /// At the ref, with other text now.
    Edited,
    /// At the ref; only its line endings (or a byte order mark) changed.
    LineEndings,
    /// At the ref; only lint directive lines (`-- stagegate:allow ...`) changed, which change
    /// no SQL and are not part of its checksum: linted, but no edit.
    LintDirectives,
    /// As it was at the ref.
    Unchanged,
}

/// The files under some paths that differ from a ref. Only the differences are kept, so
/// memory grows with the size of the change, not with the number of files.
#[derive(Debug)]
pub(crate) struct ChangedSince {
    reference: String,
    /// Absolute paths in the working tree (under the repository's canonical root).
    changes: HashMap<PathBuf, FileChange>,
    deleted: Vec<PathBuf>,
}

impl ChangedSince {
    /// Compares the working tree under `paths` (files or directories, which must exist) with
    /// `reference`. An unknown ref (a shallow clone, a branch not fetched) is an error that
    /// says how to fetch it.
    pub(crate) fn read(reference: &str, paths: &[PathBuf]) -> Result<ChangedSince, GitError> {
        let first = paths.first().map_or(Path::new("."), PathBuf::as_path);
        let dir = if first.is_dir() {
            first.to_path_buf()
        } else {
            first
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf()
        };
        let root = match git(&dir, &["rev-parse", "--show-toplevel"]) {
            Ok(out) => PathBuf::from(String::from_utf8_lossy(&out).trim_end()),
            Err(GitError::Failed { .. }) => return Err(GitError::NotARepository { dir }),
            Err(other) => return Err(other),
        };
        let root = root.canonicalize().unwrap_or(root);
        let commit = format!("{reference}^{{commit}}");
        if git(&root, &["rev-parse", "--verify", "--quiet", &commit]).is_err() {
            let shallow = git(&root, &["rev-parse", "--is-shallow-repository"])
                .is_ok_and(|out| out.starts_with(b"true"));
            return Err(GitError::UnknownRef {
                reference: reference.to_string(),
                shallow: if shallow { " (a shallow clone)" } else { "" },
            });
        }
        let specs: Vec<String> = paths
            .iter()
            .map(|p| {
                let absolute = p.canonicalize().unwrap_or_else(|_| p.clone());
                absolute.to_string_lossy().into_owned()
            })
            .collect();
        let mut diff_args = vec![
            "diff",
            "--name-status",
            "--no-renames",
            "-z",
            reference,
            "--",
        ];
        diff_args.extend(specs.iter().map(String::as_str));
        let diff = git(&root, &diff_args)?;
        let mut changes = HashMap::new();
        let mut deleted = Vec::new();
        let mut fields = diff.split(|&b| b == 0).filter(|f| !f.is_empty());
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let relative = String::from_utf8_lossy(path).into_owned();
            let absolute = root.join(&relative);
            match status.first() {
                Some(b'A') => {
                    changes.insert(absolute, FileChange::Added);
                }
                Some(b'D') => deleted.push(absolute),
                Some(_) => {
                    let change = modified(&root, reference, &relative, &absolute)?;
                    changes.insert(absolute, change);
                }
                None => {}
            }
        }
        let mut untracked_args = vec!["ls-files", "--others", "--exclude-standard", "-z", "--"];
        untracked_args.extend(specs.iter().map(String::as_str));
        let untracked = git(&root, &untracked_args)?;
        for path in untracked.split(|&b| b == 0).filter(|f| !f.is_empty()) {
            changes.insert(
                root.join(String::from_utf8_lossy(path).as_ref()),
                FileChange::Added,
            );
        }
        Ok(ChangedSince {
            reference: reference.to_string(),
            changes,
            deleted,
        })
    }

    /// The ref compared with.
    pub(crate) fn reference(&self) -> &str {
        &self.reference
    }

    /// How the file at `path` (relative to the current directory or absolute) differs.
    pub(crate) fn change(&self, path: &Path) -> FileChange {
        let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.changes
            .get(&absolute)
            .copied()
            .unwrap_or(FileChange::Unchanged)
    }

    /// Files that were at the ref and are gone.
    pub(crate) fn deleted(&self) -> &[PathBuf] {
        &self.deleted
    }
}

/// How a file that git says was modified differs from the ref: only in CRLF against LF line
/// endings or a UTF-8 byte order mark, only in lint directive lines, or in its text.
fn modified(
    root: &Path,
    reference: &str,
    relative: &str,
    absolute: &Path,
) -> Result<FileChange, GitError> {
    let then = git(root, &["show", &format!("{reference}:{relative}")])?;
    let Ok(now) = std::fs::read(absolute) else {
        return Ok(FileChange::Edited);
    };
    if normalized(&then) == normalized(&now) {
        return Ok(FileChange::LineEndings);
    }
    let without = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(crate::source::directives::without_lint_directives)
    };
    Ok(match (without(&then), without(&now)) {
        (Some(then), Some(now)) if then == now => FileChange::LintDirectives,
        _ => FileChange::Edited,
    })
}

/// The bytes without a leading byte order mark and with CRLF turned into LF, as checksums
/// see them.
fn normalized(bytes: &[u8]) -> Vec<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\r' && iter.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Runs git in `dir`; its stdout, or its stderr as the error.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(GitError::Spawn)?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn line_endings_and_bom_normalise_away() {
        assert_eq!(normalized(b"\xEF\xBB\xBFa\r\nb\n"), normalized(b"a\nb\n"));
        assert_ne!(normalized(b"a\r\nb"), normalized(b"a\nc"));
        // A lone CR is content.
        assert_ne!(normalized(b"a\rb"), normalized(b"ab"));
    }
}

//! Finding migrations on disk: layouts, versions, up/down/verify scripts, directives and
//! checksums.
//!
//! [`discover`] reads a directory's names (and, for dbmate, looks for section markers) and
//! pairs the scripts; it keeps no script text. [`scan_as`] keeps the same result in compact
//! form ([`Listing`]), building each [`Migration`] when it is asked for; [`scan_windows`]
//! gives it as successive listings of a bounded number of migrations ([`Windows`]).
//! [`ScriptRef::load`] reads one script when it is needed, so linting thousands of files
//! holds one file's text and one window of names at a time.

pub(crate) mod checksum;
mod detect;
pub(crate) mod directives;
mod discover;
mod down_dir;
mod entry;
mod layout;
mod listing;
mod lone;
mod new;
mod version;
mod windows;

use std::path::{Path, PathBuf};

pub use checksum::Checksum;
pub(crate) use directives::{Directive, DirectiveKind, ScriptSettings};
pub(crate) use discover::discover_as;
pub use discover::{discover, scan_as};
pub(crate) use down_dir::attach as attach_down_dir;
pub use layout::Layout;
pub(crate) use layout::alembic;
pub(crate) use layout::autocommit_file_name;
pub use listing::Listing;
pub(crate) use lone::{lone_script, lone_version};
pub(crate) use new::create_new;
pub(crate) use version::Version;
pub(crate) use windows::Windows;
pub use windows::{LINT_WINDOW, scan_windows};

/// Something wrong with the migration files; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("migrations directory {} does not exist", dir.display())]
    MissingDir { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid UTF-8 (first bad byte at offset {offset}); save the file as UTF-8", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("duplicate version {version}: {} and {}", first.display(), second.display())]
    DuplicateVersion {
        version: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: down script without an up script ({} is missing)", path.display(), expected.display())]
    DownWithoutUp { path: PathBuf, expected: PathBuf },
    #[error("{}: verify script without an up script", path.display())]
    VerifyWithoutUp { path: PathBuf },
    #[error("{}: up script is empty; write the migration (or delete it) before applying it", path.display())]
    EmptyUp { path: PathBuf },
    #[error("{}: no `-- migrate:up` section (dbmate layout)", path.display())]
    MissingDbmateUp { path: PathBuf },
    #[error("{}:{line}: {message}", path.display())]
    Directive {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Metadata { path: PathBuf, message: String },
    /// An Alembic project that cannot be read (its ini, a revision file, the graph).
    #[error("{message}")]
    Alembic { path: PathBuf, message: String },
    /// An Alembic revision whose SQL was asked for before it was rendered.
    #[error("{}: the revision's SQL has not been rendered (run through Alembic first)", path.display())]
    NotRendered { path: PathBuf },
    #[error(
        "{}: files of more than one layout ({}); set `layout` under [migrations] in stagegate.toml",
        dir.display(), found.join(", ")
    )]
    AmbiguousLayout { dir: PathBuf, found: Vec<String> },
}

/// Which part of a file a script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The whole file.
    Whole,
    /// The `-- migrate:up` section of a dbmate file.
    DbmateUp,
    /// The `-- migrate:down` section of a dbmate file.
    DbmateDown,
    /// An Alembic revision's `upgrade()`, as Alembic renders it offline.
    AlembicUp,
    /// An Alembic revision's `downgrade()`, as Alembic renders it offline.
    AlembicDown,
}

/// Where a script lives, and what the layout says about running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRef {
    pub path: PathBuf,
    pub section: Section,
    /// The layout's own no-transaction marker (diesel metadata.toml, dbmate `transaction:false`,
    /// an Alembic revision using `autocommit_block()`).
    pub layout_no_transaction: bool,
    /// The SQL Alembic rendered for the revision (the Alembic sections; `None` until
    /// rendered).
    pub rendered: Option<std::sync::Arc<str>>,
}

/// A script's text, ready to lint or run.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    /// Normalised text (BOM removed, CRLF -> LF) of the script or its section.
    pub text: String,
    /// 1-based file line of the text's first line (above 1 for dbmate sections).
    pub first_line: usize,
    /// What is recorded: the checksum of the text without its lint directive lines
    /// ([`checksum`]).
    pub checksum: Checksum,
    /// The checksum of the whole text, lint directives included, as checksums were recorded
    /// before they left lint directives out; the same as `checksum` for a script without
    /// any. A recorded checksum matches either ([`Script::matches`]).
    pub text_checksum: Checksum,
    /// For an Alembic revision, the checksum of the SQL Alembic rendered (the file's is
    /// `checksum`, its identity).
    pub rendered_checksum: Option<Checksum>,
    pub directives: Vec<Directive>,
    pub settings: ScriptSettings,
}

impl Script {
    /// True when `recorded` is this script's checksum: without its lint directives (recorded
    /// now), or of its whole text (recorded before lint directives were left out).
    pub fn matches(&self, recorded: &str) -> bool {
        recorded == self.checksum.as_str() || recorded == self.text_checksum.as_str()
    }

    /// True when the script holds nothing but whitespace and comments.
    pub fn is_blank(&self) -> bool {
        is_blank_sql(&self.text)
    }

    /// True for the blank downgrade of an Alembic revision whose upgrade renders no SQL
    /// either (a merge revision): applying and reverting it only moves Alembic's heads, so
    /// its empty `downgrade()` is its way back, not a missing one. `self` is the up script.
    pub fn reverts_by_bookkeeping(&self, down: &Script) -> bool {
        self.rendered_checksum.is_some() && self.is_blank() && down.is_blank()
    }
}

/// A script's text and directives without its checksums: what lint reads (the checksums are
/// the runner's, and hashing every file was 6 % of lint's work).
#[derive(Debug, Clone)]
pub struct ScriptBody {
    pub path: PathBuf,
    /// Normalised text (BOM removed, CRLF -> LF) of the script or its section.
    pub text: String,
    /// 1-based file line of the text's first line (above 1 for dbmate sections).
    pub first_line: usize,
    pub directives: Vec<Directive>,
    pub settings: ScriptSettings,
}

impl ScriptBody {
    /// True when the script holds nothing but whitespace and comments.
    pub fn is_blank(&self) -> bool {
        is_blank_sql(&self.text)
    }
}

impl ScriptRef {
    /// Reads the script, checks its encoding and directives, and computes its checksum.
    pub fn load(&self) -> Result<Script, SourceError> {
        let text = read_text(&self.path)?;
        self.load_from(&text)
    }

    /// True for the scripts Alembic renders.
    pub fn is_alembic(&self) -> bool {
        matches!(self.section, Section::AlembicUp | Section::AlembicDown)
    }

    /// As [`ScriptRef::load`], from text already read (normalised or not).
    pub fn load_from(&self, raw: &str) -> Result<Script, SourceError> {
        let file = checksum::normalize(raw);
        // An Alembic revision's identity is its file; the SQL Alembic rendered has a
        // checksum of its own.
        let file_checksum = self.is_alembic().then(|| Checksum::of_normalized(&file));
        let body = self.body_of(file)?;
        let (checksum, text_checksum, rendered_checksum) = match file_checksum {
            Some(file) => (
                file.clone(),
                file,
                Some(Checksum::of_normalized(&body.text)),
            ),
            None => {
                let lint_lines = directives::lint_directive_lines(&body.directives);
                let text = Checksum::of_normalized(&body.text);
                // Without lint directive lines the two are of the same text: hashed once
                // (a no-op apply checksums every file).
                let checksum = if lint_lines.is_empty() {
                    text.clone()
                } else {
                    Checksum::of_normalized(&checksum::without_lines(&body.text, &lint_lines))
                };
                (checksum, text, None)
            }
        };
        Ok(Script {
            path: body.path,
            text: body.text,
            first_line: body.first_line,
            checksum,
            text_checksum,
            rendered_checksum,
            directives: body.directives,
            settings: body.settings,
        })
    }

    /// As [`ScriptRef::load`] without the checksums.
    pub fn load_body(&self) -> Result<ScriptBody, SourceError> {
        let text = read_text(&self.path)?;
        self.load_body_from(&text)
    }

    /// As [`ScriptRef::load_from`] without the checksums.
    pub fn load_body_from(&self, raw: &str) -> Result<ScriptBody, SourceError> {
        self.body_of(checksum::normalize(raw))
    }

    /// The script's text and directives, from the file's normalised text.
    fn body_of(&self, text: String) -> Result<ScriptBody, SourceError> {
        if self.is_alembic() {
            return self.rendered_body(&text);
        }
        let (text, first_line) = match self.section {
            Section::AlembicUp | Section::AlembicDown => unreachable!("handled above"),
            Section::Whole => (text, 1),
            Section::DbmateUp | Section::DbmateDown => {
                let sections = layout::dbmate_sections(&text);
                let section = if self.section == Section::DbmateUp {
                    sections.up
                } else {
                    sections.down
                };
                match section {
                    Some(section) => (text[section.range].to_string(), section.first_line),
                    None if self.section == Section::DbmateUp => {
                        return Err(SourceError::MissingDbmateUp {
                            path: self.path.clone(),
                        });
                    }
                    None => (String::new(), 1),
                }
            }
        };
        let (directives, mut settings) =
            directives::parse(&text, first_line).map_err(|error| SourceError::Directive {
                path: self.path.clone(),
                line: error.line,
                message: error.message,
            })?;
        settings.no_transaction |= self.layout_no_transaction;
        Ok(ScriptBody {
            path: self.path.clone(),
            text,
            first_line,
            directives,
            settings,
        })
    }

    /// An Alembic revision: the SQL is what Alembic rendered, the directives those of the
    /// file's Python comments (`# stagegate:...`) and of the rendered SQL.
    fn rendered_body(&self, file: &str) -> Result<ScriptBody, SourceError> {
        let Some(rendered) = &self.rendered else {
            return Err(SourceError::NotRendered {
                path: self.path.clone(),
            });
        };
        let text = checksum::normalize(rendered);
        let directive_error = |error: directives::DirectiveError| SourceError::Directive {
            path: self.path.clone(),
            line: error.line,
            message: error.message,
        };
        let (mut directives, mut settings) =
            directives::parse(&text, 1).map_err(directive_error)?;
        let (file_directives, file_settings) =
            directives::parse(&alembic::python_comments_as_sql(file), 1)
                .map_err(directive_error)?;
        directives.extend(file_directives);
        settings.merge(file_settings);
        settings.no_transaction |= self.layout_no_transaction;
        Ok(ScriptBody {
            path: self.path.clone(),
            text,
            first_line: 1,
            directives,
            settings,
        })
    }
}

/// One migration: an up script and its optional down and verify scripts.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    /// The descriptive part of the name (`create_users`).
    pub name: String,
    pub up: ScriptRef,
    pub down: Option<ScriptRef>,
    pub verify: Option<ScriptRef>,
    /// For an Alembic revision: the ranks ([`Version::rank`]) of every revision it follows
    /// (`down_revision` and `depends_on`, directly or not), sorted. Its place in the order
    /// alone does not say which revisions must come first: a branch may be ranked before
    /// another it does not follow.
    pub ancestors: Option<std::sync::Arc<[u32]>>,
    /// For an Alembic revision: the SQL that keeps Alembic's version table in step, run in
    /// the revision's transaction just before stagegate's own record.
    pub bookkeeping: Option<std::sync::Arc<alembic::Bookkeeping>>,
    /// For an Alembic revision whose `downgrade()` raised when Alembic rendered it: the error
    /// (its type, message and line). `down` is then `None`, and what refuses the down says why.
    pub down_error: Option<String>,
}

impl Migration {
    /// True when this migration must be applied before `later` can be: an ancestor of an
    /// Alembic revision, a lower version otherwise.
    pub fn precedes(&self, later: &Migration) -> bool {
        match (&later.ancestors, self.version.rank()) {
            (Some(ancestors), Some(rank)) => ancestors.binary_search(&rank).is_ok(),
            _ => self.version < later.version,
        }
    }

    /// Loads the up script. One with no SQL in it yet (as `stagegate new` writes it) loads:
    /// it can be listed, linted and planned; apply refuses it ([`Script::is_blank`]).
    pub fn load_up(&self) -> Result<Script, SourceError> {
        self.up.load()
    }

    /// Loads the down script, if there is one with SQL in it.
    pub fn load_down(&self) -> Result<Option<Script>, SourceError> {
        match &self.down {
            Some(down) => {
                let script = down.load()?;
                Ok((!script.is_blank()).then_some(script))
            }
            None => Ok(None),
        }
    }

    /// Loads the verify script, if there is one.
    pub fn load_verify(&self) -> Result<Option<Script>, SourceError> {
        self.verify.as_ref().map(ScriptRef::load).transpose()
    }

    /// `<version>_<name>`, the way people refer to a migration.
    pub fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// An entry of the migrations directory that the layout's runner ignores too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Its name in the migrations directory.
    pub name: String,
    /// What to warn.
    pub warning: String,
}

/// The migrations of one directory, in version order.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub dir: PathBuf,
    pub layout: Layout,
    pub migrations: Vec<Migration>,
    /// Files that were not understood and were skipped.
    pub warnings: Vec<String>,
    /// Those of the skipped entries that the layout's runner ignores too: their warnings
    /// (in `warnings` as well) never fail `verify`, and `[migrations] ignore` silences them
    /// ([`MigrationSet::silence`]).
    pub ignored: Vec<Ignored>,
    /// The project and revision graph, for an Alembic set.
    pub alembic: Option<std::sync::Arc<alembic::AlembicSet>>,
}

impl MigrationSet {
    pub fn find(&self, version: &str) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.version.matches(version))
    }

    /// Drops the [`MigrationSet::ignored`] entries whose name in the migrations directory
    /// matches one of `globs` (`*` any run of characters, `?` one).
    pub fn silence(&mut self, globs: &[String]) {
        let (silenced, kept): (Vec<Ignored>, Vec<Ignored>) = std::mem::take(&mut self.ignored)
            .into_iter()
            .partition(|entry| globs.iter().any(|glob| glob_matches(glob, &entry.name)));
        self.ignored = kept;
        let silenced: std::collections::HashSet<String> =
            silenced.into_iter().map(|s| s.warning).collect();
        self.warnings.retain(|warning| !silenced.contains(warning));
    }
}

/// `*` matches any run of characters (`/` included), `?` one character, anything else itself.
pub(crate) fn glob_matches(glob: &str, text: &str) -> bool {
    let (glob, text): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == text[t]) {
            g += 1;
            t += 1;
        } else if g < glob.len() && glob[g] == '*' {
            star = Some((g, t));
            g += 1;
        } else if let Some((star_g, star_t)) = star {
            g = star_g + 1;
            t = star_t + 1;
            star = Some((star_g, star_t + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|c| *c == '*')
}

/// Reads a regular file (never through a link: [`crate::regular_file`]) as UTF-8, naming
/// the file and the first bad byte otherwise.
pub(crate) fn read_text(path: &Path) -> Result<String, SourceError> {
    let bytes = crate::regular_file::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|error| SourceError::NotUtf8 {
        path: path.to_path_buf(),
        offset: error.utf8_error().valid_up_to(),
    })
}

/// True when `sql` has nothing but whitespace, `--` comments and `/* */` comments.
pub(crate) fn is_blank_sql(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(after) = rest.strip_prefix("--") {
            rest = after
                .find('\n')
                .map_or("", |nl| &after[nl + 1..])
                .trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            let mut depth = 1;
            let mut chars = after.char_indices().peekable();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                if c == '/' && chars.peek().map(|&(_, n)| n) == Some('*') {
                    chars.next();
                    depth += 1;
                } else if c == '*' && chars.peek().map(|&(_, n)| n) == Some('/') {
                    chars.next();
                    depth -= 1;
                    if depth == 0 {
                        end = i + 2;
                        break;
                    }
                }
            }
            rest = after[end.min(after.len())..].trim_start();
        } else {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_directives_are_not_part_of_the_checksum_and_old_checksums_still_match() {
        let script = |text: &str| {
            ScriptRef {
                path: PathBuf::from("1_x.up.sql"),
                section: Section::Whole,
                layout_no_transaction: false,
                rendered: None,
            }
            .load_from(text)
            .unwrap()
        };
        let plain = script("CREATE INDEX i ON t (a);\n");
        let allowed = script(
            "-- stagegate:allow SG101 -- small table\nCREATE INDEX i ON t (a);\n\
             -- stagegate:allow-file SG116 -- runner sets it\n",
        );
        assert_eq!(plain.checksum, allowed.checksum);
        // What was recorded before lint directives were left out: the whole text's.
        assert_ne!(allowed.text_checksum, allowed.checksum);
        assert!(allowed.matches(allowed.text_checksum.as_str()));
        assert!(allowed.matches(plain.checksum.as_str()));
        // Any other comment, or a setting directive, is part of it.
        let commented = script("-- why\nCREATE INDEX i ON t (a);\n");
        assert!(!commented.matches(plain.checksum.as_str()));
        let timeout = script("-- stagegate:lock-timeout 2s\nCREATE INDEX i ON t (a);\n");
        assert!(!timeout.matches(plain.checksum.as_str()));
    }

    #[test]
    fn globs_match_names_and_paths() {
        assert!(glob_matches("data_*.sql", "data_2021_backfill.sql"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("data_*.sql", "2021-01-01_data/up.sql"));
        assert!(!glob_matches("data_*.sql", "data_x.sql.bak"));
        assert!(glob_matches("scripts/*", "scripts/x.sql"));
    }

    #[test]
    fn blank_sql_is_only_comments_and_whitespace() {
        assert!(is_blank_sql(""));
        assert!(is_blank_sql(
            "  -- Your SQL goes here\n\n/* nested /* comment */ */\n"
        ));
        assert!(!is_blank_sql("-- x\nSELECT 1;"));
        assert!(!is_blank_sql("/* a */ DROP TABLE t;"));
    }
}

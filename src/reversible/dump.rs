//! The schema of a database as `pg_dump --schema-only` prints it, normalised so that two
//! dumps of the same schema compare equal, and the difference between two of them.
//!
//! Normalised: comments, `SET` lines, `set_config` calls and psql's `\restrict` lines are
//! dropped, runs of blank lines collapse, and the entries (one per object in pg_dump's table
//! of contents, found by their `-- Name: ...; Type: ...; Schema: ...` headers) are sorted by
//! schema, name and type, so objects created in another order dump the same. The `stagegate`
//! schema is left out.
//!
//! pg_dump gets the connection from the target's libpq environment ([`crate::target::child`]):
//! the password in a passfile only it can open, never on its command line or in a variable.

use std::path::{Path, PathBuf};

use similar::{ChangeTag, TextDiff};

use crate::config::{DatabaseUrl, redact_text};
use crate::target::TargetError;

/// The schema stagegate keeps its own state in; never part of a comparison.
const OWN_SCHEMA: &str = "stagegate";

#[derive(Debug, thiserror::Error)]
pub(crate) enum DumpError {
    #[error(
        "cannot run {}: {source}; install the PostgreSQL client tools (pg_dump of the server's \
         major version or newer) or set [backup] pg_dump in stagegate.toml",
        program.display()
    )]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("pg_dump of {url} failed ({status}): {stderr}")]
    Failed {
        url: String,
        status: String,
        stderr: String,
    },
    #[error("pg_dump of {url}: output is not UTF-8")]
    NotUtf8 { url: String },
    #[error(
        "cannot run a pg_dump for the scratch server (PostgreSQL {server}): {}; install the \
         PostgreSQL client programs of that version or newer, or set [backup] pg_dump in \
         stagegate.toml",
        crate::programs::describe_attempts(attempts)
    )]
    NoPgDump {
        server: String,
        attempts: Vec<crate::programs::Attempt>,
    },
    #[error(transparent)]
    BadUrl(#[from] TargetError),
    #[error("pg_dump of {url}: cannot write a passfile: {source}")]
    Passfile { url: String, source: std::io::Error },
}

/// The pg_dump for a server of `version`, found as backups find theirs
/// ([`crate::programs::client_tools`]): `configured` (`[backup] pg_dump`) only, when set.
pub(crate) fn pg_dump_for(
    configured: Option<&Path>,
    server: &crate::programs::PgVersion,
) -> Result<PathBuf, DumpError> {
    crate::programs::client_tools(configured, server)
        .map(|tools| tools.pg_dump)
        .map_err(|attempts| DumpError::NoPgDump {
            server: server.text.clone(),
            attempts,
        })
}

/// One object of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DumpEntry {
    /// pg_dump's type, as in its header (`TABLE`, `FK CONSTRAINT`, `INDEX`, `ACL`, ...).
    kind: String,
    /// `-` for objects outside any schema (schemas, extensions).
    schema: String,
    /// As in the header: `users`, or `users users_pkey` for a table's constraint.
    name: String,
    /// The SQL, normalised.
    text: String,
}

impl DumpEntry {
    fn sort_key(&self) -> (&str, &str, &str, &str) {
        (&self.schema, &self.name, &self.kind, &self.text)
    }

    /// How people name the object: `table public.users`, `constraint users_pkey on
    /// public.users`, `privileges on table public.users`.
    fn describe(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        let qualify = |name: &str| {
            if self.schema == "-" {
                name.to_string()
            } else {
                format!("{}.{name}", self.schema)
            }
        };
        match kind.as_str() {
            "acl" | "comment" => {
                let (object_kind, object) = self
                    .name
                    .split_once(' ')
                    .unwrap_or(("object", self.name.as_str()));
                let what = if kind == "acl" {
                    "privileges on"
                } else {
                    "comment on"
                };
                format!(
                    "{what} {} {}",
                    object_kind.to_ascii_lowercase(),
                    qualify(object)
                )
            }
            _ => match self.name.split_once(' ') {
                Some((table, own)) => format!("{kind} {own} on {}", qualify(table)),
                None => format!("{kind} {}", qualify(&self.name)),
            },
        }
    }
}

/// A normalised schema.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Schema {
    entries: Vec<DumpEntry>,
}

impl Schema {
    /// Runs `pg_dump --schema-only` on `url` and normalises its output.
    pub(crate) fn dump(program: &Path, url: &DatabaseUrl) -> Result<Schema, DumpError> {
        let target = url.target()?;
        let mut command = crate::programs::command(program);
        target
            .child_env("stagegate-schema")
            .map_err(|source| DumpError::Passfile {
                url: url.redacted(),
                source,
            })?
            .apply(&mut command);
        command.args([
            "--schema-only",
            "--no-owner",
            "--no-password",
            "--exclude-schema",
            OWN_SCHEMA,
        ]);
        let output = command.output().map_err(|source| DumpError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
        if !output.status.success() {
            return Err(DumpError::Failed {
                url: url.redacted(),
                status: output.status.to_string(),
                stderr: redact_text(String::from_utf8_lossy(&output.stderr).trim_end()),
            });
        }
        let text = String::from_utf8(output.stdout).map_err(|_| DumpError::NotUtf8 {
            url: url.redacted(),
        })?;
        Ok(Schema::parse(&text))
    }

    /// Normalises pg_dump's plain-format output.
    pub(crate) fn parse(dump: &str) -> Schema {
        let mut entries: Vec<DumpEntry> = Vec::new();
        let mut current: Option<DumpEntry> = None;
        let mut previous_line = "";
        for line in dump.lines() {
            if let Some(header) = line.strip_prefix("-- Name: ")
                && previous_line == "--"
            {
                entries.extend(current.take());
                current = Some(parse_header(header));
            } else if !is_noise(line)
                && let Some(entry) = current.as_mut()
            {
                let blank = line.trim().is_empty();
                if !(blank && (entry.text.is_empty() || entry.text.ends_with("\n\n"))) {
                    entry.text.push_str(line.trim_end());
                    entry.text.push('\n');
                }
            }
            previous_line = line;
        }
        entries.extend(current);
        let mut entries: Vec<DumpEntry> = entries
            .into_iter()
            .filter(|e| e.schema != OWN_SCHEMA && !(e.kind == "SCHEMA" && e.name == OWN_SCHEMA))
            .map(|mut e| {
                e.text = e.text.trim_end().to_string();
                e
            })
            .filter(|e| !e.text.is_empty())
            .collect();
        entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Schema { entries }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The objects, as people name them.
    #[cfg(test)]
    fn objects(&self) -> Vec<String> {
        self.entries.iter().map(DumpEntry::describe).collect()
    }

    /// The normalised text: each entry's SQL, a blank line between entries.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&entry.text);
            out.push('\n');
        }
        out
    }
}

/// True for lines that carry no schema: comments, settings, psql's `\restrict` guards.
fn is_noise(line: &str) -> bool {
    line.starts_with("--")
        || line.starts_with("SET ")
        || line.starts_with("SELECT pg_catalog.set_config(")
        || line.starts_with("\\restrict")
        || line.starts_with("\\unrestrict")
}

/// `users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -`
fn parse_header(header: &str) -> DumpEntry {
    let mut parts = header.split("; ");
    let name = parts.next().unwrap_or_default().to_string();
    let mut kind = String::new();
    let mut schema = String::from("-");
    for part in parts {
        if let Some(value) = part.strip_prefix("Type: ") {
            kind = value.to_string();
        } else if let Some(value) = part.strip_prefix("Schema: ") {
            schema = value.to_string();
        }
    }
    DumpEntry {
        kind,
        schema,
        name,
        text: String::new(),
    }
}

/// How the schema after a down script differs from the one before its up script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SchemaDiff {
    /// Objects the down script left behind (`index public.users_email_idx`).
    pub(crate) left_over: Vec<String>,
    /// Objects it removed that existed before the up script.
    pub(crate) missing: Vec<String>,
    /// Objects that exist in both, with what differs (`table public.users: left over
    /// `email text``).
    pub(crate) changed: Vec<String>,
    /// The unified diff of the normalised dumps.
    pub(crate) unified: String,
}

impl SchemaDiff {
    /// One line for a report: what is left over, missing or changed.
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.left_over.is_empty() {
            parts.push(format!("left over: {}", self.left_over.join(", ")));
        }
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        if !self.changed.is_empty() {
            parts.push(format!("changed: {}", self.changed.join("; ")));
        }
        parts.join("; ")
    }
}

/// The difference from `before` to `after`, or `None` when they are the same.
pub(crate) fn diff(before: &Schema, after: &Schema, labels: (&str, &str)) -> Option<SchemaDiff> {
    diff_with(before, after, labels, |old, new| old.text == new.text)
}

/// As [`diff`], for a down script that should have undone its up script: a table whose
/// columns are the same in another order is the same table (a column dropped and added back
/// comes last, and nothing else can put it where it was).
pub(crate) fn reversal_diff(
    before: &Schema,
    after: &Schema,
    labels: (&str, &str),
) -> Option<SchemaDiff> {
    diff_with(before, after, labels, |old, new| {
        old.text == new.text || (old.kind == "TABLE" && columns_sorted(old) == columns_sorted(new))
    })
}

/// A `CREATE TABLE` entry's text with its column lines (between the opening line and the
/// closing parenthesis) sorted, without their trailing commas.
fn columns_sorted(entry: &DumpEntry) -> Vec<&str> {
    let lines: Vec<&str> = entry.text.lines().collect();
    let open = lines.iter().position(|line| line.trim_end().ends_with('('));
    let close = lines.iter().rposition(|line| line.starts_with(')'));
    let (Some(open), Some(close)) = (open, close) else {
        return lines;
    };
    if close <= open {
        return lines;
    }
    let mut columns: Vec<&str> = lines[open + 1..close]
        .iter()
        .map(|line| line.trim_end().trim_end_matches(','))
        .collect();
    columns.sort_unstable();
    let mut out = lines[..=open].to_vec();
    out.extend(columns);
    out.extend_from_slice(&lines[close..]);
    out
}

fn diff_with(
    before: &Schema,
    after: &Schema,
    labels: (&str, &str),
    same: impl Fn(&DumpEntry, &DumpEntry) -> bool,
) -> Option<SchemaDiff> {
    if before == after {
        return None;
    }
    let key = |e: &DumpEntry| (e.schema.clone(), e.name.clone(), e.kind.clone());
    let find = |schema: &Schema, entry: &DumpEntry| {
        schema
            .entries
            .iter()
            .find(|other| key(other) == key(entry))
            .cloned()
    };
    let mut left_over = Vec::new();
    let mut changed = Vec::new();
    for entry in &after.entries {
        match find(before, entry) {
            None => left_over.push(entry.describe()),
            Some(old) if !same(&old, entry) => {
                changed.push(format!(
                    "{}: {}",
                    entry.describe(),
                    line_changes(&old.text, &entry.text)
                ));
            }
            Some(_) => {}
        }
    }
    let missing = before
        .entries
        .iter()
        .filter(|entry| find(after, entry).is_none())
        .map(DumpEntry::describe)
        .collect::<Vec<_>>();
    if left_over.is_empty() && missing.is_empty() && changed.is_empty() {
        return None;
    }
    let (old, new) = (before.render(), after.render());
    let unified = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(labels.0, labels.1)
        .to_string();
    Some(SchemaDiff {
        left_over,
        missing,
        changed,
        unified,
    })
}

/// The lines only in `new` (left over) and only in `old` (missing), quoted.
fn line_changes(old: &str, new: &str) -> String {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for change in TextDiff::from_lines(old, new).iter_all_changes() {
        let line = change.value().trim().trim_end_matches(',').to_string();
        if line.is_empty() {
            continue;
        }
        match change.tag() {
            ChangeTag::Insert => added.push(format!("`{line}`")),
            ChangeTag::Delete => removed.push(format!("`{line}`")),
            ChangeTag::Equal => {}
        }
    }
    // A line that only gained or lost its trailing comma is the same column.
    let mut index = 0;
    while index < added.len() {
        match removed.iter().position(|line| *line == added[index]) {
            Some(found) => {
                removed.remove(found);
                added.remove(index);
            }
            None => index += 1,
        }
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("left over {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("missing {}", removed.join(", ")));
    }
    if parts.is_empty() {
        // Every line is still there: only their order differs.
        return "the same lines in another order".to_string();
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "--
-- PostgreSQL database dump
--

\\restrict abc123

-- Dumped from database version 15.10

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

SET default_table_access_method = heap;

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id integer NOT NULL,
    email text
);


--
-- Name: orders; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orders (
    id integer NOT NULL
);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: _sqlx_migrations; Type: TABLE; Schema: stagegate; Owner: -
--

CREATE TABLE stagegate._sqlx_migrations (version bigint);

--
-- PostgreSQL database dump complete
--

\\unrestrict abc123
";

    #[test]
    fn normalising_drops_noise_and_sorts_entries() {
        let schema = Schema::parse(DUMP);
        assert_eq!(
            schema.render(),
            "CREATE TABLE public.orders (\n    id integer NOT NULL\n);\n\n\
             CREATE TABLE public.users (\n    id integer NOT NULL,\n    email text\n);\n\n\
             ALTER TABLE ONLY public.users\n    ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n"
        );
        assert_eq!(
            schema.objects(),
            [
                "table public.orders",
                "table public.users",
                "constraint users_pkey on public.users"
            ]
        );
        // The same objects in another order, another restrict key: the same schema.
        let reordered = DUMP
            .replace("abc123", "zzz")
            .replacen("Name: users; Type: TABLE", "Name: tmp; Type: TABLE", 1)
            .replacen("Name: orders; Type: TABLE", "Name: users; Type: TABLE", 1)
            .replacen("Name: tmp; Type: TABLE", "Name: orders; Type: TABLE", 1);
        let reordered = Schema::parse(&reordered);
        assert_eq!(reordered.objects(), schema.objects());
        assert!(Schema::parse("--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\n").is_empty());
    }

    #[test]
    fn diff_names_what_is_left_over_missing_and_changed() {
        let before = Schema::parse(DUMP);
        let after = Schema::parse(
            &DUMP
                .replace("    email text\n", "    email text,\n    nickname text\n")
                .replace(
                    "-- Name: orders; Type: TABLE",
                    "-- Name: orders_idx; Type: INDEX",
                )
                .replace(
                    "CREATE TABLE public.orders (\n    id integer NOT NULL\n);",
                    "CREATE INDEX orders_idx ON public.users USING btree (id);",
                ),
        );
        let diff = diff(&before, &after, ("before", "after")).unwrap();
        assert_eq!(diff.left_over, ["index public.orders_idx"]);
        assert_eq!(diff.missing, ["table public.orders"]);
        assert_eq!(
            diff.changed,
            ["table public.users: left over `nickname text`"]
        );
        assert!(
            diff.unified.starts_with("--- before\n+++ after\n"),
            "{}",
            diff.unified
        );
        assert!(
            diff.unified.contains("+    nickname text"),
            "{}",
            diff.unified
        );
        assert_eq!(super::diff(&before, &before.clone(), ("a", "b")), None);
    }

    #[test]
    fn a_reversal_ignores_column_order_and_a_difference_is_always_described() {
        let before = Schema::parse(DUMP);
        let reordered = Schema::parse(&DUMP.replace(
            "    id integer NOT NULL,\n    email text\n",
            "    email text,\n    id integer NOT NULL\n",
        ));
        assert_ne!(before, reordered);
        assert_eq!(reversal_diff(&before, &reordered, ("a", "b")), None);
        // The release report's diff keeps the order, and says what changed.
        let diff = diff(&before, &reordered, ("a", "b")).unwrap();
        assert_eq!(
            diff.changed,
            ["table public.users: the same lines in another order"]
        );
        // A column's type is still a difference.
        let retyped = Schema::parse(&DUMP.replace(
            "    id integer NOT NULL,\n    email text\n",
            "    email varchar,\n    id integer NOT NULL\n",
        ));
        let diff = reversal_diff(&before, &retyped, ("a", "b")).unwrap();
        assert_eq!(
            diff.changed,
            ["table public.users: left over `email varchar`; missing `email text`"]
        );
    }
}

//! The Alembic layout: an `alembic.ini` whose `script_location` holds `versions/*.py`, one
//! revision per file. The order is not in the names (revision ids are random hex): it comes
//! from the revision graph (`revision`, `down_revision`, `branch_labels`, `depends_on`), read
//! here from the files without running Python, and ordered topologically. The SQL of each
//! revision is what Alembic renders for it offline ([`crate::alembic`] runs Alembic); until
//! then a revision's up script is its `.py` file, which is its identity (its checksum).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::super::{Migration, MigrationSet, ScriptRef, Section, SourceError, Version};
use super::Layout;
use crate::sql::quote_literal;

/// The name of Alembic's configuration file.
pub(crate) const INI_FILE: &str = "alembic.ini";

/// An Alembic project: its configuration file and where its revisions are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `alembic.ini`.
    pub ini: PathBuf,
    /// `script_location`, resolved (the directory holding `env.py`).
    pub script_location: PathBuf,
    /// The directories holding revision files (`<script_location>/versions`, or the
    /// `version_locations` of the ini).
    pub version_dirs: Vec<PathBuf>,
}

/// One revision as its file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub id: String,
    /// The revisions this one follows (`down_revision`): none for a root, two or more for a
    /// merge.
    pub parents: Vec<String>,
    pub branch_labels: Vec<String>,
    /// `depends_on`, as written (revision ids or branch labels).
    pub depends_on: Vec<String>,
    /// The descriptive part of the file name (`add_users`), or the file stem.
    pub slug: String,
    pub path: PathBuf,
    /// The docstring's `Create Date:`, when there is one: orders revisions the graph leaves
    /// unordered.
    pub create_date: Option<String>,
}

/// The revision graph of a project, in one deterministic order.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Parents before children; revisions the graph leaves unordered by create date, then id.
    pub revisions: Vec<Revision>,
    /// Revisions no other revision follows, in order.
    pub heads: Vec<String>,
}

impl Graph {
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.id == id)
    }

    /// The revision ids `id` follows, directly or not (its `down_revision`s and theirs; with
    /// `depends_on` too when `dependencies`).
    pub fn ancestors(&self, id: &str, dependencies: bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(next) = stack.pop() {
            let Some(revision) = self.get(&next) else {
                continue;
            };
            let deps = if dependencies {
                self.resolve_all(&revision.depends_on)
            } else {
                Vec::new()
            };
            for parent in revision.parents.iter().cloned().chain(deps) {
                if seen.insert(parent.clone()) {
                    stack.push(parent);
                }
            }
        }
        seen
    }

    /// The revisions `id` replaces as a head of Alembic's version table when it is applied:
    /// its `down_revision`s and the revisions its `depends_on` names.
    pub fn replaced_heads(&self, id: &str) -> Vec<String> {
        let Some(revision) = self.get(id) else {
            return Vec::new();
        };
        let mut out = revision.parents.clone();
        for dependency in self.resolve_all(&revision.depends_on) {
            if !out.contains(&dependency) {
                out.push(dependency);
            }
        }
        out
    }

    /// The revisions that follow `id` (its descendants through `down_revision`).
    pub fn descendants(&self, id: &str) -> BTreeSet<String> {
        self.revisions
            .iter()
            .filter(|r| self.ancestors(&r.id, false).contains(id))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Revision ids for `depends_on` entries (a revision id or a branch label).
    fn resolve_all(&self, names: &[String]) -> Vec<String> {
        names.iter().filter_map(|n| self.resolve(n)).collect()
    }

    /// The revision a `depends_on` entry names: its id, or the newest revision of a branch
    /// label (the labelled revision's branch is the labelled revision and its descendants).
    fn resolve(&self, name: &str) -> Option<String> {
        if self.get(name).is_some() {
            return Some(name.to_string());
        }
        self.revisions
            .iter()
            .find(|r| r.branch_labels.iter().any(|l| l == name))
            .map(|r| r.id.clone())
    }
}

/// Problems in a revision graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("duplicate revision id {id}: {} and {}", first.display(), second.display())]
    Duplicate {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("revision {id} ({}): its down_revision {parent} is not in {}", path.display(), dirs)]
    MissingParent {
        id: String,
        path: PathBuf,
        parent: String,
        dirs: String,
    },
    #[error("revision {id} ({}): depends_on {name} names no revision or branch label", path.display())]
    MissingDependency {
        id: String,
        path: PathBuf,
        name: String,
    },
    #[error("the revision graph has a cycle: {}", ids.join(" -> "))]
    Cycle { ids: Vec<String> },
    #[error("{}: declares no `revision = \"...\"` (not an Alembic revision file?)", path.display())]
    NoRevision { path: PathBuf },
    #[error("{}:{line}: cannot read {name}: {why}", path.display())]
    Unreadable {
        path: PathBuf,
        line: usize,
        name: String,
        why: String,
    },
}

impl From<GraphError> for SourceError {
    fn from(error: GraphError) -> SourceError {
        let path = match &error {
            GraphError::Duplicate { second, .. } => second.clone(),
            GraphError::MissingParent { path, .. }
            | GraphError::MissingDependency { path, .. }
            | GraphError::NoRevision { path }
            | GraphError::Unreadable { path, .. } => path.clone(),
            GraphError::Cycle { .. } => PathBuf::new(),
        };
        SourceError::Alembic {
            path,
            message: error.to_string(),
        }
    }
}

/// Reads `alembic.ini`: `script_location` (and `version_locations`) resolved against the
/// file's directory (`%(here)s` too).
pub(crate) fn read_project(ini: &Path) -> Result<Project, SourceError> {
    let text = super::super::read_text(ini)?;
    let here = ini
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let value = |key: &str| ini_value(&text, "alembic", key);
    let resolve = |raw: &str| -> PathBuf {
        let raw = raw.replace("%(here)s", &here.to_string_lossy());
        let path = PathBuf::from(raw.trim());
        if path.is_absolute() {
            path
        } else {
            here.join(path)
        }
    };
    let Some(location) = value("script_location") else {
        return Err(SourceError::Alembic {
            path: ini.to_path_buf(),
            message: format!("{}: no `script_location` under [alembic]", ini.display()),
        });
    };
    if location.contains(':') && !location.contains("%(here)s") && !Path::new(&location).exists() {
        return Err(SourceError::Alembic {
            path: ini.to_path_buf(),
            message: format!(
                "{}: script_location `{location}` is a package resource; stagegate reads \
                 revisions from a directory (write the directory's path)",
                ini.display()
            ),
        });
    }
    let script_location = resolve(&location);
    let version_dirs = match value("version_locations") {
        Some(list) => {
            let separator = value("version_path_separator");
            split_locations(&list, separator.as_deref())
                .into_iter()
                .map(|l| resolve(&l))
                .collect()
        }
        None => vec![script_location.join("versions")],
    };
    Ok(Project {
        ini: ini.to_path_buf(),
        script_location,
        version_dirs,
    })
}

/// `version_locations` split the way Alembic splits it.
fn split_locations(list: &str, separator: Option<&str>) -> Vec<String> {
    let parts: Vec<&str> = match separator.map(str::trim) {
        Some("space") | None if !list.contains(',') => list.split_whitespace().collect(),
        Some("newline") => list.lines().collect(),
        Some(":") => list.split(':').collect(),
        Some(";") => list.split(';').collect(),
        _ => list.split([',', ' ']).collect(),
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One `key = value` of `[section]` in an ini file (a value may continue on indented lines).
pub(crate) fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    let mut found: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(value) = found.as_mut() {
            if !trimmed.is_empty() && line.starts_with([' ', '\t']) && !trimmed.starts_with('#') {
                if !value.is_empty() {
                    value.push('\n');
                }
                value.push_str(trimmed);
                continue;
            }
            break;
        }
        if trimmed.starts_with('[') {
            in_section = trimmed.trim_matches(['[', ']']).trim() == section;
            continue;
        }
        if !in_section || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some((k, v)) = trimmed.split_once(['=', ':'])
            && k.trim() == key
        {
            found = Some(v.trim().to_string());
        }
    }
    found.filter(|v| !v.is_empty())
}

/// The `alembic.ini` whose versions directory is `dir`, looking in `dir` and its parents: a
/// directory given to lint may be the project's, its script location, or its versions.
pub(crate) fn find_project(dir: &Path) -> Result<Option<Project>, SourceError> {
    let ini = dir.join(INI_FILE);
    if ini.is_file() {
        return read_project(&ini).map(Some);
    }
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let wanted = canonical(dir);
    for ancestor in wanted.ancestors().skip(1).take(4) {
        let ini = ancestor.join(INI_FILE);
        if !ini.is_file() {
            continue;
        }
        let project = read_project(&ini)?;
        let found = project
            .version_dirs
            .iter()
            .chain(std::iter::once(&project.script_location))
            .any(|d| canonical(d) == wanted);
        if found {
            return Ok(Some(project));
        }
    }
    Ok(None)
}

/// True when `name` looks like a revision file Alembic reads.
fn is_revision_file(name: &str) -> bool {
    name.ends_with(".py") && !name.starts_with("__") && !name.starts_with('.')
}

/// Reads every revision file of the project into its graph.
pub(crate) fn read_graph(project: &Project) -> Result<(Graph, Vec<String>), SourceError> {
    let mut revisions = Vec::new();
    let mut warnings = Vec::new();
    for dir in &project.version_dirs {
        let entries = std::fs::read_dir(dir).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SourceError::MissingDir { dir: dir.clone() },
            _ => SourceError::Io {
                path: dir.clone(),
                source,
            },
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| SourceError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "__pycache__" {
                    warnings.push(format!(
                        "{}: skipped, a directory (Alembic reads revision files of the versions \
                         directory itself unless recursive_version_locations is set)",
                        path.display()
                    ));
                }
                continue;
            }
            if is_revision_file(&name) {
                paths.push(path);
            } else if !name.ends_with(".pyc") && !name.starts_with("__") && !name.starts_with('.') {
                let lower = name.to_ascii_lowercase();
                if !(lower.starts_with("readme") || lower.ends_with(".md")) {
                    warnings.push(format!(
                        "{}: skipped, not an Alembic revision (a .py file)",
                        path.display()
                    ));
                }
            }
        }
        paths.sort();
        for path in paths {
            let text = super::super::read_text(&path)?;
            revisions.push(parse_revision(&path, &text)?);
        }
    }
    let graph = order(revisions, &project.version_dirs)?;
    Ok((graph, warnings))
}

/// Reads the module-level declarations of one revision file.
pub(crate) fn parse_revision(path: &Path, text: &str) -> Result<Revision, GraphError> {
    let text = super::super::checksum::normalize(text);
    let mut values: HashMap<&'static str, (usize, Vec<String>, bool)> = HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(name) = ["revision", "down_revision", "branch_labels", "depends_on"]
            .into_iter()
            .find(|name| assignment_value(line, name).is_some())
        else {
            continue;
        };
        let mut value = strip_comment(assignment_value(line, name).unwrap_or_default()).to_string();
        // A tuple or list may continue on the next lines.
        while depth(&value) > 0 && i < lines.len() {
            value.push(' ');
            value.push_str(strip_comment(lines[i]));
            i += 1;
        }
        let parsed = literal(&value).map_err(|why| GraphError::Unreadable {
            path: path.to_path_buf(),
            line: i,
            name: name.to_string(),
            why,
        })?;
        values.entry(name).or_insert((i, parsed.0, parsed.1));
    }
    let take = |name: &str| {
        values
            .get(name)
            .map(|(_, v, _)| v.clone())
            .unwrap_or_default()
    };
    let ids = take("revision");
    let [id] = ids.as_slice() else {
        return Err(GraphError::NoRevision {
            path: path.to_path_buf(),
        });
    };
    let slug = file_slug(path, id);
    let slug = if slug.is_empty() {
        file_stem(path)
    } else {
        slug
    };
    let create_date = text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Create Date:")
            .map(|d| d.trim().to_string())
    });
    Ok(Revision {
        id: id.clone(),
        parents: take("down_revision"),
        branch_labels: take("branch_labels"),
        depends_on: take("depends_on"),
        slug,
        path: path.to_path_buf(),
        create_date,
    })
}

/// The text after `name =` (or `name: Type =`) on a module-level line.
fn assignment_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let rest = rest.trim_start();
    let rest = if let Some(annotated) = rest.strip_prefix(':') {
        // `down_revision: Union[str, Sequence[str], None] = ...`
        let mut depth = 0i32;
        let mut at = None;
        for (i, c) in annotated.char_indices() {
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' => depth -= 1,
                '=' if depth == 0 => {
                    at = Some(i);
                    break;
                }
                _ => {}
            }
        }
        &annotated[at?..]
    } else {
        rest
    };
    let rest = rest.strip_prefix('=')?;
    if rest.starts_with('=') {
        return None;
    }
    Some(rest.trim())
}

/// A line without its `# comment` (outside strings).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// How many brackets are open at the end of `text` (outside strings).
fn depth(text: &str) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '#' => break,
                _ => {}
            },
        }
    }
    depth
}

/// A Python literal of the kinds revision files use: `None`, a string, or a tuple/list of
/// strings; the strings, and whether it was a collection.
fn literal(text: &str) -> Result<(Vec<String>, bool), String> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    let mut collection = false;
    let mut open = 0;
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' => {
                collection = true;
                open += 1;
            }
            ')' | ']' => {
                open -= 1;
                if open == 0 {
                    break;
                }
            }
            ',' | ' ' | '\t' => {}
            '#' if open == 0 => break,
            '#' => {
                // A comment inside a multi-line tuple runs to the line's end, which was
                // joined with a space: skip to the next quote or bracket.
                while let Some(&n) = chars.peek() {
                    if matches!(n, '\'' | '"' | ')' | ']') {
                        break;
                    }
                    chars.next();
                }
            }
            '\'' | '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some(end) if end == c => break,
                        Some('\\') => return Err("escapes in a revision id".into()),
                        Some(other) => value.push(other),
                        None => return Err("an unterminated string".into()),
                    }
                }
                out.push(value);
                if open == 0 {
                    break;
                }
            }
            'N' => {
                let rest: String = std::iter::once(c).chain(chars.by_ref().take(3)).collect();
                if rest != "None" {
                    return Err(format!("`{}` is not a literal", text.trim()));
                }
                if open == 0 {
                    break;
                }
            }
            _ => {
                return Err(format!(
                    "`{}` is not a literal (write the revision ids as strings)",
                    text.trim()
                ));
            }
        }
    }
    Ok((out, collection))
}

/// What a revision file's name says after the revision id, `<revision>_<slug>.py`: the slug
/// (empty when nothing follows the id), or the whole name when the id is not in it.
pub(crate) fn file_slug(path: &Path, id: &str) -> String {
    let file_name = file_stem(path);
    match file_name.find(id) {
        Some(at) => file_name[at + id.len()..]
            .trim_start_matches(['_', '-'])
            .to_string(),
        None => file_name,
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Orders the revisions topologically (parents and dependencies first); checks ids, parents
/// and cycles.
pub(crate) fn order(revisions: Vec<Revision>, dirs: &[PathBuf]) -> Result<Graph, GraphError> {
    let mut by_id: BTreeMap<String, Revision> = BTreeMap::new();
    for revision in revisions {
        if let Some(first) = by_id.get(&revision.id) {
            return Err(GraphError::Duplicate {
                id: revision.id.clone(),
                first: first.path.clone(),
                second: revision.path,
            });
        }
        by_id.insert(revision.id.clone(), revision);
    }
    let labels: HashMap<&str, &str> = by_id
        .values()
        .flat_map(|r| {
            r.branch_labels
                .iter()
                .map(move |l| (l.as_str(), r.id.as_str()))
        })
        .collect();
    // Edges: each revision's prerequisites.
    let mut needs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for revision in by_id.values() {
        let mut before = Vec::new();
        for parent in &revision.parents {
            let Some((id, _)) = by_id.get_key_value(parent) else {
                return Err(GraphError::MissingParent {
                    id: revision.id.clone(),
                    path: revision.path.clone(),
                    parent: parent.clone(),
                    dirs: dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            before.push(id.as_str());
        }
        for name in &revision.depends_on {
            let id = match by_id.get_key_value(name) {
                Some((id, _)) => id.as_str(),
                None => match labels.get(name.as_str()) {
                    Some(id) => id,
                    None => {
                        return Err(GraphError::MissingDependency {
                            id: revision.id.clone(),
                            path: revision.path.clone(),
                            name: name.clone(),
                        });
                    }
                },
            };
            before.push(id);
        }
        needs.insert(revision.id.as_str(), before);
    }
    let key = |id: &str| {
        let r = &by_id[id];
        (r.create_date.clone().unwrap_or_default(), r.id.clone())
    };
    let mut remaining: BTreeMap<&str, usize> = needs
        .iter()
        .map(|(id, before)| (*id, before.len()))
        .collect();
    let mut ready: BTreeSet<(String, String)> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| key(id))
        .collect();
    let mut ordered: Vec<String> = Vec::with_capacity(by_id.len());
    while let Some(next) = ready.pop_first() {
        let id = next.1;
        remaining.remove(id.as_str());
        for (child, before) in &needs {
            let count = before.iter().filter(|b| **b == id).count();
            if count == 0 {
                continue;
            }
            if let Some(n) = remaining.get_mut(child) {
                *n -= count;
                if *n == 0 {
                    ready.insert(key(child));
                }
            }
        }
        ordered.push(id);
    }
    if !remaining.is_empty() {
        return Err(GraphError::Cycle {
            ids: cycle(&needs, &remaining),
        });
    }
    let followed: BTreeSet<&str> = by_id
        .values()
        .flat_map(|r| r.parents.iter().map(String::as_str))
        .collect();
    let heads = ordered
        .iter()
        .filter(|id| !followed.contains(id.as_str()))
        .cloned()
        .collect();
    let mut revisions = Vec::with_capacity(ordered.len());
    for id in &ordered {
        if let Some(revision) = by_id.remove(id) {
            revisions.push(revision);
        }
    }
    Ok(Graph { revisions, heads })
}

/// One cycle among the revisions left unordered, as a path that returns to its start.
fn cycle(needs: &BTreeMap<&str, Vec<&str>>, remaining: &BTreeMap<&str, usize>) -> Vec<String> {
    let Some(start) = remaining.keys().next() else {
        return Vec::new();
    };
    let mut path: Vec<&str> = vec![start];
    let mut at = *start;
    while let Some(next) = needs[at].iter().find(|n| remaining.contains_key(*n)) {
        if let Some(pos) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.to_string());
            cycle.reverse();
            return cycle;
        }
        path.push(next);
        at = next;
    }
    path.iter().map(|s| s.to_string()).collect()
}

/// Reads an Alembic project into a migration set: one migration per revision, in graph
/// order, its up script the revision file (to be rendered).
pub(crate) fn discover(project: &Project) -> Result<MigrationSet, SourceError> {
    let (graph, mut warnings) = read_graph(project)?;
    if graph.heads.len() > 1 {
        warnings.push(format!(
            "the revision graph has {} heads ({}); merge them (`alembic merge heads`) before \
             they reach production",
            graph.heads.len(),
            graph.heads.join(", ")
        ));
    }
    let rank_of: HashMap<&str, u32> = graph
        .revisions
        .iter()
        .enumerate()
        .map(|(rank, r)| (r.id.as_str(), u32::try_from(rank).unwrap_or(u32::MAX)))
        .collect();
    let migrations = graph
        .revisions
        .iter()
        .enumerate()
        .map(|(rank, revision)| {
            let mut ancestors: Vec<u32> = graph
                .ancestors(&revision.id, true)
                .iter()
                .filter_map(|id| rank_of.get(id.as_str()).copied())
                .collect();
            ancestors.sort_unstable();
            let script = |section| ScriptRef {
                path: revision.path.clone(),
                section,
                layout_no_transaction: false,
                rendered: None,
            };
            Migration {
                version: Version::revision(&revision.id, u32::try_from(rank).unwrap_or(u32::MAX)),
                name: revision.slug.clone(),
                up: script(Section::AlembicUp),
                down: Some(script(Section::AlembicDown)),
                verify: None,
                ancestors: Some(ancestors.into()),
                bookkeeping: None,
                down_error: None,
            }
        })
        .collect();
    Ok(MigrationSet {
        dir: project
            .version_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| project.script_location.clone()),
        layout: Layout::Alembic,
        migrations,
        warnings,
        ignored: Vec::new(),
        alembic: Some(std::sync::Arc::new(AlembicSet {
            project: project.clone(),
            graph,
            rendering: None,
        })),
    })
}

/// The file-wide directives of a revision file written as Python comments
/// (`# stagegate:allow-file SG101 -- reason`, `# stagegate:lock-timeout 2s`), as SQL comments
/// on the same lines, everything else blank. `# stagegate:allow` (the next statement) is not
/// among them: the renderer writes it before the statements of the operation it stands above.
pub(crate) fn python_comments_as_sql(file: &str) -> String {
    let mut out = String::with_capacity(file.len() / 4);
    for line in file.lines() {
        if let Some(comment) = line.trim_start().strip_prefix('#') {
            let body = comment.trim_start();
            if let Some(directive) = body.strip_prefix("stagegate:")
                && !directive.starts_with("allow ")
                && directive != "allow"
            {
                out.push_str("-- ");
                out.push_str(body);
            }
        }
        out.push('\n');
    }
    out
}

/// The revision file's line of the operation whose SQL holds byte `offset` of the rendered
/// text: the `-- alembic: line N` comment the renderer writes before each operation.
pub(crate) fn source_line(rendered: &str, offset: usize) -> Option<usize> {
    let before = &rendered[..offset.min(rendered.len())];
    before.rmatch_indices(LINE_MARKER).find_map(|(at, _)| {
        let rest = &rendered[at + LINE_MARKER.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// The comment the renderer writes before each operation's SQL.
const LINE_MARKER: &str = "-- alembic: line ";

/// The SQL that keeps Alembic's version table in step with one revision, so the team's own
/// `alembic current` stays true: `up` after it is applied, `down` after it is reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookkeeping {
    pub up: String,
    pub down: String,
    /// What rendered the revision's SQL (`alembic 1.x, SQLAlchemy 2.y`).
    pub rendered_by: String,
}

impl Bookkeeping {
    /// For revision `id` of `graph`, with Alembic's version table `table` (quoted, maybe
    /// schema-qualified). Applied: the revision replaces the revisions it follows among the
    /// heads (Alembic's own rule: down revisions and dependencies). Reverted: it leaves the
    /// heads, and each revision it followed becomes a head again unless another head still
    /// follows it.
    pub fn of(graph: &Graph, id: &str, table: &str, rendered_by: &str) -> Bookkeeping {
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (version_num VARCHAR(32) NOT NULL, \
             CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));\n"
        );
        let from = graph.replaced_heads(id);
        let list = |ids: &[String]| {
            ids.iter()
                .map(|i| quote_literal(i))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut up = create.clone();
        if !from.is_empty() {
            up.push_str(&format!(
                "DELETE FROM {table} WHERE version_num IN ({});\n",
                list(&from)
            ));
        }
        up.push_str(&format!(
            "INSERT INTO {table} (version_num) SELECT {id} WHERE NOT EXISTS (SELECT 1 FROM {table} \
             WHERE version_num = {id});\n",
            id = quote_literal(id)
        ));
        let mut down = create;
        down.push_str(&format!(
            "DELETE FROM {table} WHERE version_num = {};\n",
            quote_literal(id)
        ));
        let parents = graph.get(id).map(|r| r.parents.clone()).unwrap_or_default();
        for parent in parents {
            let mut followers: Vec<String> = graph
                .descendants(&parent)
                .into_iter()
                .filter(|d| d != id && !graph.ancestors(d, false).contains(id))
                .collect();
            followers.push(parent.clone());
            down.push_str(&format!(
                "INSERT INTO {table} (version_num) SELECT {p} WHERE NOT EXISTS (SELECT 1 FROM \
                 {table} WHERE version_num IN ({}));\n",
                list(&followers),
                p = quote_literal(&parent)
            ));
        }
        Bookkeeping {
            up,
            down,
            rendered_by: rendered_by.to_string(),
        }
    }
}

/// What a migration set read from an Alembic project knows beyond its migrations.
#[derive(Debug)]
pub struct AlembicSet {
    pub project: Project,
    pub graph: Graph,
    /// Set once Alembic rendered the revisions.
    pub rendering: Option<Rendering>,
}

/// What rendering found out beyond each revision's SQL.
#[derive(Debug, Clone, Default)]
pub struct Rendering {
    /// `alembic <version>, SQLAlchemy <version>`: recorded beside each applied revision, so a
    /// different rendering can be told from an edit.
    pub tools: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(path: &str, text: &str) -> Revision {
        parse_revision(Path::new(path), text).unwrap()
    }

    #[test]
    fn reads_the_declarations_alembic_writes() {
        let r = rev(
            "versions/ae1027a6acf_add_users.py",
            "\"\"\"add users\n\nRevision ID: ae1027a6acf\nCreate Date: 2024-01-05 12:00:00\n\"\"\"\n\
             from typing import Sequence, Union\n\
             revision: str = 'ae1027a6acf'\n\
             down_revision: Union[str, Sequence[str], None] = (\n    '1975ea83b712',  # main\n    \"27c6a30d7c24\",\n)\n\
             branch_labels: Union[str, Sequence[str], None] = None\n\
             depends_on = 'shared'\n\
             def upgrade():\n    revision = 'not me'\n",
        );
        assert_eq!(r.id, "ae1027a6acf");
        assert_eq!(r.parents, ["1975ea83b712", "27c6a30d7c24"]);
        assert!(r.branch_labels.is_empty());
        assert_eq!(r.depends_on, ["shared"]);
        assert_eq!(r.slug, "add_users");
        assert_eq!(r.create_date.as_deref(), Some("2024-01-05 12:00:00"));
    }

    #[test]
    fn a_file_without_a_revision_or_with_an_expression_is_an_error() {
        let error = parse_revision(Path::new("x.py"), "import os\n").unwrap_err();
        assert!(error.to_string().contains("declares no"), "{error}");
        let error = parse_revision(Path::new("x.py"), "revision = make_id()\n").unwrap_err();
        assert!(
            error.to_string().contains("x.py:1: cannot read revision"),
            "{error}"
        );
    }

    fn node(id: &str, parents: &[&str], date: &str) -> Revision {
        Revision {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            slug: id.into(),
            path: PathBuf::from(format!("{id}.py")),
            create_date: Some(date.into()),
        }
    }

    #[test]
    fn branches_and_merges_order_parents_first_then_by_date() {
        let graph = order(
            vec![
                node("m", &["c", "d"], "5"),
                node("d", &["b"], "3"),
                node("c", &["b"], "4"),
                node("b", &["a"], "2"),
                node("a", &[], "1"),
            ],
            &[],
        )
        .unwrap();
        let ids: Vec<&str> = graph.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d", "c", "m"]);
        assert_eq!(graph.heads, ["m"]);
        assert!(graph.ancestors("m", false).contains("a"));
    }

    #[test]
    fn missing_parents_duplicates_cycles_and_two_heads() {
        let error = order(vec![node("b", &["a"], "1")], &[PathBuf::from("v")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("its down_revision a is not in v"),
            "{error}"
        );
        let error = order(vec![node("a", &[], "1"), node("a", &[], "2")], &[]).unwrap_err();
        assert!(
            error.to_string().contains("duplicate revision id a"),
            "{error}"
        );
        let error = order(
            vec![
                node("a", &["c"], "1"),
                node("b", &["a"], "2"),
                node("c", &["b"], "3"),
            ],
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("cycle: "), "{error}");
        let graph = order(
            vec![
                node("a", &[], "1"),
                node("b", &["a"], "2"),
                node("c", &["a"], "3"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(graph.heads, ["b", "c"]);
    }

    #[test]
    fn depends_on_names_a_revision_or_a_branch_label() {
        let mut shared = node("s", &[], "9");
        shared.branch_labels = vec!["shared".into()];
        let mut app = node("x", &[], "1");
        app.depends_on = vec!["shared".into()];
        let graph = order(vec![app, shared], &[]).unwrap();
        let ids: Vec<&str> = graph.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["s", "x"]);
        let mut lost = node("y", &[], "1");
        lost.depends_on = vec!["nowhere".into()];
        assert!(order(vec![lost], &[]).is_err());
    }

    #[test]
    fn ini_values() {
        let ini = "[alembic]\nscript_location = %(here)s/alembic\n# version_locations = x\n\
                   version_locations =\n    a\n    b\n[post_write_hooks]\nhooks = black\n";
        assert_eq!(
            ini_value(ini, "alembic", "script_location").as_deref(),
            Some("%(here)s/alembic")
        );
        assert_eq!(
            ini_value(ini, "alembic", "version_locations").as_deref(),
            Some("a\nb")
        );
        assert_eq!(ini_value(ini, "alembic", "hooks"), None);
        assert_eq!(split_locations("a b", None), ["a", "b"]);
    }
}

//! The lint engine: runs the rules of [`registry`] over each statement's [`Change`]s, with
//! the context a static reading can know (PostgreSQL version, transaction, tables created
//! earlier in the run, lock_timeout), applies `allow` directives, and returns findings.
//! Pure: no I/O.

mod allows;
pub(crate) mod catalog;
mod clause;
mod context;
pub(crate) mod emit;
mod facts;
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod rules;
#[cfg(test)]
pub(crate) mod test_utils;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde::Serialize;

use crate::analyze::{self, Change};
use crate::source::{Directive, ScriptSettings};
use crate::sql::Lines;

use allows::Allows;
pub use context::RunState;
pub(crate) use context::{Ctx, FileState, KeyColumn, SizeVerdict};
pub use registry::RULES;
pub(crate) use registry::Rule;

/// Names a message lists before the rest are only counted (the rules' `quote_all`, the
/// context's locked tables, the lines of repeated findings): a message stays short when a
/// long transaction has locked thousands of tables.
pub(crate) const LISTED: usize = 5;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

/// What a rule reports: the engine adds the rule, severity and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub message: String,
    pub help: String,
    /// The clause that causes it, as a byte range in the statement's text (from
    /// [`Ctx::clause`]); the whole statement when `None`.
    pub clause: Option<Range<usize>>,
    /// This finding's severity when it differs from the rule's default (the rule's doc says
    /// when); a `[lint] severity` setting for the rule still wins.
    pub severity: Option<Severity>,
}

impl Hit {
    pub(crate) fn new(message: impl Into<String>, help: impl Into<String>) -> Hit {
        Hit {
            message: message.into(),
            help: help.into(),
            clause: None,
            severity: None,
        }
    }

    /// The same hit, pointing at `clause` when it was found.
    pub(crate) fn on(self, clause: Option<Range<usize>>) -> Hit {
        Hit {
            clause: clause.or(self.clause),
            ..self
        }
    }

    /// The same hit at `severity` instead of the rule's default.
    pub(crate) fn at(self, severity: Severity) -> Hit {
        Hit {
            severity: Some(severity),
            ..self
        }
    }
}

/// One finding in one script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: String,
    /// Byte range in the script text: the clause that causes the finding, or its statement.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Byte range of the statement holding the span (the context text output shows).
    #[serde(skip)]
    pub statement: Range<usize>,
    /// 1-based file line and character column of the span's start and end.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Settings for a lint run.
#[derive(Debug, Clone)]
pub struct Options {
    pub postgres_version: u32,
    /// The environment the migrations run in sets a lock_timeout.
    pub lock_timeout_configured: bool,
    pub disabled: HashSet<&'static str>,
    pub severity: HashMap<&'static str, Severity>,
    /// Facts read from a database (`--env`, `--scratch`); `None`: only the files are known.
    pub catalog: Option<std::sync::Arc<catalog::Catalog>>,
    /// `[lint] small_table_rows`: with a catalog, a lock on a table with fewer rows is brief.
    pub small_table_rows: u64,
    /// Keep what allow directives suppressed in [`ScriptResult::allowed`].
    pub keep_allowed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            postgres_version: crate::config::DEFAULT_POSTGRES_VERSION,
            lock_timeout_configured: false,
            disabled: HashSet::new(),
            severity: HashMap::new(),
            catalog: None,
            small_table_rows: catalog::DEFAULT_SMALL_TABLE_ROWS,
            keep_allowed: false,
        }
    }
}

impl Options {
    /// The options `[lint]` configures. `postgres_version` overrides the configured version
    /// (`--postgres-version`); `lock_timeout_configured` says whether the environment the
    /// migrations run in sets a lock_timeout. Unknown rules and versions are errors.
    pub fn from_config(
        lint: &crate::config::LintConfig,
        postgres_version: Option<u32>,
        lock_timeout_configured: bool,
    ) -> Result<Options, String> {
        let postgres_version = postgres_version.unwrap_or(lint.postgres_version);
        if !(9..=30).contains(&postgres_version) {
            return Err(format!(
                "PostgreSQL version {postgres_version} is not a major version (9 to 30)"
            ));
        }
        let small_table_rows = match lint.small_table_rows {
            None => catalog::DEFAULT_SMALL_TABLE_ROWS,
            Some(rows) => u64::try_from(rows).map_err(|_| {
                format!("[lint] small_table_rows = {rows}: expected a row count (0 or more)")
            })?,
        };
        let mut options = Options {
            postgres_version,
            lock_timeout_configured,
            small_table_rows,
            ..Options::default()
        };
        options.configure(&lint.disable, &lint.severity)?;
        Ok(options)
    }

    /// Applies `--select` and `--ignore` (codes, names or code prefixes such as `SG1`): with
    /// a selection only its rules run, even those `[lint] disable` lists; ignored rules never
    /// run. Unknown rules are errors.
    pub fn select(&mut self, select: &[String], ignore: &[String]) -> Result<(), String> {
        if !select.is_empty() {
            let mut selected = HashSet::new();
            for rule in select {
                selected.extend(registry::matching(rule).ok_or_else(|| {
                    format!("--select: unknown rule `{rule}` (`stagegate rule` lists them)")
                })?);
            }
            self.disabled = RULES
                .iter()
                .map(|rule| rule.code)
                .filter(|code| !selected.contains(code))
                .collect();
        }
        for rule in ignore {
            self.disabled
                .extend(registry::matching(rule).ok_or_else(|| {
                    format!("--ignore: unknown rule `{rule}` (`stagegate rule` lists them)")
                })?);
        }
        Ok(())
    }

    /// Applies `[lint]` `disable` and `severity` (codes or names); unknown rules are errors.
    pub fn configure(
        &mut self,
        disable: &[String],
        severity: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        for rule in disable {
            let found = registry::find(rule)
                .ok_or_else(|| format!("[lint] disable: unknown rule `{rule}`"))?;
            self.disabled.insert(found.code);
        }
        for (rule, level) in severity {
            let found = registry::find(rule)
                .ok_or_else(|| format!("[lint] severity: unknown rule `{rule}`"))?;
            let level = Severity::parse(level).ok_or_else(|| {
                format!("[lint] severity.{rule} = `{level}`: expected error, warning or info")
            })?;
            self.severity.insert(found.code, level);
        }
        Ok(())
    }
}

/// One script to lint.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub text: &'a str,
    /// File line of the text's first line.
    pub first_line: usize,
    pub directives: &'a [Directive],
    pub settings: &'a ScriptSettings,
    /// The script is known to be unreleased, so the tables it creates are still new in the
    /// scripts after it (see [`RunState::begin_script`]).
    pub unreleased: bool,
    /// The script existed at this `--changed-since` ref and has been edited since.
    pub edited_since: Option<&'a str>,
}

impl<'a> Input<'a> {
    /// The input of a loaded script, taken as released (the default without knowledge).
    pub fn of(script: &'a crate::source::Script) -> Input<'a> {
        Input {
            text: &script.text,
            first_line: script.first_line,
            directives: &script.directives,
            settings: &script.settings,
            unreleased: false,
            edited_since: None,
        }
    }

    /// [`Input::of`] a script loaded without its checksums (what `stagegate lint` reads).
    pub fn of_body(script: &'a crate::source::ScriptBody) -> Input<'a> {
        Input {
            text: &script.text,
            first_line: script.first_line,
            directives: &script.directives,
            settings: &script.settings,
            unreleased: false,
            edited_since: None,
        }
    }

    /// The same input, known to be unreleased or not.
    pub fn unreleased(self, unreleased: bool) -> Input<'a> {
        Input { unreleased, ..self }
    }
}

/// The findings of one script plus what was suppressed.
#[derive(Debug, Clone, Default)]
pub struct ScriptResult {
    pub findings: Vec<Finding>,
    pub statements: usize,
    pub suppressed: usize,
    /// What the allow directives suppressed, with each directive's reason, when
    /// [`Options::keep_allowed`] asks for them (the DBA report shows them as allowed).
    pub allowed: Vec<(Finding, String)>,
}

/// A script's statements, analysed: the part of linting that needs no run state, so that
/// scripts can be analysed ahead, on other threads, while the rules run in file order.
#[derive(Debug)]
pub struct Analysis {
    statements: Vec<analyze::Analyzed>,
}

impl Analysis {
    /// Splits and analyses a script's text (what [`lint_analyzed`] is then given with it).
    pub fn of(text: &str) -> Analysis {
        Analysis {
            statements: analyze::analyze(text),
        }
    }

    /// The analysed statements, in script order.
    pub(crate) fn statements(&self) -> &[analyze::Analyzed] {
        &self.statements
    }
}

/// Lints one script; `run` carries what earlier scripts of the run created.
pub fn lint_script(input: Input, options: &Options, run: &mut RunState) -> ScriptResult {
    lint_analyzed(input, &Analysis::of(input.text), options, run)
}

/// [`lint_script`] with the script already analysed: `analysis` is [`Analysis::of`] the
/// input's text.
pub fn lint_analyzed(
    input: Input,
    analysis: &Analysis,
    options: &Options,
    run: &mut RunState,
) -> ScriptResult {
    run.begin_script(input.unreleased);
    let statements = &analysis.statements;
    let in_transaction = !input.settings.no_transaction;
    let mut file = FileState::new(statements, in_transaction);
    file.lock_timeout_set =
        input.settings.lock_timeout.is_some() || options.lock_timeout_configured;
    let mut raw: Vec<(&'static str, Hit, Range<usize>, usize)> = Vec::new();
    // The transaction each statement runs in, by number: a statement outside any
    // transaction block is one of its own.
    let mut txn = 0;
    // Looked up once per script, not once per rule and change.
    let rules: Vec<&Rule> = RULES
        .iter()
        .filter(|rule| !options.disabled.contains(rule.code))
        .collect();
    for (index, statement) in statements.iter().enumerate() {
        file.index = index;
        if !file.in_txn_now {
            txn += 1;
        }
        let tokens = std::cell::OnceCell::new();
        for change in &statement.changes {
            let ctx = Ctx {
                pg: options.postgres_version,
                catalog: options.catalog.as_deref(),
                small_table_rows: options.small_table_rows,
                in_transaction,
                run,
                file: &file,
                statement,
                text: &input.text[statement.span.clone()],
                tokens: &tokens,
            };
            for rule in &rules {
                let mut hits = Vec::new();
                (rule.check)(&ctx, change, &mut hits);
                raw.extend(
                    hits.into_iter()
                        .map(|h| (rule.code, h, statement.span.clone(), txn)),
                );
            }
            context::after_change(
                change,
                options.postgres_version,
                options.catalog.as_deref(),
                &mut file,
                run,
            );
        }
        if statement
            .changes
            .iter()
            .any(|c| matches!(c, Change::Transaction(control) if !control.is_savepoint()))
        {
            txn += 1;
        }
    }
    if let Some(reference) = input.edited_since
        && !options.disabled.contains("SG510")
    {
        // On the file's first line: the whole file is the change.
        let first = input.text.find('\n').unwrap_or(input.text.len());
        raw.push((
            "SG510",
            rules::structure::edited_released_migration::hit(reference),
            0..first,
            0,
        ));
    }
    let mut lines = LineIndex::new(input.text, input.first_line);
    let mut result = ScriptResult {
        statements: statements.len(),
        ..ScriptResult::default()
    };
    let mut allows = Allows::new(input.directives, statements);
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for (code, hit, span, txn) in raw {
        if !seen.insert((code, hit.message.clone(), clause_span(&hit, &span).start)) {
            continue;
        }
        if let Some(reason) = allows.allowing(code, &span) {
            result.suppressed += 1;
            if options.keep_allowed {
                let at = clause_span(&hit, &span);
                let mut allowed = finding(code, hit, at, options, &mut lines);
                allowed.statement = span;
                result.allowed.push((allowed, reason.to_string()));
            }
            continue;
        }
        kept.push((code, hit, span, txn));
    }
    for (code, hit, statement) in group_per_transaction(kept, input.text, input.first_line) {
        let span = clause_span(&hit, &statement);
        let mut finding = finding(code, hit, span, options, &mut lines);
        finding.statement = statement;
        result.findings.push(finding);
    }
    for entry in allows.entries() {
        let span = directive_span(input.text, entry.directive.offset);
        for code in entry.codes {
            if registry::find(code).is_none() && !options.disabled.contains("SG508") {
                result.findings.push(finding(
                    "SG508",
                    Hit::new(
                        format!("`{code}` in this allow directive is not a stagegate rule, so it allows nothing"),
                        "use a code or name listed by `stagegate rule`",
                    ),
                    span.clone(),
                    options,
                    &mut lines,
                ));
            }
        }
        let known = entry.codes.iter().any(|c| registry::find(c).is_some());
        if !entry.used && known && !options.disabled.contains("SG506") {
            result.findings.push(finding(
                "SG506",
                Hit::new(
                    format!("unused allow directive: {} reported nothing here", entry.codes.join(", ")),
                    "remove the directive, or move it to the line above the statement it is meant for",
                ),
                span,
                options,
                &mut lines,
            ));
        }
    }
    result.findings.sort_by_key(|f| (f.span.start, f.code));
    result
}

/// Rules about the transaction rather than one statement: each reports once per transaction,
/// on the first statement it found, listing the lines of the others.
pub(crate) const PER_TRANSACTION: &[&str] = &["SG116", "SG117"];

/// Merges the findings of each [`PER_TRANSACTION`] rule within one transaction into the first
/// one, whose message then names the lines of the other statements. Findings an `allow`
/// suppressed are gone already, so a grouped finding lists only the statements not allowed.
fn group_per_transaction(
    raw: Vec<(&'static str, Hit, Range<usize>, usize)>,
    text: &str,
    first_line: usize,
) -> Vec<(&'static str, Hit, Range<usize>)> {
    // (code, txn) -> index in `out` and the other statements' starts.
    let mut groups: HashMap<(&'static str, usize), (usize, Vec<usize>)> = HashMap::new();
    let mut out: Vec<(&'static str, Hit, Range<usize>)> = Vec::new();
    for (code, hit, span, txn) in raw {
        if PER_TRANSACTION.contains(&code) {
            if let Some((_, others)) = groups.get_mut(&(code, txn)) {
                others.push(span.start);
                continue;
            }
            groups.insert((code, txn), (out.len(), Vec::new()));
        }
        out.push((code, hit, span));
    }
    let mut grouped: Vec<(usize, Vec<usize>)> = groups
        .into_values()
        .filter(|(_, others)| !others.is_empty())
        .collect();
    grouped.sort_unstable();
    let lines = Lines::new(text);
    for (at, others) in grouped {
        let numbers: Vec<String> = others
            .iter()
            .map(|&start| (first_line + lines.line(start) - 1).to_string())
            .collect();
        let shown = numbers.len().min(LISTED);
        let mut list = numbers[..shown].join(", ");
        if numbers.len() > shown {
            list.push_str(&format!(" and {} more", numbers.len() - shown));
        }
        let (verb, noun, lines) = if numbers.len() == 1 {
            ("does", "statement", "line")
        } else {
            ("do", "statements", "lines")
        };
        out[at].1.message.push_str(&format!(
            "; so {verb} {} more {noun} of this transaction ({lines} {list})",
            numbers.len()
        ));
    }
    out
}

/// The clause a rule pointed at, within its statement; the statement without one.
fn clause_span(hit: &Hit, statement: &Range<usize>) -> Range<usize> {
    match &hit.clause {
        Some(at) if statement.start + at.end <= statement.end && at.start <= at.end => {
            statement.start + at.start..statement.start + at.end
        }
        _ => statement.clone(),
    }
}

/// The directive's comment on its line, for underlining.
fn directive_span(text: &str, offset: usize) -> Range<usize> {
    let line = &text[offset.min(text.len())..];
    let end = line.find('\n').unwrap_or(line.len());
    let start = line.len() - line.trim_start().len();
    offset + start.min(end)..offset + end
}

fn finding(
    code: &'static str,
    hit: Hit,
    span: Range<usize>,
    options: &Options,
    lines: &mut LineIndex,
) -> Finding {
    let rule = registry::get(code);
    let ((line, column), (end_line, end_column)) = lines.span(&span);
    Finding {
        code,
        name: rule.name,
        severity: options
            .severity
            .get(code)
            .copied()
            .or(hit.severity)
            .unwrap_or(rule.severity),
        message: hit.message,
        help: hit.help,
        statement: span.clone(),
        span,
        line,
        column,
        end_line,
        end_column,
    }
}

/// Byte offset -> (file line, character column), stepping on from the last lookup (findings
/// come in text order).
struct LineIndex<'a> {
    lines: Lines<'a>,
    first_line: usize,
    /// The last span looked up and its start and end positions: the findings of one
    /// statement share its span, so it is looked up once, not once per rule.
    last: Option<(Range<usize>, Position)>,
}

/// Line and column of a span's start, then of its end.
type Position = ((usize, usize), (usize, usize));

impl<'a> LineIndex<'a> {
    fn new(text: &'a str, first_line: usize) -> LineIndex<'a> {
        LineIndex {
            lines: Lines::new(text),
            first_line,
            last: None,
        }
    }

    fn span(&mut self, span: &Range<usize>) -> Position {
        if let Some((last, position)) = &self.last
            && last == span
        {
            return *position;
        }
        let position = (self.position(span.start), self.position(span.end));
        self.last = Some((span.clone(), position));
        position
    }

    fn position(&mut self, offset: usize) -> (usize, usize) {
        let (line, column) = self.lines.position(offset);
        (self.first_line + line - 1, column)
    }
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, findings: &[Finding]) {
        for f in findings {
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => self.infos += 1,
            }
        }
    }
}

/// True for a statement that is a `CONCURRENTLY` (or otherwise non-transactional) command.
pub(crate) fn is_concurrent(change: &Change) -> bool {
    matches!(
        change,
        Change::CreateIndex {
            concurrently: true,
            ..
        } | Change::DropIndex {
            concurrently: true,
            ..
        } | Change::Reindex {
            concurrently: true,
            ..
        } | Change::DetachPartition {
            concurrently: true,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::report;
    use super::test_utils::lint_sql;
    use crate::sql::lines::stepped;

    /// `copies` times a few statements of each kind the engine reads (parsed, read from
    /// tokens, a DO body, unreadable, non-ASCII), all on one line, in one transaction that
    /// locks a new table ACCESS EXCLUSIVE each time.
    fn one_line(copies: usize) -> String {
        (0..copies)
            .map(|n| {
                format!(
                    "SELECT 'ü'; DROP TABLE t_{n}; CREATE INDEX i_{n} ON t (a); VACUUM FULL t; \
                     DO $$ BEGIN ALTER TABLE t DROP COLUMN c_{n}; END $$; FROBNICATE x; "
                )
            })
            .collect()
    }

    /// The guard on linear time, counted rather than timed: positions of statements,
    /// tokens and findings on one long line are found stepping over each byte of it a
    /// bounded number of times (about 3.4 today; a lookup from the line's start for each
    /// one stepped over it 32,000 times), and each finding renders a bounded piece of the
    /// line (the messages that list the tables locked so far name only a few of them).
    #[test]
    fn one_long_line_is_linted_in_linear_work() {
        let sql = one_line(4_000);
        let before = stepped();
        let result = lint_sql(&sql, 15);
        let work = stepped() - before;
        assert!(
            result.findings.len() > 4 * 4_000,
            "{}",
            result.findings.len()
        );
        assert!(
            work <= 8 * sql.len(),
            "stepped over {work} bytes for a {} byte line",
            sql.len()
        );
        let rendered = report::render_text("m.sql", &sql, &result.findings, false);
        assert!(
            rendered.len() <= 1_000 * result.findings.len(),
            "{} bytes for {} findings",
            rendered.len(),
            result.findings.len()
        );
    }
}

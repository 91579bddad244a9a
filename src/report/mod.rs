//! `stagegate report`: one document per release for the DBA. The model here is built once
//! ([`ReleaseReport`]) and rendered as Markdown ([`markdown`]), HTML ([`html`]) or JSON (the model
//! itself). See `docs/report.md`.

pub(crate) mod document;
pub(crate) mod html;
pub(crate) mod markdown;
pub(crate) mod scratch;
pub(crate) mod sizes;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::analyze::{self, Effect, LockMode};
use crate::config::{Config, Environment};
use crate::deploy::{Entry, LocalMigration, State};
use crate::lint::{self, Finding, Severity};
use crate::trace::TracedMigration;

/// The whole report (the JSON output, with `version` in front).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReleaseReport {
    /// `--env`: the environment the selection and the sizes come from.
    pub(crate) environment: Option<String>,
    pub(crate) selection: Selection,
    /// Every configured environment, in promotion order, and whether it was read.
    pub(crate) environments: Vec<EnvironmentRead>,
    pub(crate) migrations: Vec<ReportMigration>,
    pub(crate) scratch: ScratchInfo,
    pub(crate) summary: ReleaseSummary,
    /// With `--env` on an environment with `approvals = N`: the plan's hash and who approved
    /// it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sign_off: Option<SignOff>,
}

/// The release's sign-off: the plan hash approvals are bound to, the approvals gate's
/// verdict (as `migrate plan` gives it for the one running the report) and each approval of
/// that hash.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SignOff {
    pub(crate) plan_hash: String,
    pub(crate) needed: u32,
    /// `pass` or `refuse`.
    pub(crate) status: &'static str,
    pub(crate) detail: String,
    pub(crate) approvals: Vec<crate::deploy::plan::Approval>,
}

impl SignOff {
    /// From the plan of the environment (the pipeline's evaluation).
    pub(crate) fn of(env: &Environment, plan: &crate::deploy::plan::Plan) -> Option<SignOff> {
        let gate = plan.gates.iter().find(|g| g.name == "approvals")?;
        (env.approvals > 0).then(|| SignOff {
            plan_hash: plan.hash.clone(),
            needed: env.approvals,
            status: gate.status,
            detail: gate.detail.clone(),
            approvals: plan.approvals.clone(),
        })
    }
}

impl ReleaseReport {
    /// What the report covers, for its heading in every format.
    pub(crate) fn title(&self) -> String {
        match (&self.environment, &self.selection.since) {
            (_, Some(since)) => format!("migrations after {since}"),
            (Some(env), None) => format!("pending on {env}"),
            (None, None) => "all migrations".to_string(),
        }
    }
}

/// Which migrations are reported.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Selection {
    /// `pending` (not applied on --env), `since` (after --since), `all` (neither given).
    pub(crate) kind: &'static str,
    pub(crate) since: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EnvironmentRead {
    pub(crate) name: String,
    pub(crate) reachable: bool,
    /// Why it was not read.
    pub(crate) error: Option<String>,
}

/// Whether the scratch database part was made.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScratchInfo {
    pub(crate) computed: bool,
    /// `server_version` of the scratch server.
    pub(crate) server: Option<String>,
    /// Why the scratch run ended before the last reported migration.
    pub(crate) stopped: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ReleaseSummary {
    pub(crate) migrations: usize,
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
    pub(crate) infos: usize,
    /// Migrations the lock model says rewrite a table.
    pub(crate) rewrites: usize,
}

/// One reported migration.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportMigration {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    pub(crate) no_transaction: bool,
    /// The worst finding's severity; `null` without findings.
    pub(crate) severity: Option<Severity>,
    /// The strongest lock the lock model expects, on any table; `null` when it takes none.
    pub(crate) lock: Option<String>,
    /// The lock model expects a table rewrite.
    pub(crate) rewrites: bool,
    /// Its state in every configured environment.
    pub(crate) statuses: BTreeMap<String, EnvStatus>,
    /// The up script's text, as in the file.
    pub(crate) sql: String,
    /// File line of the text's first line.
    pub(crate) first_line: usize,
    pub(crate) findings: Vec<ReportFinding>,
    /// The static lock model: strongest lock per table.
    pub(crate) locks: Vec<StaticLock>,
    /// Live sizes of the tables it touches, from --env; `null` without --env.
    pub(crate) tables: Option<Vec<sizes::TableSize>>,
    /// What the trace on the scratch database saw; `null` without a scratch database (or
    /// when the run stopped before it).
    pub(crate) traced: Option<TracedSummary>,
    /// Unified diff of the schema before and after; `null` when not computed, `""` when it
    /// changes no schema.
    pub(crate) diff: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EnvStatus {
    /// `applied`, `baselined`, `pending`, `failed`, `checksum-differs`, `unreachable`.
    pub(crate) state: &'static str,
    /// When it was applied (or baselined).
    #[serde(serialize_with = "crate::json::utc_option")]
    pub(crate) at: Option<time::OffsetDateTime>,
    /// The state in the words of `migrate status`, or why the environment was not read.
    pub(crate) detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportFinding {
    pub(crate) code: &'static str,
    pub(crate) rule: &'static str,
    pub(crate) severity: Severity,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_line: usize,
    pub(crate) end_column: usize,
    pub(crate) message: String,
    pub(crate) help: String,
    /// The original text the finding points at (its span), shortened past 200 characters.
    pub(crate) text: String,
    /// The reason of the `-- stagegate:allow` directive that covers it (it blocks nothing);
    /// `null` when none does.
    pub(crate) allowed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StaticLock {
    pub(crate) table: String,
    pub(crate) lock: String,
    pub(crate) effect: Effect,
    pub(crate) blocks: &'static str,
}

/// The trace's locks and rewrites, per relation that existed before the migration.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TracedSummary {
    pub(crate) locks: Vec<TracedLock>,
    /// Where the lock model and the trace disagree.
    pub(crate) disagreements: Vec<String>,
    /// The statement that failed.
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TracedLock {
    pub(crate) relation: String,
    pub(crate) kind: &'static str,
    pub(crate) lock: String,
    pub(crate) rewritten: bool,
}

/// The lint of one migration: findings after `allow` directives, and the lock model.
#[derive(Debug, Clone)]
pub(crate) struct Linted {
    pub(crate) findings: Vec<Finding>,
    /// What allow directives cover, with their reasons.
    pub(crate) allowed: Vec<(Finding, String)>,
    pub(crate) locks: Vec<StaticLock>,
}

/// Lints the reported migrations as `migrate plan` does: in order, each unreleased (a table
/// created by an earlier one counts as new for the later ones), with the lint options of
/// `[lint]` and the environment's lock_timeout. The one place the lint engine is called, so
/// facts read from the environment's catalog can be passed in here.
///
/// A migration already applied on `env` (`applied`) is linted without the catalog: the
/// catalog is the schema after it ran, which would give findings (and unused allows) about
/// a database it never saw.
pub(crate) fn findings(
    config: &Config,
    migrations: &[&LocalMigration],
    env: Option<&Environment>,
    catalog: Option<std::sync::Arc<lint::catalog::Catalog>>,
    applied: &dyn Fn(&LocalMigration) -> bool,
) -> anyhow::Result<Vec<Linted>> {
    let options = lint::Options::from_config(
        &config.lint,
        None,
        match env {
            Some(env) => env.lock_timeout.is_some(),
            None => config.runner_sets_lock_timeout(None)?,
        },
    )
    .map_err(anyhow::Error::msg)?;
    // With --env, the facts no migration shows (sizes, column types, ...) make the findings
    // precise, as in `migrate plan --env`.
    let without_catalog = lint::Options {
        keep_allowed: true,
        ..options
    };
    let options = lint::Options {
        catalog,
        ..without_catalog.clone()
    };
    let mut run = lint::RunState::default();
    Ok(migrations
        .iter()
        .map(|local| {
            let input = lint::Input::of(&local.up).unreleased(true);
            let options = if applied(local) {
                &without_catalog
            } else {
                &options
            };
            let result = lint::lint_script(input, options, &mut run);
            Linted {
                findings: result.findings,
                allowed: result.allowed,
                locks: static_locks(&local.up.text, options.postgres_version),
            }
        })
        .collect())
}

/// The strongest lock per table the lock model expects of a script.
fn static_locks(text: &str, pg: u32) -> Vec<StaticLock> {
    let mut strongest: BTreeMap<String, (LockMode, Effect)> = BTreeMap::new();
    for statement in analyze::analyze(text) {
        for change in &statement.changes {
            for lock in analyze::locks(change, pg) {
                let slot = strongest
                    .entry(lock.table)
                    .or_insert((lock.mode, lock.effect));
                *slot = (slot.0.max(lock.mode), slot.1.max(lock.effect));
            }
        }
    }
    strongest
        .into_iter()
        .map(|(table, (mode, effect))| StaticLock {
            table,
            lock: mode.label().to_string(),
            effect,
            blocks: mode.blocks(),
        })
        .collect()
}

/// The strongest of the lock labels (as [`LockMode::label`] writes them).
fn strongest_label(locks: &[StaticLock]) -> Option<String> {
    const ORDER: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];
    locks
        .iter()
        .filter_map(|l| ORDER.iter().position(|m| m.label() == l.lock))
        .max()
        .map(|i| ORDER[i].label().to_string())
}

/// The original text of `span`, shortened past 200 characters.
fn quote(text: &str, span: &std::ops::Range<usize>) -> String {
    let quoted = text.get(span.clone()).unwrap_or_default().trim();
    match quoted.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &quoted[..end]),
        None => quoted.to_string(),
    }
}

impl ReportMigration {
    /// The summary's severity cell: the worst finding's, `allowed` when every finding is
    /// covered by an allow directive, `-` without findings.
    pub(crate) fn severity_label(&self) -> &'static str {
        match self.severity {
            Some(severity) => severity.label(),
            None if !self.findings.is_empty() => "allowed",
            None => "-",
        }
    }

    /// The reported migration, before statuses, sizes and the scratch part are added.
    pub(crate) fn new(local: &LocalMigration, linted: Linted) -> ReportMigration {
        let text = &local.up.text;
        let report = |f: &Finding, allowed: Option<&String>| ReportFinding {
            code: f.code,
            rule: f.name,
            severity: f.severity,
            line: f.line,
            column: f.column,
            end_line: f.end_line,
            end_column: f.end_column,
            message: f.message.clone(),
            help: f.help.clone(),
            text: quote(text, &f.span),
            allowed: allowed.cloned(),
        };
        let mut findings: Vec<ReportFinding> = linted
            .findings
            .iter()
            .map(|f| report(f, None))
            .chain(
                linted
                    .allowed
                    .iter()
                    .map(|(f, reason)| report(f, Some(reason))),
            )
            .collect();
        findings.sort_by_key(|f| (f.line, f.column, f.code));
        ReportMigration {
            version: local.migration.version.to_string(),
            name: local.migration.name.clone(),
            file: local.up.path.clone(),
            no_transaction: local.up.settings.no_transaction,
            // What an allow covers blocks nothing: it does not count.
            severity: findings
                .iter()
                .filter(|f| f.allowed.is_none())
                .map(|f| f.severity)
                .max(),
            lock: strongest_label(&linted.locks),
            rewrites: linted.locks.iter().any(|l| l.effect == Effect::Rewrite),
            statuses: BTreeMap::new(),
            sql: text.clone(),
            first_line: local.up.first_line,
            findings,
            locks: linted.locks,
            tables: None,
            traced: None,
            diff: None,
        }
    }

    /// The tables the lock model says it touches.
    pub(crate) fn touched(&self) -> Vec<String> {
        self.locks.iter().map(|l| l.table.clone()).collect()
    }
}

/// A migration's state in one environment, from its entry there.
pub(crate) fn env_status(entry: Option<&Entry>) -> EnvStatus {
    let Some(entry) = entry else {
        return EnvStatus {
            state: "pending",
            at: None,
            detail: "pending".to_string(),
        };
    };
    let row = entry.row.as_ref();
    let baselined = row.and_then(|r| r.baselined_from.as_ref());
    let state = match entry.state {
        State::Applied if baselined.is_some() => "baselined",
        State::Applied | State::MissingLocally => "applied",
        State::ChecksumMismatch => "checksum-differs",
        State::Pending | State::Reverted => "pending",
        State::Abandoned => "abandoned",
        State::FailedRolledBack
        | State::Failed
        | State::Resolved
        | State::Interrupted
        | State::Reverting => "failed",
    };
    let at = row
        .filter(|_| matches!(state, "applied" | "baselined" | "checksum-differs"))
        .and_then(|r| r.finished_at);
    let mut detail = entry.state.label().to_string();
    if let Some(from) = baselined {
        detail = format!("baselined from {from}");
    }
    if let Some(error) = row
        .filter(|_| state == "failed")
        .and_then(|r| r.error.as_ref())
    {
        detail = format!("{detail}: {error}");
    }
    EnvStatus { state, at, detail }
}

/// The state shown for an environment that was not read.
pub(crate) fn unreachable(error: &str) -> EnvStatus {
    EnvStatus {
        state: "unreachable",
        at: None,
        detail: error.to_string(),
    }
}

/// The locks and rewrites of a traced migration on relations that existed before it.
pub(crate) fn traced_summary(traced: &TracedMigration) -> TracedSummary {
    let mut by_relation: BTreeMap<String, (&'static str, LockMode, bool)> = BTreeMap::new();
    for statement in &traced.statements {
        for lock in statement
            .locks
            .iter()
            .filter(|l| !l.new && !matches!(l.kind, "index" | "sequence" | "toast table"))
        {
            let slot = by_relation
                .entry(lock.relation.clone())
                .or_insert((lock.kind, lock.mode, false));
            slot.1 = slot.1.max(lock.mode);
        }
        for rewrite in statement
            .rewrites
            .iter()
            .filter(|r| matches!(r.kind, "table" | "materialized view"))
        {
            let slot = by_relation.entry(rewrite.relation.clone()).or_insert((
                rewrite.kind,
                LockMode::AccessExclusive,
                true,
            ));
            slot.2 = true;
        }
    }
    TracedSummary {
        locks: by_relation
            .into_iter()
            .map(|(relation, (kind, mode, rewritten))| TracedLock {
                relation,
                kind,
                lock: mode.label().to_string(),
                rewritten,
            })
            .collect(),
        disagreements: traced
            .statements
            .iter()
            .flat_map(|s| {
                s.disagreements
                    .iter()
                    .map(|d| format!("line {}: {d}", s.line))
            })
            .collect(),
        error: traced.error.clone(),
    }
}

impl ReleaseSummary {
    pub(crate) fn of(migrations: &[ReportMigration]) -> ReleaseSummary {
        let mut summary = ReleaseSummary {
            migrations: migrations.len(),
            ..ReleaseSummary::default()
        };
        for m in migrations {
            for f in m.findings.iter().filter(|f| f.allowed.is_none()) {
                match f.severity {
                    Severity::Error => summary.errors += 1,
                    Severity::Warning => summary.warnings += 1,
                    Severity::Info => summary.infos += 1,
                }
            }
            summary.rewrites += usize::from(m.rewrites);
        }
        summary
    }
}

/// A piece of a migration's SQL: original text, or the findings that end on the line
/// before.
pub(crate) enum Segment<'a> {
    Sql(&'a str),
    Findings(Vec<&'a ReportFinding>),
}

/// The SQL cut after each line where findings end, with those findings in between: the
/// original text, never rewritten.
pub(crate) fn segments(m: &ReportMigration) -> Vec<Segment<'_>> {
    let text = m.sql.as_str();
    let mut by_line: BTreeMap<usize, Vec<&ReportFinding>> = BTreeMap::new();
    let lines = text.split_inclusive('\n').count().max(1);
    for f in &m.findings {
        // File lines to 0-based lines of the text, clamped into it.
        let line = f
            .end_line
            .max(f.line)
            .saturating_sub(m.first_line)
            .min(lines - 1);
        by_line.entry(line).or_default().push(f);
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let end = start + line.len();
        if let Some(findings) = by_line.remove(&index) {
            out.push(Segment::Sql(&text[segment_start(&out, text)..end]));
            out.push(Segment::Findings(findings));
        }
        start = end;
    }
    let rest = segment_start(&out, text);
    if rest < text.len() || out.is_empty() {
        out.push(Segment::Sql(&text[rest..]));
    }
    // Findings past the end (an empty text).
    for (_, findings) in by_line {
        out.push(Segment::Findings(findings));
    }
    out
}

/// Where the next SQL segment starts: after the text of the ones so far.
fn segment_start(out: &[Segment<'_>], text: &str) -> usize {
    out.iter()
        .filter_map(|s| match s {
            Segment::Sql(sql) => Some(sql.len()),
            Segment::Findings(_) => None,
        })
        .sum::<usize>()
        .min(text.len())
}

/// A long script is folded in the Markdown and HTML output.
pub(crate) const FOLD_LINES: usize = 25;

/// The line of the scratch part's absence, with how to get it.
pub(crate) const NO_SCRATCH: &str = "The schema diff and the traced locks were not computed: \
    run with --scratch (a scratch server: --scratch URL, [scratch] url, or a throwaway cluster) \
    to apply the release to a scratch database and trace it.";

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `applied at 2026-11-21 11:40`, `pending`, ...
pub(crate) fn status_text(m: &ReportMigration, env: &str) -> String {
    let Some(status) = m.statuses.get(env) else {
        return "-".to_string();
    };
    let state = status.state.replace('-', " ");
    match status.at {
        Some(at) => format!("{state} at {}", at_text(at)),
        None => state,
    }
}

pub(crate) fn at_text(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: usize, end_line: usize) -> ReportFinding {
        ReportFinding {
            code: "SG000",
            rule: "test",
            severity: Severity::Warning,
            line,
            column: 1,
            end_line,
            end_column: 1,
            message: "m".into(),
            help: String::new(),
            text: String::new(),
            allowed: None,
        }
    }

    fn migration(sql: &str, first_line: usize, findings: Vec<ReportFinding>) -> ReportMigration {
        ReportMigration {
            version: "1".into(),
            name: "n".into(),
            file: PathBuf::from("1_n.sql"),
            no_transaction: false,
            severity: None,
            lock: None,
            rewrites: false,
            statuses: BTreeMap::new(),
            sql: sql.into(),
            first_line,
            findings,
            locks: Vec::new(),
            tables: None,
            traced: None,
            diff: None,
        }
    }

    fn shape(m: &ReportMigration) -> Vec<String> {
        segments(m)
            .iter()
            .map(|s| match s {
                Segment::Sql(sql) => format!("sql:{sql}"),
                Segment::Findings(f) => format!("findings:{}", f.len()),
            })
            .collect()
    }

    #[test]
    fn findings_sit_after_the_line_they_end_on_and_the_text_is_kept_whole() {
        let sql = "CREATE TABLE a (id int);\nALTER TABLE a\n  ADD c int;\nSELECT 1;\n";
        let m = migration(sql, 1, vec![finding(2, 3), finding(3, 3)]);
        assert_eq!(
            shape(&m),
            [
                "sql:CREATE TABLE a (id int);\nALTER TABLE a\n  ADD c int;\n",
                "findings:2",
                "sql:SELECT 1;\n"
            ]
        );
        let joined: String = segments(&m)
            .iter()
            .filter_map(|s| match s {
                Segment::Sql(sql) => Some(*sql),
                Segment::Findings(_) => None,
            })
            .collect();
        assert_eq!(joined, sql);
        // A section starting further down the file (dbmate), and no findings.
        let m = migration("SELECT 1;", 7, vec![finding(7, 7)]);
        assert_eq!(shape(&m), ["sql:SELECT 1;", "findings:1"]);
        let m = migration("SELECT 1;\n", 1, Vec::new());
        assert_eq!(shape(&m), ["sql:SELECT 1;\n"]);
    }

    #[test]
    fn the_strongest_lock_is_chosen_by_mode_not_by_name() {
        let lock = |mode: LockMode| StaticLock {
            table: "t".into(),
            lock: mode.label().into(),
            effect: Effect::Brief,
            blocks: mode.blocks(),
        };
        assert_eq!(
            strongest_label(&[
                lock(LockMode::ShareUpdateExclusive),
                lock(LockMode::AccessExclusive),
                lock(LockMode::Share)
            ])
            .as_deref(),
            Some("ACCESS EXCLUSIVE")
        );
        assert_eq!(strongest_label(&[]), None);
    }
}

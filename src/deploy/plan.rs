//! What apply would do: the pending migrations, how each runs, the gates, and a plan hash.

use serde::Serialize;
use sha2::{Digest, Sha256};

use std::collections::BTreeMap;

use super::{Entry, LocalMigration, Refusal, State};
use crate::analyze::{self, Effect, LockMode};
use crate::config::{Environment, HumanDuration, LintGate};
use crate::db::session::Timeouts;
use crate::lint;
use crate::source::Version;

/// One migration apply would run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedMigration {
    pub version: String,
    pub name: String,
    pub checksum: String,
    /// `transaction` or `no-transaction`.
    pub mode: &'static str,
    /// Statements in the up script.
    pub statements: usize,
    /// For a resumed no-transaction migration: statements already done, skipped this time.
    pub resume_from: usize,
    pub lock_timeout: Option<String>,
    pub statement_timeout: Option<String>,
    pub has_verify: bool,
    /// Whether `migrate down` could revert it: its down script is present, empty or missing.
    pub way_back: WayBack,
    /// Why it is in the plan: pending, retry after a rolled-back failure, resume, fixed file.
    pub reason: &'static str,
    /// The down and verify scripts' checksums, in the plan hash (not in the JSON: its
    /// `way_back` and `has_verify` say whether they exist).
    #[serde(skip)]
    pub down_checksum: Option<String>,
    #[serde(skip)]
    pub verify_checksum: Option<String>,
}

/// A pending migration's way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum WayBack {
    /// A down script with SQL in it.
    Present,
    /// A down script with nothing but comments.
    Empty,
    /// No down script.
    Missing,
    /// A down script that cannot be read (not UTF-8, a bad directive).
    Unreadable,
}

impl WayBack {
    /// Reads the migration's down script, if it has one.
    pub(crate) fn of(migration: &crate::source::Migration) -> WayBack {
        match &migration.down {
            None => WayBack::Missing,
            Some(down) => match down.load() {
                Ok(script) if script.is_blank() => WayBack::Empty,
                Ok(_) => WayBack::Present,
                Err(_) => WayBack::Unreadable,
            },
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            WayBack::Present => "yes",
            WayBack::Empty => "empty",
            WayBack::Missing => "missing",
            WayBack::Unreadable => "unreadable",
        }
    }
}

/// A gate on the way to this environment and what it says now.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Gate {
    pub name: &'static str,
    /// `pass`, `refuse`, `required` (confirmation and backup: done when apply runs), `pending`
    /// (promotion: not read yet) or `not-configured`.
    pub status: &'static str,
    pub detail: String,
}

/// One approval of the plan (an `approval` event of the verified log, of this plan hash).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Approval {
    /// Who approved: the CI actor in CI, else the OS user.
    pub approver: String,
    #[serde(serialize_with = "crate::json::utc")]
    pub at: time::OffsetDateTime,
    pub reason: String,
    /// The event's id in the log.
    pub event: i64,
    pub counts: ApprovalCount,
}

/// Whether an approval counts towards `approvals = N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ApprovalCount {
    /// It counts.
    Counted,
    /// The approver is the one applying: nobody signs off their own change.
    SelfApproval,
    /// The approver approved this plan before: one approver counts once.
    Duplicate,
    /// The approver is not in `approvers`.
    NotAnApprover,
}

impl ApprovalCount {
    pub(crate) fn label(self) -> &'static str {
        match self {
            ApprovalCount::Counted => "counts",
            ApprovalCount::SelfApproval => "does not count: the approver is the one applying",
            ApprovalCount::Duplicate => "does not count again: the same approver",
            ApprovalCount::NotAnApprover => "does not count: not in `approvers`",
        }
    }
}

/// A lint finding on a pending migration, after `allow` directives (see [`lint_findings`]).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlanFinding {
    pub version: String,
    pub code: String,
    pub severity: String,
    pub line: usize,
    pub message: String,
}

impl PlanFinding {
    /// `<version> line <n>: <severity> <code> <message>`, as plan and apply show it.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} line {}: {} {} {}",
            self.version, self.line, self.severity, self.code, self.message
        )
    }
}

/// The strongest lock a pending migration takes on a table, and for how long it holds it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LockSummary {
    pub version: String,
    pub table: String,
    pub lock: String,
    /// `brief`, `scan` or `rewrite`.
    pub effect: Effect,
    /// Whether ordinary reads or writes wait for it.
    pub blocks: &'static str,
}

/// The plan for one environment.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub environment: String,
    pub migrations: Vec<PlannedMigration>,
    pub refusals: Vec<Refusal>,
    pub gates: Vec<Gate>,
    pub findings: Vec<PlanFinding>,
    pub locks: Vec<LockSummary>,
    /// The plan hash ([`hash`]): what approvals are bound to; `migrate apply --plan-hash`
    /// refuses when it no longer matches.
    pub hash: String,
    /// The approvals recorded for this plan hash (`migrate approve`), and whether each counts.
    pub approvals: Vec<Approval>,
    /// INVALID indexes in the environment (failed concurrent builds' leftovers), where read.
    pub invalid_indexes: Vec<super::concurrent::InvalidIndex>,
}

/// Lints the migrations about to run, in order (a table created by an earlier pending
/// migration counts as new for the later ones), and summarises the strongest lock each takes
/// per table. Each script is analysed once, for both, ahead on worker threads (in chunks, in
/// order); the rules run here in file order, as `stagegate lint` runs them.
pub(crate) fn lint_findings(
    pending: &[&Entry],
    options: &lint::Options,
) -> (Vec<PlanFinding>, Vec<LockSummary>) {
    let mut run = lint::RunState::default();
    let mut findings = Vec::new();
    let mut locks = Vec::new();
    let local: Vec<(&Entry, &LocalMigration)> = pending
        .iter()
        .filter_map(|entry| entry.local.as_ref().map(|local| (*entry, local)))
        .collect();
    let workers = if local.len() < ANALYSIS_CHUNK * 2 {
        1
    } else {
        crate::parallel::default_workers().min(4)
    };
    let mut next = local.iter();
    let analysed = crate::parallel::ordered(
        local.chunks(ANALYSIS_CHUNK),
        workers,
        workers * 2,
        |part| {
            part.iter()
                .map(|(_, local)| lint::Analysis::of(&local.up.text))
                .collect::<Vec<_>>()
        },
        |analyses| {
            for analysis in analyses {
                let (entry, local) = next.next().expect("one analysis per script");
                lint_one(
                    entry,
                    local,
                    &analysis,
                    options,
                    &mut run,
                    &mut findings,
                    &mut locks,
                );
            }
            Ok::<(), std::convert::Infallible>(())
        },
    );
    match analysed {
        Ok(()) => {}
        Err(never) => match never {},
    }
    (findings, locks)
}

/// Scripts analysed by one worker at a time ([`lint_findings`]).
const ANALYSIS_CHUNK: usize = 32;

/// [`lint_findings`] of one pending script, from its analysis.
fn lint_one(
    entry: &Entry,
    local: &LocalMigration,
    analysis: &lint::Analysis,
    options: &lint::Options,
    run: &mut lint::RunState,
    findings: &mut Vec<PlanFinding>,
    locks: &mut Vec<LockSummary>,
) {
    let up = &local.up;
    let version = entry.version.to_string();
    // Pending on the environment: unreleased there, so its tables are new for the next.
    let input = lint::Input::of(up).unreleased(true);
    let result = lint::lint_analyzed(input, analysis, options, run);
    findings.extend(result.findings.into_iter().map(|finding| {
        PlanFinding {
            version: version.clone(),
            code: finding.code.to_string(),
            severity: finding.severity.label().to_string(),
            // An Alembic revision's finding is at its operation's line in the .py file, as
            // lint shows it.
            line: up
                .rendered_checksum
                .as_ref()
                .and_then(|_| crate::source::alembic::source_line(&up.text, finding.span.start))
                .unwrap_or(finding.line),
            message: finding.message,
        }
    }));
    let mut strongest: BTreeMap<String, (LockMode, Effect)> = BTreeMap::new();
    for statement in analysis.statements() {
        for change in &statement.changes {
            for lock in analyze::locks(change, options.postgres_version) {
                let slot = strongest
                    .entry(lock.table)
                    .or_insert((lock.mode, lock.effect));
                *slot = (slot.0.max(lock.mode), slot.1.max(lock.effect));
            }
        }
    }
    locks.extend(
        strongest
            .into_iter()
            .map(|(table, (mode, effect))| LockSummary {
                version: version.clone(),
                table,
                lock: mode.label().to_string(),
                effect,
                blocks: mode.blocks(),
            }),
    );
}

/// The entries apply would run, in order, up to and including `to`.
pub(crate) fn pending<'a>(entries: &'a [Entry], to: Option<&Version>) -> Vec<&'a Entry> {
    // `--to` an Alembic revision: that revision and those it follows, not every revision
    // ranked before it (another branch may be).
    let target = to.and_then(|to| {
        entries
            .iter()
            .filter_map(|e| e.local.as_ref())
            .find(|l| l.migration.ancestors.is_some() && l.migration.version.matches(to.as_str()))
    });
    entries
        .iter()
        .filter(|e| e.local.is_some() && e.state.is_pending())
        .filter(|e| match (target, &e.local) {
            (Some(target), Some(local)) => {
                local.migration.version == target.migration.version
                    || local.migration.precedes(&target.migration)
            }
            _ => to.is_none_or(|to| e.version <= *to),
        })
        .collect()
}

/// The timeouts a migration runs with: the file's directives over the environment's settings.
pub(crate) fn timeouts(env: &Environment, entry: &Entry) -> Timeouts {
    let settings = entry.local.as_ref().map(|l| &l.up.settings);
    Timeouts {
        lock_timeout: settings.and_then(|s| s.lock_timeout).or(env.lock_timeout),
        statement_timeout: settings
            .and_then(|s| s.statement_timeout)
            .or(env.statement_timeout),
    }
}

/// Builds the plan from `entries` (the one file it reads is each pending down script, to
/// say whether a way back exists).
pub(crate) fn build(
    env: &Environment,
    entries: &[Entry],
    to: Option<&Version>,
    refusals: Vec<Refusal>,
    lint_options: &lint::Options,
) -> Plan {
    let pending = pending(entries, to);
    let migrations = pending
        .iter()
        .map(|entry| {
            let local = entry.local.as_ref().expect("pending entries are local");
            let statements = crate::sql::split(&local.up.text)
                .iter()
                .filter(|s| s.kind == crate::sql::RawKind::Sql)
                .count();
            let resume_from = match (&entry.row, local.up.settings.no_transaction) {
                (Some(row), true) if !row.rolled_back => row.statements_done.max(0) as usize,
                _ => 0,
            };
            let t = timeouts(env, entry);
            let down_checksum = local
                .migration
                .down
                .as_ref()
                .and_then(|down| down.load().ok())
                .map(|script| script.checksum.to_string());
            let verify_checksum = local
                .migration
                .load_verify()
                .ok()
                .flatten()
                .map(|script| script.checksum.to_string());
            PlannedMigration {
                down_checksum,
                verify_checksum,
                version: entry.version.to_string(),
                name: entry.name.clone(),
                checksum: local.up.checksum.to_string(),
                mode: if local.up.settings.no_transaction {
                    "no-transaction"
                } else {
                    "transaction"
                },
                statements,
                resume_from,
                lock_timeout: t.lock_timeout.map(|d: HumanDuration| d.to_string()),
                statement_timeout: t.statement_timeout.map(|d| d.to_string()),
                has_verify: local.migration.verify.is_some(),
                way_back: WayBack::of(&local.migration),
                reason: match entry.state {
                    State::FailedRolledBack => "retry (last attempt rolled back)",
                    State::Resolved => "resume (failure resolved)",
                    State::Failed => "resume (file fixed since the failure)",
                    _ => "pending",
                },
            }
        })
        .collect::<Vec<_>>();
    let (findings, locks) = match env.lint {
        LintGate::Off => (Vec::new(), Vec::new()),
        LintGate::Warn | LintGate::Deny => lint_findings(&pending, lint_options),
    };
    let mut plan = Plan {
        environment: env.name.clone(),
        gates: gates(env, &findings),
        migrations,
        refusals,
        findings,
        locks,
        hash: String::new(),
        approvals: Vec::new(),
        invalid_indexes: Vec::new(),
    };
    plan.hash = hash(&plan);
    plan
}

/// The plan hash, the one definition of it: SHA-256 over the environment's name; each
/// pending migration's version, name, mode, statements to skip and the checksums of its up,
/// down and verify scripts; each refusal; each gate's name and verdict (not its detail,
/// which counts events, and not the approvals gate, whose verdict the approvals of this very
/// hash decide); and each lint finding's version, code, severity and line. An approval is
/// bound to it: a file edited, a migration added or removed, a down script changed, a gate
/// that passes now and refused before (or the other way round), or a finding that appeared
/// or went, gives another hash, and earlier approvals no longer count.
pub(crate) fn hash(plan: &Plan) -> String {
    let mut text = String::from("stagegate-plan-v2\n");
    let mut line = |fields: &[&str]| {
        for field in fields {
            // Each field framed by its length: no two plans write the same text.
            text.push_str(&format!("{}:{field} ", field.len()));
        }
        text.push('\n');
    };
    line(&["environment", &plan.environment]);
    for m in &plan.migrations {
        line(&[
            "migration",
            &m.version,
            &m.name,
            m.mode,
            &m.resume_from.to_string(),
            &m.checksum,
            m.down_checksum.as_deref().unwrap_or("-"),
            m.verify_checksum.as_deref().unwrap_or("-"),
        ]);
    }
    for r in &plan.refusals {
        line(&["refusal", &r.version, &format!("{:?}", r.kind)]);
    }
    for g in plan.gates.iter().filter(|g| g.name != "approvals") {
        line(&["gate", g.name, g.status]);
    }
    for f in &plan.findings {
        line(&[
            "finding",
            &f.version,
            &f.code,
            &f.severity,
            &f.line.to_string(),
        ]);
    }
    let hex: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The gates of an environment, as far as they can be judged without a database: the
/// promotion gate is `pending` until [`super::promote::gate`] has read the source's state,
/// confirmation is `required` (asked for when apply runs), and with `lint = "deny"`
/// error-level findings (after allow directives) refuse.
pub(crate) fn gates(env: &Environment, findings: &[PlanFinding]) -> Vec<Gate> {
    let off = |name: &'static str| Gate {
        name,
        status: "not-configured",
        detail: String::new(),
    };
    let mut gates = Vec::new();
    gates.push(match &env.promote_from {
        Some(from) => Gate {
            name: "promotion",
            status: "pending",
            detail: format!("promote_from = \"{from}\": checked against `{from}`'s live state"),
        },
        None => off("promotion"),
    });
    gates.push(match env.lint {
        LintGate::Deny => {
            let errors: Vec<String> = findings
                .iter()
                .filter(|f| f.severity == lint::Severity::Error.label())
                .map(|f| format!("{} {} line {}", f.code, f.version, f.line))
                .collect();
            if errors.is_empty() {
                Gate {
                    name: "lint",
                    status: "pass",
                    detail: format!(
                        "lint = \"deny\": no error-level finding ({} below error)",
                        findings.len()
                    ),
                }
            } else {
                Gate {
                    name: "lint",
                    status: "refuse",
                    detail: format!(
                        "lint = \"deny\": {} error-level finding(s) without an allow directive ({}); \
                         fix them or add `-- stagegate:allow <code> -- <reason>`",
                        errors.len(),
                        errors.join(", ")
                    ),
                }
            }
        }
        LintGate::Warn => Gate {
            name: "lint",
            status: "pass",
            detail: format!(
                "lint = \"warn\": {} finding(s) shown, none blocks",
                findings.len()
            ),
        },
        LintGate::Off => off("lint"),
    });
    gates.push(if env.approvals > 0 {
        Gate {
            name: "approvals",
            status: "pending",
            detail: format!(
                "approvals = {}: counted from the approvals of this plan hash in the event log",
                env.approvals
            ),
        }
    } else {
        off("approvals")
    });
    gates.push(match &env.confirm {
        Some(phrase) => Gate {
            name: "confirmation",
            status: "required",
            detail: format!(
                "type `{phrase}` and a reason on a terminal, or pass --confirm {} --reason \"...\"",
                super::shell_word(phrase)
            ),
        },
        None => off("confirmation"),
    });
    gates.push(match &env.backup {
        Some(backup) => Gate {
            name: "backup",
            status: "required",
            detail: format!(
                "pg_dump into {} (verified, keep {}) before the first statement",
                backup.dir.display(),
                backup.keep
            ),
        },
        None => off("backup"),
    });
    gates
}

impl Plan {
    /// Replaces the gate of the same name (the live promotion verdict).
    pub(crate) fn set_gate(&mut self, gate: Gate) {
        match self.gates.iter_mut().find(|g| g.name == gate.name) {
            Some(slot) => *slot = gate,
            None => self.gates.push(gate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            environment: "production".into(),
            migrations: vec![PlannedMigration {
                version: "1".into(),
                name: "a".into(),
                checksum: "sha256:aa".into(),
                mode: "transaction",
                statements: 1,
                resume_from: 0,
                lock_timeout: None,
                statement_timeout: None,
                has_verify: false,
                way_back: WayBack::Present,
                reason: "pending",
                down_checksum: Some("sha256:dd".into()),
                verify_checksum: None,
            }],
            refusals: Vec::new(),
            gates: vec![
                Gate {
                    name: "state",
                    status: "pass",
                    detail: "3 event(s)".into(),
                },
                Gate {
                    name: "approvals",
                    status: "refuse",
                    detail: "0 of 2".into(),
                },
            ],
            findings: Vec::new(),
            locks: Vec::new(),
            hash: String::new(),
            approvals: Vec::new(),
            invalid_indexes: Vec::new(),
        }
    }

    /// What approvals are bound to changes the hash; what they themselves change does not.
    #[test]
    fn the_plan_hash_covers_scripts_and_verdicts_but_not_details_or_approvals() {
        let base = hash(&plan());
        assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
        let same = |change: &dyn Fn(&mut Plan)| {
            let mut p = plan();
            change(&mut p);
            hash(&p) == base
        };
        // More events in the log, the approvals gate's verdict and the approvals: same plan.
        assert!(same(&|p| p.gates[0].detail = "5 event(s)".into()));
        assert!(same(&|p| p.gates[1].status = "pass"));
        assert!(same(&|p| p.locks.clear()));
        // The scripts, a gate's verdict, a finding, the environment: another plan.
        assert!(!same(&|p| p.migrations[0].checksum = "sha256:ab".into()));
        assert!(!same(&|p| p.migrations[0].down_checksum = None));
        assert!(!same(
            &|p| p.migrations[0].verify_checksum = Some("sha256:vv".into())
        ));
        assert!(!same(&|p| p.gates[0].status = "refuse"));
        assert!(!same(&|p| p.gates.push(Gate {
            name: "backup",
            status: "required",
            detail: String::new(),
        })));
        assert!(!same(&|p| p.findings.push(PlanFinding {
            version: "1".into(),
            code: "SG101".into(),
            severity: "error".into(),
            line: 1,
            message: String::new(),
        })));
        assert!(!same(&|p| p.environment = "staging".into()));
        // Fields are framed: moving text from one field to the next is another plan.
        assert!(!same(&|p| {
            p.migrations[0].version = "1a".into();
            p.migrations[0].name = String::new();
        }));
    }
}

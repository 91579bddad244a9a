//! The release report's document, walked once: which parts it has, in which order, and when
//! each is there. An output format ([`Format`]: `markdown::Markdown`,
//! `html::Html`) only says how each part is written.

use super::{
    FOLD_LINES, ReleaseReport, ReportFinding, ReportMigration, Segment, segments, status_text,
};
use crate::analyze::Effect;

/// The tables of the report, each with its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// One row per migration, one status column per environment.
    Summary,
    /// The sign-off's approvals.
    Approvals,
    /// A migration's locks by the lock model.
    Locks,
    /// A migration's locks as traced on the scratch database.
    Traced,
    /// The sizes of the tables a migration touches.
    Sizes,
}

/// One cell of a table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    Text(&'a str),
    /// A migration's label linking to its section (`#m-<version>`).
    Link {
        text: &'a str,
        version: &'a str,
    },
    /// A severity label (or `none`).
    Severity(&'a str),
    /// A migration's status in an environment, with the status's words as a tooltip.
    Status {
        text: &'a str,
        detail: &'a str,
    },
}

/// How an output format writes each part of the document into `out`. Text passed in is
/// untrusted (file names, SQL, server messages): each method escapes it for its format.
pub(crate) trait Format {
    /// The document's head and title.
    fn start(&self, out: &mut String, title: &str);
    /// The line of counts under the title.
    fn counts(&self, out: &mut String, counts: &str);
    /// An environment that was not read, and why.
    fn unreachable(&self, out: &mut String, environment: &str, error: &str);
    /// A line of text on its own.
    fn paragraph(&self, out: &mut String, text: &str);
    /// A line that says what is not shown and why.
    fn aside(&self, out: &mut String, text: &str);
    /// The line that says the scratch part was not made.
    fn no_scratch(&self, out: &mut String);
    /// Why the scratch run stopped before the last migration.
    fn scratch_stopped(&self, out: &mut String, why: &str);
    /// The sign-off's plan hash, verdict and its words.
    fn sign_off(&self, out: &mut String, plan_hash: &str, status: &str, detail: &str);
    fn table_start(&self, out: &mut String, table: Table, headers: &[&str]);
    fn row(&self, out: &mut String, cells: &[Cell<'_>]);
    fn table_end(&self, out: &mut String, table: Table);
    /// A migration's heading, the anchor the summary links to, its file and what else is
    /// known of it at a glance.
    fn migration_start(
        &self,
        out: &mut String,
        version: &str,
        label: &str,
        file: &str,
        facts: &[&str],
    );
    /// The heading of a part of a migration.
    fn heading(&self, out: &mut String, text: &str);
    /// The end of a part of a migration that has a heading.
    fn part_end(&self, out: &mut String);
    /// Where the lock model and the trace disagree (none or more).
    fn disagreements(&self, out: &mut String, disagreements: &[String]);
    /// The statement that failed on the scratch database.
    fn traced_error(&self, out: &mut String, error: &str);
    /// The start of the SQL; `folded` past [`FOLD_LINES`] lines.
    fn sql_start(&self, out: &mut String, lines: usize, findings: usize, folded: bool);
    /// A piece of the original SQL.
    fn sql(&self, out: &mut String, text: &str);
    /// The findings that end on the line before; `label` is the severity or `allowed`.
    fn findings(&self, out: &mut String, findings: &[(&str, &ReportFinding)]);
    fn sql_end(&self, out: &mut String, folded: bool);
    /// The unified diff of the schema before and after; `""` when it changes no schema.
    fn schema_diff(&self, out: &mut String, diff: &str);
    fn migration_end(&self, out: &mut String);
    /// The document's end.
    fn end(&self, out: &mut String);
}

/// `report` written in `format`.
pub(crate) fn render(report: &ReleaseReport, format: &dyn Format) -> String {
    let mut out = String::new();
    let out = &mut out;
    format.start(out, &report.title());
    let s = &report.summary;
    format.counts(
        out,
        &format!(
            "{} migration(s); findings: {} error(s), {} warning(s), {} info; {} rewrite a table.",
            s.migrations, s.errors, s.warnings, s.infos, s.rewrites
        ),
    );
    for env in report.environments.iter().filter(|e| !e.reachable) {
        format.unreachable(out, &env.name, env.error.as_deref().unwrap_or_default());
    }
    if report.migrations.is_empty() {
        format.paragraph(out, "Nothing to report.");
        format.end(out);
        return std::mem::take(out);
    }
    summary_table(out, format, report);
    if let Some(sign_off) = &report.sign_off {
        format.sign_off(out, &sign_off.plan_hash, sign_off.status, &sign_off.detail);
        if !sign_off.approvals.is_empty() {
            format.table_start(
                out,
                Table::Approvals,
                &["approver", "at (UTC)", "counts", "reason"],
            );
            for a in &sign_off.approvals {
                format.row(
                    out,
                    &[
                        Cell::Text(&a.approver),
                        Cell::Text(&crate::json::utc_text(a.at)),
                        Cell::Text(a.counts.label()),
                        Cell::Text(&a.reason),
                    ],
                );
            }
            format.table_end(out, Table::Approvals);
        }
    }
    if !report.scratch.computed {
        format.no_scratch(out);
    } else if let Some(stopped) = &report.scratch.stopped {
        format.scratch_stopped(out, stopped);
    }
    for m in &report.migrations {
        migration(out, format, report, m);
    }
    format.end(out);
    std::mem::take(out)
}

fn summary_table(out: &mut String, format: &dyn Format, report: &ReleaseReport) {
    let mut headers = vec!["migration", "severity", "lock", "rewrites"];
    headers.extend(report.environments.iter().map(|e| e.name.as_str()));
    format.table_start(out, Table::Summary, &headers);
    for m in &report.migrations {
        let label = format!("{}_{}", m.version, m.name);
        let statuses: Vec<(String, &str)> = report
            .environments
            .iter()
            .map(|env| {
                let detail = m
                    .statuses
                    .get(&env.name)
                    .map(|s| s.detail.as_str())
                    .unwrap_or_default();
                (status_text(m, &env.name), detail)
            })
            .collect();
        let mut cells = vec![
            Cell::Link {
                text: &label,
                version: &m.version,
            },
            Cell::Severity(m.severity_label()),
            Cell::Text(m.lock.as_deref().unwrap_or("-")),
            Cell::Text(yes_no(m.rewrites)),
        ];
        cells.extend(
            statuses
                .iter()
                .map(|(text, detail)| Cell::Status { text, detail }),
        );
        format.row(out, &cells);
    }
    format.table_end(out, Table::Summary);
}

fn migration(out: &mut String, format: &dyn Format, report: &ReleaseReport, m: &ReportMigration) {
    let mut facts = Vec::new();
    if m.no_transaction {
        facts.push("runs outside a transaction (no-transaction)");
    }
    format.migration_start(
        out,
        &m.version,
        &format!("{}_{}", m.version, m.name),
        &m.file.display().to_string(),
        &facts,
    );

    format.heading(out, "Locks (lock model)");
    if m.locks.is_empty() {
        format.paragraph(out, "none on existing tables.");
    } else {
        format.table_start(out, Table::Locks, &["table", "lock", "effect", "blocks"]);
        for l in &m.locks {
            format.row(
                out,
                &[
                    Cell::Text(&l.table),
                    Cell::Text(&l.lock),
                    Cell::Text(effect_label(l.effect)),
                    Cell::Text(l.blocks),
                ],
            );
        }
        format.table_end(out, Table::Locks);
    }
    format.part_end(out);

    match &m.traced {
        Some(traced) => {
            format.heading(out, "Locks (traced on the scratch database)");
            if traced.locks.is_empty() {
                format.paragraph(out, "none on existing tables.");
            } else {
                format.table_start(out, Table::Traced, &["relation", "lock", "rewritten"]);
                for l in &traced.locks {
                    format.row(
                        out,
                        &[
                            Cell::Text(&l.relation),
                            Cell::Text(&l.lock),
                            Cell::Text(yes_no(l.rewritten)),
                        ],
                    );
                }
                format.table_end(out, Table::Traced);
            }
            format.disagreements(out, &traced.disagreements);
            if let Some(error) = &traced.error {
                format.traced_error(out, error);
            }
            format.part_end(out);
        }
        None if report.scratch.computed => {
            format.aside(out, "Not traced: the scratch run stopped before it.");
        }
        None => {}
    }

    match &m.tables {
        Some(tables) if !tables.is_empty() => {
            let env = report.environment.as_deref().unwrap_or("the environment");
            format.heading(out, &format!("Tables on {env}"));
            format.table_start(out, Table::Sizes, &["table", "size"]);
            for t in tables {
                format.row(out, &[Cell::Text(&t.table), Cell::Text(&t.describe())]);
            }
            format.table_end(out, Table::Sizes);
            format.part_end(out);
        }
        Some(_) => {}
        None => format.aside(out, "Table sizes not read: give --env."),
    }

    sql(out, format, m);

    if let Some(diff) = &m.diff {
        format.schema_diff(out, diff);
    }
    format.migration_end(out);
}

fn sql(out: &mut String, format: &dyn Format, m: &ReportMigration) {
    let lines = m.sql.lines().count();
    let folded = lines > FOLD_LINES;
    format.sql_start(out, lines, m.findings.len(), folded);
    for segment in segments(m) {
        match segment {
            Segment::Sql(text) if text.trim().is_empty() => {}
            Segment::Sql(text) => format.sql(out, text),
            Segment::Findings(findings) => {
                let labelled: Vec<(&str, &ReportFinding)> = findings
                    .into_iter()
                    .map(|f| {
                        let label = if f.allowed.is_some() {
                            "allowed"
                        } else {
                            f.severity.label()
                        };
                        (label, f)
                    })
                    .collect();
                format.findings(out, &labelled);
            }
        }
    }
    format.sql_end(out, folded);
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

fn effect_label(effect: Effect) -> &'static str {
    match effect {
        Effect::Brief => "brief",
        Effect::Scan => "scans the table",
        Effect::Rewrite => "rewrites the table",
    }
}

//! Rendering a [`TraceReport`]: text (a table per migration), JSON and Markdown.

use std::fmt::Write;

use super::{SeenLock, TraceReport, TracedMigration, TracedStatement};

/// Longest statement text shown in the tables.
const SQL_WIDTH: usize = 60;

/// The statement on one line, shortened to `width` characters.
fn shorten(sql: &str, width: usize) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        return flat;
    }
    let mut short: String = flat.chars().take(width - 3).collect();
    short.push_str("...");
    short
}

/// `t ACCESS EXCLUSIVE, t_idx SHARE (new)`: the strongest mode per relation; `(new)` marks
/// a relation the statement made.
fn locks(locks: &[SeenLock]) -> String {
    let mut strongest: Vec<(&str, crate::analyze::LockMode, bool)> = Vec::new();
    for lock in locks {
        match strongest.iter_mut().find(|(r, _, _)| *r == lock.relation) {
            Some(entry) => entry.1 = entry.1.max(lock.mode),
            None => strongest.push((&lock.relation, lock.mode, lock.new)),
        }
    }
    if strongest.is_empty() {
        return "-".to_string();
    }
    strongest
        .iter()
        .map(|(relation, mode, new)| {
            let new = if *new { " (new)" } else { "" };
            format!("{relation} {}{new}", mode.label())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn rewrites(statement: &TracedStatement) -> String {
    if statement.rewrites.is_empty() {
        return "-".to_string();
    }
    statement
        .rewrites
        .iter()
        .map(|r| r.relation.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(statement: &TracedStatement) -> String {
    if statement.skipped.is_some() {
        "-".to_string()
    } else {
        format!("{:.1}", statement.ms)
    }
}

fn heading(migration: &TracedMigration) -> String {
    let how = if migration.no_transaction {
        "no-transaction: each statement on its own, undone by restoring the scratch database"
    } else {
        "in one transaction, rolled back"
    };
    format!("{} ({how})", migration.label())
}

fn locks_cell(statement: &TracedStatement) -> String {
    if let Some(why) = &statement.skipped {
        return format!("skipped: {why}");
    }
    let text = locks(&statement.locks);
    if statement.observed == "sampled" {
        format!("{text} (sampled)")
    } else {
        text
    }
}

pub(crate) fn text(report: &TraceReport) -> String {
    let mut out = String::new();
    for migration in &report.migrations {
        let _ = writeln!(out, "{}", heading(migration));
        let _ = writeln!(out, "  {}", migration.file.display());
        let rows: Vec<[String; 5]> = migration
            .statements
            .iter()
            .map(|s| {
                [
                    s.line.to_string(),
                    shorten(&s.sql, SQL_WIDTH),
                    locks_cell(s),
                    rewrites(s),
                    ms(s),
                ]
            })
            .collect();
        let header = ["line", "statement", "locks taken", "rewrites", "ms"].map(String::from);
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 5]| {
            let mut text = String::from(" ");
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i == 0 || i == 4 {
                    let _ = write!(text, " {cell:>width$}");
                } else {
                    let _ = write!(text, " {cell:<width$}");
                }
            }
            text.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&header));
        for (row, statement) in rows.iter().zip(&migration.statements) {
            let _ = writeln!(out, "{}", line(row));
            for disagreement in &statement.disagreements {
                let _ = writeln!(out, "      ! {disagreement}");
            }
        }
        if let Some(error) = &migration.error {
            let _ = writeln!(out, "  failed: {error}");
        }
        out.push('\n');
    }
    if let Some(stopped) = &report.stopped {
        let _ = writeln!(out, "stopped: {stopped}");
    }
    let traced: usize = report.migrations.iter().map(|m| m.statements.len()).sum();
    let _ = writeln!(
        out,
        "{} migration(s), {traced} statement(s) traced on PostgreSQL {}; {} statement(s) where \
         lint and the trace disagree",
        report.migrations.len(),
        report.server,
        report.disagreements
    );
    out
}

pub(crate) fn json(report: &TraceReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serialises");
    text.push('\n');
    text
}

/// A Markdown table cell: pipes escaped, no line breaks.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

pub(crate) fn markdown(report: &TraceReport) -> String {
    let mut out = String::from("# Lock trace\n\n");
    let _ = writeln!(
        out,
        "Traced on PostgreSQL {}: {} migration(s); {} statement(s) where lint and the trace \
         disagree.\n",
        cell(&report.server),
        report.migrations.len(),
        report.disagreements
    );
    for migration in &report.migrations {
        let _ = writeln!(out, "## {}\n", cell(&heading(migration)));
        let _ = writeln!(out, "`{}`\n", cell(&migration.file.display().to_string()));
        out.push_str("| line | statement | locks taken | rewrites | ms | lint vs trace |\n");
        out.push_str("|---:|---|---|---|---:|---|\n");
        for s in &migration.statements {
            let disagreements = if s.disagreements.is_empty() {
                "agree".to_string()
            } else {
                s.disagreements.join("; ")
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} |",
                s.line,
                cell(&shorten(&s.sql, SQL_WIDTH)).replace('`', "'"),
                cell(&locks_cell(s)),
                cell(&rewrites(s)),
                ms(s),
                cell(&disagreements)
            );
        }
        if let Some(error) = &migration.error {
            let _ = writeln!(out, "\n**Failed:** {}", cell(error));
        }
        out.push('\n');
    }
    if let Some(stopped) = &report.stopped {
        let _ = writeln!(out, "**Stopped:** {}\n", cell(stopped));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_statements_are_shortened_on_one_line() {
        assert_eq!(
            shorten("ALTER TABLE t\n  ADD c int;", 60),
            "ALTER TABLE t ADD c int;"
        );
        let long = "x".repeat(80);
        let short = shorten(&long, 20);
        assert_eq!(short.chars().count(), 20);
        assert!(short.ends_with("..."));
    }

    #[test]
    fn markdown_cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}

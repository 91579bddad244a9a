//! `--format markdown`: a pull-request comment. A heading, a section per file with findings
//! (a table of line, severity, rule and message with its help), then a summary table of the
//! findings by rule. Sections are written as files come; the summary needs only per-rule
//! counts.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Emitter, FileReport, LintSummary};
use crate::lint::Severity;

/// The Markdown emitter.
#[derive(Debug, Default)]
pub(crate) struct Markdown {
    /// Findings by rule code: (severity shown, rule name, count).
    by_rule: BTreeMap<&'static str, (Severity, &'static str, usize)>,
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "**error**",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// Text for a table cell: no line breaks, and `|` escaped (GitHub honours `\|` inside code
/// spans in a table too). Nothing else is escaped: the messages quote names in code spans,
/// where a backslash would show.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => {}
            '\n' => out.push(' '),
            '|' => out.push_str("\\|"),
            _ => out.push(c),
        }
    }
    out
}

/// A path in inline code: backticks cannot be escaped there, so a longer fence is used.
fn code(text: &str) -> String {
    let fence = if text.contains('`') { "`` " } else { "`" };
    let close = if text.contains('`') { " ``" } else { "`" };
    format!("{fence}{}{close}", text.replace(['\n', '\r'], " "))
}

impl Emitter for Markdown {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"## stagegate lint\n\n")
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        if file.findings.is_empty() {
            return Ok(());
        }
        writeln!(out, "### {}\n", code(file.path))?;
        writeln!(out, "| Line | Severity | Rule | Finding |")?;
        writeln!(out, "|---:|---|---|---|")?;
        for finding in file.findings {
            writeln!(
                out,
                "| {} | {} | {} `{}` | {}<br>**help:** {} |",
                finding.line,
                severity(finding.severity),
                finding.code,
                finding.name,
                cell(&finding.message),
                cell(&finding.help)
            )?;
            let entry =
                self.by_rule
                    .entry(finding.code)
                    .or_insert((finding.severity, finding.name, 0));
            entry.0 = entry.0.max(finding.severity);
            entry.2 += 1;
        }
        out.write_all(b"\n")
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &LintSummary) -> io::Result<()> {
        let counts = summary.counts;
        writeln!(out, "### Summary\n")?;
        if self.by_rule.is_empty() {
            writeln!(
                out,
                "No findings in {} file(s) ({} statements).",
                summary.files, summary.statements
            )?;
        } else {
            writeln!(out, "| Rule | Severity | Findings |")?;
            writeln!(out, "|---|---|---:|")?;
            for (code, (level, name, count)) in &self.by_rule {
                writeln!(out, "| {code} `{name}` | {} | {count} |", severity(*level))?;
            }
            writeln!(
                out,
                "\n**{} error(s), {} warning(s), {} info(s)** in {} file(s) ({} statements).",
                counts.errors, counts.warnings, counts.infos, summary.files, summary.statements
            )?;
        }
        if summary.suppressed > 0 {
            writeln!(
                out,
                "{} finding(s) suppressed by allow directives.",
                summary.suppressed
            )?;
        }
        writeln!(
            out,
            "\n`stagegate rule <code>` explains each rule and its safe alternative."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::emit::test_support::render;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&mut Markdown::default()));
    }

    #[test]
    fn cells_stay_in_their_column() {
        assert_eq!(cell("a | b\nc_d"), "a \\| b c_d");
        assert_eq!(code("a`b"), "`` a`b ``");
    }
}

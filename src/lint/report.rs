//! Rendering findings: `text` (the source line with the span underlined) and `json` (a
//! stable, versioned schema). Pure: returns strings. The text shows the file's name, its
//! SQL and the messages quoting it with control characters made visible
//! ([`crate::visible`]); JSON keeps them exact, escaped as JSON escapes them.

use std::ops::Range;

use serde::Serialize;

use super::{Counts, Finding, Severity};
use crate::visible;

/// Version of the JSON schema; bumped on any incompatible change.
pub(crate) const JSON_VERSION: u32 = 1;

/// The findings of one file, rendered as text. `text` is the script text the spans index.
pub fn render_text(path: &str, text: &str, findings: &[Finding], color: bool) -> String {
    let mut out = String::new();
    for finding in findings {
        render_one(&mut out, path, text, finding, color);
    }
    out
}

fn severity_sgr(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
        Severity::Info => "1;36",
    }
}

fn render_one(out: &mut String, path: &str, text: &str, finding: &Finding, color: bool) {
    use std::fmt::Write as _;
    // Written straight into `out`: no string per painted piece.
    let paint = |out: &mut String, sgr: &str, piece: &dyn std::fmt::Display| {
        let _ = if color {
            write!(out, "\x1b[{sgr}m{piece}\x1b[0m")
        } else {
            write!(out, "{piece}")
        };
    };
    const BLUE: &str = "1;34";
    let sgr = severity_sgr(finding.severity);
    let head = format_args!("{}[{}]", finding.severity.label(), finding.code);
    paint(out, sgr, &head);
    out.push_str(": ");
    paint(out, "1", &visible::text(&finding.message));
    out.push('\n');
    let gutter = digits(finding.end_line.max(finding.line));
    let pad = |out: &mut String, width: usize| out.extend(std::iter::repeat_n(' ', width));
    pad(out, gutter);
    paint(out, BLUE, &"-->");
    let _ = writeln!(
        out,
        " {}:{}:{}",
        visible::line(path),
        finding.line,
        finding.column
    );
    pad(out, gutter + 1);
    paint(out, BLUE, &"|");
    out.push('\n');
    let mut source_line = String::new();
    for row in snippet_rows(text, finding) {
        match row {
            Row::Gap => {
                pad(out, gutter + 1);
                paint(out, BLUE, &"...");
                out.push('\n');
            }
            Row::Line {
                number,
                shown,
                underline,
            } => {
                source_line.clear();
                if shown.cut_before {
                    source_line.push_str(CUT);
                }
                source_line.push_str(&visible::line(&text[shown.range.clone()]));
                if shown.cut_after {
                    source_line.push_str(CUT);
                }
                // The number right-aligned in the gutter.
                pad(out, gutter.saturating_sub(digits(number)));
                paint(out, BLUE, &number);
                out.push(' ');
                paint(out, BLUE, &"|");
                out.push(' ');
                out.push_str(source_line.trim_end());
                out.push('\n');
                if let Some(marked) = underline {
                    let cut_lead = if shown.cut_before { CUT.len() } else { 0 };
                    // Counted as shown: an escaped control character takes its escape's width.
                    let shown_width = |part: &str| visible::line(part).chars().count();
                    let lead = cut_lead + shown_width(&text[shown.range.start..marked.start]);
                    let width = shown_width(text[marked].trim_end()).max(1);
                    pad(out, gutter + 1);
                    paint(out, BLUE, &"|");
                    out.push(' ');
                    pad(out, lead);
                    paint(out, sgr, &Repeat('^', width));
                    out.push('\n');
                }
            }
        }
    }
    pad(out, gutter + 1);
    paint(out, BLUE, &"=");
    let _ = writeln!(out, " help: {}", visible::text(&finding.help));
    pad(out, gutter + 1);
    paint(out, BLUE, &"=");
    let _ = writeln!(
        out,
        " rule: {} {} (`stagegate rule {}` explains it)",
        finding.code, finding.name, finding.code
    );
    out.push('\n');
}

/// How many decimal digits `n` has.
fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// A character `n` times, written without building the string.
struct Repeat(char, usize);

impl std::fmt::Display for Repeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for _ in 0..self.1 {
            std::fmt::Write::write_char(f, self.0)?;
        }
        Ok(())
    }
}

/// One row of a finding's snippet.
enum Row {
    /// Lines left out.
    Gap,
    /// A source line, with the part of the span on it to underline.
    Line {
        number: usize,
        shown: Shown,
        underline: Option<Range<usize>>,
    },
}

/// Lines of a span shown at most; a longer span shows its first ones and a gap.
const SPAN_LINES: usize = 3;

/// The rows of a finding's snippet: the first line of its statement when the span starts
/// further down (with a gap for the lines between), then the span's lines, each underlined
/// from its first character in the span (its indentation left out) to the span's end.
fn snippet_rows(text: &str, finding: &Finding) -> Vec<Row> {
    let start = finding.span.start.min(text.len());
    let end = finding.span.end.clamp(start, text.len());
    let mut rows = Vec::new();
    let statement = finding.statement.start.min(start);
    let span_line_start = text[statement..start]
        .rfind('\n')
        .map(|i| statement + i + 1);
    if let Some(span_line_start) = span_line_start {
        let between = text[statement..span_line_start].matches('\n').count();
        rows.push(Row::Line {
            number: finding.line - between,
            shown: shown_line(text, statement),
            underline: None,
        });
        if between > 1 {
            rows.push(Row::Gap);
        }
    }
    let mut at = start;
    for (number, shown_lines) in (finding.line..).zip(0..) {
        let shown = shown_line(text, at);
        let marked = at.clamp(shown.range.start, shown.range.end)..end.clamp(at, shown.range.end);
        let underline = (!text[marked.clone()].trim().is_empty()).then_some(marked);
        let line_end = shown.range.end;
        rows.push(Row::Line {
            number,
            shown,
            underline,
        });
        // The next line of the span, from its first non-blank character.
        let Some(next) = text[line_end.min(end)..end]
            .find('\n')
            .map(|i| line_end + i + 1)
        else {
            break;
        };
        if shown_lines + 1 == SPAN_LINES {
            rows.push(Row::Gap);
            break;
        }
        let rest = &text[next..end];
        at = next + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    }
    rows
}

/// How much of a long line a finding shows: up to this many bytes before the span's start
/// and after it (widened to whole characters). Each finding prints a bounded piece of its
/// line, so a file of many statements on one line renders in time linear in its findings.
const SHOWN_BEFORE: usize = 120;
const SHOWN_AFTER: usize = 240;

/// Marks the end where a long line was cut.
const CUT: &str = "...";

/// The piece of a line that a finding shows.
struct Shown {
    /// Byte range in the text, within one line.
    range: Range<usize>,
    /// The line goes on before the range.
    cut_before: bool,
    /// The line goes on after the range.
    cut_after: bool,
}

/// The line holding `start`, or as much of it as fits [`SHOWN_BEFORE`] and [`SHOWN_AFTER`]
/// around `start`. Looks for the line's ends within that window only.
fn shown_line(text: &str, start: usize) -> Shown {
    let bytes = text.as_bytes();
    let from = text.floor_char_boundary(start.saturating_sub(SHOWN_BEFORE));
    let (line_start, cut_before) = match text[from..start].rfind('\n') {
        Some(i) => (from + i + 1, false),
        None => (from, from > 0 && bytes[from - 1] != b'\n'),
    };
    let to = text.ceil_char_boundary(start.saturating_add(SHOWN_AFTER).min(text.len()));
    let (line_end, cut_after) = match text[start..to].find('\n') {
        Some(i) => (start + i, false),
        None => (to, bytes.get(to).is_some_and(|&b| b != b'\n')),
    };
    Shown {
        range: line_start..line_end,
        cut_before,
        cut_after,
    }
}

/// The closing summary line of a text report.
pub(crate) fn text_summary(
    counts: Counts,
    files: usize,
    statements: usize,
    suppressed: usize,
) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut line = format!(
        "{}, {}, {} in {} ({})",
        plural(counts.errors, "error"),
        plural(counts.warnings, "warning"),
        plural(counts.infos, "info"),
        plural(files, "file"),
        plural(statements, "statement"),
    );
    if suppressed > 0 {
        line.push_str(&format!("; {suppressed} suppressed by allow directives"));
    }
    line.push('\n');
    line
}

/// One finding in the JSON report.
#[derive(Debug, Serialize)]
pub(crate) struct JsonFinding<'a> {
    pub path: String,
    #[serde(flatten)]
    pub finding: &'a Finding,
    /// The first line of the statement's original text.
    pub snippet: String,
}

/// Totals of a JSON report.
#[derive(Debug, Serialize)]
pub(crate) struct JsonSummary {
    pub files: usize,
    pub statements: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub suppressed: usize,
}

/// The whole JSON report: the schema that [`JsonWriter`] writes piece by piece. Only the test
/// that holds the two to the same bytes builds one.
#[cfg(test)]
#[derive(Debug, Serialize)]
pub(crate) struct JsonReport<'a> {
    pub version: u32,
    pub findings: Vec<JsonFinding<'a>>,
    pub summary: JsonSummary,
}

/// Writes the JSON report as findings arrive, so memory does not grow with their number. The
/// bytes are those serde_json's pretty printer gives for the whole [`JsonReport`].
#[derive(Debug)]
pub(crate) struct JsonWriter {
    wrote_finding: bool,
}

impl JsonWriter {
    pub(crate) fn begin(out: &mut dyn std::io::Write) -> std::io::Result<JsonWriter> {
        write!(out, "{{\n  \"version\": {JSON_VERSION},\n  \"findings\": [")?;
        Ok(JsonWriter {
            wrote_finding: false,
        })
    }

    pub(crate) fn finding(
        &mut self,
        out: &mut dyn std::io::Write,
        finding: &JsonFinding,
    ) -> std::io::Result<()> {
        out.write_all(if self.wrote_finding { b",\n" } else { b"\n" })?;
        write_indented(out, &serde_json::to_string_pretty(finding)?, "    ", "    ")?;
        self.wrote_finding = true;
        Ok(())
    }

    /// Closes the findings and writes the summary; ends with a newline.
    pub(crate) fn finish(
        self,
        out: &mut dyn std::io::Write,
        summary: &JsonSummary,
    ) -> std::io::Result<()> {
        out.write_all(if self.wrote_finding {
            b"\n  ],\n"
        } else {
            b"],\n"
        })?;
        write_indented(
            out,
            &serde_json::to_string_pretty(summary)?,
            "  \"summary\": ",
            "  ",
        )?;
        out.write_all(b"\n}\n")
    }
}

/// `text` with `first` before its first line and `rest` before every other line (pretty
/// JSON has no raw newline inside a string, so lines are safe to indent).
fn write_indented(
    out: &mut dyn std::io::Write,
    text: &str,
    first: &str,
    rest: &str,
) -> std::io::Result<()> {
    for (index, line) in text.lines().enumerate() {
        if index > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(if index == 0 { first } else { rest }.as_bytes())?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// The first line of a finding's statement, for the JSON `snippet` (its `line` and `column`
/// point at the clause inside it).
pub(crate) fn snippet(text: &str, finding: &Finding) -> String {
    let start = finding.statement.start.min(text.len());
    let end = finding.statement.end.clamp(start, text.len());
    text[start..end]
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod json_writer_tests {
    use super::*;
    use crate::lint::Severity;

    fn finding(code: &'static str, line: usize) -> Finding {
        Finding {
            code,
            name: "some-rule",
            severity: Severity::Error,
            message: "a \"quoted\" message\nover two lines".to_string(),
            help: "do this instead".to_string(),
            span: 0..5,
            statement: 0..5,
            line,
            column: 1,
            end_line: line,
            end_column: 6,
        }
    }

    /// Streaming must write exactly what serialising the whole report writes.
    #[test]
    fn streamed_report_equals_the_whole_report() {
        let summary = || JsonSummary {
            files: 2,
            statements: 7,
            errors: 2,
            warnings: 0,
            infos: 0,
            suppressed: 1,
        };
        for findings in [vec![], vec![finding("SG101", 3), finding("SG201", 9)]] {
            let entries: Vec<JsonFinding> = findings
                .iter()
                .map(|f| JsonFinding {
                    path: "m/1_a.up.sql".into(),
                    finding: f,
                    snippet: "ALTER".into(),
                })
                .collect();
            let mut streamed = Vec::new();
            let mut writer = JsonWriter::begin(&mut streamed).unwrap();
            for entry in &entries {
                writer.finding(&mut streamed, entry).unwrap();
            }
            writer.finish(&mut streamed, &summary()).unwrap();

            let whole = JsonReport {
                version: JSON_VERSION,
                findings: entries,
                summary: summary(),
            };
            let expected = format!("{}\n", serde_json::to_string_pretty(&whole).unwrap());
            assert_eq!(String::from_utf8(streamed).unwrap(), expected);
        }
    }
}

#[cfg(test)]
mod text_tests {
    use crate::lint::test_utils::lint_errors;

    /// On a long line a finding shows the part around its statement, cut with `...`.
    #[test]
    fn a_long_line_is_cut_around_the_statement() {
        let sql = format!(
            "{}DROP TABLE old;{}\nSELECT 2;",
            "SELECT 1; ".repeat(50),
            " SELECT 'ü';".repeat(50)
        );
        insta::assert_snapshot!(lint_errors("SG301", &sql));
    }

    /// A finding on a clause further down its statement shows the statement's first line,
    /// a gap for the lines between, and the clause's lines underlined without their
    /// indentation.
    #[test]
    fn a_clause_shows_its_statement_around_it() {
        let sql = "SELECT 1;\nALTER TABLE orders\n  ADD COLUMN a int,\n  ADD COLUMN b int,\n  ADD CONSTRAINT fk\n    FOREIGN KEY (user_id) REFERENCES users (id),\n  ADD COLUMN c int;\n";
        insta::assert_snapshot!(lint_errors("SG112", sql));
        let rendered = lint_errors("SG201", "ALTER TABLE t\n  DROP COLUMN a;");
        assert!(
            rendered.contains("1 | ALTER TABLE t\n2 |   DROP COLUMN a;\n  |   ^^^^^^^^^^^^^\n"),
            "{rendered}"
        );
    }

    /// A short line is shown whole, as before.
    #[test]
    fn escapes_in_the_name_the_sql_and_the_message_are_shown_not_obeyed() {
        let text = "SELECT 1;\nDROP \x1b[8mTABLE t;\n";
        let f = super::Finding {
            code: "SG301",
            name: "drop-table",
            severity: crate::lint::Severity::Error,
            message: "drops `t\x1b[2K`".to_string(),
            help: "keep it".to_string(),
            span: 10..text.len() - 1,
            statement: 10..text.len() - 1,
            line: 2,
            column: 1,
            end_line: 2,
            end_column: 16,
        };
        let out = super::render_text("m/2_x\u{202e}\r.up.sql", text, &[f], false);
        assert!(!out.contains('\x1b') && !out.contains('\r') && !out.contains('\u{202e}'));
        assert!(out.contains("--> m/2_x\\u{202e}\\r.up.sql:2:1"), "{out}");
        assert!(out.contains("drops `t\\x1b[2K`"), "{out}");
        // The underline covers the escape as it is shown.
        assert!(
            out.contains("2 | DROP \\x1b[8mTABLE t;\n  | ^^^^^^^^^^^^^^^^^^^^\n"),
            "{out}"
        );
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        let rendered = lint_errors("SG301", "SELECT 1; DROP TABLE old; SELECT 2;\n");
        assert!(rendered.contains("1 | SELECT 1; DROP TABLE old; SELECT 2;\n"));
        assert!(
            rendered.contains("  |           ^^^^^^^^^^^^^^^\n"),
            "{rendered}"
        );
    }
}

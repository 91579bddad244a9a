//! One emitter per report format, behind one trait: the command hands each file's findings
//! to the emitter as the file is linted, and the totals at the end, so no format holds more
//! than one file's findings (and per-rule counts) in memory. Pure: writes to the `Write` it is
//! given.

mod github;
mod gitlab;
mod markdown;
mod sarif;

use std::io::{self, Write};

use super::report::{self, JsonFinding, JsonSummary, JsonWriter};
use super::{Counts, Finding};

pub(crate) use github::{Github, annotation};
pub(crate) use gitlab::Gitlab;
pub(crate) use markdown::Markdown;
pub(crate) use sarif::Sarif;

/// The findings of one linted file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileReport<'a> {
    /// The path as given on the command line or found in the directory.
    pub path: &'a str,
    /// The script text the findings' spans index.
    pub text: &'a str,
    pub findings: &'a [Finding],
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LintSummary {
    pub files: usize,
    pub statements: usize,
    pub counts: Counts,
    pub suppressed: usize,
}

/// Renders a report as files come.
pub(crate) trait Emitter {
    /// Before the first file.
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// One file's findings (possibly none).
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()>;

    /// After the last file.
    fn finish(&mut self, out: &mut dyn Write, summary: &LintSummary) -> io::Result<()>;
}

/// The text report: each finding with its source line underlined, then a summary line. With
/// `annotations` (in GitHub Actions) each finding is also written as a workflow command.
#[derive(Debug)]
pub(crate) struct Text {
    pub color: bool,
    pub annotations: bool,
}

impl Emitter for Text {
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        out.write_all(
            report::render_text(file.path, file.text, file.findings, self.color).as_bytes(),
        )?;
        if self.annotations {
            for finding in file.findings {
                out.write_all(annotation(file.path, finding).as_bytes())?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &LintSummary) -> io::Result<()> {
        let line = report::text_summary(
            summary.counts,
            summary.files,
            summary.statements,
            summary.suppressed,
        );
        out.write_all(line.as_bytes())
    }
}

/// The versioned JSON report ([`report::JsonReport`]).
#[derive(Debug, Default)]
pub(crate) struct Json {
    writer: Option<JsonWriter>,
}

impl Emitter for Json {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.writer = Some(JsonWriter::begin(out)?);
        Ok(())
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        let writer = self.writer.as_mut().expect("begin was called");
        for finding in file.findings {
            let entry = JsonFinding {
                path: file.path.to_string(),
                finding,
                snippet: report::snippet(file.text, finding),
            };
            writer.finding(out, &entry)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &LintSummary) -> io::Result<()> {
        let writer = self.writer.take().expect("begin was called");
        writer.finish(
            out,
            &JsonSummary {
                files: summary.files,
                statements: summary.statements,
                errors: summary.counts.errors,
                warnings: summary.counts.warnings,
                infos: summary.counts.infos,
                suppressed: summary.suppressed,
            },
        )
    }
}

/// A path as a URI reference: relative paths stay relative (with `/`), absolute ones become
/// `file://` URIs; characters outside the unreserved set and `/` are percent-encoded.
pub(crate) fn path_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let (prefix, rest) = match path.strip_prefix('/') {
        Some(rest) => ("file:///", rest.to_string()),
        None => ("", path.strip_prefix("./").unwrap_or(&path).to_string()),
    };
    let mut out = String::from(prefix);
    for byte in rest.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{Emitter, FileReport, LintSummary};
    use crate::lint::test_utils::lint_sql;

    /// Two files, one with an error, a warning and a message that needs escaping, one clean;
    /// rendered by `emitter`.
    pub(crate) fn render(emitter: &mut dyn Emitter) -> String {
        let first = "CREATE INDEX orders_customer ON orders (customer);\nALTER TABLE orders ADD COLUMN note text;\nALTER TABLE \"a,b\" RENAME COLUMN x TO y;\n";
        let second = "SELECT 1;\n";
        let mut out = Vec::new();
        let mut summary = LintSummary::default();
        emitter.begin(&mut out).unwrap();
        for (path, text) in [
            ("migrations/1_index orders.up.sql", first),
            ("migrations/2_select.up.sql", second),
        ] {
            let result = lint_sql(text, 15);
            summary.files += 1;
            summary.statements += result.statements;
            summary.counts.add(&result.findings);
            emitter
                .file(
                    &mut out,
                    &FileReport {
                        path,
                        text,
                        findings: &result.findings,
                    },
                )
                .unwrap();
        }
        emitter.finish(&mut out, &summary).unwrap();
        String::from_utf8(out).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("migrations/1_a.up.sql"), "migrations/1_a.up.sql");
        assert_eq!(path_uri("./m/a b.sql"), "m/a%20b.sql");
        assert_eq!(path_uri("/tmp/x%.sql"), "file:///tmp/x%25.sql");
    }

    #[test]
    fn text_with_annotations_adds_workflow_commands() {
        let plain = test_support::render(&mut Text {
            color: false,
            annotations: false,
        });
        assert!(!plain.contains("::error"));
        let annotated = test_support::render(&mut Text {
            color: false,
            annotations: true,
        });
        assert!(annotated.contains("\n::error file=migrations/1_index orders.up.sql,line=1,"));
        assert!(annotated.starts_with(&plain[..plain.find("\n\n").unwrap()]));
    }
}

//! `--format github`: one GitHub Actions workflow command per finding
//! (`::error file=..,line=..,col=..,endLine=..,endColumn=..,title=..::message`), which the
//! runner shows as an annotation on the pull request's diff.

use std::io::{self, Write};

use super::{Emitter, FileReport, LintSummary};
use crate::lint::{Finding, Severity};

/// The workflow-command emitter.
#[derive(Debug, Default)]
pub(crate) struct Github;

impl Emitter for Github {
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        for finding in file.findings {
            out.write_all(annotation(file.path, finding).as_bytes())?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, summary: &LintSummary) -> io::Result<()> {
        // A plain line (not a command) closes the log, as the text report's summary does.
        let counts = summary.counts;
        writeln!(
            out,
            "stagegate lint: {} error(s), {} warning(s), {} info(s) in {} file(s)",
            counts.errors, counts.warnings, counts.infos, summary.files
        )
    }
}

/// One finding as a workflow command, with its newline. The path and the message show
/// control characters as escapes: the runner's log is a terminal of sorts.
pub(crate) fn annotation(path: &str, finding: &Finding) -> String {
    let command = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let title = format!("{} {}", finding.code, finding.name);
    let message = format!("{}\nhelp: {}", finding.message, finding.help);
    format!(
        "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
        // A name with control characters attaches to no file, but cannot act on the log.
        property(&crate::visible::text(path)),
        finding.line,
        finding.column,
        finding.end_line,
        finding.end_column,
        property(&title),
        data(&crate::visible::text(&message)),
    )
}

/// The message of a command: `%`, CR and LF escaped.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: as [`data`], and `:` and `,` too.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::emit::test_support::render;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&mut Github));
    }

    #[test]
    fn escapes_what_github_documents() {
        assert_eq!(data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // A message keeps its colons and commas.
        assert_eq!(data("a: b, c"), "a: b, c");
    }
}

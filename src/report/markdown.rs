//! The report as Markdown that GitHub renders as a comment: table cells escaped, long SQL
//! folded in `<details>`, the schema diff in a `diff` block.

use std::fmt::Write as _;

use super::document::{Cell, Format, Table};
use super::{NO_SCRATCH, ReportFinding, escape};

/// A table cell: `|` escaped, newlines as `<br>`, HTML special characters escaped (GitHub
/// renders inline HTML in cells).
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("\\`"),
            _ => out.push(c),
        }
    }
    out
}

/// Text in running prose: HTML special characters and Markdown emphasis escaped.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn code_block(out: &mut String, lang: &str, text: &str) {
    let fence = fence(text);
    let _ = writeln!(out, "{fence}{lang}");
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
}

/// The Markdown format of the report.
pub(crate) struct Markdown;

impl Format for Markdown {
    fn start(&self, out: &mut String, title: &str) {
        let _ = writeln!(out, "# Release report: {}\n", prose(title));
    }

    fn counts(&self, out: &mut String, counts: &str) {
        let _ = writeln!(out, "{counts}\n");
    }

    fn unreachable(&self, out: &mut String, environment: &str, error: &str) {
        let _ = writeln!(
            out,
            "> **{}** was not reached: {}\n",
            prose(environment),
            prose(error)
        );
    }

    fn paragraph(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "{}", prose(text));
    }

    fn aside(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "_{}_\n", prose(text));
    }

    fn no_scratch(&self, out: &mut String) {
        let _ = writeln!(out, "\n_{}_", prose(NO_SCRATCH));
    }

    fn scratch_stopped(&self, out: &mut String, why: &str) {
        let _ = writeln!(out, "\n> **Scratch database:** {}", prose(why));
    }

    fn sign_off(&self, out: &mut String, plan_hash: &str, status: &str, detail: &str) {
        let _ = writeln!(
            out,
            "\n**Sign-off** (plan `{plan_hash}`): {status} — {}\n",
            prose(detail)
        );
    }

    fn table_start(&self, out: &mut String, table: Table, headers: &[&str]) {
        // A table under a heading is set off from it by a blank line.
        if matches!(table, Table::Locks | Table::Traced | Table::Sizes) {
            out.push('\n');
        }
        let header: Vec<String> = headers.iter().map(|h| cell(h)).collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", " --- |".repeat(headers.len()));
    }

    fn row(&self, out: &mut String, cells: &[Cell<'_>]) {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| match *c {
                Cell::Text(text) | Cell::Severity(text) | Cell::Status { text, .. } => cell(text),
                Cell::Link { text, version } => format!("[{}](#m-{version})", cell(text)),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }

    fn table_end(&self, _out: &mut String, _table: Table) {}

    fn migration_start(
        &self,
        out: &mut String,
        version: &str,
        label: &str,
        file: &str,
        facts: &[&str],
    ) {
        // The anchor the summary links to; GitHub keeps `id` on an `<a>`.
        let _ = writeln!(out, "\n<a id=\"m-{version}\"></a>\n\n## {}\n", prose(label));
        let mut line = format!("`{}`", cell(file));
        for fact in facts {
            line.push_str(" · ");
            line.push_str(fact);
        }
        let _ = writeln!(out, "{line}\n");
    }

    fn heading(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "**{}:**", prose(text));
    }

    fn part_end(&self, out: &mut String) {
        out.push('\n');
    }

    fn disagreements(&self, out: &mut String, disagreements: &[String]) {
        for d in disagreements {
            let _ = writeln!(out, "\n- lock model and trace disagree: {}", prose(d));
        }
    }

    fn traced_error(&self, out: &mut String, error: &str) {
        let _ = writeln!(
            out,
            "\n> **failed on the scratch database:** {}",
            prose(error)
        );
    }

    fn sql_start(&self, out: &mut String, lines: usize, findings: usize, folded: bool) {
        if folded {
            let _ = writeln!(
                out,
                "<details><summary>SQL ({lines} lines, {findings} finding(s))</summary>\n"
            );
        } else {
            let _ = writeln!(out, "**SQL:**\n");
        }
    }

    fn sql(&self, out: &mut String, text: &str) {
        code_block(out, "sql", text);
    }

    fn findings(&self, out: &mut String, findings: &[(&str, &ReportFinding)]) {
        out.push('\n');
        for (label, f) in findings {
            let _ = writeln!(
                out,
                "> **{label}** {} `{}` (line {}): {}",
                f.code,
                f.rule,
                f.line,
                prose(&f.message)
            );
            if let Some(reason) = &f.allowed {
                let _ = writeln!(
                    out,
                    ">\n> allowed by `-- stagegate:allow`: {}",
                    prose(reason)
                );
            }
            if !f.text.is_empty() {
                let _ = writeln!(
                    out,
                    ">\n> at: <code>{}</code>",
                    escape(&f.text.replace('\n', " "))
                );
            }
            if !f.help.is_empty() {
                let _ = writeln!(out, ">\n> {}", prose(&f.help));
            }
            out.push('\n');
        }
    }

    fn sql_end(&self, out: &mut String, folded: bool) {
        if folded {
            let _ = writeln!(out, "\n</details>");
        }
    }

    fn schema_diff(&self, out: &mut String, diff: &str) {
        if diff.is_empty() {
            let _ = writeln!(out, "\n**Schema diff:** no schema change.");
        } else {
            let _ = writeln!(out, "\n**Schema diff:**\n");
            code_block(out, "diff", diff);
        }
    }

    fn migration_end(&self, _out: &mut String) {}

    fn end(&self, _out: &mut String) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_fences_escape_what_would_break_the_markdown() {
        assert_eq!(cell("a|b\nc <x>"), "a\\|b<br>c &lt;x&gt;");
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a ```` b"), "`````");
        assert_eq!(prose("*a* [b]"), "\\*a\\* \\[b\\]");
    }
}

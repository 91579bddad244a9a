//! The report as one self-contained HTML page: inline CSS, no scripts, no external assets;
//! readable on a phone (tables scroll sideways, code wraps) and printable.
//!
//! The page's structure is a contract (browser tests rely on it; keep to it):
//! - the summary table is `<table id="summary">`;
//! - each migration is `<section class="migration" id="m-<version>">`;
//! - each schema diff is `<pre class="diff">`, its lines in `<span class="add">`,
//!   `<span class="del">` or `<span class="ctx">`;
//! - each finding is `<div class="finding sev-error|sev-warning|sev-info|sev-allowed">`.

use std::fmt::Write as _;

use super::document::{Cell, Format, Table};
use super::{NO_SCRATCH, ReportFinding, escape};

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;\
--code:#f6f8fa;--add:#dafbe1;--del:#ffebe9;--err:#cf222e;--warn:#9a6700;--info:#0969da}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;\
--line:#3d444d;--code:#151b23;--add:#12261e;--del:#25171c;--err:#f85149;--warn:#d29922;\
--info:#4493f8}}\
*{box-sizing:border-box}\
body{margin:0 auto;max-width:70rem;padding:1rem;font:16px/1.5 system-ui,-apple-system,\
'Segoe UI',sans-serif;color:var(--fg);background:var(--bg)}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid var(--line);\
overflow-wrap:anywhere}\
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid var(--line);\
padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:var(--code)}\
pre{background:var(--code);padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;\
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;margin:.3rem 0}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}\
.diff span{display:block}.diff .add{background:var(--add)}.diff .del{background:var(--del)}\
.finding{border-left:4px solid var(--info);padding:.3rem .6rem;margin:.3rem 0;\
background:var(--code)}.sev-error{border-color:var(--err)}.sev-warning{border-color:var(--warn)}\
.sev{font-weight:600;text-transform:uppercase;font-size:.8rem}\
.sev-error .sev,.s-error{color:var(--err)}.sev-warning .sev,.s-warning{color:var(--warn)}\
.sev-info .sev,.s-info{color:var(--info)}\
.muted,.help{color:var(--muted)}.note{border:1px solid var(--line);padding:.5rem}\
@media print{body{max-width:none;font-size:11pt}.scroll{overflow:visible}\
pre{white-space:pre-wrap}section.migration{break-before:page}\
a{color:inherit;text-decoration:none}}";

/// The HTML format of the report.
pub(crate) struct Html;

impl Format for Html {
    fn start(&self, out: &mut String, title: &str) {
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Release report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            escape(title)
        );
        let _ = writeln!(out, "<h1>Release report: {}</h1>", escape(title));
    }

    fn counts(&self, out: &mut String, counts: &str) {
        self.paragraph(out, counts);
    }

    fn unreachable(&self, out: &mut String, environment: &str, error: &str) {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>{}</strong> was not reached: {}</p>",
            escape(environment),
            escape(error)
        );
    }

    fn paragraph(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "<p>{}</p>", escape(text));
    }

    fn aside(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(text));
    }

    fn no_scratch(&self, out: &mut String) {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(NO_SCRATCH));
    }

    fn scratch_stopped(&self, out: &mut String, why: &str) {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>Scratch database:</strong> {}</p>",
            escape(why)
        );
    }

    fn sign_off(&self, out: &mut String, plan_hash: &str, status: &str, detail: &str) {
        let _ = writeln!(
            out,
            "<h2 id=\"sign-off\">Sign-off</h2>\n<p>Plan <code>{}</code>: {} — {}</p>",
            escape(plan_hash),
            escape(status),
            escape(detail)
        );
    }

    fn table_start(&self, out: &mut String, table: Table, headers: &[&str]) {
        out.push_str("<div class=\"scroll\">");
        // The summary and the approvals are the page's tables with an id (the browser
        // tests find them by it); a migration's tables have a class.
        let _ = match table {
            Table::Summary => write!(out, "<table id=\"summary\">\n<thead><tr>"),
            Table::Approvals => write!(out, "<table id=\"approvals\">\n<thead><tr>"),
            Table::Locks => write!(out, "<table class=\"locks\"><thead><tr>"),
            Table::Traced => write!(out, "<table class=\"traced\"><thead><tr>"),
            Table::Sizes => write!(out, "<table class=\"tables\"><thead><tr>"),
        };
        for h in headers {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str(match table {
            Table::Summary | Table::Approvals => "</tr></thead>\n<tbody>\n",
            Table::Locks | Table::Traced | Table::Sizes => "</tr></thead><tbody>\n",
        });
    }

    fn row(&self, out: &mut String, cells: &[Cell<'_>]) {
        out.push_str("<tr>");
        for c in cells {
            let _ = match *c {
                Cell::Text(text) => write!(out, "<td>{}</td>", escape(text)),
                Cell::Link { text, version } => write!(
                    out,
                    "<td><a href=\"#m-{}\">{}</a></td>",
                    escape(version),
                    escape(text)
                ),
                Cell::Severity(severity) => {
                    write!(out, "<td class=\"s-{severity}\">{severity}</td>")
                }
                Cell::Status { text, detail } => write!(
                    out,
                    "<td title=\"{}\">{}</td>",
                    escape(detail),
                    escape(text)
                ),
            };
        }
        out.push_str("</tr>\n");
    }

    fn table_end(&self, out: &mut String, table: Table) {
        out.push_str(match table {
            Table::Summary => "</tbody>\n</table></div>\n",
            Table::Approvals | Table::Locks | Table::Traced | Table::Sizes => {
                "</tbody></table></div>\n"
            }
        });
    }

    fn migration_start(
        &self,
        out: &mut String,
        version: &str,
        label: &str,
        file: &str,
        facts: &[&str],
    ) {
        let _ = writeln!(
            out,
            "<section class=\"migration\" id=\"m-{}\">\n<h2>{}</h2>",
            escape(version),
            escape(label)
        );
        let _ = write!(out, "<p class=\"muted\"><code>{}</code>", escape(file));
        for fact in facts {
            let _ = write!(out, " · {}", escape(fact));
        }
        out.push_str("</p>\n");
    }

    fn heading(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "<h3>{}</h3>", escape(text));
    }

    fn part_end(&self, _out: &mut String) {}

    fn disagreements(&self, out: &mut String, disagreements: &[String]) {
        if disagreements.is_empty() {
            return;
        }
        out.push_str("<p>Lock model and trace disagree:</p>\n<ul>\n");
        for d in disagreements {
            let _ = writeln!(out, "<li>{}</li>", escape(d));
        }
        out.push_str("</ul>\n");
    }

    fn traced_error(&self, out: &mut String, error: &str) {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>Failed on the scratch database:</strong> {}</p>",
            escape(error)
        );
    }

    fn sql_start(&self, out: &mut String, lines: usize, findings: usize, folded: bool) {
        if folded {
            let _ = writeln!(
                out,
                "<details open><summary>SQL ({lines} lines, {findings} finding(s))</summary>"
            );
        } else {
            out.push_str("<h3>SQL</h3>\n");
        }
    }

    fn sql(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "<pre class=\"sql\">{}</pre>", escape(text));
    }

    fn findings(&self, out: &mut String, findings: &[(&str, &ReportFinding)]) {
        for (sev, f) in findings {
            let _ = write!(
                out,
                "<div class=\"finding sev-{sev}\"><span class=\"sev\">{sev}</span> \
                 <strong>{}</strong> <code>{}</code> (line {}): {}",
                escape(f.code),
                escape(f.rule),
                f.line,
                escape(&f.message)
            );
            if let Some(reason) = &f.allowed {
                let _ = write!(
                    out,
                    "<br>allowed by <code>-- stagegate:allow</code>: {}",
                    escape(reason)
                );
            }
            if !f.text.is_empty() {
                let _ = write!(out, "<br>at: <code>{}</code>", escape(&f.text));
            }
            if !f.help.is_empty() {
                let _ = write!(out, "<div class=\"help\">{}</div>", escape(&f.help));
            }
            out.push_str("</div>\n");
        }
    }

    fn sql_end(&self, out: &mut String, folded: bool) {
        if folded {
            out.push_str("</details>\n");
        }
    }

    fn schema_diff(&self, out: &mut String, diff: &str) {
        if diff.is_empty() {
            out.push_str("<h3>Schema diff</h3>\n<p>No schema change.</p>\n");
            return;
        }
        out.push_str("<h3>Schema diff</h3>\n<pre class=\"diff\">");
        for line in diff.lines() {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "ctx"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else {
                "ctx"
            };
            let _ = write!(out, "<span class=\"{class}\">{}</span>", escape(line));
        }
        out.push_str("</pre>\n");
    }

    fn migration_end(&self, out: &mut String) {
        out.push_str("</section>\n");
    }

    fn end(&self, out: &mut String) {
        out.push_str("</body>\n</html>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_could_be_markup_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }
}

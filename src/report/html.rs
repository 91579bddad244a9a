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

use super::markdown::status_text;
use super::{NO_SCRATCH, ReleaseReport, ReportMigration, Segment, segments};

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

pub(crate) fn render(report: &ReleaseReport) -> String {
    let mut out = String::new();
    let title = report.title();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Release report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(out, "<h1>Release report: {}</h1>", escape(&title));
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<p>{} migration(s); findings: {} error(s), {} warning(s), {} info; {} rewrite a table.</p>",
        s.migrations, s.errors, s.warnings, s.infos, s.rewrites
    );
    for env in report.environments.iter().filter(|e| !e.reachable) {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>{}</strong> was not reached: {}</p>",
            escape(&env.name),
            escape(env.error.as_deref().unwrap_or_default())
        );
    }
    if report.migrations.is_empty() {
        out.push_str("<p>Nothing to report.</p>\n</body>\n</html>\n");
        return out;
    }
    summary_table(&mut out, report);
    if let Some(sign_off) = &report.sign_off {
        let _ = writeln!(
            out,
            "<h2 id=\"sign-off\">Sign-off</h2>\n<p>Plan <code>{}</code>: {} — {}</p>",
            escape(&sign_off.plan_hash),
            escape(sign_off.status),
            escape(&sign_off.detail)
        );
        if !sign_off.approvals.is_empty() {
            out.push_str(
                "<div class=\"scroll\"><table id=\"approvals\">\n<thead><tr><th>approver</th>\
                 <th>at (UTC)</th><th>counts</th><th>reason</th></tr></thead>\n<tbody>\n",
            );
            for a in &sign_off.approvals {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&a.approver),
                    escape(&crate::json::utc_text(a.at)),
                    escape(a.counts.label()),
                    escape(&a.reason)
                );
            }
            out.push_str("</tbody></table></div>\n");
        }
    }
    if !report.scratch.computed {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(NO_SCRATCH));
    } else if let Some(stopped) = &report.scratch.stopped {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>Scratch database:</strong> {}</p>",
            escape(stopped)
        );
    }
    for m in &report.migrations {
        migration(&mut out, report, m);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn summary_table(out: &mut String, report: &ReleaseReport) {
    out.push_str("<div class=\"scroll\"><table id=\"summary\">\n<thead><tr>");
    for h in ["migration", "severity", "lock", "rewrites"] {
        let _ = write!(out, "<th>{h}</th>");
    }
    for env in &report.environments {
        let _ = write!(out, "<th>{}</th>", escape(&env.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for m in &report.migrations {
        let severity = m.severity_label();
        let _ = write!(
            out,
            "<tr><td><a href=\"#m-{v}\">{label}</a></td><td class=\"s-{severity}\">{severity}</td>\
             <td>{lock}</td><td>{rewrites}</td>",
            v = escape(&m.version),
            label = escape(&format!("{}_{}", m.version, m.name)),
            lock = escape(m.lock.as_deref().unwrap_or("-")),
            rewrites = if m.rewrites { "yes" } else { "no" },
        );
        for env in &report.environments {
            let title = m
                .statuses
                .get(&env.name)
                .map(|s| s.detail.as_str())
                .unwrap_or_default();
            let _ = write!(
                out,
                "<td title=\"{}\">{}</td>",
                escape(title),
                escape(&status_text(m, &env.name))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn migration(out: &mut String, report: &ReleaseReport, m: &ReportMigration) {
    let _ = writeln!(
        out,
        "<section class=\"migration\" id=\"m-{}\">\n<h2>{}</h2>",
        escape(&m.version),
        escape(&format!("{}_{}", m.version, m.name))
    );
    let mut facts = vec![format!(
        "<code>{}</code>",
        escape(&m.file.display().to_string())
    )];
    if m.no_transaction {
        facts.push("runs outside a transaction (no-transaction)".to_string());
    }
    let _ = writeln!(out, "<p class=\"muted\">{}</p>", facts.join(" · "));

    out.push_str("<h3>Locks (lock model)</h3>\n");
    if m.locks.is_empty() {
        out.push_str("<p>none on existing tables.</p>\n");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table class=\"locks\"><thead><tr><th>table</th><th>lock</th>\
             <th>effect</th><th>blocks</th></tr></thead><tbody>\n",
        );
        for l in &m.locks {
            let effect = match l.effect {
                crate::analyze::Effect::Brief => "brief",
                crate::analyze::Effect::Scan => "scans the table",
                crate::analyze::Effect::Rewrite => "rewrites the table",
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{effect}</td><td>{}</td></tr>",
                escape(&l.table),
                escape(&l.lock),
                escape(l.blocks)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    match &m.traced {
        Some(traced) => {
            out.push_str("<h3>Locks (traced on the scratch database)</h3>\n");
            if traced.locks.is_empty() {
                out.push_str("<p>none on existing tables.</p>\n");
            } else {
                out.push_str(
                    "<div class=\"scroll\"><table class=\"traced\"><thead><tr><th>relation</th>\
                     <th>lock</th><th>rewritten</th></tr></thead><tbody>\n",
                );
                for l in &traced.locks {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(&l.relation),
                        escape(&l.lock),
                        if l.rewritten { "yes" } else { "no" }
                    );
                }
                out.push_str("</tbody></table></div>\n");
            }
            if !traced.disagreements.is_empty() {
                out.push_str("<p>Lock model and trace disagree:</p>\n<ul>\n");
                for d in &traced.disagreements {
                    let _ = writeln!(out, "<li>{}</li>", escape(d));
                }
                out.push_str("</ul>\n");
            }
            if let Some(error) = &traced.error {
                let _ = writeln!(
                    out,
                    "<p class=\"note\"><strong>Failed on the scratch database:</strong> {}</p>",
                    escape(error)
                );
            }
        }
        None if report.scratch.computed => {
            out.push_str("<p class=\"muted\">Not traced: the scratch run stopped before it.</p>\n");
        }
        None => {}
    }

    match &m.tables {
        Some(tables) if !tables.is_empty() => {
            let env = report.environment.as_deref().unwrap_or("the environment");
            let _ = writeln!(
                out,
                "<h3>Tables on {}</h3>\n<div class=\"scroll\"><table class=\"tables\"><thead><tr>\
                 <th>table</th><th>size</th></tr></thead><tbody>",
                escape(env)
            );
            for t in tables {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(&t.table),
                    escape(&t.describe())
                );
            }
            out.push_str("</tbody></table></div>\n");
        }
        Some(_) => {}
        None => out.push_str("<p class=\"muted\">Table sizes not read: give --env.</p>\n"),
    }

    sql(out, m);

    match &m.diff {
        Some(diff) if diff.is_empty() => {
            out.push_str("<h3>Schema diff</h3>\n<p>No schema change.</p>\n");
        }
        Some(diff) => {
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
        None => {}
    }
    out.push_str("</section>\n");
}

fn sql(out: &mut String, m: &ReportMigration) {
    let lines = m.sql.lines().count();
    let folded = lines > super::FOLD_LINES;
    if folded {
        let _ = writeln!(
            out,
            "<details open><summary>SQL ({lines} lines, {} finding(s))</summary>",
            m.findings.len()
        );
    } else {
        out.push_str("<h3>SQL</h3>\n");
    }
    for segment in segments(m) {
        match segment {
            Segment::Sql(text) if text.trim().is_empty() => {}
            Segment::Sql(text) => {
                let _ = writeln!(out, "<pre class=\"sql\">{}</pre>", escape(text));
            }
            Segment::Findings(findings) => {
                for f in findings {
                    let sev = if f.allowed.is_some() {
                        "allowed"
                    } else {
                        f.severity.label()
                    };
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
        }
    }
    if folded {
        out.push_str("</details>\n");
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

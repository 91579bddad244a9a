//! The report as Markdown that GitHub renders as a comment: table cells escaped, long SQL
//! folded in `<details>`, the schema diff in a `diff` block.

use std::fmt::Write as _;

use super::{NO_SCRATCH, ReleaseReport, ReportMigration, Segment, segments};

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

pub(crate) fn render(report: &ReleaseReport) -> String {
    let mut out = String::new();
    let title = report.title();
    let _ = writeln!(out, "# Release report: {}\n", prose(&title));
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} migration(s); findings: {} error(s), {} warning(s), {} info; {} rewrite a table.\n",
        s.migrations, s.errors, s.warnings, s.infos, s.rewrites
    );
    for env in report.environments.iter().filter(|e| !e.reachable) {
        let _ = writeln!(
            out,
            "> **{}** was not reached: {}\n",
            prose(&env.name),
            prose(env.error.as_deref().unwrap_or_default())
        );
    }
    if report.migrations.is_empty() {
        out.push_str("Nothing to report.\n");
        return out;
    }
    summary_table(&mut out, report);
    if let Some(sign_off) = &report.sign_off {
        let _ = writeln!(
            out,
            "\n**Sign-off** (plan `{}`): {} — {}\n",
            sign_off.plan_hash,
            sign_off.status,
            prose(&sign_off.detail)
        );
        if !sign_off.approvals.is_empty() {
            let _ = writeln!(
                out,
                "| approver | at (UTC) | counts | reason |\n| --- | --- | --- | --- |"
            );
            for a in &sign_off.approvals {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    cell(&a.approver),
                    crate::json::utc_text(a.at),
                    cell(a.counts.label()),
                    cell(&a.reason)
                );
            }
        }
    }
    if !report.scratch.computed {
        let _ = writeln!(out, "\n_{}_", prose(NO_SCRATCH));
    } else if let Some(stopped) = &report.scratch.stopped {
        let _ = writeln!(out, "\n> **Scratch database:** {}", prose(stopped));
    }
    for m in &report.migrations {
        migration(&mut out, report, m);
    }
    out
}

fn summary_table(out: &mut String, report: &ReleaseReport) {
    let envs: Vec<&str> = report
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut header = vec!["migration", "severity", "lock", "rewrites"];
    header.extend(envs.iter().copied());
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    for m in &report.migrations {
        let mut row = vec![
            format!(
                "[{}](#m-{})",
                cell(&format!("{}_{}", m.version, m.name)),
                m.version
            ),
            cell(m.severity_label()),
            cell(m.lock.as_deref().unwrap_or("-")),
            if m.rewrites { "yes" } else { "no" }.to_string(),
        ];
        for env in &envs {
            row.push(cell(&status_text(m, env)));
        }
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// `applied at 2026-11-21 11:40`, `pending`, ...
pub(crate) fn status_text(m: &ReportMigration, env: &str) -> String {
    let Some(status) = m.statuses.get(env) else {
        return "-".to_string();
    };
    let state = status.state.replace('-', " ");
    match status.at {
        Some(at) => format!("{state} at {}", at_text(at)),
        None => state,
    }
}

pub(crate) fn at_text(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

fn migration(out: &mut String, report: &ReleaseReport, m: &ReportMigration) {
    // The anchor the summary links to; GitHub keeps `id` on an `<a>`.
    let _ = writeln!(
        out,
        "\n<a id=\"m-{}\"></a>\n\n## {}\n",
        m.version,
        prose(&format!("{}_{}", m.version, m.name))
    );
    let mut facts = vec![format!("`{}`", cell(&m.file.display().to_string()))];
    if m.no_transaction {
        facts.push("runs outside a transaction (no-transaction)".to_string());
    }
    let _ = writeln!(out, "{}\n", facts.join(" · "));

    let _ = writeln!(out, "**Locks (lock model):**");
    if m.locks.is_empty() {
        let _ = writeln!(out, "none on existing tables.");
    } else {
        out.push('\n');
        let _ = writeln!(
            out,
            "| table | lock | effect | blocks |\n| --- | --- | --- | --- |"
        );
        for l in &m.locks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&l.table),
                cell(&l.lock),
                effect_label(l.effect),
                cell(l.blocks)
            );
        }
    }
    out.push('\n');
    match &m.traced {
        Some(traced) => {
            let _ = writeln!(out, "**Locks (traced on the scratch database):**");
            if traced.locks.is_empty() {
                let _ = writeln!(out, "none on existing tables.");
            } else {
                out.push('\n');
                let _ = writeln!(out, "| relation | lock | rewritten |\n| --- | --- | --- |");
                for l in &traced.locks {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} |",
                        cell(&l.relation),
                        cell(&l.lock),
                        if l.rewritten { "yes" } else { "no" }
                    );
                }
            }
            for d in &traced.disagreements {
                let _ = writeln!(out, "\n- lock model and trace disagree: {}", prose(d));
            }
            if let Some(error) = &traced.error {
                let _ = writeln!(
                    out,
                    "\n> **failed on the scratch database:** {}",
                    prose(error)
                );
            }
            out.push('\n');
        }
        None if report.scratch.computed => {
            let _ = writeln!(out, "_Not traced: the scratch run stopped before it._\n");
        }
        None => {}
    }

    match &m.tables {
        Some(tables) if !tables.is_empty() => {
            let env = report.environment.as_deref().unwrap_or("the environment");
            let _ = writeln!(
                out,
                "**Tables on {}:**\n\n| table | size |\n| --- | --- |",
                prose(env)
            );
            for t in tables {
                let _ = writeln!(out, "| {} | {} |", cell(&t.table), cell(&t.describe()));
            }
            out.push('\n');
        }
        Some(_) => {}
        None => {
            let _ = writeln!(out, "_Table sizes not read: give --env._\n");
        }
    }

    sql(out, m);

    match &m.diff {
        Some(diff) if diff.is_empty() => {
            let _ = writeln!(out, "\n**Schema diff:** no schema change.");
        }
        Some(diff) => {
            let _ = writeln!(out, "\n**Schema diff:**\n");
            code_block(out, "diff", diff);
        }
        None => {}
    }
}

fn effect_label(effect: crate::analyze::Effect) -> &'static str {
    match effect {
        crate::analyze::Effect::Brief => "brief",
        crate::analyze::Effect::Scan => "scans the table",
        crate::analyze::Effect::Rewrite => "rewrites the table",
    }
}

fn sql(out: &mut String, m: &ReportMigration) {
    let lines = m.sql.lines().count();
    let folded = lines > super::FOLD_LINES;
    if folded {
        let _ = writeln!(
            out,
            "<details><summary>SQL ({lines} lines, {} finding(s))</summary>\n",
            m.findings.len()
        );
    } else {
        let _ = writeln!(out, "**SQL:**\n");
    }
    for segment in segments(m) {
        match segment {
            Segment::Sql(text) if text.trim().is_empty() => {}
            Segment::Sql(text) => code_block(out, "sql", text),
            Segment::Findings(findings) => {
                out.push('\n');
                for f in findings {
                    let _ = writeln!(
                        out,
                        "> **{}** {} `{}` (line {}): {}",
                        if f.allowed.is_some() {
                            "allowed"
                        } else {
                            f.severity.label()
                        },
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
                            super::html::escape(&f.text.replace('\n', " "))
                        );
                    }
                    if !f.help.is_empty() {
                        let _ = writeln!(out, ">\n> {}", prose(&f.help));
                    }
                    out.push('\n');
                }
            }
        }
    }
    if folded {
        let _ = writeln!(out, "\n</details>");
    }
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

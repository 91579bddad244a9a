//! `stagegate rule [CODE_OR_NAME]`: the rule catalog, or one rule's documentation.

use std::fmt::Write as _;

use crate::cli::{RuleArgs, TableFormat};
use crate::exit::Outcome;
use crate::lint::registry::{self, RULES};

pub fn run(args: &RuleArgs) -> anyhow::Result<Outcome> {
    if let Some(wanted) = &args.rule {
        let Some(rule) = registry::find(wanted) else {
            anyhow::bail!("no rule `{wanted}`; `stagegate rule` lists them all");
        };
        let mut text = rule.doc();
        let _ = writeln!(
            text,
            "\nDefault severity: {}. Suppress one statement with `-- stagegate:allow {} -- <reason>`.",
            rule.severity.label(),
            rule.code
        );
        super::print_report(&text)?;
        return Ok(Outcome::Success);
    }
    let text = match args.format {
        TableFormat::Json => {
            let rules: Vec<serde_json::Value> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity,
                        "summary": r.summary,
                    })
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&rules)?;
            text.push('\n');
            text
        }
        TableFormat::Table => table(),
    };
    super::print_report(&text)?;
    Ok(Outcome::Success)
}

/// The catalog as an aligned table.
fn table() -> String {
    let header = ["CODE", "NAME", "SEVERITY", "SUMMARY"];
    let rows: Vec<[&str; 4]> = RULES
        .iter()
        .map(|r| [r.code, r.name, r.severity.label(), r.summary])
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

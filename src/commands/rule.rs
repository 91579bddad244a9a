//! `stagegate rule [CODE_OR_NAME]`: the rule catalog, or one rule's documentation.

use std::fmt::Write as _;

use crate::cli::{RuleArgs, TableFormat};
use crate::exit::Outcome;
use crate::lint::registry::{self, RULES};

pub(super) fn run(args: &RuleArgs) -> anyhow::Result<Outcome> {
    if let Some(wanted) = &args.rule {
        let Some(rule) = registry::find(wanted) else {
            let hint = match nearest(wanted) {
                Some(rule) => format!("did you mean `{}` ({})? ", rule.name, rule.code),
                None => String::new(),
            };
            anyhow::bail!("no rule `{wanted}`; {hint}`stagegate rule` lists them all");
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
            return super::print_document(&crate::json::to_string(
                serde_json::json!({ "rules": rules }),
            )?)
            .map(|()| Outcome::Success);
        }
        TableFormat::Table => table(),
    };
    super::print_report(&text)?;
    Ok(Outcome::Success)
}

/// The rule whose name or code is closest to `wanted` (edit distance, ignoring case), when it
/// is close enough to be a typo: at most a third of the longer text, and at least 2 for
/// short codes. A name that holds `wanted` as a whole word group (`concurrent-index`) is
/// taken first.
fn nearest(wanted: &str) -> Option<&'static registry::Rule> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return None;
    }
    if wanted.len() >= 4
        && let Some(rule) = RULES.iter().find(|r| r.name.contains(wanted.as_str()))
    {
        return Some(rule);
    }
    RULES
        .iter()
        .flat_map(|rule| {
            [rule.name, rule.code].map(|candidate| {
                let candidate = candidate.to_ascii_lowercase();
                let limit = (wanted.len().max(candidate.len()) / 3).max(2);
                let distance = edit_distance(&wanted, &candidate);
                (distance <= limit).then_some((distance, rule))
            })
        })
        .flatten()
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, rule)| rule)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("sg101", "sg101"), 0);
    }

    #[test]
    fn nearest_rule_for_a_typo_a_fragment_and_nothing_close() {
        let first = &RULES[0];
        let mut typo = first.name.to_string();
        typo.remove(2);
        assert_eq!(nearest(&typo).map(|r| r.code), Some(first.code));
        let fragment = first.name.split('-').take(2).collect::<Vec<_>>().join("-");
        assert!(nearest(&fragment).is_some_and(|r| r.name.contains(&fragment)));
        assert!(nearest("zzzzzzzzzzzzzzzzzzzz").is_none());
    }
}

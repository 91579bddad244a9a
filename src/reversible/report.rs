//! The check's report as text for people and as JSON for scripts. Pure: returns strings.

use std::fmt::Write as _;

use super::{CheckedMigration, Reversibility, ReversibilityReport};

/// One line per migration (with the file, the error and the diff under it), then a summary.
pub(crate) fn text(report: &ReversibilityReport) -> String {
    let mut out = String::new();
    for checked in &report.migrations {
        let _ = writeln!(out, "{}: {}", checked.label(), headline(checked));
        if let Some(file) = &checked.file {
            let _ = writeln!(out, "  file: {}", file.display());
        }
        if let Some(diff) = &checked.diff {
            for line in diff.lines() {
                let _ = writeln!(out, "{}", format!("  {line}").trim_end());
            }
        }
    }
    if !report.migrations.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(report));
    if let Some(stopped) = &report.stopped {
        let _ = writeln!(out, "stopped: {stopped}");
    }
    out
}

/// The report as pretty-printed JSON (shape: [`ReversibilityReport`], versioned by its `version`).
pub(crate) fn json(report: &ReversibilityReport) -> String {
    let mut out = serde_json::to_string_pretty(report).expect("the report serialises");
    out.push('\n');
    out
}

fn headline(checked: &CheckedMigration) -> String {
    let error = checked.error.as_deref().unwrap_or_default();
    match checked.status {
        Reversibility::Ok => "ok: the down script restores the schema".to_string(),
        Reversibility::DownFailed => format!("down failed: {error}"),
        Reversibility::SchemaDiffers => format!("schema differs after the down script: {error}"),
        Reversibility::NoDown if checked.error.is_some() => {
            format!("no down script: downgrade() could not be rendered to SQL ({error})")
        }
        Reversibility::NoDown => "no down script: there is no way back".to_string(),
        Reversibility::EmptyDown => {
            "empty down script (comments only): there is no way back".to_string()
        }
        Reversibility::UpFailed => format!("up failed: {error}"),
        Reversibility::UpAgainFailed => format!(
            "up failed when run again after the down script, which left something the schema \
             dump does not show (rows, sequence values): {error}"
        ),
        Reversibility::Applied => "applied, not checked (before --from)".to_string(),
        Reversibility::NotChecked => "not checked".to_string(),
    }
}

fn summary(report: &ReversibilityReport) -> String {
    let s = &report.summary;
    let mut out = if report.reversible {
        format!(
            "reversible: {} of {} checked migration(s)",
            s.reversible, s.checked
        )
    } else {
        let mut counts: Vec<(Reversibility, &str, usize)> = [
            (Reversibility::DownFailed, "down failed"),
            (Reversibility::SchemaDiffers, "schema differs"),
            (Reversibility::NoDown, "no down script"),
            (Reversibility::EmptyDown, "empty down script"),
            (Reversibility::UpFailed, "up failed"),
            (Reversibility::UpAgainFailed, "up failed again"),
        ]
        .into_iter()
        .map(|(status, what)| {
            let n = report
                .migrations
                .iter()
                .filter(|c| c.status == status)
                .count();
            (status, what, n)
        })
        .collect();
        counts.retain(|(_, _, n)| *n > 0);
        let counts: Vec<String> = counts
            .iter()
            .map(|(_, what, n)| format!("{n} {what}"))
            .collect();
        format!(
            "not reversible: {} of {} checked migration(s) ({}); {} reversible",
            s.not_reversible,
            s.checked,
            counts.join(", "),
            s.reversible
        )
    };
    if s.applied_only > 0 {
        let _ = write!(out, "; {} applied before --from", s.applied_only);
    }
    if s.not_checked > 0 {
        let _ = write!(out, "; {} not checked", s.not_checked);
    }
    out
}

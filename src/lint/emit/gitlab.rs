//! `--format gitlab`: a GitLab Code Quality report, the JSON array that a job's
//! `artifacts:reports:codequality` shows on the merge request. Each issue has a description,
//! a check name, a severity, a location (path and first line) and a fingerprint that stays the
//! same while the statement does, so moved lines are not reported as new issues.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Emitter, FileReport, LintSummary};
use crate::lint::Severity;

/// The Code Quality emitter.
#[derive(Debug, Default)]
pub(crate) struct Gitlab {
    wrote: bool,
}

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'a str,
    fingerprint: String,
    severity: &'static str,
    location: GitlabLocation<'a>,
}

#[derive(Serialize)]
struct GitlabLocation<'a> {
    path: &'a str,
    lines: GitlabLines,
}

#[derive(Serialize)]
struct GitlabLines {
    begin: usize,
}

/// Code Quality's severities: info, minor, major, critical, blocker.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

impl Emitter for Gitlab {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"[")
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        // The same finding on the same statement text twice in one file: told apart by count.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for finding in file.findings {
            let start = finding.statement.start.min(file.text.len());
            let end = finding.statement.end.clamp(start, file.text.len());
            let mut hasher = Sha256::new();
            for part in [
                file.path,
                finding.code,
                finding.message.as_str(),
                &file.text[start..end],
            ] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
            let mut fingerprint = format!("{:x}", hasher.finalize());
            let count = seen.entry(fingerprint.clone()).or_insert(0);
            if *count > 0 {
                fingerprint = format!("{:x}", Sha256::digest(format!("{fingerprint}:{count}")));
            }
            *count += 1;
            let issue = Issue {
                description: format!("{} ({})", finding.message, finding.help),
                check_name: finding.code,
                fingerprint,
                severity: severity(finding.severity),
                location: GitlabLocation {
                    path: file.path,
                    lines: GitlabLines {
                        begin: finding.line,
                    },
                },
            };
            out.write_all(if self.wrote { b",\n  " } else { b"\n  " })?;
            serde_json::to_writer(&mut *out, &issue)?;
            self.wrote = true;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _summary: &LintSummary) -> io::Result<()> {
        out.write_all(if self.wrote { b"\n]\n" } else { b"]\n" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::emit::test_support::render;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&mut Gitlab::default()));
    }

    #[test]
    fn every_issue_has_the_required_fields_and_a_unique_fingerprint() {
        let rendered = render(&mut Gitlab::default());
        let issues: Vec<serde_json::Value> = serde_json::from_str(&rendered).unwrap();
        assert!(issues.len() >= 2);
        let mut fingerprints = std::collections::HashSet::new();
        for issue in &issues {
            assert!(issue["description"].is_string());
            assert!(issue["check_name"].as_str().unwrap().starts_with("SG"));
            assert!(
                ["info", "minor", "major", "critical", "blocker"]
                    .contains(&issue["severity"].as_str().unwrap())
            );
            assert!(issue["location"]["path"].is_string());
            assert!(issue["location"]["lines"]["begin"].as_u64().unwrap() >= 1);
            assert!(fingerprints.insert(issue["fingerprint"].as_str().unwrap().to_string()));
        }
        let mut empty = Gitlab::default();
        let mut out = Vec::new();
        empty.begin(&mut out).unwrap();
        empty.finish(&mut out, &LintSummary::default()).unwrap();
        assert!(
            serde_json::from_slice::<Vec<serde_json::Value>>(&out)
                .unwrap()
                .is_empty()
        );
    }
}

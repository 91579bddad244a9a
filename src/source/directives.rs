//! `-- stagegate:...` comments in migration files.
//!
//! ```sql
//! -- stagegate:no-transaction
//! -- stagegate:lock-timeout 2s
//! -- stagegate:statement-timeout 30min
//! -- stagegate:allow SG201 -- the column was unused since release 41
//! -- stagegate:allow-file SG101,SG102 -- table is created in this file
//! ```
//!
//! A directive must stand on its own line. `allow` applies to the next statement; `allow-file`
//! to the whole file. Both need a reason after ` -- `.

use serde::Serialize;

use crate::duration::HumanDuration;

/// What a directive says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DirectiveKind {
    NoTransaction,
    LockTimeout { value: String },
    StatementTimeout { value: String },
    Allow { codes: Vec<String>, reason: String },
    AllowFile { codes: Vec<String>, reason: String },
}

/// One directive and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// 1-based line in the file.
    pub line: usize,
    /// Byte offset of the directive's line in the script text.
    pub offset: usize,
    #[serde(flatten)]
    pub kind: DirectiveKind,
}

/// Settings a script's directives set for running it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptSettings {
    pub no_transaction: bool,
    pub lock_timeout: Option<HumanDuration>,
    pub statement_timeout: Option<HumanDuration>,
}

impl ScriptSettings {
    /// Adds the settings of another part of the same script (an Alembic revision's file
    /// comments): a setting written there counts unless this part set it too.
    pub fn merge(&mut self, other: ScriptSettings) {
        self.no_transaction |= other.no_transaction;
        if self.lock_timeout.is_none() {
            self.lock_timeout = other.lock_timeout;
        }
        if self.statement_timeout.is_none() {
            self.statement_timeout = other.statement_timeout;
        }
    }
}

/// Where the lint directives (`allow`, `allow-file`) stand: their lines' byte offsets. They
/// change no SQL, so a checksum leaves these lines out ([`super::checksum::without_lines`]).
pub(crate) fn lint_directive_lines(directives: &[Directive]) -> Vec<usize> {
    directives
        .iter()
        .filter(|d| {
            matches!(
                d.kind,
                DirectiveKind::Allow { .. } | DirectiveKind::AllowFile { .. }
            )
        })
        .map(|d| d.offset)
        .collect()
}

/// `text` (normalised) without its lint directive lines; `None` when its directives cannot
/// be read.
pub(crate) fn without_lint_directives(text: &str) -> Option<String> {
    let text = super::checksum::normalize(text);
    let (directives, _) = parse(&text, 1).ok()?;
    Some(super::checksum::without_lines(
        &text,
        &lint_directive_lines(&directives),
    ))
}

/// A directive that could not be understood: `line` is 1-based in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    pub line: usize,
    pub message: String,
}

const PREFIX: &str = "stagegate:";
const KNOWN: &str = "no-transaction, lock-timeout, statement-timeout, allow, allow-file";

/// Finds every directive in `text`. `first_line` is the file line number of the text's first
/// line (scripts that are sections of a file start further down).
pub fn parse(
    text: &str,
    first_line: usize,
) -> Result<(Vec<Directive>, ScriptSettings), DirectiveError> {
    let mut directives = Vec::new();
    let mut settings = ScriptSettings::default();
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_offset = offset;
        offset += raw_line.len();
        let Some(comment) = raw_line.trim_start().strip_prefix("--") else {
            continue;
        };
        let Some(body) = comment.trim_start().strip_prefix(PREFIX) else {
            continue;
        };
        let line = first_line + index;
        let error = |message: String| DirectiveError { line, message };
        let body = body.trim_end();
        let (name, argument) = match body.find(char::is_whitespace) {
            Some(space) => (&body[..space], body[space..].trim()),
            None => (body, ""),
        };
        let kind = match name {
            "no-transaction" => {
                if !argument.is_empty() {
                    return Err(error(format!(
                        "`stagegate:no-transaction` takes no argument, found `{argument}`"
                    )));
                }
                settings.no_transaction = true;
                DirectiveKind::NoTransaction
            }
            "lock-timeout" | "statement-timeout" => {
                let value: HumanDuration = argument
                    .parse()
                    .map_err(|message| error(format!("`stagegate:{name}`: {message}")))?;
                if name == "lock-timeout" {
                    settings.lock_timeout = Some(value);
                    DirectiveKind::LockTimeout {
                        value: value.to_string(),
                    }
                } else {
                    settings.statement_timeout = Some(value);
                    DirectiveKind::StatementTimeout {
                        value: value.to_string(),
                    }
                }
            }
            "allow" | "allow-file" => {
                let (codes_text, reason) = match argument.split_once("--") {
                    Some((codes, reason)) => (codes.trim(), reason.trim()),
                    None => (argument, ""),
                };
                let codes: Vec<String> = codes_text
                    .split([',', ' ', '\t'])
                    .filter(|code| !code.is_empty())
                    .map(str::to_string)
                    .collect();
                if codes.is_empty() {
                    return Err(error(format!(
                        "`stagegate:{name}` names no rule: write `-- stagegate:{name} SG101 -- <reason>`"
                    )));
                }
                if reason.is_empty() {
                    return Err(error(format!(
                        "`stagegate:{name} {}` has no reason: write `-- stagegate:{name} {} -- <why this is safe>`",
                        codes.join(","),
                        codes.join(",")
                    )));
                }
                let reason = reason.to_string();
                if name == "allow" {
                    DirectiveKind::Allow { codes, reason }
                } else {
                    DirectiveKind::AllowFile { codes, reason }
                }
            }
            other => {
                return Err(error(format!(
                    "unknown directive `stagegate:{other}` (known: {KNOWN})"
                )));
            }
        };
        directives.push(Directive {
            line,
            offset: line_offset,
            kind,
        });
    }
    Ok((directives, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_allows() {
        let text = "-- stagegate:no-transaction\n--stagegate:lock-timeout 2s\n-- stagegate:allow SG201, SG202 -- column unused since v41\nALTER TABLE t DROP COLUMN c;\n";
        let (directives, settings) = parse(text, 1).unwrap();
        assert!(settings.no_transaction);
        assert_eq!(settings.lock_timeout.unwrap().to_string(), "2s");
        assert_eq!(directives.len(), 3);
        assert_eq!(directives[2].line, 3);
        assert_eq!(
            directives[2].kind,
            DirectiveKind::Allow {
                codes: vec!["SG201".into(), "SG202".into()],
                reason: "column unused since v41".into()
            }
        );
    }

    #[test]
    fn allow_without_reason_is_an_error_with_its_line() {
        let error = parse("SELECT 1;\n-- stagegate:allow SG201\n", 10).unwrap_err();
        assert_eq!(error.line, 11);
        assert!(error.message.contains("has no reason"), "{}", error.message);
    }

    #[test]
    fn unknown_directive_and_bad_duration_are_errors() {
        let error = parse("-- stagegate:no-transactions\n", 1).unwrap_err();
        assert!(
            error
                .message
                .contains("unknown directive `stagegate:no-transactions`")
        );
        let error = parse("-- stagegate:lock-timeout soon\n", 1).unwrap_err();
        assert!(error.message.contains("lock-timeout"), "{}", error.message);
    }

    #[test]
    fn mentions_in_code_or_mid_line_comments_are_not_directives() {
        let (directives, settings) = parse(
            "SELECT 1; -- stagegate:no-transaction\n-- see stagegate:allow docs\n",
            1,
        )
        .unwrap();
        assert!(directives.is_empty());
        assert!(!settings.no_transaction);
    }
}

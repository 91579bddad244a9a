//! The confirmation gate: before a change reaches an environment with `confirm`, a person
//! types the environment's name (or the configured phrase) and a reason on a terminal, after
//! seeing what will run; without a terminal, `--confirm <that same text> --reason "..."` says
//! the same, compared by the same rule ([`typed_matches`]). Anything else refuses, and nothing
//! runs. There is no blanket `--yes`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use super::plan::Plan;
use crate::config::Environment;
use crate::exit;
use crate::lint::Severity;
use crate::visible;

/// What the command line brought for the gate.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// `--confirm TEXT`: the environment's phrase (its name for `confirm = true`, or for an
    /// environment without a confirmation gate).
    pub flag: Option<String>,
    /// `--reason TEXT`.
    pub reason: Option<String>,
}

/// How the change was confirmed, for the event log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Confirmation {
    /// `typed` (at the prompt), `flag` (`--confirm`), or `not-required` (the environment has
    /// no confirmation gate; a `--reason` was still given and is kept).
    pub method: &'static str,
    pub reason: String,
}

/// Where the gate's questions are asked and answered.
pub(crate) trait Terminal {
    /// Whether a person can answer (stdin and stderr are a terminal).
    fn is_interactive(&self) -> bool;
    /// Shows `text` (no newline added).
    fn show(&mut self, text: &str);
    /// One line of input without its line ending; `None` at end of input.
    fn read_line(&mut self) -> Option<String>;
}

/// The process's own terminal: questions on stderr, answers from stdin. What it shows has
/// control characters made visible ([`crate::visible`]), so a file name or a finding
/// cannot hide or rewrite the summary and the prompt after it.
pub(crate) struct Stdio;

impl Terminal for Stdio {
    fn is_interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    fn show(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(visible::text(text).as_bytes());
        let _ = err.flush();
    }

    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }
}

/// Whether `typed` is the confirmation `expected`: the same text, case and all, with only the
/// white space around it ignored. The prompt and `--confirm` both answer with this.
pub(crate) fn typed_matches(expected: &str, typed: &str) -> bool {
    typed.trim() == expected
}

/// What `--confirm` must say on `env`: the configured phrase (the environment's name for
/// `confirm = true`), or the environment's name where there is no confirmation gate.
pub(crate) fn expected_flag(env: &Environment) -> &str {
    env.confirm.as_deref().unwrap_or(&env.name)
}

/// Refuses `--confirm`/`--reason` that can never pass, before anything connects.
pub(crate) fn check_flags(env: &Environment, request: &Request, what: &str) -> anyhow::Result<()> {
    let refuse = |message: String| {
        exit::refused(anyhow::anyhow!(
            "refusing to {what} on `{}`: {message}; nothing was run",
            env.name
        ))
    };
    if request.reason.as_deref().is_some_and(visible::is_blank) {
        return Err(refuse(
            "--reason shows nothing: say why this change is made, in visible characters".into(),
        ));
    }
    if let Some(named) = &request.flag {
        let expected = expected_flag(env);
        if !typed_matches(expected, named) {
            return Err(refuse(if expected == env.name {
                format!(
                    "--confirm names `{}`, but the target is `{}`: it must name the target",
                    named.trim(),
                    env.name
                )
            } else {
                format!(
                    "--confirm says `{}`, but `{}` is confirmed with `{expected}` (its \
                     `confirm` phrase, as typed at the prompt)",
                    named.trim(),
                    env.name
                )
            }));
        }
        if request.reason.is_none() {
            return Err(refuse(format!(
                "--confirm {named} needs --reason \"...\": the reason is recorded in the event log"
            )));
        }
    }
    Ok(())
}

/// Runs the gate on `env`, showing `summary` (what will run) before the prompt. `Ok(None)`: no
/// gate and nothing to record. `what` names the action ("apply 2 migration(s)", "roll back 1
/// migration(s)").
pub(crate) fn obtain(
    env: &Environment,
    summary: &str,
    what: &str,
    request: &Request,
    terminal: &mut dyn Terminal,
) -> anyhow::Result<Option<Confirmation>> {
    let refuse = |message: String| {
        exit::refused(anyhow::anyhow!(
            "refusing to {what} on `{}`: {message}; nothing was run",
            env.name
        ))
    };
    check_flags(env, request, what)?;
    let reason_flag = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !visible::is_blank(r));
    if let Some(reason) = reason_flag.filter(|_| request.flag.is_some()) {
        return Ok(Some(Confirmation {
            method: if env.confirm.is_some() {
                "flag"
            } else {
                "not-required"
            },
            reason: reason.to_string(),
        }));
    }
    let Some(phrase) = &env.confirm else {
        return Ok(reason_flag.map(|reason| Confirmation {
            method: "not-required",
            reason: reason.to_string(),
        }));
    };
    if !terminal.is_interactive() {
        return Err(refuse(format!(
            "`{}` needs a confirmation: run on a terminal to type it, or pass --confirm {} \
             --reason \"...\"",
            env.name,
            shell_word(phrase)
        )));
    }
    terminal.show(summary);
    terminal.show(&format!("Type `{phrase}` to {what} on `{}`: ", env.name));
    let Some(answer) = terminal.read_line() else {
        terminal.show("\n");
        return Err(refuse("no confirmation was typed (end of input)".into()));
    };
    if !typed_matches(phrase, &answer) {
        return Err(refuse(format!(
            "`{}` was typed, not `{phrase}`",
            visible::line(answer.trim())
        )));
    }
    let reason = match reason_flag {
        Some(reason) => reason.to_string(),
        None => {
            terminal.show("Reason (recorded in the event log): ");
            match terminal.read_line().map(|r| r.trim().to_string()) {
                None => {
                    terminal.show("\n");
                    return Err(refuse("no reason was given (end of input)".into()));
                }
                Some(reason) if visible::is_blank(&reason) => {
                    return Err(refuse(
                        "the reason shows nothing: say why, in visible characters".into(),
                    ));
                }
                Some(reason) => reason,
            }
        }
    };
    Ok(Some(Confirmation {
        method: "typed",
        reason,
    }))
}

/// `text` as one shell word, for a command shown to be copied.
pub(crate) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What the gate needs besides the environment.
pub(crate) struct Step<'a> {
    /// `apply` or `down`, for the record.
    pub action: &'static str,
    /// "apply 2 migration(s)", for the prompt and messages.
    pub what: String,
    /// Shown on the terminal before the prompt.
    pub summary: String,
    /// The versions concerned.
    pub migrations: Vec<String>,
    /// The plan hash, where there is one.
    pub plan_hash: Option<&'a str>,
    pub request: &'a Request,
    /// The migrations directory, whose git commit is recorded.
    pub migrations_dir: &'a std::path::Path,
    pub os_user: Option<&'a str>,
}

/// The whole gate: the prompt (on a terminal, off the async thread) or the flags, then the
/// confirmation's record in the event log, with who confirmed, from where and why.
pub(crate) async fn gate(
    env: &Environment,
    step: Step<'_>,
    store: &mut crate::db::state::StateStore,
) -> anyhow::Result<()> {
    let confirmation = {
        let (env, request) = (env.clone(), step.request.clone());
        let (summary, what) = (step.summary.clone(), step.what.clone());
        tokio::task::spawn_blocking(move || obtain(&env, &summary, &what, &request, &mut Stdio))
            .await
            .map_err(|e| anyhow::anyhow!("the confirmation prompt: {e}"))??
    };
    let Some(confirmation) = confirmation else {
        return Ok(());
    };
    let who = {
        let dir = step.migrations_dir.to_path_buf();
        tokio::task::spawn_blocking(move || crate::who::Who::here(&dir))
            .await
            .unwrap_or_default()
    };
    let detail = serde_json::json!({
        "environment": env.name,
        "action": step.action,
        "method": confirmation.method,
        "reason": confirmation.reason,
        "plan_hash": step.plan_hash,
        "migrations": step.migrations,
        "who": who,
    });
    store.ensure_schema().await.map_err(exit::execution)?;
    store
        .record_run_event(
            "confirmation",
            None,
            None,
            step.os_user,
            &detail.to_string(),
        )
        .await
        .map_err(exit::execution)?;
    Ok(())
}

/// Where the backup of a gated environment goes, for the summary.
pub(crate) fn backup_line(env: &Environment) -> Option<String> {
    env.backup
        .as_ref()
        .map(|b| format!("pg_dump into {}", b.dir.display()))
}

/// What a person confirms: the migrations, their error and warning findings, the strongest
/// lock per table, and where the backup goes.
pub(crate) fn summary(env: &Environment, plan: &Plan, what: &str, backup: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "About to {what} on `{}`:", env.name);
    for m in &plan.migrations {
        let _ = writeln!(
            out,
            "  {} {} ({}, {} statement(s))",
            m.version,
            visible::line(&m.name),
            m.mode,
            m.statements
        );
    }
    let findings: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info.label())
        .collect();
    if !findings.is_empty() {
        let _ = writeln!(out, "Findings:");
        for f in findings {
            let _ = writeln!(
                out,
                "  {} line {}: {} {} {}",
                f.version,
                f.line,
                f.severity,
                f.code,
                visible::line(&f.message)
            );
        }
    }
    // The strongest lock per table over every migration.
    let mut strongest: BTreeMap<&str, &super::plan::LockSummary> = BTreeMap::new();
    for lock in &plan.locks {
        let slot = strongest.entry(lock.table.as_str()).or_insert(lock);
        if lock_rank(&lock.lock) > lock_rank(&slot.lock) {
            *slot = lock;
        }
    }
    if !strongest.is_empty() {
        let _ = writeln!(out, "Locks (strongest per table):");
        for (table, lock) in strongest {
            let _ = writeln!(
                out,
                "  {}: {} (blocks {})",
                visible::line(table),
                lock.lock,
                lock.blocks
            );
        }
    }
    if let Some(backup) = backup {
        let _ = writeln!(
            out,
            "Backup: {}, before the first statement",
            visible::line(backup)
        );
    }
    out
}

/// PostgreSQL's table lock modes, weakest first.
fn lock_rank(mode: &str) -> usize {
    [
        "ACCESS SHARE",
        "ROW SHARE",
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ]
    .iter()
    .position(|m| *m == mode)
    .unwrap_or(0)
}

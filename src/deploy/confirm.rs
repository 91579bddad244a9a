//! The confirmation gate: before a change reaches an environment with `confirm`, a person
//! types the environment's name (or the configured phrase) and a reason on a terminal, after
//! seeing what will run; without a terminal, `--confirm <that same text> --reason "..."` says
//! the same, compared by the same rule ([`typed_matches`]). Anything else refuses, and nothing
//! runs. There is no blanket `--yes`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::plan::Plan;
use super::shell_word;
use crate::config::Environment;
use crate::exit;
use crate::lint::Severity;
use crate::visible;

/// What the command line brought for the gate.
#[derive(Clone, Default)]
pub(crate) struct ConfirmRequest {
    /// `--confirm TEXT`: the environment's phrase (its name for `confirm = true`, or for an
    /// environment without a confirmation gate).
    pub flag: Option<String>,
    /// `--reason TEXT`.
    pub reason: Option<String>,
    /// Where a person can be asked, when one can (the command layer's terminal); `None`:
    /// nobody can answer, so a gated environment needs `--confirm` and `--reason`.
    pub terminal: Option<Arc<dyn Terminal>>,
}

impl std::fmt::Debug for ConfirmRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmRequest")
            .field("flag", &self.flag)
            .field("reason", &self.reason)
            .field("terminal", &self.terminal.is_some())
            .finish()
    }
}

/// How the change was confirmed, for the event log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Confirmation {
    /// `typed` (at the prompt), `flag` (`--confirm`), or `not-required` (the environment has
    /// no confirmation gate; a `--reason` was still given and is kept).
    pub method: &'static str,
    pub reason: String,
}

/// Where the gate's questions are asked and answered: implemented by the command layer
/// (`commands::terminal`), so the engine itself never touches a terminal. What the gate
/// shows through it has control characters made visible already ([`crate::visible`]), so a
/// file name or a finding cannot hide or rewrite the summary and the prompt after it.
pub(crate) trait Terminal: Send + Sync {
    /// Shows `text` (no newline added).
    fn show(&self, text: &str);
    /// One line of input without its line ending; `None` at end of input.
    fn read_line(&self) -> Option<String>;
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
pub(crate) fn check_flags(
    env: &Environment,
    request: &ConfirmRequest,
    what: &str,
) -> anyhow::Result<()> {
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
    request: &ConfirmRequest,
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
    let Some(terminal) = request.terminal.as_deref() else {
        return Err(refuse(format!(
            "`{}` needs a confirmation: run on a terminal to type it, or pass --confirm {} \
             --reason \"...\"",
            env.name,
            shell_word(phrase)
        )));
    };
    let show = |text: &str| terminal.show(&visible::text(text));
    show(summary);
    show(&format!("Type `{phrase}` to {what} on `{}`: ", env.name));
    let Some(answer) = terminal.read_line() else {
        show("\n");
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
            show("Reason (recorded in the event log): ");
            match terminal.read_line().map(|r| r.trim().to_string()) {
                None => {
                    show("\n");
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

/// What the gate needs besides the environment.
pub(crate) struct ConfirmedStep<'a> {
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
    pub request: &'a ConfirmRequest,
    /// The migrations directory, whose git commit is recorded.
    pub migrations_dir: &'a std::path::Path,
    pub os_user: Option<&'a str>,
}

/// The whole gate: the prompt (on a terminal, off the async thread) or the flags, then the
/// confirmation's record in the event log, with who confirmed, from where and why.
pub(crate) async fn gate(
    env: &Environment,
    step: ConfirmedStep<'_>,
    store: &mut crate::db::state::StateStore,
) -> anyhow::Result<()> {
    let confirmation = {
        let (env, request) = (env.clone(), step.request.clone());
        let (summary, what) = (step.summary.clone(), step.what.clone());
        tokio::task::spawn_blocking(move || obtain(&env, &summary, &what, &request))
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{ConfirmRequest, Terminal, obtain};
    use crate::config::{Config, Environment};

    /// A person at a terminal, as a script: the answers they type, and what they were shown.
    struct ScriptedTerminal {
        answers: Mutex<Vec<&'static str>>,
        shown: Mutex<String>,
    }

    impl Terminal for ScriptedTerminal {
        fn show(&self, text: &str) {
            self.shown.lock().unwrap().push_str(text);
        }
        fn read_line(&self) -> Option<String> {
            let mut answers = self.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0).to_string())
        }
    }

    fn production() -> Environment {
        let text = "[environments.production]\nurl = \"postgres://h/db\"\nconfirm = \"SHIP IT\"\n";
        Config::parse(text, std::path::Path::new("/x/stagegate.toml"))
            .unwrap()
            .environment("production")
            .unwrap()
    }

    fn ask(answers: Vec<&'static str>) -> (anyhow::Result<Option<super::Confirmation>>, String) {
        let script = Arc::new(ScriptedTerminal {
            answers: Mutex::new(answers),
            shown: Mutex::new(String::new()),
        });
        let request = ConfirmRequest {
            terminal: Some(Arc::clone(&script) as Arc<dyn Terminal>),
            ..ConfirmRequest::default()
        };
        let summary = "About to apply 1 migration(s):\n  2 tidy\x1b[8m\n";
        let result = obtain(&production(), summary, "apply 1 migration(s)", &request);
        let shown = script.shown.lock().unwrap().clone();
        (result, shown)
    }

    /// The engine asks through the terminal it is given: the summary (made visible) first,
    /// then the phrase, compared by `typed_matches`, then a reason that must show something.
    #[test]
    fn the_gate_asks_through_the_terminal_it_is_given() {
        let (result, shown) = ask(vec!["  SHIP IT ", "new table"]);
        let confirmation = result.unwrap().unwrap();
        assert_eq!(
            (confirmation.method, confirmation.reason.as_str()),
            ("typed", "new table")
        );
        assert!(
            shown.starts_with("About to apply 1 migration(s):\n  2 tidy\\x1b[8m\nType `SHIP IT`"),
            "{shown:?}"
        );
        for (answers, refusal) in [
            (vec!["ship it"], "`ship it` was typed, not `SHIP IT`"),
            (vec![], "no confirmation was typed (end of input)"),
            (vec!["SHIP IT"], "no reason was given (end of input)"),
            (vec!["SHIP IT", "\u{200b} "], "the reason shows nothing"),
        ] {
            let error = ask(answers).0.unwrap_err().to_string();
            assert!(error.contains(refusal), "{error}");
        }
    }

    /// Without a terminal nobody is asked: a gated environment needs the flags.
    #[test]
    fn without_a_terminal_the_gate_refuses_and_names_the_flags() {
        let error = obtain(
            &production(),
            "",
            "apply 1 migration(s)",
            &ConfirmRequest::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("pass --confirm 'SHIP IT' --reason"),
            "{error}"
        );
    }
}

//! The `after_apply` / `after_down` command's outcome, for people: a section of the report
//! (stdout) and, when it failed, an error naming the way back (stderr) and exit code 5.

use std::fmt::Write as _;

use crate::config::Environment;
use crate::deploy::after::{self, Action, CheckOutcome, Status};
use crate::exit::Outcome;
use crate::printer::Printer;

/// After `migrate apply` or `migrate down` (`action`) ran `migrations` (none for a dry run),
/// with the lock released: the environment's command for `action`, its section of the
/// report, and the command's outcome (exit 5 when it failed, see [`finish`]).
pub(super) fn after_run(
    runtime: &tokio::runtime::Runtime,
    env: &Environment,
    action: Action,
    migrations: &[crate::deploy::runner::AppliedMigration],
    dry_run: bool,
    head: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let versions: Vec<String> = migrations.iter().map(|m| m.version.clone()).collect();
    let check = if dry_run {
        None
    } else {
        run(runtime, env, action, &versions, head, printer)?
    };
    if let Some(check) = &check {
        super::print_report(&render(check))?;
    }
    Ok(finish(env, check.as_ref(), printer))
}

/// Runs the environment's command for `action` when it has one and the run changed
/// something (`versions`); `None` otherwise.
fn run(
    runtime: &tokio::runtime::Runtime,
    env: &Environment,
    action: Action,
    versions: &[String],
    head: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<Option<CheckOutcome>> {
    let check = match action {
        Action::Apply => env.after_apply.as_ref(),
        Action::Down => env.after_down.as_ref(),
    };
    let Some(check) = check.filter(|_| !versions.is_empty()) else {
        return Ok(None);
    };
    runtime
        .block_on(after::run(
            env,
            check,
            action,
            versions,
            head,
            &super::sink(printer),
        ))
        .map(Some)
}

/// The outcome as a section of the report: status, attempts, time, the output's tail with
/// control characters made visible.
fn render(outcome: &CheckOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} after {} attempt(s) in {}: `{}`",
        outcome.action.key(),
        describe(outcome),
        outcome.attempts,
        crate::human::elapsed_ms(outcome.duration_ms),
        crate::visible::line(&outcome.command)
    );
    let tail = outcome.output_tail.trim_end();
    if !tail.is_empty() {
        let _ = writeln!(out, "  output (last {} bytes at most):", after::TAIL_BYTES);
        for line in tail.lines() {
            let _ = writeln!(out, "  | {}", crate::visible::line(line));
        }
    }
    let _ = writeln!(out, "event log head: {}", outcome.event_hash);
    out
}

fn describe(outcome: &CheckOutcome) -> String {
    match outcome.status {
        Status::Passed => "passed".to_string(),
        Status::Failed => match (outcome.exit_code, outcome.signal) {
            (Some(code), _) => format!("FAILED (exit {code})"),
            (_, Some(signal)) => format!("FAILED (signal {signal})"),
            _ => "FAILED".to_string(),
        },
        Status::TimedOut => "TIMED OUT (its process group was killed)".to_string(),
        Status::Interrupted => "INTERRUPTED (its process group was killed)".to_string(),
        Status::NotStarted => format!(
            "NOT STARTED ({})",
            crate::visible::line(outcome.error.as_deref().unwrap_or("-"))
        ),
    }
}

/// Prints a failed check's error with the way back and gives its exit code; `Success` when
/// it passed (or there was none).
fn finish(env: &Environment, outcome: Option<&CheckOutcome>, printer: &Printer) -> Outcome {
    let Some(outcome) = outcome.filter(|o| !o.passed()) else {
        return Outcome::Success;
    };
    let count = outcome.versions.len();
    let what = describe(outcome);
    match outcome.action {
        Action::Apply => printer.error(&format!(
            "{} {what}: the {count} migration(s) applied to `{}` stay applied, nothing was \
             rolled back; to undo this release, check with --dry-run first, then run: {}",
            outcome.action.key(),
            env.name,
            undo_command(env, count)
        )),
        Action::Down => printer.error(&format!(
            "{} {what}: the {count} migration(s) reverted on `{}` stay reverted; nothing was \
             applied again (`stagegate migrate apply --env {}` would)",
            outcome.action.key(),
            env.name,
            env.name
        )),
    }
    Outcome::AfterCheckFailed
}

/// The guarded `migrate down` that reverts the `count` migrations this run applied.
pub(super) fn undo_command(env: &Environment, count: usize) -> String {
    let mut command = format!("stagegate migrate down --env {} --steps {count}", env.name);
    if let Some(phrase) = &env.confirm {
        let _ = write!(
            command,
            " --confirm {} --reason \"...\"",
            crate::deploy::shell_word(phrase)
        );
    }
    command
}

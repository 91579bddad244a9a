//! After the change: the `after_apply` (or `after_down`) command of an environment, run once
//! an apply (or a down) committed something, its outcome recorded as an event.
//!
//! The command runs with `sh -c`, in a process group of its own, with the few variables of
//! stagegate's environment every PostgreSQL program gets ([`crate::programs::command`]: no
//! `PG*` variable, not the variable a URL was read from) and `STAGEGATE_ENV`,
//! `STAGEGATE_ACTION`, `STAGEGATE_VERSIONS`, `STAGEGATE_EVENT_HEAD` and `STAGEGATE_ATTEMPT`:
//! never the password. An attempt that outlives `timeout`, or is cut short by Ctrl-C,
//! SIGTERM or SIGHUP, has its whole process group killed; a failed attempt is retried
//! `retries` times, `interval` apart. The outcome, the tail of
//! the output (stdout and stderr together) and the duration go into an `after_apply` /
//! `after_down` event. Nothing is rolled back: the command layer says how to.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{AfterCheck, Environment};
use crate::db::state::StateStore;
use crate::env_vars;
use crate::exit;
use crate::progress::Sink;

/// The most output kept from the command (its end), in bytes.
pub(crate) const TAIL_BYTES: usize = 4096;
/// How often a running attempt is looked at.
const POLL: Duration = Duration::from_millis(20);
/// How long the output is still read after the attempt ended (a process that left the
/// group may hold the pipe open).
const DRAIN: Duration = Duration::from_secs(2);

/// After what the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    Apply,
    Down,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Down => "down",
        }
    }

    /// The configuration key and the event kind.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Action::Apply => "after_apply",
            Action::Down => "after_down",
        }
    }
}

/// How the last attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// It exited 0.
    Passed,
    /// It exited with another code, or was ended by a signal.
    Failed,
    /// It outlived the timeout; its process group was killed.
    TimedOut,
    /// stagegate was interrupted (Ctrl-C, SIGTERM) while it ran; its process group was
    /// killed.
    Interrupted,
    /// It could not be started.
    NotStarted,
}

/// What the command did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckOutcome {
    pub action: Action,
    /// The command as configured.
    pub command: String,
    pub status: Status,
    /// Exit code of the last attempt, where it exited.
    pub exit_code: Option<i32>,
    /// Signal that ended the last attempt, where one did.
    pub signal: Option<i32>,
    pub attempts: u32,
    /// All attempts and the waits between them.
    pub duration_ms: u128,
    /// The end of the last attempt's output (at most [`TAIL_BYTES`]), as read.
    pub output_tail: String,
    /// Why it could not be started.
    pub error: Option<String>,
    /// The versions the run applied or reverted.
    pub versions: Vec<String>,
    /// The event's hash: the log's new head.
    pub event_hash: String,
}

impl CheckOutcome {
    pub(crate) fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

/// Runs `check` after `action` committed `versions` on `env` (whose log's head is then
/// `head`), and records its outcome. An error only when the outcome cannot be recorded.
pub(crate) async fn run(
    env: &Environment,
    check: &AfterCheck,
    action: Action,
    versions: &[String],
    head: Option<&str>,
    progress: &Sink,
) -> anyhow::Result<CheckOutcome> {
    progress.note(&format!(
        "{}: running `{}` (timeout {}, {} retr{})",
        action.key(),
        crate::visible::line(&check.configured),
        check.timeout,
        check.retries,
        if check.retries == 1 { "y" } else { "ies" }
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = {
        let (env_name, check, versions, head, stop, progress) = (
            env.name.clone(),
            check.clone(),
            versions.join(" "),
            head.unwrap_or_default().to_string(),
            stop.clone(),
            progress.clone(),
        );
        tokio::task::spawn_blocking(move || {
            attempts(action.key(), &check, &stop, &progress, |attempt| {
                [
                    (env_vars::STAGEGATE_ENV, env_name.clone()),
                    (env_vars::STAGEGATE_ACTION, action.as_str().to_string()),
                    (env_vars::STAGEGATE_VERSIONS, versions.clone()),
                    (env_vars::STAGEGATE_EVENT_HEAD, head.clone()),
                    (env_vars::STAGEGATE_ATTEMPT, attempt.to_string()),
                ]
            })
        })
    };
    tokio::pin!(attempts);
    let ended = tokio::select! {
        ended = &mut attempts => ended,
        () = interruption() => {
            stop.store(true, Ordering::SeqCst);
            attempts.await
        }
    }
    .map_err(|e| anyhow::anyhow!("the {} command: {e}", action.key()))?;
    let detail = serde_json::json!({
        "environment": env.name,
        "action": action.as_str(),
        "command": check.configured,
        "status": ended.status,
        "exit_code": ended.exit_code,
        "signal": ended.signal,
        "attempts": ended.attempts,
        "duration_ms": ended.duration_ms,
        "output_tail": ended.tail,
        "error": ended.error,
        "versions": versions,
        "head_before": head,
    });
    let recorded = async {
        let mut store = StateStore::connect(&env.url).await?;
        let hash = async {
            store.ensure_schema().await?;
            store
                .record_run_event(
                    action.key(),
                    None,
                    None,
                    crate::db::state::os_user().as_deref(),
                    &detail.to_string(),
                )
                .await
        }
        .await;
        store.close().await;
        hash
    }
    .await
    .map_err(|error| {
        exit::execution(anyhow::anyhow!(
            "the {} command ended {:?}, but its outcome could not be recorded: {error}",
            action.key(),
            ended.status
        ))
    })?;
    Ok(CheckOutcome {
        action,
        command: check.configured.clone(),
        status: ended.status,
        exit_code: ended.exit_code,
        signal: ended.signal,
        attempts: ended.attempts,
        duration_ms: ended.duration_ms,
        output_tail: ended.tail,
        error: ended.error,
        versions: versions.to_vec(),
        event_hash: recorded,
    })
}

/// Ctrl-C, SIGTERM or SIGHUP (where a handler can be set up; otherwise never).
async fn interruption() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            Ok(()) = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The attempts' end: the last attempt's outcome.
struct Ended {
    status: Status,
    exit_code: Option<i32>,
    signal: Option<i32>,
    attempts: u32,
    duration_ms: u128,
    tail: String,
    error: Option<String>,
}

/// Runs the attempts until one passes, the retries are used up or `stop` is set.
fn attempts<const N: usize>(
    check_key: &str,
    check: &AfterCheck,
    stop: &AtomicBool,
    progress: &Sink,
    vars: impl Fn(u32) -> [(&'static str, String); N],
) -> Ended {
    let started = Instant::now();
    let total = check.retries.saturating_add(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let one = once(check, &vars(attempt), stop);
        let last = attempt >= total || one.status == Status::Passed;
        let stopped = matches!(one.status, Status::Interrupted | Status::NotStarted);
        if last || stopped {
            return Ended {
                attempts: attempt,
                duration_ms: started.elapsed().as_millis(),
                ..one
            };
        }
        progress.note(&format!(
            "{}: attempt {attempt} of {total} {}; again in {}",
            check_key,
            match (one.status, one.exit_code) {
                (Status::TimedOut, _) => format!("timed out after {}", check.timeout),
                (_, Some(code)) => format!("failed (exit {code})"),
                _ => "failed".to_string(),
            },
            check.interval
        ));
        // The wait, cut short by an interruption.
        let until = Instant::now() + check.interval.0;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return Ended {
                    status: Status::Interrupted,
                    attempts: attempt,
                    duration_ms: started.elapsed().as_millis(),
                    ..one
                };
            }
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }
}

/// One attempt: `sh -c <run>` in a process group of its own, its output read to the end,
/// killed with its group at the timeout or when `stop` is set.
fn once(check: &AfterCheck, vars: &[(&'static str, String)], stop: &AtomicBool) -> Ended {
    let ended = |status, error: Option<String>| Ended {
        status,
        exit_code: None,
        signal: None,
        attempts: 1,
        duration_ms: 0,
        tail: String::new(),
        error,
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return ended(Status::NotStarted, Some(format!("a pipe: {e}"))),
    };
    let mut command = crate::programs::command(Path::new("sh"));
    command.arg("-c").arg(&check.run);
    for (name, value) in vars {
        command.env(name, value);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
    }
    match writer.try_clone() {
        Ok(second) => {
            command
                .stdout(Stdio::from(writer))
                .stderr(Stdio::from(second));
        }
        Err(e) => return ended(Status::NotStarted, Some(format!("a pipe: {e}"))),
    }
    let spawned = command.spawn();
    // Our ends of the pipe's writing side go with the command: the reader sees its end when
    // the last process holding it ends.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return ended(Status::NotStarted, Some(format!("cannot run sh: {e}"))),
    };
    let (sender, tail) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(read_tail(reader));
    });
    let group = child.id();
    let deadline = Instant::now() + check.timeout.0;
    let (status, exit) = loop {
        match child.try_wait() {
            Ok(Some(exit)) => break (None, Some(exit)),
            Ok(None) if stop.load(Ordering::SeqCst) => break (Some(Status::Interrupted), None),
            Ok(None) if Instant::now() >= deadline => break (Some(Status::TimedOut), None),
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                kill_group(group);
                let _ = child.wait();
                return ended(Status::Failed, Some(format!("waiting for it: {e}")));
            }
        }
    };
    // What it started and left behind goes with it, so that its output ends.
    kill_group(group);
    let exit = exit.or_else(|| child.wait().ok());
    let tail = tail.recv_timeout(DRAIN).unwrap_or_default();
    let (exit_code, signal) = exit.map_or((None, None), |exit| {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&exit);
        #[cfg(not(unix))]
        let signal = None;
        (exit.code(), signal)
    });
    let status = status.unwrap_or(if exit_code == Some(0) {
        Status::Passed
    } else {
        Status::Failed
    });
    Ended {
        status,
        exit_code: if status == Status::TimedOut {
            None
        } else {
            exit_code
        },
        signal: if status == Status::TimedOut {
            None
        } else {
            signal
        },
        attempts: 1,
        duration_ms: 0,
        tail,
        error: None,
    }
}

/// Ends every process of the group `group` leads (SIGKILL); nothing when none is left.
fn kill_group(group: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(group) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is
        // involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Reads `reader` to its end, keeping the last [`TAIL_BYTES`] (from the first character
/// boundary in them, where the cut falls inside a character).
fn read_tail(mut reader: impl std::io::Read) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                let excess = kept.len().saturating_sub(TAIL_BYTES);
                kept.drain(..excess);
            }
        }
    }
    // A cut inside a UTF-8 sequence: start at the next character.
    let start = kept
        .iter()
        .position(|b| !(0x80..0xC0).contains(b))
        .unwrap_or(kept.len());
    String::from_utf8_lossy(&kept[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_end_of_long_output() {
        let text = "é".repeat(TAIL_BYTES) + "end";
        let tail = read_tail(text.as_bytes());
        assert!(tail.len() <= TAIL_BYTES, "{}", tail.len());
        assert!(tail.ends_with("end"));
        assert!(!tail.contains('\u{FFFD}'), "cut inside a character");
        assert_eq!(read_tail("short".as_bytes()), "short");
    }
}

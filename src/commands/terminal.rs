//! The confirmation gate's terminal: the engine asks through
//! [`crate::deploy::confirm::Terminal`], and this is the one place that reads the process's
//! terminal for it. Questions go to stderr, answers come from stdin; where either is not a
//! terminal nobody can answer, and the gate takes `--confirm` and `--reason` instead.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use crate::deploy::confirm::{ConfirmRequest, Terminal};

/// The process's own terminal.
struct Stdio;

impl Terminal for Stdio {
    fn show(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn read_line(&self) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }
}

/// This process's terminal, when a person can answer on it (stdin and stderr are both one).
pub(super) fn here() -> Option<Arc<dyn Terminal>> {
    (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
        .then(|| Arc::new(Stdio) as Arc<dyn Terminal>)
}

/// The gate's request from the command line's `--confirm` and `--reason`, with the terminal.
pub(super) fn request(flag: Option<String>, reason: Option<String>) -> ConfirmRequest {
    ConfirmRequest {
        flag,
        reason,
        terminal: here(),
    }
}

//! What the engine (`deploy`, `backup`) reports while it runs, as events for the command
//! layer to render: on a terminal ([`crate::printer::Printer`] implements [`Progress`] in
//! `commands`), or collected for JSON and the report. The engine decides and returns; it
//! never prints, reads a terminal or ends the process itself.

use std::sync::Arc;

/// One thing the engine says while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProgressEvent<'a> {
    /// A step of the run, for a person following it.
    Note(&'a str),
    /// Something went wrong that the run goes on after (or records).
    Warning(&'a str),
    /// The current state of a long step (a backup's progress), replacing the previous one.
    Status(&'a str),
    /// The long step the statuses were about is over.
    StatusEnd,
    /// A second Ctrl-C, SIGTERM or SIGHUP while a statement ran: the person wants out now.
    /// The engine records nothing more; the command layer ends the process.
    InterruptedTwice,
}

/// Where the engine's events go.
pub(crate) trait Progress: Send + Sync {
    /// Renders `event`. For [`ProgressEvent::Status`]: whether it was shown as a status line (else
    /// the caller may say the same now and then with a note).
    fn emit(&self, event: ProgressEvent<'_>) -> bool;
}

impl dyn Progress + '_ {
    pub(crate) fn note(&self, message: &str) {
        self.emit(ProgressEvent::Note(message));
    }

    pub(crate) fn warning(&self, message: &str) {
        self.emit(ProgressEvent::Warning(message));
    }

    pub(crate) fn status(&self, line: &str) -> bool {
        self.emit(ProgressEvent::Status(line))
    }

    pub(crate) fn status_end(&self) {
        self.emit(ProgressEvent::StatusEnd);
    }
}

/// A shared sink, for what outlives a call (the signal watcher of a run).
pub(crate) type Sink = Arc<dyn Progress>;

#[cfg(test)]
mod tests {
    /// The engine returns outcomes and emits events: nothing in `src/deploy/` prints, ends the
    /// process, holds the terminal printer or reads the terminal (the confirmation asks
    /// through `confirm::Terminal`, which the command layer implements). Its folders are read
    /// too (`deploy/runner/`).
    #[test]
    fn the_engine_neither_prints_nor_exits() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/deploy");
        let mut files = 0;
        let mut paths = Vec::new();
        let mut folders = vec![dir.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    paths.push(path);
                }
            }
        }
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            files += 1;
            for forbidden in [
                "process::exit",
                "println!",
                "eprintln!",
                "print!(",
                "crate::printer",
                "Printer",
                "io::stdin",
                "io::stdout",
                "io::stderr",
                "IsTerminal",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "{} contains `{forbidden}`",
                    path.display()
                );
            }
        }
        assert!(files > 5, "read {files} files of {}", dir.display());
    }
}

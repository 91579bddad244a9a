//! Where output goes and whether it is coloured.
//!
//! Reports go to stdout; progress, warnings and errors to stderr. Colour is decided once:
//! `--color always|never`, else `NO_COLOR` turns it off, `CLICOLOR_FORCE` on, and otherwise
//! only a terminal gets it.
//!
//! Every message shows control characters as escapes ([`crate::visible`]): errors quote
//! file names, SQL and server messages.
//!
//! `-q` keeps only errors on stderr (warnings, notes and progress are dropped); `-v` adds
//! [`Printer::detail`] lines (which configuration, which migrations, which database).

use std::io::{IsTerminal, Write};

use crate::env_vars;
use crate::visible;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout/stderr is a terminal and NO_COLOR is not set
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// Decides colour and writes the stderr side of the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Colour for stdout.
    pub color_stdout: bool,
    /// Colour for stderr.
    pub color_stderr: bool,
    /// How much goes to stderr besides errors.
    pub verbosity: Verbosity,
}

/// `-q`, neither, or `-v`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Errors, warnings, notes and progress.
    #[default]
    Normal,
    /// Also [`Printer::detail`] lines.
    Verbose,
}

impl Printer {
    pub fn new(choice: ColorChoice) -> Printer {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let no_color = env(env_vars::NO_COLOR).is_some();
        let force = env(env_vars::CLICOLOR_FORCE).is_some_and(|v| v != "0");
        Printer {
            color_stdout: use_color(choice, no_color, force, std::io::stdout().is_terminal()),
            color_stderr: use_color(choice, no_color, force, std::io::stderr().is_terminal()),
            verbosity: Verbosity::Normal,
        }
    }

    /// The same printer, as quiet or verbose as asked.
    pub fn with_verbosity(self, verbosity: Verbosity) -> Printer {
        Printer { verbosity, ..self }
    }

    /// A printer that never colours (tests, files).
    pub fn plain() -> Printer {
        Printer {
            color_stdout: false,
            color_stderr: false,
            verbosity: Verbosity::Normal,
        }
    }

    pub fn error(&self, message: &str) {
        self.tagged("error", "1;31", message);
    }

    pub fn warning(&self, message: &str) {
        if self.verbosity > Verbosity::Quiet {
            self.tagged("warning", "1;33", message);
        }
    }

    /// A plain line on stderr (progress, notes); dropped with `-q`.
    pub fn note(&self, message: &str) {
        if self.verbosity > Verbosity::Quiet {
            line_to_stderr(format!("{}\n", visible::text(message)));
        }
    }

    /// A line on stderr only with `-v`: what the run read and where it connects.
    pub fn detail(&self, message: &str) {
        if self.verbosity == Verbosity::Verbose {
            line_to_stderr(format!("{}\n", visible::text(message)));
        }
    }

    /// Redraws the progress line on stderr, only when stderr is a terminal; returns whether
    /// it did (the caller then ends it with [`Printer::progress_end`], and otherwise may
    /// print an occasional [`Printer::note`]).
    pub fn progress(&self, line: &str) -> bool {
        if self.verbosity == Verbosity::Quiet {
            // Neither a progress line nor the caller's occasional note.
            return true;
        }
        if !std::io::stderr().is_terminal() {
            return false;
        }
        line_to_stderr(format!("\r\x1b[2K{}", visible::line(line)));
        true
    }

    /// Clears the progress line.
    pub fn progress_end(&self) {
        if self.verbosity > Verbosity::Quiet && std::io::stderr().is_terminal() {
            line_to_stderr("\r\x1b[2K".to_string());
        }
    }

    fn tagged(&self, tag: &str, sgr: &str, message: &str) {
        let tag = paint(self.color_stderr, sgr, tag);
        line_to_stderr(format!("{tag}: {}\n", visible::text(message)));
    }
}

/// One line to stderr in one write: stderr is unbuffered, and `writeln!` on it would write
/// each formatted piece on its own (a long apply prints two lines per migration).
fn line_to_stderr(line: String) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The colour decision, separated from the environment for testing.
pub(crate) fn use_color(
    choice: ColorChoice,
    no_color: bool,
    force: bool,
    is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && (force || is_terminal),
    }
}

/// `text` wrapped in an ANSI SGR sequence when `enabled`.
pub(crate) fn paint(enabled: bool, sgr: &str, text: &str) -> String {
    if enabled {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_rules() {
        assert!(use_color(ColorChoice::Auto, false, false, true));
        assert!(
            !use_color(ColorChoice::Auto, true, false, true),
            "NO_COLOR wins over a terminal"
        );
        assert!(
            !use_color(ColorChoice::Auto, true, true, true),
            "NO_COLOR wins over CLICOLOR_FORCE"
        );
        assert!(!use_color(ColorChoice::Auto, false, false, false));
        assert!(use_color(ColorChoice::Auto, false, true, false));
        assert!(use_color(ColorChoice::Always, true, false, false));
        assert!(!use_color(ColorChoice::Never, false, true, true));
        assert_eq!(paint(false, "1", "x"), "x");
        assert_eq!(paint(true, "1", "x"), "\x1b[1mx\x1b[0m");
    }
}

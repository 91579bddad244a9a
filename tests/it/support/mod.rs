//! What the tests share and do not test: the harness that runs the binary against a server
//! of its own ([`harness`]), a project with one environment and the checks on a run's output
//! ([`project`]), the repository's paths, git and the Python tools ([`tools`]), and the decoder
//! of the browser's screenshots ([`png`]).

pub(crate) mod harness;
pub(crate) mod png;
pub(crate) mod project;
pub(crate) mod tools;

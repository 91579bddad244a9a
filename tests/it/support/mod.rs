//! What the tests share and do not test: the harness that runs the binary against a server
//! of its own ([`harness`]) and the decoder of the browser's screenshots ([`png`]).

pub(crate) mod harness;
pub(crate) mod png;

//! Loading a configuration of many environments (not a test).
//!
//! `cargo bench --bench config [-- N]`: parses a config of N environments (default 3,000)
//! in one promotion chain, each promoted from the next, and orders their names, 5 times;
//! prints the median and the slowest. The promotion checks walk each environment once, so
//! this stays in milliseconds (issue 22: cubic, 3.8 s at 2,000, a hang at 3,001).

// A benchmark is a command-line tool: it prints its measurements.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use stagegate::Config;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3_000);
    let mut text = String::new();
    for i in 0..n {
        let _ = write!(
            text,
            "[environments.e{i:05}]\nurl = \"postgres://h/db{i}\"\n"
        );
        if i + 1 < n {
            let _ = writeln!(text, "promote_from = \"e{:05}\"", i + 1);
        }
    }
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let config = Config::parse(&text, Path::new("stagegate.toml")).expect("parses");
        let names = config.environment_names();
        times.push(start.elapsed());
        assert_eq!(names.len(), n);
    }
    times.sort();
    println!(
        "{n} environments ({} KiB of TOML): load and order median {:?}, slowest {:?}",
        text.len() / 1024,
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

//! Start-up and tear-down time of the throwaway scratch cluster (not a test).
//!
//! `cargo bench --bench scratch [-- RUNS]` (default 10): starts a [`Cluster`] from the binaries
//! `find_binaries` picks, connects and runs `SELECT 1`, drops it (server stopped, directory
//! removed), RUNS times in a row; prints the median and the fastest of each step.
//! `bench/scratch.sh` runs this beside a bare initdb + pg_ctl start of the same settings.

// A benchmark is a command-line tool: it prints its measurements.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use stagegate::{Cluster, ScratchOptions, find_binaries};

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let options = ScratchOptions::default();
    let binaries = find_binaries(&options).expect("server binaries");
    println!(
        "PostgreSQL {} from {}, {runs} runs",
        binaries.major,
        binaries.dir.display()
    );
    let runtime = stagegate::runtime().expect("runtime");
    let (mut starts, mut queries, mut drops, mut totals) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let begin = Instant::now();
        let cluster = Cluster::start(&options).expect("cluster");
        let started = Instant::now();
        let url = cluster.url("postgres");
        runtime.block_on(async {
            let client = stagegate::connect(&url).await.expect("connect");
            client.simple_query("SELECT 1").await.expect("query");
        });
        let queried = Instant::now();
        drop(cluster);
        let dropped = Instant::now();
        starts.push(started - begin);
        queries.push(queried - started);
        drops.push(dropped - queried);
        totals.push(dropped - begin);
    }
    report(
        "Cluster::start (find binaries, initdb, pg_ctl start -w)",
        starts,
    );
    report("connect + SELECT 1", queries);
    report("drop (pg_ctl stop -m immediate, rm -rf)", drops);
    report("total", totals);
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}: median {:.0} ms, fastest {:.0} ms",
        ms(times[(times.len() - 1) / 2]),
        ms(times[0])
    );
}

//! Connection set-up time of the two drivers stagegate opens per run (not a test).
//!
//! `cargo bench --bench connect [-- URL]`: connects 50 times with each, without TLS
//! (`sslmode=disable`) and with it (`sslmode=require`), and prints the median and the slowest,
//! so a stall in the handshake (such as Nagle's algorithm meeting delayed ACKs, ~40 ms each:
//! sqlx 0.9.0 did not set TCP_NODELAY, 0.9.1 does) shows. Then reads the state table 20 times on one
//! connection (point it at a database with state to make that meaningful).

// A benchmark is a command-line tool: it prints its measurements.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use stagegate::DatabaseUrl;
use stagegate::StateStore;

fn main() {
    let url = std::env::args()
        .skip(1)
        .find(|a| a.contains("://"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let runtime = stagegate::runtime().expect("runtime");
    for mode in ["disable", "require"] {
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = DatabaseUrl::new(format!("{url}{separator}sslmode={mode}"));
        println!("sslmode={mode}:");
        runtime.block_on(measure(&url));
    }
}

async fn measure(url: &DatabaseUrl) {
    {
        let mut tp = Vec::new();
        let mut sx = Vec::new();
        let mut both = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            let client = stagegate::connect(url).await.expect("tokio-postgres");
            client.simple_query("SELECT 1").await.expect("query");
            tp.push(start.elapsed());
            drop(client);

            let start = Instant::now();
            let mut store = StateStore::connect(url).await.expect("sqlx");
            store.schema_version().await.expect("query");
            sx.push(start.elapsed());
            store.close().await;

            let start = Instant::now();
            let (a, b) = tokio::join!(stagegate::connect(url), StateStore::connect(url));
            both.push(start.elapsed());
            drop(a);
            b.expect("sqlx").close().await;
        }
        let mut rows = Vec::new();
        let mut store = StateStore::connect(url).await.expect("sqlx");
        for _ in 0..20 {
            let start = Instant::now();
            let read = store.migrations().await.expect("state");
            rows.push(start.elapsed());
            std::hint::black_box(read);
        }
        store.close().await;
        report("tokio-postgres connect + first query", tp);
        report("sqlx connect + first query          ", sx);
        report("both in parallel (as apply does)    ", both);
        report("reading stagegate.migrations        ", rows);
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}: median {:.2} ms, max {:.2} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}

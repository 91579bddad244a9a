//! Work on other threads, results in order: [`ordered`] runs a function over a sequence on
//! worker threads and hands the results to one consumer in the sequence's order, with a
//! bounded number of items in flight. `stagegate lint` parses scripts this way while the
//! rules, whose state flows from one script to the next, run in file order.

use std::num::NonZeroUsize;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// How many worker threads to use by default: the processors available to the process.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Runs `work` on each item of `items` on `workers` threads and calls `consume` with the
/// results in the order of `items`. At most `window` items (at least one per worker) are
/// taken from `items` and not yet consumed at any time, so memory follows `window`, not the
/// length of the sequence. The first error of `consume` stops the run: no further item is
/// taken, the results in flight are dropped, and the error is returned.
///
/// With `workers` ≤ 1 everything runs on the calling thread, one item after the other.
/// Items are dealt to the workers in turn, and each worker keeps its own items in order, so
/// no reordering buffer is needed. A panic in `work` is raised again on the calling thread.
pub fn ordered<T, R, E>(
    mut items: impl Iterator<Item = T>,
    workers: usize,
    window: usize,
    work: impl Fn(T) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    if workers <= 1 {
        for item in items {
            consume(work(item))?;
        }
        return Ok(());
    }
    // Per worker, at most this many of its items are queued, in work or waiting to be
    // consumed; both channels can hold them all, so a send never waits for the other side.
    let per_worker = window.div_ceil(workers).max(1);
    let window = per_worker * workers;
    std::thread::scope(|scope| {
        let work = &work;
        let mut lanes: Vec<(SyncSender<T>, Receiver<R>)> = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (job_tx, job_rx) = sync_channel::<T>(per_worker);
            let (result_tx, result_rx) = sync_channel::<R>(per_worker);
            handles.push(scope.spawn(move || {
                for item in job_rx {
                    if result_tx.send(work(item)).is_err() {
                        // The consumer stopped.
                        break;
                    }
                }
            }));
            lanes.push((job_tx, result_rx));
        }
        // The channels are dropped when this returns, which stops the workers.
        let outcome = (move || {
            let (mut sent, mut consumed) = (0usize, 0usize);
            // Takes the next result in order; `None` when its worker panicked (raised again
            // below, when the workers are joined).
            let next = |consumed: usize, lanes: &[(SyncSender<T>, Receiver<R>)]| {
                lanes[consumed % workers].1.recv().ok()
            };
            loop {
                if sent - consumed == window {
                    let Some(result) = next(consumed, &lanes) else {
                        return Ok(());
                    };
                    consumed += 1;
                    consume(result)?;
                }
                let Some(item) = items.next() else { break };
                if lanes[sent % workers].0.send(item).is_err() {
                    return Ok(());
                }
                sent += 1;
            }
            let receivers: Vec<Receiver<R>> = lanes.into_iter().map(|(_, rx)| rx).collect();
            while consumed < sent {
                let Ok(result) = receivers[consumed % workers].recv() else {
                    return Ok(());
                };
                consumed += 1;
                consume(result)?;
            }
            Ok(())
        })();
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_come_in_order_whatever_the_workers() {
        for workers in [1, 2, 3, 8] {
            for window in [1, 2, 5, 64] {
                let mut seen = Vec::new();
                let result: Result<(), ()> = ordered(
                    0..500u64,
                    workers,
                    window,
                    |n| {
                        // Uneven work, so that workers finish out of order.
                        if n % 7 == 0 {
                            std::thread::yield_now();
                        }
                        n * n
                    },
                    |square| {
                        seen.push(square);
                        Ok(())
                    },
                );
                assert!(result.is_ok());
                assert_eq!(
                    seen,
                    (0..500u64).map(|n| n * n).collect::<Vec<_>>(),
                    "{workers} workers, window {window}"
                );
            }
        }
    }

    #[test]
    fn no_more_than_the_window_is_in_flight() {
        let taken = AtomicUsize::new(0);
        let mut max_ahead = 0;
        let mut consumed = 0;
        let items = (0..1_000).inspect(|_| {
            taken.fetch_add(1, Ordering::SeqCst);
        });
        let result: Result<(), ()> = ordered(
            items,
            2,
            8,
            |n| n,
            |_| {
                consumed += 1;
                // The item being consumed counts as in flight.
                max_ahead = max_ahead.max(taken.load(Ordering::SeqCst) - consumed + 1);
                Ok(())
            },
        );
        assert!(result.is_ok());
        assert_eq!(consumed, 1_000);
        assert!(max_ahead <= 8, "{max_ahead} items in flight");
    }

    #[test]
    fn an_error_of_the_consumer_stops_the_run() {
        let worked = AtomicUsize::new(0);
        let mut consumed = Vec::new();
        let result = ordered(
            0..10_000,
            2,
            4,
            |n| {
                worked.fetch_add(1, Ordering::SeqCst);
                n
            },
            |n| {
                if n == 10 {
                    return Err(format!("stop at {n}"));
                }
                consumed.push(n);
                Ok(())
            },
        );
        assert_eq!(result, Err("stop at 10".to_string()));
        assert_eq!(consumed, (0..10).collect::<Vec<_>>());
        assert!(worked.load(Ordering::SeqCst) < 100, "stopped early");
    }

    #[test]
    #[should_panic(expected = "bad item")]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let _ = ordered(
            0..100,
            2,
            4,
            |n| {
                if n == 17 {
                    panic!("bad item");
                }
                n
            },
            |_| Ok::<(), ()>(()),
        );
    }
}

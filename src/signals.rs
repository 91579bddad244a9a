//! The signals that interrupt a run: Ctrl-C (SIGINT), SIGTERM and SIGHUP.
//!
//! Once listened for, a signal no longer ends the process on its own: the work in progress
//! sees it and ends through its ordinary error path, so its guards (a partial archive, a
//! scratch database, a child program killed on drop) clean up as they unwind.

/// The next of Ctrl-C, SIGTERM and SIGHUP, by name; `None` if none can be listened for.
pub(crate) async fn next() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C");
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.ok().map(|()| "Ctrl-C"),
            _ = term.recv() => Some("SIGTERM"),
            _ = hup.recv() => Some("SIGHUP"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}

/// Runs `work` until it ends or a signal comes; on a signal `work` is dropped (its guards
/// run) and the signal's name is returned. Where no signal can be listened for, `work` runs
/// to its end.
pub(crate) async fn or_interrupted<T>(work: impl Future<Output = T>) -> Result<T, &'static str> {
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => Ok(result),
        signal = next() => match signal {
            Some(signal) => Err(signal),
            None => Ok(work.await),
        },
    }
}

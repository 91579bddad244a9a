//! Sizes, counts and durations as people read them, one way everywhere.

use std::time::Duration;

/// `812 B`, `4.0 KiB`, `1.2 GiB`.
pub(crate) fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `999`, `12.3k`, `2.5M`, `1.0G`.
pub(crate) fn count(count: i64) -> String {
    let value = count as f64;
    if count < 1000 {
        count.to_string()
    } else if count < 1_000_000 {
        format!("{:.1}k", value / 1e3)
    } else if count < 1_000_000_000 {
        format!("{:.1}M", value / 1e6)
    } else {
        format!("{:.1}G", value / 1e9)
    }
}

/// Wall time a step took: `850ms`, `2.7s`, `3m 05s`.
pub(crate) fn elapsed(duration: Duration) -> String {
    elapsed_ms(duration.as_millis())
}

/// [`elapsed`] of a wall time recorded in milliseconds (a report's `elapsed_ms`).
pub(crate) fn elapsed_ms(ms: u128) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// A span of time between events: `45s`, `12m 05s`, `2h 03m`, `3d 4h`.
pub(crate) fn span(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(8192 * 1024), "8.0 MiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(2_500_000), "2.5M");
    }

    #[test]
    fn durations() {
        assert_eq!(elapsed(Duration::from_millis(850)), "850ms");
        assert_eq!(elapsed(Duration::from_millis(2_740)), "2.7s");
        assert_eq!(elapsed(Duration::from_secs(185)), "3m 05s");
        assert_eq!(span(Duration::from_secs(45)), "45s");
        assert_eq!(span(Duration::from_secs(725)), "12m 05s");
        assert_eq!(span(Duration::from_secs(7_380)), "2h 03m");
        assert_eq!(span(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
    }
}

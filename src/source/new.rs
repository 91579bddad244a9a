//! `stagegate new <name>`: the next migration in the directory's layout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Layout, MigrationSet, SourceError, Version};

/// The files a new migration was written to.
#[derive(Debug, Clone)]
pub(crate) struct NewMigration {
    pub up: PathBuf,
    pub down: Option<PathBuf>,
}

/// Creates the next migration of `set` named `name` (turned into snake_case); a sqlx down
/// script goes to `down_dir` where one is configured (and the up is then `<version>_<name>.sql`).
pub(crate) fn create_new(
    set: &MigrationSet,
    name: &str,
    with_down: bool,
    down_dir: Option<&Path>,
    now: SystemTime,
) -> Result<NewMigration, NewError> {
    if set.layout == Layout::Alembic {
        return Err(NewError::Alembic(set.dir.display().to_string()));
    }
    let name = snake_case(name).ok_or_else(|| NewError::BadName(name.to_string()))?;
    let latest = set.migrations.last().map(|m| &m.version);
    let version = next_version(set.layout, latest, now);
    let dir = &set.dir;
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let created = match set.layout {
        Layout::Sqlx if let Some(down_dir) = down_dir => {
            let up = write_new(
                &dir.join(format!("{version}_{name}.sql")),
                "-- Add the migration here\n",
            )?;
            let down = with_down
                .then(|| {
                    std::fs::create_dir_all(down_dir).map_err(|source| io(down_dir, source))?;
                    write_new(
                        &down_dir.join(format!("{version}_{name}.down.sql")),
                        "-- Undo the migration here\n",
                    )
                })
                .transpose()?;
            NewMigration { up, down }
        }
        Layout::Sqlx => {
            let (up, down) = if with_down {
                (
                    format!("{version}_{name}.up.sql"),
                    Some(format!("{version}_{name}.down.sql")),
                )
            } else {
                (format!("{version}_{name}.sql"), None)
            };
            let up = write_new(&dir.join(up), "-- Add the migration here\n")?;
            let down = down
                .map(|down| write_new(&dir.join(down), "-- Undo the migration here\n"))
                .transpose()?;
            NewMigration { up, down }
        }
        Layout::Flyway => {
            let up = write_new(
                &dir.join(format!("V{version}__{name}.sql")),
                "-- Add the migration here\n",
            )?;
            let down = with_down
                .then(|| {
                    write_new(
                        &dir.join(format!("U{version}__{name}.sql")),
                        "-- Undo the migration here\n",
                    )
                })
                .transpose()?;
            NewMigration { up, down }
        }
        Layout::Diesel => {
            let folder = dir.join(format!("{version}_{name}"));
            std::fs::create_dir(&folder).map_err(|source| io(&folder, source))?;
            let up = write_new(&folder.join("up.sql"), "-- Your SQL goes here\n")?;
            let down = with_down
                .then(|| {
                    write_new(
                        &folder.join("down.sql"),
                        "-- This file should undo anything in `up.sql`\n",
                    )
                })
                .transpose()?;
            NewMigration { up, down }
        }
        Layout::Dbmate => {
            let body = if with_down {
                "-- migrate:up\n\n\n-- migrate:down\n\n"
            } else {
                "-- migrate:up\n\n"
            };
            let up = write_new(&dir.join(format!("{version}_{name}.sql")), body)?;
            NewMigration {
                down: with_down.then(|| up.clone()),
                up,
            }
        }
        Layout::Alembic => unreachable!("refused above"),
    };
    Ok(created)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NewError {
    #[error("`{0}` is not a usable migration name: use letters, digits and underscores")]
    BadName(String),
    #[error(
        "{0}: an Alembic project's revisions are written by Alembic: `alembic revision -m \"...\"` \
         (stagegate reads them from there)"
    )]
    Alembic(String),
    #[error(transparent)]
    Source(#[from] SourceError),
}

fn io(path: &Path, source: std::io::Error) -> NewError {
    NewError::Source(SourceError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_new(path: &Path, content: &str) -> Result<PathBuf, NewError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| io(path, source))?;
    file.write_all(content.as_bytes())
        .map_err(|source| io(path, source))?;
    Ok(path.to_path_buf())
}

/// Lower-case words joined by `_`; `None` when nothing usable is left.
fn snake_case(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    (!out.is_empty()).then_some(out)
}

/// Timestamps where the project uses them (or has no migrations yet), the next sequence
/// number, zero-padded like the last one, where it counts.
fn next_version(layout: Layout, latest: Option<&Version>, now: SystemTime) -> String {
    let (year, month, day, hour, minute, second) = utc(now);
    let stamp = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}");
    let sequential = latest.filter(|v| v.canonical().len() < 14 && !v.as_str().contains('-'));
    match (layout, sequential) {
        (Layout::Diesel, _) => {
            let candidate =
                format!("{year:04}-{month:02}-{day:02}-{hour:02}{minute:02}{second:02}");
            bump_past(candidate, latest)
        }
        (Layout::Flyway, None) if latest.is_none() => "1".to_string(),
        (Layout::Sqlx | Layout::Flyway, Some(last)) => {
            let major = last
                .canonical()
                .split('.')
                .next()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
                + 1;
            let width = if layout == Layout::Sqlx {
                last.as_str().len()
            } else {
                0
            };
            format!("{major:0width$}")
        }
        _ => bump_past(stamp, latest),
    }
}

/// `candidate`, or the latest version plus one second's worth where the clock is behind it.
fn bump_past(candidate: String, latest: Option<&Version>) -> String {
    match latest {
        Some(last) if Version::parse(&candidate).is_some_and(|c| c <= *last) => {
            let next = last
                .canonical()
                .parse::<u128>()
                .map_or(candidate.clone(), |n| (n + 1).to_string());
            if candidate.contains('-') && next.len() == 14 {
                format!(
                    "{}-{}-{}-{}",
                    &next[..4],
                    &next[4..6],
                    &next[6..8],
                    &next[8..]
                )
            } else {
                next
            }
        }
        _ => candidate,
    }
}

/// UTC calendar date and time of `now`.
fn utc(now: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn utc_calendar() {
        assert_eq!(utc(at(0)), (1970, 1, 1, 0, 0, 0));
        // 2024-02-29T13:45:07Z
        assert_eq!(utc(at(1_709_214_307)), (2024, 2, 29, 13, 45, 7));
    }

    #[test]
    fn versions_follow_the_project() {
        let now = at(1_709_214_307);
        assert_eq!(next_version(Layout::Sqlx, None, now), "20240229134507");
        let seq = Version::parse("0007").unwrap();
        assert_eq!(next_version(Layout::Sqlx, Some(&seq), now), "0008");
        let fly = Version::parse("2.3").unwrap();
        assert_eq!(next_version(Layout::Flyway, Some(&fly), now), "3");
        assert_eq!(next_version(Layout::Flyway, None, now), "1");
        assert_eq!(next_version(Layout::Diesel, None, now), "2024-02-29-134507");
        let future = Version::parse("2030-01-01-000000").unwrap();
        assert_eq!(
            next_version(Layout::Diesel, Some(&future), now),
            "2030-01-01-000001"
        );
        assert_eq!(next_version(Layout::Dbmate, None, now), "20240229134507");
    }

    #[test]
    fn names_become_snake_case() {
        assert_eq!(
            snake_case("Add orders.status").as_deref(),
            Some("add_orders_status")
        );
        assert_eq!(snake_case("  --  "), None);
    }
}

//! Tables for people (tabled), shared by the commands that print one.

use tabled::builder::Builder;
use tabled::settings::Style;

/// `header` and `rows` as a table with light borders, ending in a newline.
pub fn render(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut builder = Builder::new();
    builder.push_record(header.iter().map(|h| h.to_string()));
    for row in rows {
        builder.push_record(row);
    }
    let mut table = builder.build();
    table.with(Style::sharp());
    format!("{table}\n")
}

/// `2026-11-21 11:40` (UTC) for a recorded time.
pub fn date(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

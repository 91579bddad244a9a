//! Migration discovery over the fixture layouts in `fixtures/layouts/`.

use std::path::{Path, PathBuf};

use stagegate::{Layout, Listing, MigrationSet, ScriptRef, SourceError, scan_as, scan_windows};

use crate::support::tools::fixture;

fn discover(name: &str) -> MigrationSet {
    stagegate::discover(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (version, name, has down, has verify, no-transaction) for each migration.
fn summary(set: &MigrationSet) -> Vec<(String, String, bool, bool, bool)> {
    set.migrations
        .iter()
        .map(|m| {
            let up = m.load_up().unwrap();
            let down = m.load_down().unwrap();
            let verify = m.load_verify().unwrap();
            (
                m.version.to_string(),
                m.name.clone(),
                down.is_some(),
                verify.is_some(),
                up.settings.no_transaction,
            )
        })
        .collect()
}

fn row(
    version: &str,
    name: &str,
    down: bool,
    verify: bool,
    no_txn: bool,
) -> (String, String, bool, bool, bool) {
    (version.into(), name.into(), down, verify, no_txn)
}

#[test]
fn sqlx_layout_is_detected_and_paired() {
    let set = discover("sqlx");
    assert_eq!(set.layout, Layout::Sqlx);
    assert_eq!(
        summary(&set),
        [
            row("20240105093000", "create_users", true, false, false),
            row("20240212110000", "create_orders", true, true, false),
            row("20240301080000", "index_orders_user_id", true, false, true),
        ]
    );
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
}

#[test]
fn golang_migrate_numbers_sort_numerically() {
    let set = discover("golang-migrate");
    assert_eq!(set.layout, Layout::Sqlx);
    let versions: Vec<_> = set
        .migrations
        .iter()
        .map(|m| m.version.to_string())
        .collect();
    assert_eq!(versions, ["000001", "000002", "000010"]);
    assert!(
        set.warnings.is_empty(),
        "README.md is not worth a warning: {:?}",
        set.warnings
    );
}

#[test]
fn flyway_versions_sort_by_parts() {
    let set = discover("flyway");
    assert_eq!(set.layout, Layout::Flyway);
    assert_eq!(
        summary(&set),
        [
            row("1", "create_users", true, false, false),
            row("1.1", "create_orders", true, true, false),
            row("1.10", "index_orders_user_id", false, false, true),
        ]
    );
}

#[test]
fn diesel_timestamps_and_metadata() {
    let set = discover("diesel");
    assert_eq!(set.layout, Layout::Diesel);
    assert_eq!(
        summary(&set),
        [
            row("00000000000000", "diesel_initial_setup", true, false, false),
            row("2024-01-05-093000", "create_users", true, false, false),
            row("2024-02-12-110000", "create_orders", true, true, false),
            row(
                "2024-03-01-080000",
                "index_orders_user_id",
                true,
                false,
                true
            ),
        ]
    );
}

#[test]
fn dbmate_sections_and_transaction_option() {
    let set = discover("dbmate");
    assert_eq!(set.layout, Layout::Dbmate);
    assert_eq!(
        summary(&set),
        [
            row("20240105093000", "create_users", true, false, false),
            row("20240212110000", "create_orders", true, false, false),
            row("20240301080000", "index_orders_user_id", true, false, true),
        ]
    );
    let up = set.migrations[0].load_up().unwrap();
    assert_eq!(up.first_line, 2, "the up section starts below its marker");
    assert!(!up.text.contains("migrate:"), "{}", up.text);
    let down = set.migrations[0].load_down().unwrap().unwrap();
    assert_eq!(down.text.trim(), "DROP TABLE users;");
}

#[test]
fn crlf_and_bom_copies_have_the_same_checksums() {
    for (plain, crlf) in [("sqlx", "sqlx-crlf"), ("dbmate", "dbmate-crlf")] {
        let plain = discover(plain);
        let crlf = discover(crlf);
        let first = std::fs::read(&crlf.migrations[0].up.path).unwrap();
        assert!(
            first.starts_with(b"\xEF\xBB\xBF"),
            "fixture lost its BOM: check .gitattributes"
        );
        assert!(
            first.windows(2).any(|w| w == b"\r\n"),
            "fixture lost its CRLF: check .gitattributes"
        );
        assert_eq!(plain.migrations.len(), crlf.migrations.len());
        for (a, b) in plain.migrations.iter().zip(&crlf.migrations) {
            let (a_up, b_up) = (a.load_up().unwrap(), b.load_up().unwrap());
            assert_eq!(a_up.checksum, b_up.checksum, "{}", a.label());
            assert_eq!(a_up.text, b_up.text);
            let (a_down, b_down) = (
                a.load_down().unwrap().unwrap(),
                b.load_down().unwrap().unwrap(),
            );
            assert_eq!(a_down.checksum, b_down.checksum, "{}", a.label());
        }
    }
}

#[test]
fn a_one_character_edit_changes_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let original = fixture("sqlx/20240105093000_create_users.up.sql");
    let copy = dir.path().join("20240105093000_create_users.up.sql");
    std::fs::copy(&original, &copy).unwrap();
    let before = stagegate::discover(dir.path()).unwrap().migrations[0]
        .load_up()
        .unwrap()
        .checksum;
    let text =
        std::fs::read_to_string(&copy)
            .unwrap()
            .replacen("NOT NULL UNIQUE", "NOT NULL UNIQUe", 1);
    std::fs::write(&copy, text).unwrap();
    let after = stagegate::discover(dir.path()).unwrap().migrations[0]
        .load_up()
        .unwrap()
        .checksum;
    assert_ne!(before, after);
    assert!(before.as_str().starts_with("sha256:") && before.as_str().len() == 7 + 64);
}

fn bad(name: &str) -> String {
    let dir = fixture(&format!("bad/{name}"));
    let result = stagegate::discover(&dir).and_then(|set| {
        for migration in &set.migrations {
            migration.load_up()?;
            migration.load_down()?;
        }
        Ok(set)
    });
    match result {
        Ok(set) => panic!("{name} was accepted: {set:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn bad_inputs_name_the_file() {
    let duplicate = bad("duplicate-version");
    assert!(duplicate.contains("duplicate version 0001"), "{duplicate}");
    assert!(
        duplicate.contains("0001_create_accounts.up.sql")
            && duplicate.contains("0001_create_users.up.sql"),
        "{duplicate}"
    );

    let orphan = bad("down-without-up");
    assert!(
        orphan.contains("0002_create_orders.down.sql: down script without an up script"),
        "{orphan}"
    );

    // An up script not written yet loads (apply refuses it, see runner.rs).
    let empty = stagegate::discover(&fixture("bad/empty-up")).unwrap();
    let placeholder = empty.migrations[1].load_up().unwrap();
    assert!(placeholder.is_blank() && placeholder.path.ends_with("0002_placeholder.up.sql"));

    let latin1 = bad("not-utf8");
    assert!(
        latin1.contains("0001_latin1.up.sql: not valid UTF-8"),
        "{latin1}"
    );

    let reason = bad("allow-without-reason");
    assert!(
        reason.contains("0001_drop_note.up.sql:1:") && reason.contains("has no reason"),
        "{reason}"
    );

    let directive = bad("unknown-directive");
    assert!(
        directive.contains("unknown directive `stagegate:no-transactions`"),
        "{directive}"
    );

    let ambiguous = bad("ambiguous");
    assert!(
        ambiguous.contains("more than one layout") && ambiguous.contains("V2__create_orders.sql"),
        "{ambiguous}"
    );
}

#[test]
fn unknown_files_are_skipped_with_a_warning() {
    let set = discover("bad/unknown-file");
    assert_eq!(set.migrations.len(), 1);
    assert_eq!(set.warnings.len(), 1);
    assert!(
        set.warnings[0].contains("0002_create_orders.up.sq: skipped"),
        "{:?}",
        set.warnings
    );
}

#[test]
fn missing_directory_is_named() {
    let error = stagegate::discover(&fixture("does-not-exist")).unwrap_err();
    assert!(matches!(error, SourceError::MissingDir { .. }));
    assert!(error.to_string().contains("does-not-exist"));
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_skipped_with_a_warning() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_init.up.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    let latin1 = std::ffi::OsStr::from_bytes(b"0002_caf\xe9.up.sql");
    std::fs::write(dir.path().join(latin1), "CREATE TABLE b (id int);\n").unwrap();
    let set = stagegate::discover(dir.path()).unwrap();
    assert_eq!(set.migrations.len(), 1);
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(
        set.warnings[0].contains("the file name is not valid UTF-8"),
        "{:?}",
        set.warnings
    );
}

/// (version, name, up, down, verify) of each migration, in order.
type Row = (
    String,
    String,
    ScriptRef,
    Option<ScriptRef>,
    Option<ScriptRef>,
);

fn rows(listing: &Listing) -> Vec<Row> {
    listing
        .migrations()
        .map(|m| (m.version.to_string(), m.name, m.up, m.down, m.verify))
        .collect()
}

/// What the windows of a directory hold, after checking it.
#[derive(Debug, PartialEq)]
struct Windowed {
    migrations: Vec<Row>,
    /// The check's warnings.
    warnings: Vec<String>,
    /// Migrations per window.
    sizes: Vec<usize>,
}

fn windowed(dir: &Path, window: usize) -> Result<Windowed, SourceError> {
    let windows = scan_windows(dir, None, window)?;
    let checked = windows.check()?;
    let (mut migrations, mut sizes) = (Vec::new(), Vec::new());
    for listing in windows {
        let listing = listing?;
        sizes.push(listing.len());
        migrations.extend(rows(&listing));
    }
    assert_eq!(checked.migrations, migrations.len());
    Ok(Windowed {
        migrations,
        warnings: checked.warnings,
        sizes,
    })
}

#[test]
fn windows_concatenate_to_the_listing_for_every_fixture_layout() {
    for layout in [
        "sqlx",
        "sqlx-crlf",
        "golang-migrate",
        "flyway",
        "diesel",
        "dbmate",
        "dbmate-crlf",
    ] {
        let listing = scan_as(&fixture(layout), None).unwrap();
        let expected = rows(&listing);
        assert!(expected.len() >= 3, "{layout}");
        for window in [1, 2, 3, 10_000] {
            let got = windowed(&fixture(layout), window).unwrap();
            assert_eq!(got.migrations, expected, "{layout}, window {window}");
            assert_eq!(got.warnings, listing.warnings, "{layout}, window {window}");
            assert_eq!(got.sizes.len(), expected.len().div_ceil(window));
            assert!(got.sizes.iter().all(|&size| (1..=window).contains(&size)));
        }
    }
}

#[test]
fn windows_give_the_listing_errors_for_every_bad_fixture() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixture("bad"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 8);
    let mut errors = 0;
    for dir in &cases {
        let expected = scan_as(dir, None).map(|listing| (rows(&listing), listing.warnings));
        errors += usize::from(expected.is_err());
        for window in [1, 2, 3, 10_000] {
            let got = windowed(dir, window).map(|got| (got.migrations, got.warnings));
            match (&expected, got) {
                (Ok(expected), Ok(got)) => assert_eq!(&got, expected, "{}", dir.display()),
                (Err(expected), Err(got)) => {
                    assert_eq!(got.to_string(), expected.to_string(), "{}", dir.display())
                }
                (expected, got) => panic!("{}: {expected:?} but {got:?}", dir.display()),
            }
        }
    }
    // ambiguous, down-without-up and duplicate-version fail discovery; the others fail later.
    assert_eq!(errors, 3);
}

//! The fuzz corpus (`tests/fuzz/`), mutated: SQL through the splitter, the analyser, lint
//! and its text and JSON renderers; TOML through the config parser; file names through
//! discovery and the real binary. Nothing may panic or crash, and the text a terminal shows
//! never holds a control character from the input. Deterministic (a fixed seed) and bounded
//! (a fixed number of cases), so a failure names its case and repeats.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use stagegate::{Input, Options, RunState, ScriptRef, Section, lint_script, render_text};

const SQL_CASES: usize = 1_500;
const TOML_CASES: usize = 600;
const NAME_CASES: usize = 40;

/// Pieces the mutations insert: what opens, closes or confuses a reader.
const PIECES: &[&str] = &[
    "(",
    ")",
    "'",
    "\"",
    "$$",
    "$x$",
    "/*",
    "*/",
    "--",
    ";",
    "\n",
    "\r\n",
    "E'\\",
    "\\",
    "DO ",
    "BEGIN ATOMIC ",
    "END",
    "CREATE ",
    "ALTR ",
    "TABLE ",
    "INDEX ",
    "CONCURRENTLY ",
    "-- stagegate:",
    "-- stagegate:allow SG",
    "-- migrate:up",
    "-- migrate:down",
    "COPY t FROM stdin;\n",
    "\\.",
    "\x1b[8m",
    "\x07",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\0",
    "=",
    "[",
    "]",
    "{",
    "}",
    "${",
    "${X:-",
    "\"\"\"",
    "[environments.",
    "url = ",
    "promote_from = ",
    "confirm = ",
    "1e999",
    "-",
    "99999999999999999999",
];

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `seed` changed one to four times: a range deleted or repeated, a piece inserted, a
/// character replaced, or the tail of another seed spliced on.
fn mutate(rng: &mut Rng, seed: &str, seeds: &[String]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(5) {
            0 => {
                let end = (at + 1 + rng.below(16)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let end = (at + 1 + rng.below(32)).min(chars.len());
                let copy: Vec<char> = chars[at.min(end)..end].to_vec();
                chars.splice(at..at, copy);
            }
            2 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            3 if at < chars.len() => {
                let replacement = match rng.below(4) {
                    0 => char::from(rng.below(0x80) as u8),
                    1 => char::from_u32(0x80 + rng.below(0x780) as u32).unwrap_or('?'),
                    2 => {
                        ['\u{2028}', '\u{202e}', '\u{3164}', '\u{1F600}', '\u{FFFD}'][rng.below(5)]
                    }
                    _ => '(',
                };
                chars[at] = replacement;
            }
            _ => {
                let other: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
                let from = rng.below(other.len() + 1);
                chars.truncate(at);
                chars.extend_from_slice(&other[from..]);
            }
        }
    }
    chars.into_iter().collect()
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

fn seeds(dir: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let seeds: Vec<String> = paths
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect();
    assert!(
        seeds.len() >= 2,
        "the corpus {dir} has {} seeds",
        seeds.len()
    );
    seeds
}

/// Runs `check` on `input`, naming the case when it panics.
fn case(kind: &str, index: usize, input: &str, check: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(check)).is_err() {
        panic!("{kind} case {index} panicked on {input:?}");
    }
}

/// Characters a terminal would obey.
fn obeyed(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{200b}')
    })
}

fn check_sql(text: &str) {
    let _ = stagegate::split(text);
    let _ = stagegate::analyze(text);
    for section in [Section::Whole, Section::DbmateUp] {
        let reference = ScriptRef {
            path: PathBuf::from("fuzz.sql"),
            section,
            layout_no_transaction: false,
            rendered: None,
        };
        let Ok(script) = reference.load_from(text) else {
            continue;
        };
        let result = lint_script(
            Input::of(&script),
            &Options::default(),
            &mut RunState::default(),
        );
        let rendered = render_text("m/1_x.up.sql", &script.text, &result.findings, false);
        if let Some(c) = obeyed(&rendered) {
            panic!("{c:?} reached the text report:\n{rendered}");
        }
        for finding in &result.findings {
            assert!(finding.span.end <= script.text.len() && finding.line >= 1);
        }
    }
}

#[test]
fn mutated_sql_never_panics_and_never_reaches_the_terminal_raw() {
    let seeds = seeds("sql");
    for (index, seed) in seeds.iter().enumerate() {
        case("sql seed", index, seed, || check_sql(seed));
    }
    let mut rng = Rng(0x5EED_0F22);
    for index in 0..SQL_CASES {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, &seeds);
        case("sql", index, &input, || check_sql(&input));
    }
}

#[test]
fn mutated_configs_never_panic() {
    let seeds = seeds("toml");
    let mut rng = Rng(0x0070_3122);
    let path = Path::new("/nonexistent/stagegate.toml");
    for index in 0..TOML_CASES + seeds.len() {
        let input = match seeds.get(index) {
            Some(seed) => seed.clone(),
            None => {
                let seed = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, seed, &seeds)
            }
        };
        case("toml", index, &input, || {
            if let Ok(config) = stagegate::Config::parse(&input, path) {
                let _ = config.environment_names();
            }
        });
    }
}

/// `\xNN`, `\u{...}`, `\n`, `\r` and `\t` in a line of `names.txt`, read as the characters.
fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let (c, used) = if let Some(hex) = tail.strip_prefix('x') {
            (
                u32::from_str_radix(&hex[..2], 16)
                    .ok()
                    .and_then(char::from_u32),
                3,
            )
        } else if let Some(body) = tail.strip_prefix("u{") {
            let end = body.find('}').unwrap();
            (
                u32::from_str_radix(&body[..end], 16)
                    .ok()
                    .and_then(char::from_u32),
                end + 3,
            )
        } else {
            let c = match tail.chars().next() {
                Some('n') => '\n',
                Some('r') => '\r',
                Some('t') => '\t',
                other => other.unwrap_or('\\'),
            };
            (Some(c), 1)
        };
        out.push(c.unwrap());
        rest = &tail[used..];
    }
    out.push_str(rest);
    out
}

/// A directory of migrations with these names (those the file system takes), each holding
/// a statement lint has something to say about.
fn migrations_named(names: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    for name in names {
        if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
            continue;
        }
        let _ = std::fs::write(
            dir.path().join("migrations").join(name),
            "DROP TABLE \"users\x1b[8m\";\n",
        );
    }
    dir
}

/// The real binary on a directory of hostile names: it ends (no crash, no panic) with a
/// documented exit code, its text output shows no control character raw, and its JSON
/// output is JSON (returned, `Null` when there was none).
fn run_binary_on(names: &[String]) -> serde_json::Value {
    let mut report = serde_json::Value::Null;
    let dir = migrations_named(names);
    let _ = stagegate::discover(&dir.path().join("migrations"));
    for args in [
        &["lint"][..],
        &["lint", "--format", "json"],
        &["lint", "--format", "github"],
        &["verify"],
    ] {
        let output = assert_cmd::Command::cargo_bin("stagegate")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("STAGEGATE_CONFIG")
            .env("NO_COLOR", "1")
            .args(args)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let code = output.status.code();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            matches!(code, Some(0..=2)),
            "{args:?} on {names:?}: {:?}\n{stdout}\n{stderr}",
            output.status
        );
        if let Some(c) = obeyed(&stderr) {
            panic!("{args:?}: {c:?} reached stderr raw:\n{stderr}");
        }
        if args.contains(&"json") {
            if !stdout.is_empty() {
                report = serde_json::from_str::<serde_json::Value>(&stdout)
                    .unwrap_or_else(|e| panic!("{args:?}: {e}\n{stdout}"));
            }
        } else if let Some(c) = obeyed(&stdout) {
            panic!("{args:?}: {c:?} reached stdout raw:\n{stdout}");
        }
    }
    report
}

#[test]
fn hostile_file_names_never_crash_and_never_reach_the_terminal_raw() {
    let text = std::fs::read_to_string(corpus().join("names.txt")).unwrap();
    let names: Vec<String> = text.lines().map(unescape).collect();
    assert!(names.iter().any(|n| n.contains('\x1b')));
    // All at once: layouts mixed, an error naming them.
    run_binary_on(&names);
    // Each layout's alone: the migrations are read and linted.
    let sqlx: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with(['V', 'U']) && !n.starts_with("2024"))
        .cloned()
        .collect();
    let report = run_binary_on(&sqlx);
    let files = report["summary"]["files"].as_u64().unwrap_or(0);
    assert!(files >= 10, "only {files} files linted: {report}");
    // The names reach the JSON report exact.
    let paths = report.to_string();
    assert!(paths.contains("tidy_comments\\u001b[8m"), "{paths}");
    // Mutated names.
    let mut rng = Rng(0x04A3_E522);
    let mutated: Vec<String> = (0..NAME_CASES)
        .map(|_| {
            let seed = &sqlx[rng.below(sqlx.len())];
            mutate(&mut rng, seed, &sqlx)
        })
        .filter(|n| n.len() < 200)
        .collect();
    run_binary_on(&mutated);
}

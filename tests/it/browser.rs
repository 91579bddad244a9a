//! Headless Chromium for the tests of the HTML report: whether what a reader should see is
//! visible, at a desktop and at a phone's width, and whether the page prints.
//!
//! [`chromium`] finds the browser (`STAGEGATE_CHROMIUM`, else `chromium`, `chromium-browser`,
//! `google-chrome` on `PATH`); without one the test fails and names `scripts/test-deps.sh`,
//! which installs Debian's `chromium`. It never skips.
//!
//! [`render`] loads a copy of the page in an `<iframe>` of exactly the width and height asked
//! for (headless Chromium will not lay a window out narrower than 500 px, so the window itself
//! cannot stand for a phone), and a script in the outer page measures the elements that CSS
//! selectors match inside it once everything has loaded: box, computed `display`,
//! `visibility`, `opacity`, whether the box fits the frame's width. It writes that as JSON
//! into `<pre id="__probe">`, which `--dump-dom` hands back. The same run takes a screenshot.
//! One Chromium runs at a time (a lock file shared by the test processes), each killed
//! with all its processes if it has not ended in [`TIMEOUT`].

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use stagegate::STAGEGATE_CHROMIUM;

pub(crate) use crate::support::png::Png;

/// How long one Chromium run may take before it is killed (a slow shared machine, a cold
/// start: a run normally takes one or two seconds).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(90);

const NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// The Chromium binary: `$STAGEGATE_CHROMIUM`, else the first of [`NAMES`] on `PATH`.
/// Panics, naming where it looked and how to install one, when there is none.
pub(crate) fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os(STAGEGATE_CHROMIUM).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            is_executable(&path),
            "{STAGEGATE_CHROMIUM}={} is not an executable file",
            path.display()
        );
        return path;
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in NAMES {
        if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)) {
            return found;
        }
    }
    panic!(
        "\n\nNo Chromium for the HTML report's tests: {STAGEGATE_CHROMIUM} is not set, and none \
         of {} is on PATH ({}).\nInstall it with scripts/test-deps.sh (Debian/Ubuntu: \
         apt-get install chromium), or set {STAGEGATE_CHROMIUM} to a Chromium or Chrome binary.\n",
        NAMES.join(", "),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// One page rendered at one size.
pub(crate) struct Rendered {
    /// The screenshot of the frame, `width` × `height` pixels.
    pub screenshot: PathBuf,
    /// The page's DOM as it stood when it was measured (after its own scripts ran).
    pub dom: String,
    /// One entry per selector asked for, in order.
    pub boxes: Vec<Probe>,
    /// The width and height of the page's viewport, CSS pixels.
    pub viewport_width: f64,
    pub viewport_height: f64,
    /// `scrollWidth` of the page: wider than the viewport when the page scrolls sideways.
    pub scroll_width: f64,
    _dir: tempfile::TempDir,
}

/// The elements a selector matched.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Probe {
    pub selector: String,
    /// Set when the selector did not parse.
    pub error: Option<String>,
    pub elements: Vec<Element>,
}

/// One matched element, measured in the frame's viewport (CSS pixels).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Element {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub display: String,
    pub visibility: String,
    pub opacity: f64,
    /// The box lies within the viewport's width (so a phone shows it without scrolling sideways).
    pub fits_width: bool,
    /// The nearest ancestor that scrolls sideways (`overflow-x: auto|scroll`), if there is one,
    /// lies within the viewport's width: the element may be wider, the page is not.
    pub scroller_fits: bool,
    /// `textContent`, cut at 20,000 characters.
    pub text: String,
}

impl Element {
    /// Has a box of its own that is drawn: non-zero size, not `display: none`,
    /// `visibility: hidden|collapse` or `opacity: 0`, not pushed off the page's top or left.
    pub(crate) fn visible(&self) -> bool {
        self.width > 0.0
            && self.height > 0.0
            && self.display != "none"
            && self.visibility == "visible"
            && self.opacity > 0.0
            && self.x + self.width > 0.0
            && self.y + self.height > 0.0
    }

    /// Readable without scrolling the page sideways: fits, or scrolls inside a box that fits.
    pub(crate) fn readable_at_width(&self) -> bool {
        self.fits_width || self.scroller_fits
    }
}

impl Probe {
    pub(crate) fn found(&self) -> bool {
        !self.elements.is_empty()
    }

    pub(crate) fn visible(&self) -> impl Iterator<Item = &Element> {
        self.elements.iter().filter(|e| e.visible())
    }
}

impl Rendered {
    /// The probe of `selector`, which must have been asked for.
    #[track_caller]
    pub(crate) fn probe(&self, selector: &str) -> &Probe {
        let probe = self
            .boxes
            .iter()
            .find(|p| p.selector == selector)
            .unwrap_or_else(|| panic!("{selector} was not among the selectors rendered"));
        assert!(probe.error.is_none(), "{selector}: {:?}", probe.error);
        probe
    }

    /// Decodes the screenshot.
    pub(crate) fn image(&self) -> Png {
        Png::read(&self.screenshot)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Measured {
    viewport_width: f64,
    viewport_height: f64,
    scroll_width: f64,
    probes: Vec<Probe>,
    dom: String,
}

/// The outer page's script: measures `SELECTORS` in the frame once all has loaded. `<`, `>`,
/// `&` and U+00A0 are written as JSON escapes, so the text survives `--dump-dom`'s HTML
/// serialisation unchanged.
const PROBE_SCRIPT: &str = r#"
window.addEventListener('load', () => {
  const frame = document.getElementById('page');
  const doc = frame.contentDocument, win = frame.contentWindow;
  const vw = doc.documentElement.clientWidth;
  const fits = r => r.left >= -0.5 && r.right <= vw + 0.5;
  const probes = SELECTORS.map(selector => {
    let nodes;
    try { nodes = Array.from(doc.querySelectorAll(selector)); }
    catch (e) { return { selector, error: String(e), elements: [] }; }
    return { selector, error: null, elements: nodes.map(el => {
      const r = el.getBoundingClientRect(), s = win.getComputedStyle(el);
      let scroller = null;
      for (let a = el.parentElement; a; a = a.parentElement) {
        const o = win.getComputedStyle(a).overflowX;
        if (o === 'auto' || o === 'scroll') { scroller = a.getBoundingClientRect(); break; }
      }
      return {
        x: r.x, y: r.y, width: r.width, height: r.height,
        display: s.display, visibility: s.visibility, opacity: parseFloat(s.opacity),
        fits_width: fits(r), scroller_fits: scroller !== null && fits(scroller),
        text: (el.textContent || '').slice(0, 20000),
      };
    }) };
  });
  const out = {
    viewport_width: vw, viewport_height: doc.documentElement.clientHeight,
    scroll_width: doc.documentElement.scrollWidth, probes, dom: doc.documentElement.outerHTML,
  };
  const pre = document.createElement('pre');
  pre.id = '__probe';
  pre.style.display = 'none';
  pre.textContent = JSON.stringify(out)
    .replace(/[<>&\u00a0]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  document.body.appendChild(pre);
});
"#;

/// Renders `html` at `width` × `height` CSS pixels and measures what `selectors` match.
/// The page is copied alone into a directory of its own first, so anything it needs beside
/// it (a stylesheet, an image) is missing, as it is for a reader who was sent the one file.
pub(crate) fn render(html: &Path, width: u32, height: u32, selectors: &[&str]) -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(html, dir.path().join("page.html"))
        .unwrap_or_else(|e| panic!("{}: {e}", html.display()));
    // `</` cannot end the script from inside a JSON string written as `<\/`.
    let selectors = serde_json::to_string(selectors)
        .unwrap()
        .replace("</", "<\\/");
    let outer = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>html, body {{ margin: 0; \
         padding: 0; overflow: hidden }} iframe {{ border: 0; display: block }}</style></head>\
         <body><iframe id=\"page\" src=\"page.html\" style=\"width: {width}px; height: \
         {height}px\"></iframe><script>const SELECTORS = {selectors};{PROBE_SCRIPT}</script>\
         </body></html>"
    );
    let index = dir.path().join("index.html");
    std::fs::write(&index, outer).unwrap();
    let screenshot = dir.path().join("screenshot.png");
    let run = run(
        dir.path(),
        &[
            format!("--window-size={width},{height}"),
            // The outer page reads the frame's document: both are files, so this flag makes
            // them one origin.
            "--allow-file-access-from-files".to_string(),
            "--dump-dom".to_string(),
            format!("--screenshot={}", screenshot.display()),
        ],
        &index,
    );
    let json = run
        .stdout
        .split_once("<pre id=\"__probe\" style=\"display: none;\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| json)
        .unwrap_or_else(|| {
            panic!(
                "Chromium's DOM has no measurements (did the page load?)\n--- stdout\n{}\n\
                 --- stderr\n{}",
                tail(&run.stdout),
                tail(&run.stderr)
            )
        });
    let measured: Measured =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("the measurements: {e}\n{json}"));
    assert!(
        screenshot.exists(),
        "Chromium wrote no screenshot\n{}",
        tail(&run.stderr)
    );
    Rendered {
        screenshot,
        dom: measured.dom,
        boxes: measured.probes,
        viewport_width: measured.viewport_width,
        viewport_height: measured.viewport_height,
        scroll_width: measured.scroll_width,
        _dir: dir,
    }
}

/// A page printed to PDF.
pub(crate) struct Pdf {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Pdf {
    /// The page count, from the document's page objects (`/Type /Page`, which Chromium writes
    /// uncompressed).
    pub(crate) fn pages(&self) -> usize {
        let needle = b"/Type /Page";
        self.bytes
            .windows(needle.len() + 1)
            .filter(|w| w.starts_with(needle) && !w[needle.len()].is_ascii_alphanumeric())
            .count()
    }
}

/// Prints `html` to PDF as the browser's print would (A4/Letter default, no header or footer),
/// and checks that the result is a PDF.
pub(crate) fn print_pdf(html: &Path) -> Pdf {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::copy(html, &page).unwrap_or_else(|e| panic!("{}: {e}", html.display()));
    let path = dir.path().join("page.pdf");
    let run = run(
        dir.path(),
        &[
            format!("--print-to-pdf={}", path.display()),
            "--no-pdf-header-footer".to_string(),
        ],
        &page,
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("Chromium wrote no PDF ({e})\n{}", tail(&run.stderr)));
    assert!(
        bytes.starts_with(b"%PDF-"),
        "{} is not a PDF",
        path.display()
    );
    Pdf {
        path,
        bytes,
        _dir: dir,
    }
}

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `args`, its profile and output in `dir`, one run at
/// a time, killed with its whole process group after [`TIMEOUT`].
fn run(dir: &Path, args: &[String], page: &Path) -> Run {
    let chromium = chromium();
    let _one_at_a_time = lock();
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut command = Command::new(&chromium);
    command
        .args([
            "--headless",
            // Root (as in CI) cannot use the sandbox; the pages are the tests' own.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", chromium.display()));
    let group = -i32::try_from(child.id()).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Also after a normal exit: no helper process of the browser outlives its run.
    // SAFETY: kill(2) on the process group this run started; no memory is involved.
    unsafe { libc::kill(group, libc::SIGKILL) };
    let _ = child.wait();
    let read = |path: &Path| {
        let mut text = String::new();
        let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
        text
    };
    let run = Run {
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    match status {
        None => panic!(
            "{} did not finish in {} s and was killed\n{}",
            chromium.display(),
            TIMEOUT.as_secs(),
            tail(&run.stderr)
        ),
        Some(status) if !status.success() => {
            panic!("{} {status}\n{}", chromium.display(), tail(&run.stderr))
        }
        Some(_) => run,
    }
}

/// Held while Chromium runs: one browser at a time across the suite's test processes.
fn lock() -> File {
    let path = std::env::temp_dir().join("stagegate-tests-chromium.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file
}

/// The last 40 lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A page with what the report's DOM contract names (a summary table, a diff with added and
/// removed lines) and three things a reader cannot see.
const STATIC_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>harness page</title>
<style>
  body { font-family: sans-serif; margin: 1rem; max-width: 60rem }
  .scroll { overflow-x: auto }
  pre.diff { background: #f6f8fa; padding: .5rem }
  span.add { background: #e6ffec; color: #116329 }
  span.del { background: #ffebe9; color: #82071e }
  #gone { display: none }
  #ghost { visibility: hidden }
  #away { position: absolute; left: -9999px }
</style></head>
<body>
<h1>Release &amp; &lt;report&gt;</h1>
<div class="scroll"><table id="summary">
  <tr><th>Migration</th><th>Lock</th><th>Findings</th></tr>
  <tr><td>20260101_add_email</td><td>ACCESS EXCLUSIVE</td><td>1 warning</td></tr>
</table></div>
<div class="scroll"><pre class="diff"><span class="ctx"> CREATE TABLE users (
</span><span class="del">-    id bigint NOT NULL
</span><span class="add">+    id bigint NOT NULL,
</span><span class="add">+    email text
</span><span class="ctx"> );
</span></pre></div>
<div id="gone">not shown</div>
<div id="ghost">not shown either</div>
<div id="away">off the page</div>
</body></html>
"#;

fn static_page() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.html");
    std::fs::write(&path, STATIC_PAGE).unwrap();
    (dir, path)
}

const SELECTORS: [&str; 7] = [
    "table#summary",
    "pre.diff",
    "pre.diff span.add",
    "#gone",
    "#ghost",
    "#away",
    "#absent",
];

#[track_caller]
fn assert_harness_sees(page: &Rendered, width: u32, height: u32) {
    assert_eq!(page.viewport_width, f64::from(width));
    assert_eq!(page.viewport_height, f64::from(height));
    assert!(page.scroll_width <= page.viewport_width, "scrolls sideways");
    for selector in ["table#summary", "pre.diff"] {
        let probe = page.probe(selector);
        assert_eq!(probe.elements.len(), 1, "{selector}: {probe:?}");
        let element = &probe.elements[0];
        assert!(element.visible(), "{selector}: {element:?}");
        assert!(element.fits_width, "{selector} at {width}: {element:?}");
    }
    let added: Vec<&str> = page
        .probe("pre.diff span.add")
        .visible()
        .map(|e| e.text.trim())
        .collect();
    assert_eq!(added, ["+    id bigint NOT NULL,", "+    email text"]);
    for hidden in ["#gone", "#ghost", "#away"] {
        let probe = page.probe(hidden);
        assert!(probe.found(), "{hidden}");
        assert_eq!(probe.visible().count(), 0, "{hidden}: {probe:?}");
    }
    assert!(!page.probe("#absent").found());
    // The DOM came through --dump-dom's HTML escaping unchanged.
    assert!(
        page.dom.contains("Release &amp; &lt;report&gt;"),
        "{}",
        page.dom
    );

    let image = page.image();
    assert_eq!((image.width, image.height), (width, height));
    // Text, the table and the diff's backgrounds: far more than a few stray pixels.
    assert!(
        image.foreground_pixels() > 1000,
        "the screenshot is blank: {} pixels not background",
        image.foreground_pixels()
    );
}

#[test]
fn render_finds_what_is_visible_on_a_desktop() {
    let (_dir, path) = static_page();
    assert_harness_sees(&render(&path, 1280, 900, &SELECTORS), 1280, 900);
}

/// 390 CSS px is a phone's width, narrower than the 500 px a headless window is laid out at.
#[test]
fn render_lays_out_at_a_phones_width() {
    let (_dir, path) = static_page();
    let page = render(&path, 390, 844, &SELECTORS);
    assert_harness_sees(&page, 390, 844);
    let table = &page.probe("table#summary").elements[0];
    assert!(table.width <= 390.0, "{table:?}");
}

/// A box wider than the phone: it does not fit, but it is readable in the sideways-scrolling
/// box that holds it; the same box outside such a wrapper is not.
#[test]
fn render_tells_a_wide_box_in_a_scroller_from_one_that_widens_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.html");
    std::fs::write(
        &path,
        "<!doctype html><body style=\"margin: 0\">\
         <div style=\"overflow-x: auto\"><table id=\"inside\" style=\"width: 900px\">\
         <tr><td>wide</td></tr></table></div>\
         <table id=\"loose\" style=\"width: 900px\"><tr><td>wide</td></tr></table></body>",
    )
    .unwrap();
    let page = render(&path, 390, 844, &["#inside", "#loose"]);
    let inside = &page.probe("#inside").elements[0];
    let loose = &page.probe("#loose").elements[0];
    assert!(inside.visible() && loose.visible());
    assert!(
        !inside.fits_width && inside.readable_at_width(),
        "{inside:?}"
    );
    assert!(!loose.fits_width && !loose.readable_at_width(), "{loose:?}");
    assert!(page.scroll_width > 390.0, "the loose table widens the page");
}

#[test]
fn print_pdf_prints_the_page() {
    let (_dir, path) = static_page();
    let pdf = print_pdf(&path);
    assert_eq!(pdf.pages(), 1, "{}", pdf.path.display());
    // A font and the text's glyphs, not an empty page.
    assert!(pdf.bytes.len() > 5_000, "{} bytes", pdf.bytes.len());
}

//! The reports in a real browser: headless Chromium loads each page with no console message, no
//! network request (every fetch a page makes shows in its Resource Timing; a dead proxy makes sure
//! none leaves the machine), and every plot drawn with a non-zero size and content; a screenshot
//! of each page is kept under the target folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::reports::{degraded_report, seeded};

/// Collects, after the page has loaded, how many plots it has, which are empty, and every
/// resource it fetched (data: URIs are not fetches and are not listed).
const CHECK: &str = r#"<script>window.addEventListener('load', function () {
  var plots = document.querySelectorAll('.plot'), empty = [];
  plots.forEach(function (p) {
    var r = p.getBoundingClientRect(), ok = r.width > 0 && r.height > 0;
    if (p.tagName.toLowerCase() === 'svg') ok = ok && p.querySelectorAll('rect,circle,line,polyline,path').length > 0;
    else ok = ok && p.complete && p.naturalWidth > 0;
    if (!ok) empty.push(p.getAttribute('data-plot'));
  });
  var fetched = performance.getEntriesByType('resource').map(function (e) { return e.name; });
  var out = document.createElement('pre');
  out.id = 'boneseg-check';
  out.textContent = JSON.stringify({plots: plots.length, empty: empty, fetched: fetched});
  document.body.appendChild(out);
});</script>"#;

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    panic!(
        "the report browser test needs headless Chromium and found none on PATH: install it with \
         `apt-get install -y chromium` (.ci/run does this)"
    );
}

/// What the browser saw.
struct Seen {
    plots: usize,
    empty: Vec<String>,
    fetched: Vec<String>,
    console: Vec<String>,
}

fn browse(page: &Path, profile: &Path, extra: &[String]) -> (String, String) {
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            // A proxy nobody listens on: whatever Chromium tries to fetch goes nowhere.
            "--proxy-server=http://127.0.0.1:1",
            "--proxy-bypass-list=<-loopback>",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Chromium runs");
    assert!(output.status.success(), "Chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Loads `html` (a copy with the check script) and reports what happened.
fn load(html: &str, dir: &Path) -> Seen {
    let page = dir.join("page.html");
    std::fs::write(&page, html.replace("</body>", &format!("{CHECK}</body>"))).unwrap();
    let (dom, log) = browse(&page, &dir.join("profile"), &["--dump-dom".to_string()]);
    let start = dom.find("<pre id=\"boneseg-check\">").expect("the check ran after the page loaded") + 24;
    let text = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let check: serde_json::Value =
        serde_json::from_str(&text.replace("&quot;", "\"").replace("&amp;", "&")).unwrap();
    let strings = |v: &serde_json::Value| {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap_or("?").to_string()).collect()
    };
    Seen {
        plots: check["plots"].as_u64().unwrap() as usize,
        empty: strings(&check["empty"]),
        fetched: strings(&check["fetched"]),
        console: log.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect(),
    }
}

/// The page renders cleanly, and its screenshot is kept as target/tmp/report-screenshots/<name>.png.
fn check_report(report: &Path, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let seen = load(&html, dir.path());
    assert_eq!(seen.plots, html.matches("class=\"plot\"").count(), "{name}: every plot is in the page");
    assert!(seen.plots >= 5, "{name}: {} plots", seen.plots);
    assert!(seen.empty.is_empty(), "{name}: empty plots {:?}", seen.empty);
    assert!(seen.fetched.is_empty(), "{name}: the page fetched {:?}", seen.fetched);
    assert!(seen.console.is_empty(), "{name}: console messages {:?}", seen.console);

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let extra = [format!("--screenshot={}", shot.display()), "--window-size=1100,2400".to_string()];
    browse(&report.join("index.html"), &dir.path().join("profile"), &extra);
    let picture = image::open(&shot).expect("a screenshot was written").to_rgb8();
    let colours: std::collections::HashSet<[u8; 3]> = picture.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 20, "{name}: the screenshot shows the page ({} colours)", colours.len());
}

#[test]
fn reports_render_in_chromium_without_errors_or_fetches() {
    check_report(&seeded().2, "eda");
    check_report(&degraded_report(), "evaluate");
}

#[test]
fn the_browser_check_catches_fetches_console_messages_and_empty_plots() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "<!DOCTYPE html><html><body><img class=\"plot\" data-plot=\"remote\" src=\"http://example.invalid/x.png\">\
               <svg class=\"plot\" data-plot=\"blank\" width=\"10\" height=\"10\"></svg><script>console.log('hi')</script></body></html>";
    let seen = load(bad, dir.path());
    assert_eq!(seen.plots, 2);
    assert_eq!(seen.empty, ["remote", "blank"]);
    assert_eq!(seen.fetched, ["http://example.invalid/x.png"]);
    assert_eq!(seen.console.len(), 1, "{:?}", seen.console);
}

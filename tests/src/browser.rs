//! Headless Chromium for the report checks: loads a page from a file, returns the DOM it built
//! and every console message it logged (the approach of `crates/fingertip-report/tests`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package (installed by CI) puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser made of a page.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub exited_ok: bool,
    /// `--dump-dom` output: the DOM after loading.
    pub dom: String,
    /// Console messages and uncaught errors (lines of Chromium's log mentioning them).
    pub console: Vec<String>,
    pub stderr: String,
}

/// Loads `page` in headless Chromium with networking disabled; `None` when Chromium is not
/// installed. `scratch` holds the browser profile and the captured output.
pub fn load(page: &Path, scratch: &Path) -> Option<Loaded> {
    if !Path::new(CHROMIUM).exists() {
        return None;
    }
    let profile = scratch.join("chromium-profile");
    let (out_path, err_path) = (
        scratch.join("dom.html"),
        scratch.join("chromium-stderr.txt"),
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let stderr = read(&err_path);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    Some(Loaded {
        exited_ok: status.success(),
        dom: read(&out_path),
        console,
        stderr,
    })
}

//! Real headless Chromium for page tests, driven over WebDriver (`thirtyfour`) through a
//! `chromedriver` child on a free loopback port.
//!
//! Every session gets a fresh profile in a temp dir and the flags that keep Chromium off the
//! network. The driver process is killed (and reaped) on drop, so a failing test leaves
//! nothing behind. [`Chrome::run`] wraps a test body: the screenshots it takes on the way
//! ([`Chrome::shot`]) are kept under the artifacts dir when the body panics (with the last
//! page's screenshot and HTML) and removed when it passes, unless `KEEP_BROWSER_SCREENSHOTS`
//! is set — then they stay for a person to look at.
//!
//! Needs `/usr/bin/chromium` and `chromedriver` (Debian `chromium`, `chromium-driver`,
//! `fonts-wqy-microhei`; `./scripts/test` installs them).

use std::future::Future;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use thirtyfour::prelude::*;

/// The Chromium binary the tests drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long any element gets to appear or reach a state.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A phone-width viewport.
pub const PHONE: (u32, u32) = (390, 844);
/// A desktop viewport.
pub const DESKTOP: (u32, u32) = (1280, 860);

/// A chromedriver child, killed and reaped on drop.
#[derive(Debug)]
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One headless Chromium session.
pub struct Chrome {
    pub driver: WebDriver,
    /// Screenshots of this test go here: `<artifacts>/<test name>/NN-<what>.png`.
    dir: PathBuf,
    shots: usize,
    _chromedriver: Driver,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Chrome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chrome").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
}

impl Chrome {
    /// Starts chromedriver and a headless Chromium with a `width`×`height` window; the test's
    /// screenshots go under `artifacts/<test>`.
    pub async fn start(artifacts: &Path, test: &str, (width, height): (u32, u32)) -> Chrome {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: install chromium, chromium-driver and fonts-wqy-microhei (./scripts/test does)"
        );
        let port = free_port();
        let child = Command::new("chromedriver")
            // The shoppers of the test apps live in Asia/Shanghai, like their server's slots.
            .env("TZ", "Asia/Shanghai")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver starts (apt install chromium-driver): {e}"));
        let chromedriver = Driver(child);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let probe = reqwest::Client::new();
        while !probe.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "chromedriver did not answer on {url} within {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("profile dir: {e}"));
        let mut caps = DesiredCapabilities::chrome();
        let mut setup = || -> WebDriverResult<()> {
            caps.set_binary(CHROMIUM)?;
            for arg in [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--lang=zh-CN",
                "--hide-scrollbars",
            ] {
                caps.add_arg(arg)?;
            }
            caps.add_arg(&format!("--window-size={},{}", width.max(500), height))?;
            if width < 500 {
                // Headless windows are at least 500 px wide: emulate the phone's viewport.
                caps.add_experimental_option(
                    "mobileEmulation",
                    serde_json::json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2, "touch": true, "mobile": true}}),
                )?;
            }
            caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))?;
            Ok(())
        };
        setup().unwrap_or_else(|e| panic!("chrome capabilities: {e}"));
        let driver = WebDriver::new(url, caps).await.unwrap_or_else(|e| panic!("a Chromium session: {e}"));
        let dir = artifacts.join(test);
        let _ = std::fs::remove_dir_all(&dir);
        Chrome { driver, dir, shots: 0, _chromedriver: chromedriver, _profile: profile }
    }

    /// Runs `body` in a fresh phone- or desktop-sized session. When it panics, the current
    /// page's screenshot and HTML are written beside the shots taken so far, their place is
    /// printed, and the panic goes on; when it passes they are removed (kept with
    /// `KEEP_BROWSER_SCREENSHOTS=1`).
    pub async fn run<F>(artifacts: &Path, test: &str, size: (u32, u32), body: impl FnOnce(Chrome) -> F)
    where
        F: Future<Output = Chrome>,
    {
        let chrome = Chrome::start(artifacts, test, size).await;
        let driver = chrome.driver.clone();
        let dir = chrome.dir.clone();
        match AssertUnwindSafe(body(chrome)).catch_unwind().await {
            Ok(chrome) => {
                let _ = chrome.driver.clone().quit().await;
                if std::env::var_os("KEEP_BROWSER_SCREENSHOTS").is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            Err(panic) => {
                let _ = std::fs::create_dir_all(&dir);
                if let Ok(png) = driver.screenshot_as_png().await {
                    let _ = std::fs::write(dir.join("failure.png"), png);
                }
                if let Ok(html) = driver.source().await {
                    let _ = std::fs::write(dir.join("failure.html"), html);
                }
                if let Ok(url) = driver.current_url().await {
                    eprintln!("browser test {test} failed on {url}");
                }
                eprintln!("screenshots of {test}: {}", dir.display());
                let _ = driver.quit().await;
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Opens `url` (returns once it has loaded).
    pub async fn open(&self, url: &str) {
        self.driver.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Makes the browser's clock read in `zone` (an IANA name), as a visitor's from there would;
    /// it holds for every page this browser opens afterwards.
    pub async fn set_time_zone(&self, zone: &str) {
        self.driver
            .cdp()
            .send_raw("Emulation.setTimezoneOverride", serde_json::json!({ "timezoneId": zone }))
            .await
            .unwrap_or_else(|e| panic!("time zone {zone}: {e}"));
    }

    /// Waits for the shop's script to have wired up the current page (`body[data-ready]`).
    pub async fn ready(&self) {
        self.wait_for("body[data-ready]").await;
    }

    /// Saves a screenshot of the current page as `NN-<what>.png`.
    pub async fn shot(&mut self, what: &str) {
        self.shots += 1;
        let _ = std::fs::create_dir_all(&self.dir);
        let path = self.dir.join(format!("{:02}-{what}.png", self.shots));
        self.driver.screenshot(&path).await.unwrap_or_else(|e| panic!("screenshot {what}: {e}"));
    }

    /// The first element matching `css`, waiting for it to exist.
    pub async fn find(&self, css: &str) -> WebElement {
        self.driver
            .query(By::Css(css))
            .wait(PATIENCE, Duration::from_millis(50))
            .first()
            .await
            .unwrap_or_else(|e| panic!("no {css} within {PATIENCE:?}: {e}"))
    }

    /// Every element matching `css` now (possibly none).
    pub async fn all(&self, css: &str) -> Vec<WebElement> {
        self.driver.find_all(By::Css(css)).await.unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// Waits for an element matching `css` (e.g. `[data-testid=buy]:not([disabled])`).
    pub async fn wait_for(&self, css: &str) -> WebElement {
        self.find(css).await
    }

    /// Waits until `condition` holds of the text of the first element matching `css`, and
    /// answers that text.
    pub async fn wait_text(&self, css: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        loop {
            if let Ok(element) = self.driver.find(By::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if condition(&text) {
                    return text;
                }
                last = text;
            }
            assert!(Instant::now() < deadline, "{css} never became {what} within {PATIENCE:?}; last text {last:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The trimmed text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        element.text().await.unwrap_or_else(|e| panic!("text of {css}: {e}")).trim().to_owned()
    }

    /// Clears the input matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        input.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element matching `css` once it is displayed and enabled.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element
            .wait_until()
            .wait(PATIENCE, Duration::from_millis(50))
            .clickable()
            .await
            .unwrap_or_else(|e| panic!("{css} never became clickable: {e}"));
        element.scroll_into_view().await.unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Waits until the path of the current URL starts with `prefix`, and answers the URL.
    pub async fn wait_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.driver.current_url().await.unwrap_or_else(|e| panic!("current url: {e}"));
            if url.path().starts_with(prefix) {
                return url.to_string();
            }
            assert!(Instant::now() < deadline, "never reached {prefix}; still on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets the value of the input or select matching `css` as a script would, firing `input`
    /// and `change` (for controls that typing can't fill portably, such as `datetime-local`).
    pub async fn set_value(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        let arg = element.to_json().unwrap_or_else(|e| panic!("{css} as an argument: {e}"));
        self.driver
            .execute(
                "const [e, v] = arguments; e.value = v;
                 e.dispatchEvent(new Event('input', {bubbles: true}));
                 e.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![arg, serde_json::Value::String(value.to_owned())],
            )
            .await
            .unwrap_or_else(|e| panic!("set {css} to {value:?}: {e}"));
    }

    /// Ticks (or unticks) the checkbox matching `css`.
    pub async fn check(&self, css: &str, on: bool) {
        let element = self.find(css).await;
        if element.is_selected().await.unwrap_or_else(|e| panic!("state of {css}: {e}")) != on {
            self.click(css).await;
        }
    }
}

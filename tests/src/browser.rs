//! Headless Chromium for the browser tests (`tests/tests/browser_*.rs`),
//! driven over WebDriver: Debian's `chromium` and `chromium-driver`
//! packages, and the `fantoccini` client.
//!
//! Included by the test files with `#[path]` rather than exported from the
//! library, because it needs dev-dependencies (`fantoccini`).
//!
//! [`Driver::start`] runs one `chromedriver` on a free loopback port, in a
//! process group of its own, so that dropping the driver (at the end of a
//! test, or while a failing test unwinds) kills it and every browser it
//! started. Each [`Page`] is a separate browser with a fresh profile, like
//! a separate person.
//!
//! Where the browser or the driver is missing, a test fails when the `CI`
//! environment variable is set (CI must run every test) and is skipped with
//! a notice otherwise. Set `CHROMIUM` or `CHROMEDRIVER` to use other
//! binaries.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use sse_tests::{PATIENCE, within};

/// The flags every browser gets: headless, and nothing that reaches the
/// network on its own (updates, sync, QUIC probes), so that the only
/// traffic is the test's, on loopback.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    // No crash handler: it runs in a process group of its own, which the
    // driver's kill on drop would not reach.
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--window-size=1000,800",
];

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(50);

/// A running chromedriver; kills it, and the browsers it started, on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    /// The browsers' profile directories, removed on drop.
    profiles: Mutex<Vec<PathBuf>>,
}

/// One browser showing one page.
pub(crate) struct Page {
    client: Client,
}

impl Driver {
    /// Starts chromedriver, or, when Chromium or chromedriver is not
    /// installed, fails the test in CI and returns `None` (after saying so)
    /// elsewhere.
    pub(crate) fn start(test: &str) -> Option<Driver> {
        let chromium = find_binary("CHROMIUM", &["chromium", "chromium-browser"]);
        let chromedriver = find_binary("CHROMEDRIVER", &["chromedriver"]);
        let (chromium, chromedriver) = match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => (chromium, chromedriver),
            (chromium, _) => {
                let what = if chromium.is_none() {
                    "Chromium"
                } else {
                    "chromedriver"
                };
                let why = format!("{what} is not installed");
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "{test} cannot run: {why}. CI must install Debian's `chromium` and \
                         `chromium-driver` packages (apt-get install -y chromium chromium-driver)"
                    );
                }
                // Straight to stderr, not `eprintln!`, which the test
                // harness captures and hides for a test that passes.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: {why} (apt-get install chromium chromium-driver; \
                     in CI this fails)"
                );
                return None;
            }
        };
        Some(Driver::spawn(&chromium, &chromedriver))
    }

    fn spawn(chromium: &Path, chromedriver: &Path) -> Driver {
        use std::os::unix::process::CommandExt as _;
        let mut child = Command::new(chromedriver)
            // Port 0: chromedriver takes a free port and says which.
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, so that drop can kill the browsers too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromedriver.display()));
        let stdout = child.stdout.take().expect("piped");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Reads the port, then drains the rest so chromedriver never
            // blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let mut driver = Driver {
            child,
            url: String::new(),
            chromium: chromium.to_owned(),
            profiles: Mutex::new(Vec::new()),
        };
        // `driver` is dropped (killing chromedriver) if this panics.
        let port = port_rx
            .recv_timeout(PATIENCE)
            .expect("chromedriver to say which port it listens on");
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }

    /// A new browser (fresh profile) showing `url` once it has loaded.
    pub(crate) async fn open(&self, url: &str) -> Page {
        static PROFILES: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "sse-browser-test-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("create a browser profile directory");
        self.profiles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(profile.clone());

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": self.chromium, "args": args }),
        );
        let client = within(
            "a WebDriver session with a new Chromium",
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&self.url),
        )
        .await
        .unwrap_or_else(|error| panic!("chromedriver could not start Chromium: {error}"));
        within(&format!("Chromium to load {url}"), client.goto(url))
            .await
            .unwrap_or_else(|error| panic!("Chromium could not load {url}: {error}"));
        Page { client }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers it started, which
        // would otherwise outlive a test that failed before closing them.
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        for profile in self
            .profiles
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
        {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

impl Page {
    /// Runs `expression` in the page and returns its value.
    pub(crate) async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        let script = format!("return ({expression});");
        let value = within(
            &format!("the page to evaluate {expression}"),
            self.client.execute(&script, Vec::new()),
        )
        .await
        .unwrap_or_else(|error| panic!("evaluating {expression} failed: {error}"));
        serde_json::from_value(value.clone()).unwrap_or_else(|error| {
            panic!("{expression} gave {value}, not the type expected: {error}")
        })
    }

    /// Waits until `condition` (a JavaScript expression) is true in the
    /// page; fails the test with `what` after [`PATIENCE`].
    pub(crate) async fn wait_until(&self, what: &str, condition: &str) {
        within(what, async {
            while !self.eval::<bool>(condition).await {
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
    }

    /// Replaces the text of the input or textarea with id `id`, typing like
    /// a person.
    pub(crate) async fn type_into(&self, id: &str, text: &str) {
        within(&format!("typing into #{id}"), async {
            let field = self.client.find(Locator::Id(id)).await?;
            field.clear().await?;
            field.send_keys(text).await
        })
        .await
        .unwrap_or_else(|error| panic!("typing into #{id} failed: {error}"));
    }

    /// Clicks the element with id `id`.
    pub(crate) async fn click(&self, id: &str) {
        within(&format!("clicking #{id}"), async {
            self.client.find(Locator::Id(id)).await?.click().await
        })
        .await
        .unwrap_or_else(|error| panic!("clicking #{id} failed: {error}"));
    }

    /// Writes a PNG of the page to `$SSE_BROWSER_SCREENSHOTS/{name}.png`
    /// when that variable names a directory (to see what a test saw).
    pub(crate) async fn screenshot_if_asked(&self, name: &str) {
        let Some(dir) = std::env::var_os("SSE_BROWSER_SCREENSHOTS") else {
            return;
        };
        let png = within("a screenshot", self.client.screenshot())
            .await
            .unwrap_or_else(|error| panic!("screenshot failed: {error}"));
        let path = Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }

    /// Ends the WebDriver session, which quits the browser.
    pub(crate) async fn close(self) {
        within("the browser to quit", self.client.close())
            .await
            .unwrap_or_else(|error| panic!("closing the browser failed: {error}"));
    }
}

/// `$VAR` if set (and a file), else the first of `names` found on the
/// `PATH`.
fn find_binary(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

//! `cargo run --example chat` as a person runs it: the example binary
//! starts, prints its URL, and that URL opened in Chromium is a working
//! chat. (`browser_chat.rs` tests the app in depth, in-process.)

#[path = "../src/browser.rs"]
mod browser;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use browser::Driver;
use sse_tests::PATIENCE;

/// The example binary, killed on drop.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `target/<profile>/examples/chat`, built now if this run has not built it
/// (`cargo test --workspace` builds every example; `-p sse-tests` does not).
fn chat_binary() -> PathBuf {
    // This test runs as target/<profile>/deps/browser_example-HASH.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a test binary lives in target/<profile>/deps");
    let binary = profile_dir.join("examples").join("chat");
    if !binary.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "sse-examples", "--example", "chat"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the chat example failed");
    }
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_example_prints_a_url_that_works_in_a_browser() {
    let Some(driver) = Driver::start("the_chat_example_prints_a_url_that_works_in_a_browser")
    else {
        return;
    };
    let mut example = Example(
        Command::new(chat_binary())
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the chat example starts"),
    );
    let stdout = example.0.stdout.take().expect("piped");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = line_tx.send(first);
    });
    let line = line_rx
        .recv_timeout(PATIENCE)
        .expect("the example to print its URL");
    let url = line
        .trim()
        .strip_prefix("chat: open ")
        .unwrap_or_else(|| panic!("the first line names the URL: {line:?}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "a loopback URL: {url}"
    );

    let page = driver.open(&url).await;
    page.wait_until("the page to connect", "window.chat && window.chat.ready")
        .await;
    assert_eq!(page.eval::<String>("window.chat.room").await, "lobby");
    page.type_into("user", "visitor").await;
    page.type_into("text", "hello from a real browser").await;
    page.click("send").await;
    page.wait_until(
        "the message to come back through the stream",
        "window.chat.received.length === 1",
    )
    .await;
    let text: String = page
        .eval("document.querySelector('#messages li .text').textContent")
        .await;
    assert_eq!(text, "hello from a real browser");

    page.screenshot_if_asked("chat_example").await;
    page.close().await;
    drop(example);
}

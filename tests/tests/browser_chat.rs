//! The chat example (`cargo run --example chat`) in a real headless
//! Chromium: pages talk to each other, a page whose stream the server cuts
//! reconnects with `Last-Event-ID` and gets every missed message exactly
//! once, a page too far behind is told to resync, and named events and JSON
//! arrive intact. The app under test is `sse_examples::chat`, the very code
//! the example runs, served in-process on a loopback port.

#[path = "../src/browser.rs"]
mod browser;

use std::net::SocketAddr;
use std::time::Duration;

use browser::{Driver, Page};
use serde::Deserialize;
use sse::LastEventId;
use sse::hub::{Hub, HubConfig, LocalBroker};
use sse::server::ServerHandle;
use sse_examples::chat::{Chat, ChatConfig, ChatMessage, Subscription, welcome_text};
use sse_tests::{http1, server, url, within};

/// Each test runs two browsers; one test at a time keeps the machine (two
/// cores, shared) responsive enough for the reconnect timing below.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A message as the page recorded it (`window.chat.received`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Received {
    id: String,
    user: String,
    text: String,
}

fn received(id: u64, user: &str, text: &str) -> Received {
    Received {
        id: id.to_string(),
        user: user.to_owned(),
        text: text.to_owned(),
    }
}

async fn serve(chat: &Chat) -> ServerHandle {
    server().await.fallback(chat.pages()).spawn(chat.router())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as
/// `encodeURIComponent` does (near enough for room names).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn room_page(addr: SocketAddr, room: &str) -> String {
    url(addr, &format!("/?room={}", encode(room)))
}

/// Posts a message as another client would (curl, a bot); returns its id.
async fn post(addr: SocketAddr, room: &str, user: &str, text: &str) -> u64 {
    let message = ChatMessage {
        user: user.to_owned(),
        text: text.to_owned(),
    };
    let response = within(
        "a POST of a message",
        http1()
            .post(url(addr, &format!("/rooms/{}/messages", encode(room))))
            .json(&message)
            .send(),
    )
    .await
    .expect("the POST reaches the server");
    assert_eq!(response.status(), 200, "posting a message");
    let answer: serde_json::Value = response.json().await.expect("a JSON answer");
    answer["id"].as_u64().expect("the answer names the id")
}

/// Cuts every stream of `room` through the app's admin endpoint.
async fn disconnect(addr: SocketAddr, room: &str) -> u64 {
    let response = within(
        "the disconnect endpoint",
        http1()
            .post(url(
                addr,
                &format!("/admin/rooms/{}/disconnect", encode(room)),
            ))
            .send(),
    )
    .await
    .expect("the POST reaches the server");
    let answer: serde_json::Value = response.json().await.expect("a JSON answer");
    answer["closed"]
        .as_u64()
        .expect("the answer counts the closed streams")
}

/// Waits until the page's stream is subscribed (it has had its welcome).
async fn ready(page: &Page, who: &str) {
    page.wait_until(
        &format!("{who}'s page to connect"),
        "window.chat && window.chat.ready",
    )
    .await;
}

/// Types a message into the page's form and sends it, as a person would.
async fn say(page: &Page, user: &str, text: &str) {
    page.type_into("user", user).await;
    page.type_into("text", text).await;
    page.click("send").await;
}

async fn wait_for_count(page: &Page, who: &str, count: usize) {
    page.wait_until(
        &format!("{who}'s page to show {count} messages"),
        &format!("window.chat.received.length >= {count}"),
    )
    .await;
}

/// What the page recorded, checked against what its DOM shows.
async fn messages(page: &Page) -> Vec<Received> {
    let recorded: Vec<Received> = page.eval("window.chat.received").await;
    let shown: Vec<Received> = page
        .eval(
            "[...document.querySelectorAll('#messages li')].map(li => ({ id: li.dataset.id, \
             user: li.querySelector('.user').textContent, \
             text: li.querySelector('.text').textContent }))",
        )
        .await;
    assert_eq!(recorded, shown, "the page shows what it received");
    recorded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_see_each_others_messages() {
    let Some(driver) = Driver::start("two_pages_see_each_others_messages") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let chat = Chat::default();
    let server = serve(&chat).await;
    let addr = server.local_addr();

    let alice = driver.open(&room_page(addr, "lobby")).await;
    let bob = driver.open(&room_page(addr, "lobby")).await;
    ready(&alice, "alice").await;
    ready(&bob, "bob").await;

    say(&alice, "alice", "hi bob").await;
    wait_for_count(&bob, "bob", 1).await;
    say(&bob, "bob", "hi alice, héllo 東京").await;
    wait_for_count(&alice, "alice", 2).await;
    wait_for_count(&bob, "bob", 2).await;

    let expected = vec![
        received(1, "alice", "hi bob"),
        received(2, "bob", "hi alice, héllo 東京"),
    ];
    assert_eq!(messages(&alice).await, expected);
    assert_eq!(messages(&bob).await, expected);
    // The composer was emptied after each send.
    assert_eq!(
        alice
            .eval::<String>("document.getElementById('text').value")
            .await,
        ""
    );

    alice.screenshot_if_asked("two_pages_alice").await;
    alice.close().await;
    bob.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_page_resumes_with_last_event_id_and_misses_nothing() {
    let Some(driver) = Driver::start("a_cut_page_resumes_with_last_event_id_and_misses_nothing")
    else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    // Long enough for the test to post the missed messages while the pages
    // wait to reconnect; it is checked below that they did.
    let chat = Chat::new(ChatConfig {
        retry: Duration::from_secs(2),
        ..ChatConfig::default()
    });
    let server = serve(&chat).await;
    let addr = server.local_addr();

    let alice = driver.open(&room_page(addr, "lobby")).await;
    let bob = driver.open(&room_page(addr, "lobby")).await;
    ready(&alice, "alice").await;
    ready(&bob, "bob").await;

    say(&alice, "alice", "one").await;
    wait_for_count(&bob, "bob", 1).await;
    say(&bob, "bob", "two").await;
    wait_for_count(&alice, "alice", 2).await;
    say(&alice, "alice", "three").await;
    wait_for_count(&alice, "alice", 3).await;
    wait_for_count(&bob, "bob", 3).await;

    // The server cuts both pages off mid-conversation.
    assert_eq!(disconnect(addr, "lobby").await, 2, "both streams were open");
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        page.wait_until(
            &format!("{who}'s page to notice the cut"),
            "window.chat.errors >= 1 && !window.chat.ready",
        )
        .await;
    }
    // Posted while no page is connected: they can only come by replay.
    for (n, text) in [(4, "four"), (5, "five"), (6, "six")] {
        assert_eq!(post(addr, "lobby", "carol", text).await, n);
    }

    ready(&alice, "alice after reconnecting").await;
    ready(&bob, "bob after reconnecting").await;
    // Live again: a message after the resume reaches both.
    say(&bob, "bob", "seven").await;
    wait_for_count(&alice, "alice", 7).await;
    wait_for_count(&bob, "bob", 7).await;

    let expected = vec![
        received(1, "alice", "one"),
        received(2, "bob", "two"),
        received(3, "alice", "three"),
        received(4, "carol", "four"),
        received(5, "carol", "five"),
        received(6, "carol", "six"),
        received(7, "bob", "seven"),
    ];
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        assert_eq!(
            messages(page).await,
            expected,
            "{who} got every message exactly once"
        );
        assert_eq!(
            page.eval::<u64>("window.chat.opens").await,
            2,
            "{who} connected twice"
        );
        assert_eq!(page.eval::<u64>("window.chat.resyncs.length").await, 0);
        let welcome: String = page.eval("window.chat.welcome").await;
        assert!(
            welcome.ends_with("Reconnected after message 3."),
            "{who}'s page was welcomed back: {welcome:?}"
        );
    }

    // The server saw each page come back with the id of the last message it
    // had, after all three missed messages were published.
    let subscriptions = chat.subscriptions("lobby");
    assert_eq!(
        subscriptions.len(),
        4,
        "two first visits, two resumes: {subscriptions:?}"
    );
    for first in &subscriptions[..2] {
        assert_eq!(first.last_event_id, None);
    }
    for resume in &subscriptions[2..] {
        assert_eq!(
            resume,
            &Subscription {
                last_event_id: Some("3".to_owned()),
                newest_id: 6
            },
            "a page resumed before the missed messages were posted, so this run did not \
             test the replay"
        );
    }

    bob.screenshot_if_asked("resumed_bob").await;
    alice.close().await;
    bob.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_too_far_behind_is_told_to_resync() {
    let Some(driver) = Driver::start("a_page_too_far_behind_is_told_to_resync") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    // The hub keeps only the last three messages of a room.
    let hub = Hub::with_broker(LocalBroker::new(HubConfig {
        history_events: 3,
        ..HubConfig::default()
    }));
    let chat = Chat::new(ChatConfig {
        retry: Duration::from_secs(2),
        hub,
    });
    let server = serve(&chat).await;
    let addr = server.local_addr();

    let page = driver.open(&room_page(addr, "lobby")).await;
    ready(&page, "the").await;
    post(addr, "lobby", "carol", "one").await;
    wait_for_count(&page, "the", 1).await;

    assert_eq!(disconnect(addr, "lobby").await, 1);
    page.wait_until(
        "the page to notice the cut",
        "window.chat.errors >= 1 && !window.chat.ready",
    )
    .await;
    for text in ["two", "three", "four", "five", "six"] {
        post(addr, "lobby", "carol", text).await;
    }
    ready(&page, "the page after reconnecting").await;

    // Message 2 is gone from the history: the page is told, and gets what
    // is left instead of a silent gap.
    let resyncs: Vec<serde_json::Value> = page.eval("window.chat.resyncs").await;
    assert_eq!(
        resyncs,
        vec![serde_json::json!({ "reason": "too_old", "last_event_id": "1", "oldest_id": 4 })]
    );
    assert_eq!(
        messages(&page).await,
        vec![
            received(4, "carol", "four"),
            received(5, "carol", "five"),
            received(6, "carol", "six"),
        ]
    );
    let notice: String = page
        .eval("document.getElementById('notice').textContent")
        .await;
    assert!(
        notice.contains("could not be replayed"),
        "the page says so: {notice:?}"
    );

    page.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_events_and_json_arrive_intact() {
    let Some(driver) = Driver::start("named_events_and_json_arrive_intact") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let chat = Chat::default();
    let server = serve(&chat).await;
    let addr = server.local_addr();

    // Unicode in the path (percent-encoded by the page, decoded by the
    // router) and in the multi-line `welcome` event built from it.
    let room = "café ☕ 東京";
    let page = driver.open(&room_page(addr, room)).await;
    ready(&page, "the").await;
    assert_eq!(
        page.eval::<String>("document.getElementById('room').textContent")
            .await,
        room
    );
    let welcome = welcome_text(room, &LastEventId(None));
    assert!(
        welcome.contains('\n'),
        "the welcome spans several data: lines"
    );
    assert_eq!(page.eval::<String>("window.chat.welcome").await, welcome);
    assert_eq!(
        page.eval::<String>("document.getElementById('welcome').textContent")
            .await,
        welcome
    );

    // JSON with everything that could go wrong on the way: astral-plane
    // emoji and a ZWJ sequence, right-to-left text, CR, LF and CRLF, blank
    // lines, leading spaces, quotes, backslashes, a would-be SSE field, and
    // markup that must stay text.
    let user = "Zoë 👩‍💻 مرحبا";
    let text = "first line\nsecond: data: not a field\r\nthird\r\n\n  indented \"quoted\" \
                \\back\\slash\\\n🎉🇫🇷 𝄞 \u{200d}\n<b>bold?</b><img src=x onerror=\"window.pwned=1\">\n";
    let id = post(addr, room, user, text).await;
    assert_eq!(id, 1);
    // The page listens for the `chat` event by name (it has no
    // `onmessage`), so arriving at all proves the name came through.
    wait_for_count(&page, "the", 1).await;
    assert_eq!(messages(&page).await, vec![received(1, user, text)]);
    assert_eq!(
        page.eval::<u64>("document.querySelectorAll('#messages b, #messages img').length")
            .await,
        0
    );
    assert!(
        page.eval::<bool>("window.pwned === undefined").await,
        "no markup ran"
    );

    page.screenshot_if_asked("named_events").await;
    page.close().await;
    server.shutdown().await;
}

//! Disconnect storm (issue 6, point 4): a thousand clients connect, then all
//! vanish at once, in every way a client can go: streams closed with FIN,
//! streams reset with RST (`SO_LINGER` 0), connections that never sent a
//! byte, and connections that sent half a request head. Afterwards every
//! stream's `on_close` has run and its consumer future is dropped, and the
//! server's open connections, the runtime's live tasks and the process's
//! file descriptors are back to what they were before the storm.
//!
//! Keep-alive is off and the header-read timeout long, so nothing but the
//! server noticing the closed sockets can bring the counts back down.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream;
use sse::routing::DynamicRouter;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::reliability::{
    StreamCounts, alive_tasks, open_fds, open_streams, raise_open_files_limit, settles_to,
};
use sse_tests::{RawClient, server, within};

const CLIENTS: usize = 1_000;

/// How each client goes: `i % 5` picks one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    /// An open stream, closed normally (FIN).
    StreamFin,
    /// An open stream, reset (RST).
    StreamRst,
    /// Connected, sent nothing, closed (FIN).
    SilentFin,
    /// Sent half a request head, reset (RST).
    HalfHeadRst,
}

fn exit_of(i: usize) -> Exit {
    match i % 5 {
        0 | 1 => Exit::StreamFin,
        2 | 3 => Exit::StreamRst,
        _ if i.is_multiple_of(2) => Exit::SilentFin,
        _ => Exit::HalfHeadRst,
    }
}

fn router(counts: &Arc<StreamCounts>) -> DynamicRouter {
    let counts = counts.clone();
    DynamicRouter::new()
        .get("/storm", move |_request: Request| {
            let counts = counts.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    let _dropped = counts.watch(&sse);
                    let _ = sse.send(SseMessage::data("hello"));
                    std::future::pending::<()>().await;
                })
            }
        })
        .expect("a valid route")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_vanish_and_every_resource_comes_back() {
    // Each client costs two descriptors in this process: its own socket and
    // the server's.
    raise_open_files_limit(2 * CLIENTS as u64 + 256);
    let counts = Arc::new(StreamCounts::default());
    let server = server()
        .await
        .keep_alive(None)
        .header_read_timeout(Duration::from_secs(120))
        .max_connections(2 * CLIENTS)
        .spawn(router(&counts));
    let addr = server.local_addr();

    // Warm up (the runtime's lazily created resources), then take the
    // baseline with nothing open.
    drop(open_streams(addr, "/storm", 1, 1).await);
    settles_to("warm-up streams closed", 1, || {
        counts.closed.load(Ordering::SeqCst)
    })
    .await;
    settles_to("warm-up connection gone", 0, || server.open_connections()).await;
    let fds = open_fds();
    let tasks = alive_tasks();
    counts.opened.store(0, Ordering::SeqCst);
    counts.closed.store(0, Ordering::SeqCst);
    counts.dropped.store(0, Ordering::SeqCst);

    // Connect everyone.
    let clients: Vec<(Exit, RawClient)> = stream::iter(0..CLIENTS)
        .map(|i| async move {
            let exit = exit_of(i);
            let client = match exit {
                Exit::StreamFin | Exit::StreamRst => {
                    let mut client = open_streams(addr, "/storm", 1, 1).await.remove(0);
                    client.body_until(b"data: hello\n\n").await;
                    client
                }
                Exit::SilentFin => RawClient::connect(addr).await,
                Exit::HalfHeadRst => {
                    let mut client = RawClient::connect(addr).await;
                    client.send(b"GET /storm HTTP/1.1\r\nHost: te").await;
                    client
                }
            };
            (exit, client)
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let streams = clients
        .iter()
        .filter(|(exit, _)| matches!(exit, Exit::StreamFin | Exit::StreamRst))
        .count();
    assert_eq!(streams, 4 * CLIENTS / 5);
    settles_to("every client connected", CLIENTS, || {
        server.open_connections()
    })
    .await;
    assert_eq!(server.open_streams(), streams);
    assert_eq!(counts.opened.load(Ordering::SeqCst), streams);
    // The readings below do see the storm: both ends of every socket are
    // open in this process now.
    assert!(
        open_fds() >= fds + 2 * CLIENTS,
        "{} descriptors open with {CLIENTS} clients, {fds} before",
        open_fds()
    );
    assert!(
        alive_tasks() > tasks + streams,
        "a task per connection and per consumer"
    );

    // Everyone vanishes at once.
    for (exit, client) in &clients {
        if matches!(exit, Exit::StreamRst | Exit::HalfHeadRst) {
            socket2::SockRef::from(&client.stream)
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER 0");
        }
    }
    drop(clients);

    settles_to("every on_close ran", streams, || {
        counts.closed.load(Ordering::SeqCst)
    })
    .await;
    settles_to("every consumer future dropped", streams, || {
        counts.dropped.load(Ordering::SeqCst)
    })
    .await;
    settles_to("no stream open", 0, || server.open_streams()).await;
    settles_to("no connection open", 0, || server.open_connections()).await;
    settles_to("tasks back to the baseline", tasks, alive_tasks).await;
    settles_to("descriptors back to the baseline", fds, open_fds).await;

    // And the server still serves.
    let mut client = open_streams(addr, "/storm", 1, 1).await.remove(0);
    within(
        "an event after the storm",
        client.body_until(b"data: hello\n\n"),
    )
    .await;
    let report = server.shutdown().await;
    assert_eq!(
        report.streams_closed, 1,
        "only the last stream was still open"
    );
    assert_eq!(report.connections_dropped, 0);
}

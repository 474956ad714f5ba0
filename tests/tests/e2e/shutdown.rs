//! Graceful shutdown: with hundreds of streams open (over HTTP/1.1 and
//! HTTP/2), every stream gets the final message, every `on_close` runs, and
//! the server returns; a client that does not read is dropped at the
//! deadline instead of holding the shutdown forever (hyper issue 2787).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sse::routing::DynamicRouter;
use sse::sse::Frame;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::{Probe, RawClient, Seen, events, h2c, next_event, server, url, within};
use tokio::sync::Notify;

const H1_STREAMS: usize = 250;
const H2_STREAMS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_hundreds_of_open_streams_closes_each_and_finishes() {
    let probe = Probe::new();
    let router = DynamicRouter::new()
        .get("/silent", probe.silent_handler())
        .unwrap();
    let server = server()
        .await
        .shutdown_message(SseMessage::event("shutdown", "bye").unwrap())
        // Far beyond what the test allows itself: shutdown must not need it.
        .shutdown_deadline(Duration::from_secs(60))
        .spawn(router);
    let addr = server.local_addr();

    let h1_clients = join_all((0..H1_STREAMS).map(|_| async move {
        let mut client = RawClient::connect(addr).await;
        client.get("/silent", &[]).await;
        assert_eq!(client.head().await.status, 200);
        client
    }))
    .await;
    // HTTP/2: many streams multiplexed on one connection.
    let h2 = h2c();
    let h2_responses = join_all((0..H2_STREAMS).map(|_| {
        let h2 = h2.clone();
        async move { h2.get(url(addr, "/silent")).send().await.unwrap() }
    }))
    .await;
    for _ in 0..H1_STREAMS + H2_STREAMS {
        probe.expect(Seen::Opened).await;
    }
    assert_eq!(server.open_streams(), H1_STREAMS + H2_STREAMS);

    let report = within_shutdown(server.shutdown()).await;
    assert_eq!(report.streams_closed, H1_STREAMS + H2_STREAMS);
    assert_eq!(
        report.connections_dropped, 0,
        "every connection finished on its own"
    );
    for _ in 0..H1_STREAMS + H2_STREAMS {
        probe.expect(Seen::Closed).await;
    }
    probe.consumers_dropped(H1_STREAMS + H2_STREAMS).await;

    // Every client got the final message, then the end of its stream.
    join_all(h1_clients.into_iter().map(|mut client| async move {
        client.body_until(b"event: shutdown\ndata: bye\n\n").await;
        assert_eq!(
            client.chunk().await,
            None,
            "the stream ends after the final message"
        );
    }))
    .await;
    join_all(h2_responses.into_iter().map(|response| async move {
        let mut events = events(response);
        let last = next_event(&mut events).await.expect("the final message");
        assert_eq!(
            (last.event.as_str(), last.data.as_str()),
            ("shutdown", "bye")
        );
        assert!(next_event(&mut events).await.is_none());
    }))
    .await;
    // The listener is gone: nobody new gets in.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

async fn within_shutdown<T>(shutdown: impl std::future::Future<Output = T>) -> T {
    within("the shutdown to finish", shutdown).await
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_at_the_deadline() {
    const DEADLINE: Duration = Duration::from_millis(500);
    let stalled = Arc::new(Notify::new());
    let on_stall = stalled.clone();
    let probe = Probe::new();
    let watcher = probe.clone();
    let router = DynamicRouter::new()
        .get("/firehose", move |_request: Request| {
            let on_stall = on_stall.clone();
            let watcher = watcher.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    watcher.watch(&sse);
                    let frame = Frame::from(SseMessage::data("x".repeat(64 * 1024)));
                    loop {
                        // Backpressure: this waits once every buffer between
                        // here and the client is full.
                        let send = sse.send_frame_wait(frame.clone());
                        match tokio::time::timeout(Duration::from_millis(200), send).await {
                            Ok(Ok(())) => continue,
                            Ok(Err(_closed)) => return,
                            Err(_stuck) => on_stall.notify_one(),
                        }
                    }
                })
            }
        })
        .unwrap()
        .get("/silent", probe.silent_handler())
        .unwrap();
    let server = server()
        .await
        .shutdown_message(SseMessage::data("bye"))
        .shutdown_deadline(DEADLINE)
        // Otherwise the kernel may cut the stalled client off first (its
        // receive window stays shut), and the deadline would go untested.
        .tcp_user_timeout(None)
        .spawn(router);
    let addr = server.local_addr();

    // One client that keeps up, one that stopped reading.
    let mut reader = RawClient::connect(addr).await;
    reader.get("/silent", &[]).await;
    assert_eq!(reader.head().await.status, 200);
    probe.expect(Seen::Opened).await;
    let mut sleeper = RawClient::connect(addr).await;
    sleeper.get("/firehose", &[]).await;
    assert_eq!(sleeper.head().await.status, 200);
    probe.expect(Seen::Opened).await;
    within("the firehose to stall", stalled.notified()).await;

    let report = within_shutdown(server.shutdown()).await;
    assert_eq!(report.streams_closed, 2);
    assert_eq!(
        report.connections_finished, 1,
        "the reading client finished"
    );
    assert_eq!(
        report.connections_dropped, 1,
        "the stalled client was dropped"
    );
    assert!(
        report.elapsed >= DEADLINE,
        "waited for the deadline: {report:?}"
    );
    assert!(
        report.elapsed < DEADLINE + Duration::from_secs(2),
        "and not much longer: {report:?}"
    );
    probe.expect(Seen::Closed).await;
    probe.expect(Seen::Closed).await;
    reader.body_until(b"data: bye\n\n").await;
    assert_eq!(reader.chunk().await, None);
    drop(sleeper);
}

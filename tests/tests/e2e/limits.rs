//! Each limit, hit for real: connections (503 + Retry-After), request head
//! size (431), body size (413), slow request heads (slowloris) and bodies.

use std::time::{Duration, Instant};

use http::StatusCode;
use sse::routing::DynamicRouter;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::{Probe, RawClient, Seen, h2c, http1, server, url, within};

fn echo_router(probe: &Probe) -> DynamicRouter {
    DynamicRouter::new()
        .get("/silent", probe.silent_handler())
        .unwrap()
        .post("/echo", |request: Request| async move {
            let length = request.body().len();
            SseResponse::ok(move |sse: SseHandle| async move {
                sse.send(SseMessage::data(length.to_string())).unwrap();
            })
        })
        .unwrap()
}

async fn wait_for_connections(server: &sse::server::ServerHandle, count: usize) {
    within(&format!("{count} open connections"), async {
        while server.open_connections() != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503_with_retry_after() {
    let probe = Probe::new();
    let server = server()
        .await
        .max_connections(2)
        .overload_retry_after(Duration::from_secs(3))
        .spawn(echo_router(&probe));
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = RawClient::connect(addr).await;
        client.get("/silent", &[]).await;
        assert_eq!(client.head().await.status, 200);
        probe.expect(Seen::Opened).await;
        held.push(client);
    }
    assert_eq!(server.open_connections(), 2);

    let mut over = RawClient::connect(addr).await;
    over.get("/silent", &[]).await;
    let head = over.head().await;
    assert_eq!(head.status, 503);
    assert_eq!(head.header("retry-after"), Some("3"));
    assert!(
        over.closed_within(Duration::from_secs(5)).await,
        "the over-limit connection is closed"
    );

    // HTTP/2 clients get the same answer.
    let refused = h2c().get(url(addr, "/silent")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "3");

    // A slot frees when a client leaves, and the next one gets in.
    drop(held.pop());
    probe.expect(Seen::Closed).await;
    wait_for_connections(&server, 1).await;
    let mut next = RawClient::connect(addr).await;
    next.get("/silent", &[]).await;
    assert_eq!(next.head().await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let probe = Probe::new();
    let server = server()
        .await
        .max_request_header_bytes(8 * 1024)
        .spawn(echo_router(&probe));
    let addr = server.local_addr();

    let mut big = RawClient::connect(addr).await;
    let cookie = format!("Cookie: {}", "a".repeat(10 * 1024));
    big.get("/silent", &[&cookie]).await;
    assert_eq!(big.head().await.status, 431);

    // Under the limit is fine.
    let mut fine = RawClient::connect(addr).await;
    let cookie = format!("Cookie: {}", "a".repeat(4 * 1024));
    fine.get("/silent", &[&cookie]).await;
    assert_eq!(fine.head().await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_post_body_gets_413_declared_or_chunked() {
    let probe = Probe::new();
    let server = server()
        .await
        .max_body_bytes(1024)
        .spawn(echo_router(&probe));
    let address = url(server.local_addr(), "/echo");
    let client = http1();

    let declared = client
        .post(&address)
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // No Content-Length: the limit applies while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'y'; 256])).collect();
    let chunked = client
        .post(&address)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let fine = client
        .post(&address)
        .body(vec![b'z'; 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
    let mut events = sse_tests::events(fine);
    assert_eq!(
        sse_tests::next_event(&mut events).await.unwrap().data,
        "1024"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_body_gets_408() {
    let probe = Probe::new();
    let server = server()
        .await
        .body_read_timeout(Duration::from_millis(300))
        .spawn(echo_router(&probe));
    let mut client = RawClient::connect(server.local_addr()).await;
    client
        .send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await;
    assert_eq!(client.head().await.status, 408);
    server.shutdown().await;
}

/// A slowloris client holds the only slot; the header-read timeout must
/// free it, whether the client sends nothing, half a head, or a trickle.
#[tokio::test]
async fn slowloris_clients_are_cut_off_at_the_header_read_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let probe = Probe::new();
    let server = server()
        .await
        .max_connections(1)
        .header_read_timeout(TIMEOUT)
        .spawn(echo_router(&probe));
    let addr = server.local_addr();

    // Silent: not even enough bytes to tell HTTP/1.1 from HTTP/2.
    let mut silent = RawClient::connect(addr).await;
    let started = Instant::now();
    assert!(
        silent.closed_within(Duration::from_secs(5)).await,
        "a silent client is cut off"
    );
    assert!(started.elapsed() >= TIMEOUT - Duration::from_millis(50));

    // Half a request head, then nothing.
    let mut half = RawClient::connect(addr).await;
    half.send(b"GET /silent HTTP/1.1\r\nHost: te").await;
    assert!(
        half.closed_within(Duration::from_secs(5)).await,
        "a half head is cut off"
    );

    // A trickle: one byte every 50 ms keeps the socket busy but the head
    // never completes within the timeout.
    let mut trickle = RawClient::connect(addr).await;
    let started = Instant::now();
    let head = b"GET /silent HTTP/1.1\r\nX-Slow: ";
    trickle.send(head).await;
    let cut_off = within("the trickling client to be cut off", async {
        for _ in 0..100 {
            if trickle.closed_within(Duration::from_millis(50)).await {
                return true;
            }
            if tokio::io::AsyncWriteExt::write_all(&mut trickle.stream, b"z")
                .await
                .is_err()
            {
                return true;
            }
        }
        false
    })
    .await;
    assert!(cut_off, "a trickling client is cut off");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut off after {:?}",
        started.elapsed()
    );

    // The slot is free again for a real client.
    wait_for_connections(&server, 0).await;
    let mut real = RawClient::connect(addr).await;
    real.get("/silent", &[]).await;
    assert_eq!(real.head().await.status, 200);
    server.shutdown().await;
}

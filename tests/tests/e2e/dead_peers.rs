//! A client that goes away is noticed, whichever way it goes: a clean close
//! (FIN), a reset (RST), or vanishing without a word, while its handler
//! never sends anything. `on_close` must run within one keep-alive interval
//! plus a second.

use std::time::{Duration, Instant};

use sse::routing::DynamicRouter;
use sse_tests::{Probe, RawClient, Seen, h2c, in_private_netns, ip, missing_tool, server, url};
use tokio::net::TcpSocket;

/// Opens a silent stream, returns the client and the probe that watches it.
async fn open_silent(
    keep_alive: Option<Duration>,
) -> (sse::server::ServerHandle, RawClient, Probe) {
    let probe = Probe::new();
    let router = DynamicRouter::new()
        .get("/silent", probe.silent_handler())
        .unwrap();
    let server = server().await.keep_alive(keep_alive).spawn(router);
    let mut client = RawClient::connect(server.local_addr()).await;
    client.get("/silent", &[]).await;
    assert_eq!(client.head().await.status, 200);
    probe.expect(Seen::Opened).await;
    (server, client, probe)
}

#[tokio::test]
async fn a_clean_close_runs_on_close_at_once() {
    // Keep-alive off: only the read side can notice, and must.
    let (server, client, probe) = open_silent(None).await;
    let gone = Instant::now();
    drop(client);
    noticed_at_once(&probe, gone).await;
    assert_eq!(wait_for_no_streams(&server).await, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_runs_on_close_at_once() {
    let (server, client, probe) = open_silent(None).await;
    // SO_LINGER 0: closing sends RST instead of FIN.
    socket2::SockRef::from(&client.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    let gone = Instant::now();
    drop(client);
    noticed_at_once(&probe, gone).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_h2_stream_reset_by_the_client_runs_on_close() {
    let probe = Probe::new();
    let router = DynamicRouter::new()
        .get("/silent", probe.silent_handler())
        .unwrap();
    let server = server().await.keep_alive(None).spawn(router);
    let client = h2c();
    let response = client
        .get(url(server.local_addr(), "/silent"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    probe.expect(Seen::Opened).await;
    let gone = Instant::now();
    // Dropping the response resets the stream; the connection stays up.
    drop(response);
    noticed_at_once(&probe, gone).await;
    server.shutdown().await;
}

async fn wait_for_no_streams(server: &sse::server::ServerHandle) -> usize {
    sse_tests::within("the stream to leave the registry", async {
        while server.open_streams() > 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    server.open_streams()
}

/// The vanishing client: inside a private network namespace, the client
/// connects from 127.0.0.2; once it has seen a keep-alive, a blackhole route
/// for 127.0.0.2 makes every packet to it disappear, as when a laptop lid
/// closes or a NAT forgets the connection: no FIN, no RST, nothing. Only the
/// server's next keep-alive, unacknowledged, can reveal it.
#[test]
fn a_vanished_client_is_noticed_within_one_keep_alive_plus_a_second() {
    const KEEP_ALIVE: Duration = Duration::from_millis(300);
    let outcome = in_private_netns(|| async {
        let probe = Probe::new();
        let router = DynamicRouter::new()
            .get("/silent", probe.silent_handler())
            .unwrap();
        let server = server().await.keep_alive(Some(KEEP_ALIVE)).spawn(router);
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stream = socket.connect(server.local_addr()).await.unwrap();
        let mut client = RawClient::from_stream(stream);
        client.get("/silent", &[]).await;
        assert_eq!(client.head().await.status, 200);
        probe.expect(Seen::Opened).await;
        // Vanish right after a keep-alive: the worst case, a whole interval
        // before the server writes again.
        assert_eq!(client.chunk().await.as_deref(), Some(&b":\n\n"[..]));
        ip(&[
            "route",
            "add",
            "blackhole",
            "127.0.0.2/32",
            "table",
            "local",
        ])?;
        let vanished = Instant::now();
        let closed = probe.expect(Seen::Closed).await;
        let noticed = closed - vanished;
        probe.consumers_dropped(1).await;
        // `client` is still open here: it never closed or reset anything.
        drop(client);
        server.shutdown().await;
        Ok::<Duration, sse_tests::NoNamespace>(noticed)
    });
    let noticed = match outcome.and_then(|inner| inner) {
        Ok(noticed) => noticed,
        Err(sse_tests::NoNamespace(why)) => {
            return missing_tool("a_vanished_client_is_noticed", &why);
        }
    };
    eprintln!("a vanished client was noticed after {noticed:?} (keep-alive {KEEP_ALIVE:?})");
    // One keep-alive interval plus a second; 150 ms on top only for timer
    // and scheduling jitter on a loaded machine.
    let promise = KEEP_ALIVE + Duration::from_secs(1) + Duration::from_millis(150);
    assert!(
        noticed <= promise,
        "noticed after {noticed:?}, promised within {promise:?}"
    );
}

/// A client that closed or reset is seen at once (hyper reads the socket
/// while it streams): `on_close` runs within a second of `gone`, and the
/// consumer's future is dropped.
async fn noticed_at_once(probe: &Probe, gone: Instant) {
    let closed = probe.expect(Seen::Closed).await;
    assert!(
        closed - gone < Duration::from_secs(1),
        "noticed after {:?}",
        closed - gone
    );
    probe.consumers_dropped(1).await;
}

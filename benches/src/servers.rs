//! The two servers the load tool compares, with identical settings: one
//! tokio thread (a current-thread runtime), a listen backlog of
//! [`BACKLOG`](crate::proc::BACKLOG), `TCP_NODELAY`, a keep-alive comment
//! after [`KEEP_ALIVE`] of idleness, and the same
//! control endpoint, an axum handler for `POST /publish?seq=S&n=K`, which
//! publishes events `S..S+K`, each a 64-byte payload with id = sequence
//! number, sent to every subscriber of `GET /events`.
//!
//! - **ours**: `sse::Server` with an `sse_routes!` router whose `/events`
//!   consumer subscribes to an `sse::hub::Hub` topic; `/publish` is the
//!   server's HTTP fallback.
//! - **axum**: `axum::serve` with `axum::response::sse::Sse`, `KeepAlive`,
//!   and a `tokio::sync::broadcast` channel carrying one pre-built `Event`
//!   per publish.
//!
//! Each prints `LISTENING <addr>` on stdout once it accepts, and exits when
//! its standard input closes (the load tool holds it), so a server never
//! outlives the tool.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use tokio::io::AsyncReadExt as _;
use tokio::sync::broadcast;

use crate::proc::{KEEP_ALIVE, listen, payload, pin_to_cpu, raise_nofile};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `sse::Server` + `sse::hub::Hub`.
    Ours,
    /// axum 0.8 `Sse` + `tokio::sync::broadcast`.
    Axum,
}

impl Kind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "sse",
            Kind::Axum => "axum",
        }
    }
}

/// Runs a server of `kind` on one tokio thread pinned to `cpu` until
/// standard input closes.
pub fn run(kind: Kind, cpu: Option<usize>) {
    if let Some(cpu) = cpu
        && let Err(error) = pin_to_cpu(cpu)
    {
        eprintln!("{}: pinning to CPU {cpu} failed: {error}", kind.name());
    }
    if let Err(error) = raise_nofile() {
        eprintln!("{}: raising RLIMIT_NOFILE failed: {error}", kind.name());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut sink = [0u8; 64];
            while !matches!(stdin.read(&mut sink).await, Ok(0) | Err(_)) {}
        };
        println!("LISTENING {addr}");
        match kind {
            Kind::Ours => ours(listener, stdin_closed).await,
            Kind::Axum => axum_baseline(listener, stdin_closed).await,
        }
    });
}

fn publish_params(params: &HashMap<String, String>) -> (u64, u64) {
    let get = |name: &str| params.get(name).and_then(|v| v.parse().ok()).unwrap_or(1);
    (get("seq"), get("n"))
}

async fn ours(listener: tokio::net::TcpListener, stop: impl Future<Output = ()> + Send) {
    use sse::hub::{Hub, HubConfig, LocalBroker};
    use sse::{LastEventId, Request, SseHandle, SseMessage, SseResponse};

    // History is per topic, not per connection; keep it small anyway.
    let hub = Hub::with_broker(LocalBroker::new(HubConfig {
        history_events: 16,
        history_bytes: 4096,
    }));
    let subscriber = hub.clone();
    let events = move |_request: Request| {
        let hub = subscriber.clone();
        async move {
            SseResponse::ok(move |sse: SseHandle| async move {
                hub.subscribe("bench", &LastEventId(None), sse).await;
            })
        }
    };
    let router = sse::sse_routes! { "/events" => (events) };
    let control = axum::Router::new()
        .route(
            "/publish",
            post(
                |State(hub): State<Hub>, Query(params): Query<HashMap<String, String>>| async move {
                    let (seq, n) = publish_params(&params);
                    for seq in seq..seq + n {
                        // The hub numbers events 1, 2, 3...; the tool's
                        // sequence numbers start at 1 too, so id == seq.
                        let _ = hub.publish("bench", SseMessage::data(payload(seq))).await;
                    }
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(hub);
    let server = sse::Server::from_listener(listener)
        .keep_alive(Some(KEEP_ALIVE))
        .max_connections(20_000)
        .fallback(control);
    server.serve_with_shutdown(router, stop).await;
}

async fn axum_baseline(
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    use axum::serve::ListenerExt as _;

    let (tx, _) = broadcast::channel::<Event>(4096);
    let app = axum::Router::new()
        .route(
            "/events",
            get(|State(tx): State<broadcast::Sender<Event>>| async move {
                let rx = tx.subscribe();
                let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(event) => return Some((Ok::<_, Infallible>(event), rx)),
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                });
                Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            }),
        )
        .route(
            "/publish",
            post(
                |State(tx): State<broadcast::Sender<Event>>,
                 Query(params): Query<HashMap<String, String>>| async move {
                    let (seq, n) = publish_params(&params);
                    for seq in seq..seq + n {
                        // One event, built once, cloned to each receiver.
                        let event = Event::default()
                            .event("message")
                            .id(seq.to_string())
                            .data(payload(seq));
                        let _ = tx.send(event);
                    }
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(tx);
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
}

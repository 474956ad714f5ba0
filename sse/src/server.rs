//! The server: any [`SseRouter`] over hyper 1, HTTP/1.1 and HTTP/2 (h2c,
//! prior knowledge) on one port.
//!
//! ```no_run
//! use sse::{Request, Server, SseHandle, SseMessage, SseResponse, routing::DynamicRouter};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let clock = |_request: Request| async {
//!         SseResponse::ok(|sse: SseHandle| async move {
//!             for tick in 0u64.. {
//!                 if sse.send(SseMessage::data(tick.to_string())).is_err() { break }
//!                 tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//!             }
//!         })
//!     };
//!     let router = DynamicRouter::new().get("/clock", clock)?;
//!     // Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
//!     Server::bind("0.0.0.0:8080").await?.serve(router).await;
//!     Ok(())
//! }
//! ```
//!
//! # What a request goes through
//!
//! Routing happens on the request head, before any body is read:
//!
//! - no route matches the path, or not for this method: the HTTP fallback
//!   service ([`Server::fallback`], e.g. an axum `Router` serving pages and
//!   POST endpoints), with the body untouched; without a fallback, `404`, or
//!   `405` with `Allow` when the path takes other methods;
//! - a route matches: its body is collected up to
//!   [`max_body_bytes`](ServerConfig::max_body_bytes) (`413` beyond it, `408`
//!   if it takes longer than
//!   [`body_read_timeout`](ServerConfig::body_read_timeout)), then the
//!   handler answers, with [`catch_panics`](crate::filter::catch_panics)
//!   always outermost: a handler that panics answers `500`, a consumer that
//!   panics closes its own stream; both are logged with `tracing` and the
//!   server goes on;
//! - the handler answered [`SseResponse::unhandled`](crate::SseResponse::unhandled):
//!   the fallback, with the collected body, or `404`.
//!
//! Streams carry `Content-Type: text/event-stream`, `Cache-Control:
//! no-cache` and `X-Accel-Buffering: no`, are never compressed, and each
//! event is written to the socket as soon as it is sent (no waiting to
//! batch; `TCP_NODELAY` is set). Events that queued up while the socket
//! was busy go out together, as one chunk in one write.
//!
//! # Robustness
//!
//! - **Dead peers.** A client that closes or resets its connection is seen
//!   at once (hyper reads the socket while it streams). One that vanishes
//!   silently is found by the keep-alive comment, which goes unacknowledged:
//!   accepted sockets carry `TCP_USER_TIMEOUT`
//!   ([`tcp_user_timeout`](ServerConfig::tcp_user_timeout)), so the stream
//!   closes within one keep-alive interval plus a second. Either way the
//!   connection's `on_close` callbacks run and its consumer is dropped.
//! - **Slow consumers.** Each stream's send queue is bounded in bytes; a full
//!   queue applies the [`SlowConsumerPolicy`]. Other clients are unaffected.
//! - **Limits.** [`max_connections`](ServerConfig::max_connections) (`503`
//!   with `Retry-After` beyond it), the request head size (`431`), the body
//!   size (`413`), and a
//!   [`header_read_timeout`](ServerConfig::header_read_timeout) so that a
//!   slowloris client cannot keep a connection slot.
//! - **Graceful shutdown.** On the shutdown signal the server stops
//!   accepting, sends the optional final message to every open stream,
//!   closes every stream (each `on_close` runs), lets connections finish up
//!   to [`shutdown_deadline`](ServerConfig::shutdown_deadline), drops what is
//!   left, waits (within the same deadline) until every consumer's future
//!   has been dropped, so that no handler task outlives the server, and
//!   returns a [`ShutdownReport`]. Open streams never keep it
//!   waiting past the deadline (the failure mode of hyper issue 2787).
//!
//! # Mounting elsewhere
//!
//! [`SseService`] is a router as a `tower::Service`, to nest inside axum or
//! any tower stack; see its docs.

mod config;
mod registry;
mod service;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http::header::{HOST, HeaderValue, RETRY_AFTER};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinSet;

pub use config::ServerConfig;
pub use service::{BoxError, RequestBody, ResponseBody, SseService};

use crate::message::SseMessage;
use crate::routing::SseRouter;
use crate::sse::{Frame, SlowConsumerPolicy};
use registry::{Consumers, Registry, TrackConsumers};
use service::{Dispatched, Fallback, Limits, dispatch, plain, unrouted};

/// How many over-limit connections may be being answered `503` at once;
/// beyond that they are closed without an answer, so that a flood cannot
/// grow the server's work without bound.
const MAX_REJECTING: usize = 64;

/// Serves an [`SseRouter`]; see the [module docs](self).
///
/// Build it with [`Server::bind`] or [`Server::from_listener`], adjust the
/// settings (each builder method sets one [`ServerConfig`] field and says its
/// default), then run it with [`serve`](Server::serve),
/// [`serve_with_shutdown`](Server::serve_with_shutdown) or
/// [`spawn`](Server::spawn).
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    fallback: Option<Fallback>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("config", &self.config)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Server {
    /// A server listening on `addr` (port 0 picks a free port; see
    /// [`local_addr`](Server::local_addr)).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr).await?))
    }

    /// A server accepting on a listener you bound yourself.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: ServerConfig::default(),
            fallback: None,
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Replaces all settings at once.
    pub fn with_config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The idle interval after which a stream gets a keep-alive comment
    /// (default 15 s; `None` turns keep-alive off, which also means a
    /// vanished client is only noticed when its stream next sends).
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.config.stream.keep_alive = interval;
        self
    }

    /// The per-stream send-queue bound in bytes (default 1 MiB).
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.config.stream.queue_bytes = bytes;
        self
    }

    /// What a full send queue does (default
    /// [`SlowConsumerPolicy::Disconnect`]).
    pub fn slow_consumer(mut self, policy: SlowConsumerPolicy) -> Self {
        self.config.stream.slow_consumer = policy;
        self
    }

    /// The most connections open at once (default 10 000); one more is
    /// answered `503` with `Retry-After`.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// The `Retry-After` sent with a `503` for too many connections
    /// (default 5 s).
    pub fn overload_retry_after(mut self, after: Duration) -> Self {
        self.config.overload_retry_after = after;
        self
    }

    /// The largest request head in bytes (default 16 KiB, at least 8 KiB);
    /// a larger one is answered `431`.
    pub fn max_request_header_bytes(mut self, max: usize) -> Self {
        self.config.max_request_header_bytes = max;
        self
    }

    /// The largest body a matched SSE route accepts (default 1 MiB); a
    /// larger one is answered `413`.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.config.max_body_bytes = max;
        self
    }

    /// How long a client may take to send a request head (default 10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// How long a matched SSE route waits for the request body (default
    /// 30 s); a slower one is answered `408`.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_read_timeout = timeout;
        self
    }

    /// `TCP_USER_TIMEOUT` on accepted sockets (default 700 ms; `None` keeps
    /// the kernel's default); see [`ServerConfig::tcp_user_timeout`].
    pub fn tcp_user_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.tcp_user_timeout = timeout;
        self
    }

    /// How long shutdown waits for connections to finish (default 10 s).
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.config.shutdown_deadline = deadline;
        self
    }

    /// A message every open stream gets when the server shuts down
    /// (default none).
    pub fn shutdown_message(mut self, message: SseMessage) -> Self {
        self.config.shutdown_message = Some(message);
        self
    }

    /// The HTTP fallback service for requests the router does not take (no
    /// route, wrong method, or a handler that answered
    /// [`unhandled`](crate::SseResponse::unhandled)): any `tower::Service`,
    /// such as an axum `Router`, for pages and POST endpoints next to the
    /// streams (http4k's PolyHandler). Its requests carry a [`RequestBody`]:
    /// the connection's body untouched, or the body a matched route had
    /// already collected. A service error is logged and answered `500`.
    pub fn fallback<S, B>(mut self, service: S) -> Self
    where
        S: tower_service::Service<http::Request<RequestBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.fallback = Some(Fallback::new(service));
        self
    }

    /// Serves `router` until Ctrl-C (or, on Unix, SIGTERM), then shuts down
    /// gracefully.
    pub async fn serve(self, router: impl SseRouter) -> ShutdownReport {
        self.serve_with_shutdown(router, terminate_signal()).await
    }

    /// Serves `router` until `signal` completes, then shuts down gracefully
    /// and reports how it went.
    pub async fn serve_with_shutdown(
        self,
        router: impl SseRouter,
        signal: impl Future<Output = ()> + Send,
    ) -> ShutdownReport {
        let (listener, state) = self.into_state(router);
        run(listener, state, signal).await
    }

    /// Serves `router` on a task of its own; the [`ServerHandle`] tells the
    /// address, counts streams and connections, and shuts the server down
    /// (as does dropping it). Must be called inside a tokio runtime.
    pub fn spawn(self, router: impl SseRouter) -> ServerHandle {
        let local_addr = self
            .listener
            .local_addr()
            .expect("a bound TCP listener has a local address");
        let (listener, state) = self.into_state(router);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, state.clone(), async move {
            // A dropped handle stops the server too.
            let _ = stopped.await;
        }));
        ServerHandle {
            local_addr,
            state,
            stop: Some(stop),
            task,
        }
    }

    fn into_state(self, router: impl SseRouter) -> (TcpListener, Arc<ServerState>) {
        let config = self.config;
        let header_bytes = config.header_bytes();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX));
        // Over the limit: one answer, then close.
        let mut reject = auto::Builder::new(TokioExecutor::new());
        reject
            .http1()
            .keep_alive(false)
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(header_bytes);
        let consumers = Arc::new(Consumers::default());
        let state = Arc::new(ServerState {
            router: Arc::new(router.with_filter(TrackConsumers(consumers.clone()))),
            limits: Limits {
                stream: config.stream.clone(),
                max_body_bytes: config.max_body_bytes,
                body_read_timeout: config.body_read_timeout,
            },
            fallback: self.fallback,
            registry: Arc::new(Registry::default()),
            consumers,
            slots: Arc::new(Semaphore::new(config.connection_slots())),
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
            builder,
            reject,
            config,
        });
        (self.listener, state)
    }
}

/// A server running on its own task; see [`Server::spawn`].
pub struct ServerHandle {
    local_addr: SocketAddr,
    state: Arc<ServerState>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<ShutdownReport>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .field("open_streams", &self.open_streams())
            .field("open_connections", &self.open_connections())
            .finish()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many event streams are open now.
    pub fn open_streams(&self) -> usize {
        self.state.registry.len()
    }

    /// How many connections are open now (not counting over-limit ones
    /// being answered `503`).
    pub fn open_connections(&self) -> usize {
        self.state.open_connections()
    }

    /// Shuts the server down gracefully and waits until it has; see the
    /// [module docs](self).
    pub async fn shutdown(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(report) => report,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("the server task was cancelled: {error}"),
        }
    }
}

/// How a graceful shutdown went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Streams that were open and were closed by the shutdown.
    pub streams_closed: usize,
    /// Connections that finished before the deadline.
    pub connections_finished: usize,
    /// Connections still open at the deadline, dropped.
    pub connections_dropped: usize,
    /// From the signal to the return.
    pub elapsed: Duration,
}

struct ServerState {
    router: Arc<dyn SseRouter>,
    limits: Limits,
    fallback: Option<Fallback>,
    registry: Arc<Registry>,
    /// The consumers still running, which shutdown waits for.
    consumers: Arc<Consumers>,
    /// One permit per open connection.
    slots: Arc<Semaphore>,
    /// One permit per over-limit connection being answered `503`.
    rejecting: Arc<Semaphore>,
    builder: auto::Builder<TokioExecutor>,
    reject: auto::Builder<TokioExecutor>,
    config: ServerConfig,
}

impl ServerState {
    fn open_connections(&self) -> usize {
        self.config.connection_slots() - self.slots.available_permits()
    }

    /// Answers one request.
    async fn handle(
        self: Arc<Self>,
        request: http::Request<Incoming>,
    ) -> http::Response<ResponseBody> {
        // RFC 9112 §3.2: a request with more than one Host is answered 400
        // (each hop could pick a different one: cache poisoning, smuggling).
        if request.headers().get_all(HOST).iter().nth(1).is_some() {
            return plain(StatusCode::BAD_REQUEST, "more than one Host header")
                .map(ResponseBody::sse);
        }
        match dispatch(&*self.router, &self.limits, request).await {
            Dispatched::Answered(response) => {
                if let Some(shared) = response.body().stream_shared() {
                    self.registry.register(shared);
                }
                response.map(ResponseBody::sse)
            }
            Dispatched::Unrouted { request, allowed } => match &self.fallback {
                Some(fallback) => fallback.call(request.map(RequestBody::incoming)).await,
                None => unrouted(&allowed, &self.limits.stream).map(ResponseBody::sse),
            },
            Dispatched::Unhandled(request) => match &self.fallback {
                Some(fallback) => fallback.call(request.map(RequestBody::collected)).await,
                None => unrouted(&[], &self.limits.stream).map(ResponseBody::sse),
            },
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix; never, if neither can be listened for.
async fn terminate_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}

/// The accept loop, then the shutdown.
async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    signal: impl Future<Output = ()> + Send,
) -> ShutdownReport {
    let mut connections = JoinSet::new();
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(signal);
    loop {
        tokio::select! {
            biased;
            () = &mut signal => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => log_join(done),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => accept(&state, &mut connections, &stopping, stream, peer),
                Err(error) => accept_failed(error).await,
            },
        }
    }
    let started = Instant::now();
    // Stop accepting: new connections are refused by the kernel from here.
    drop(listener);
    // Idle connections close now, busy ones after their response...
    let _ = stop.send(true);
    // ...and every stream's response ends after its final message.
    let last = state.config.shutdown_message.as_ref().map(Frame::from);
    let streams_closed = state.registry.shutdown(last);
    tracing::info!(
        streams = streams_closed,
        connections = connections.len(),
        "shutting down"
    );
    let deadline = tokio::time::Instant::now() + state.config.shutdown_deadline;
    let mut connections_finished = 0;
    let mut connections_dropped = 0;
    loop {
        match tokio::time::timeout_at(deadline, connections.join_next()).await {
            Ok(Some(done)) => {
                log_join(done);
                connections_finished += 1;
            }
            Ok(None) => break,
            Err(_deadline) => {
                connections_dropped = connections.len();
                tracing::warn!(
                    connections = connections_dropped,
                    "shutdown deadline reached; dropping the connections left"
                );
                connections.shutdown().await;
                break;
            }
        }
    }
    // Consumers run on tasks of their own, each dropped once its stream
    // closed; none may outlive the shutdown.
    if tokio::time::timeout_at(deadline, state.consumers.idle())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline reached with SSE consumers still running");
    }
    ShutdownReport {
        streams_closed,
        connections_finished,
        connections_dropped,
        elapsed: started.elapsed(),
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(
            panic = %crate::sse::panic_message(&error.into_panic()),
            "a connection task panicked; the server goes on"
        );
    }
}

/// A failed `accept`: a connection that died in the backlog is nothing; any
/// other error (out of file descriptors, say) is logged and the loop pauses
/// briefly instead of spinning.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; pausing accepts for 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn accept(
    state: &Arc<ServerState>,
    connections: &mut JoinSet<()>,
    stopping: &watch::Receiver<bool>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    configure_socket(&stream, &state.config);
    match state.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            connections.spawn(serve_connection(
                state.clone(),
                stream,
                peer,
                stopping.clone(),
                permit,
            ));
        }
        Err(_) => match state.rejecting.clone().try_acquire_owned() {
            Ok(permit) => {
                tracing::debug!(%peer, "too many connections; answering 503");
                connections.spawn(reject_connection(
                    state.clone(),
                    stream,
                    stopping.clone(),
                    permit,
                ));
            }
            Err(_) => tracing::debug!(%peer, "too many connections; closing without an answer"),
        },
    }
}

fn configure_socket(stream: &TcpStream, config: &ServerConfig) {
    // Events go out as they are written, not held back by Nagle.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "setting TCP_NODELAY failed");
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    if let Some(timeout) = config.tcp_user_timeout
        && let Err(error) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout))
    {
        tracing::debug!(%error, "setting TCP_USER_TIMEOUT failed");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = config;
}

async fn serve_connection(
    state: Arc<ServerState>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    // Whether a request head arrived: until one does, the connection is on
    // the header-read clock, which hyper only starts once it knows the
    // protocol (a client that sends a few bytes, or none, would otherwise
    // hold its slot forever).
    let greeted = Arc::new(AtomicBool::new(false));
    let service = {
        let state = state.clone();
        let greeted = greeted.clone();
        service_fn(move |request| {
            greeted.store(true, Ordering::Relaxed);
            let state = state.clone();
            async move { Ok::<_, Infallible>(state.handle(request).await) }
        })
    };
    let connection = state
        .builder
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let first_head = tokio::time::sleep(state.config.header_read_timeout);
    tokio::pin!(first_head);
    let mut waiting_for_head = true;
    let mut shutting_down = false;
    if *stopping.borrow_and_update() {
        connection.as_mut().graceful_shutdown();
        shutting_down = true;
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = &mut first_head, if waiting_for_head => {
                if !greeted.load(Ordering::Relaxed) {
                    tracing::debug!(%peer, "no request head within the header-read timeout; closing");
                    return;
                }
                waiting_for_head = false;
            }
            _ = stopping.changed(), if !shutting_down => {
                connection.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}

/// Answers an over-limit connection's request with `503` and
/// `Retry-After`, then closes it; dropped at once if the server shuts down.
async fn reject_connection(
    state: Arc<ServerState>,
    stream: TcpStream,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let retry_after = HeaderValue::from(state.config.retry_after_secs());
    let answered = Arc::new(Notify::new());
    let service = {
        let answered = answered.clone();
        service_fn(move |_request: http::Request<Incoming>| {
            answered.notify_one();
            let mut response = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many connections; retry later",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, retry_after.clone());
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let connection = state.reject.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // A client that never sends its request is not waited for long.
    let give_up = tokio::time::sleep(state.config.header_read_timeout + Duration::from_secs(1));
    tokio::pin!(give_up);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            () = &mut give_up => return,
            _ = stopping.changed() => return,
            // HTTP/1.1 closes after one answer (keep-alive is off); HTTP/2
            // has no such switch: a GOAWAY lets this request finish and no
            // other start.
            () = answered.notified(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

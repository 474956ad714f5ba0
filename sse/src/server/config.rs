//! The server's settings and their defaults.

use std::time::Duration;

use crate::message::SseMessage;
use crate::sse::{SlowConsumerPolicy, StreamConfig};

/// hyper will not take a read buffer smaller than this, and the request
/// head must fit in the read buffer, so it is the floor of
/// [`ServerConfig::max_request_header_bytes`].
pub(crate) const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Everything [`Server`](super::Server) can be told; every field has a
/// documented default (see [`ServerConfig::default`]). Set fields directly,
/// or through the builder methods on [`Server`](super::Server).
///
/// | field | default |
/// | --- | --- |
/// | [`stream`](Self::stream)`.keep_alive` | 15 s (`None`: off) |
/// | [`stream`](Self::stream)`.queue_bytes` | 1 MiB per connection |
/// | [`stream`](Self::stream)`.slow_consumer` | [`SlowConsumerPolicy::Disconnect`] |
/// | [`max_connections`](Self::max_connections) | 10 000 |
/// | [`overload_retry_after`](Self::overload_retry_after) | 5 s |
/// | [`max_request_header_bytes`](Self::max_request_header_bytes) | 16 KiB (at least 8 KiB) |
/// | [`max_body_bytes`](Self::max_body_bytes) | 1 MiB |
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s |
/// | [`body_read_timeout`](Self::body_read_timeout) | 30 s |
/// | [`tcp_user_timeout`](Self::tcp_user_timeout) | 700 ms (Linux only) |
/// | [`shutdown_deadline`](Self::shutdown_deadline) | 10 s |
/// | [`shutdown_message`](Self::shutdown_message) | none |
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Per-stream settings: keep-alive interval, send-queue bound in bytes,
    /// slow-consumer policy (see [`StreamConfig`]).
    pub stream: StreamConfig,
    /// How many connections may be open at once. A connection beyond it is
    /// answered `503 Service Unavailable` with `Retry-After` and closed.
    pub max_connections: usize,
    /// The `Retry-After` sent with that 503 (whole seconds, at least 1).
    pub overload_retry_after: Duration,
    /// The largest request head (request line and headers) accepted, in
    /// bytes; a larger one is answered `431 Request Header Fields Too Large`
    /// (HTTP/1.1) or refused by the HTTP/2 codec. Values below 8 KiB count as
    /// 8 KiB, hyper's floor. In HTTP/1.1 this also bounds hyper's write
    /// buffer, which keeps a slow client's memory small.
    pub max_request_header_bytes: usize,
    /// The largest request body a matched SSE route collects (SSE over POST);
    /// a larger one is answered `413 Payload Too Large` without being read.
    /// Requests for the fallback service are passed on unread and unlimited:
    /// the fallback applies its own limits.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request head, from the moment
    /// the server starts waiting for it (a new connection, or an idle
    /// keep-alive one). A client that is slower (slowloris) is disconnected,
    /// so it cannot hold a connection slot forever.
    pub header_read_timeout: Duration,
    /// How long a matched SSE route waits for the request body; a slower one
    /// is answered `408 Request Timeout`.
    pub body_read_timeout: Duration,
    /// `TCP_USER_TIMEOUT` on accepted sockets: how long written data may stay
    /// unacknowledged before the kernel declares the peer dead. Together
    /// with keep-alive comments this notices a client that vanished without
    /// a FIN or RST (network gone, laptop closed): the next keep-alive goes
    /// unanswered and the stream closes. The kernel counts from its first
    /// retransmission (at least 200 ms after the write), so with 700 ms a
    /// vanished client is noticed within one keep-alive interval plus a
    /// second. `None` leaves the kernel default (about 15 minutes). Ignored
    /// where the platform has no such option.
    ///
    /// Linux applies the same timeout to a peer whose receive window stays
    /// shut (a client that stopped reading while its socket buffers are
    /// full): it is cut off too. That agrees with the default
    /// [`SlowConsumerPolicy::Disconnect`]; with
    /// [`SlowConsumerPolicy::DropMessage`], where a stalled client should
    /// keep its stream, raise this to how long a client may stall (or set
    /// `None`), at the cost of noticing vanished clients that much later.
    pub tcp_user_timeout: Option<Duration>,
    /// How long a graceful shutdown waits for connections to finish after
    /// every stream was closed; what is left then is dropped.
    pub shutdown_deadline: Duration,
    /// A message sent to every open stream when the server shuts down, after
    /// what was already queued and before the stream ends.
    pub shutdown_message: Option<SseMessage>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            stream: StreamConfig {
                queue_bytes: 1 << 20,
                slow_consumer: SlowConsumerPolicy::Disconnect,
                keep_alive: Some(Duration::from_secs(15)),
            },
            max_connections: 10_000,
            overload_retry_after: Duration::from_secs(5),
            max_request_header_bytes: 16 * 1024,
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            tcp_user_timeout: Some(Duration::from_millis(700)),
            shutdown_deadline: Duration::from_secs(10),
            shutdown_message: None,
        }
    }
}

impl ServerConfig {
    /// The request-head limit as hyper takes it.
    pub(crate) fn header_bytes(&self) -> usize {
        self.max_request_header_bytes.max(MIN_HEADER_BYTES)
    }

    /// The connection limit as a semaphore can hold it (a larger one is no
    /// limit in practice).
    pub(crate) fn connection_slots(&self) -> usize {
        self.max_connections
            .min(tokio::sync::Semaphore::MAX_PERMITS)
    }

    /// The `Retry-After` value in whole seconds.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.overload_retry_after.as_secs().max(1)
    }
}

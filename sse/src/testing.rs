//! Testing without a network: http4k's "server as a function".
//!
//! [`TestSseClient`] runs a router or a handler in memory, through every
//! filter, exactly as the server would (the same connection, the same body,
//! the same headers), and gives back the status, the headers and the
//! received messages as an async stream. No socket, no port, no sleep.
//!
//! ```
//! use sse::testing::TestSseClient;
//! use sse::{Request, SseHandle, SseMessage, SseResponse};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hello = |_request: Request| async {
//!     SseResponse::ok(|sse: SseHandle| async move {
//!         sse.send(SseMessage::data("hello")).unwrap();
//!         sse.send(SseMessage::event("bye", "").unwrap()).unwrap();
//!     })
//! };
//! let mut response = TestSseClient::for_handler(hello).get("/").await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.next_message().await, Some(SseMessage::data("hello")));
//! assert_eq!(response.next_message().await, Some(SseMessage::event("bye", "").unwrap()));
//! assert_eq!(response.next_message().await, None); // the consumer returned
//! # }
//! ```
//!
//! Messages come back through a real SSE parser over the encoded bytes, so
//! what a test sees is what a client would see: data with CR and CRLF turned
//! into LF; a `Data` message with an id arrives as an `Event` named
//! `message`; a comment with no text (including keep-alives, if turned on)
//! arrives as [`SseMessage::Ping`].

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, Method, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt as _;

use crate::body::SseBody;
use crate::handler::{BoxedHandler, Request, SseHandler, boxed};
use crate::message::{SseEvent, SseMessage};
use crate::routing::{SseRouter, SseRouterMatch, serve_match, unrouted_response};
use crate::sse::StreamConfig;

/// Runs a router or handler in memory; see the [module docs](self).
#[derive(Clone)]
pub struct TestSseClient {
    target: Target,
    config: StreamConfig,
}

#[derive(Clone)]
enum Target {
    Router(Arc<dyn SseRouter>),
    Handler(BoxedHandler),
}

impl TestSseClient {
    /// A client for a router: requests are routed as the server routes them
    /// (404 and 405 included).
    pub fn new(router: impl SseRouter) -> Self {
        TestSseClient {
            target: Target::Router(Arc::new(router)),
            config: StreamConfig {
                keep_alive: None,
                ..StreamConfig::default()
            },
        }
    }

    /// A client that sends every request to one handler.
    pub fn for_handler(handler: impl SseHandler) -> Self {
        TestSseClient {
            target: Target::Handler(boxed(handler)),
            ..TestSseClient::new(crate::routing::DynamicRouter::new())
        }
    }

    /// The same client with other stream settings (queue bound, policy,
    /// keep-alive; keep-alive is off by default here so that tests see only
    /// what handlers send).
    pub fn with_config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Sends a GET for `path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> TestSseResponse {
        self.request(
            http::Request::get(path_and_query)
                .body(Bytes::new())
                .expect("a valid path"),
        )
        .await
    }

    /// Sends a POST of `body` to `path_and_query`.
    pub async fn post(&self, path_and_query: &str, body: impl Into<Bytes>) -> TestSseResponse {
        self.request(
            http::Request::post(path_and_query)
                .body(body.into())
                .expect("a valid path"),
        )
        .await
    }

    /// Sends any request.
    pub async fn request(&self, request: Request) -> TestSseResponse {
        let found = match &self.target {
            Target::Handler(handler) => Ok(crate::routing::RouteMatch {
                handler: handler.clone(),
                route: Arc::from("/{*any}"),
                params: crate::handler::PathParams::new(),
            }),
            Target::Router(router) => {
                match router.match_route(request.method(), request.uri().path()) {
                    SseRouterMatch::Matched(found) => Ok(found),
                    SseRouterMatch::MethodNotMatched { allowed } => Err(allowed),
                    SseRouterMatch::Unmatched => Err(Vec::new()),
                }
            }
        };
        let response = match found {
            Ok(found) => match serve_match(found, request, &self.config).await {
                Ok(response) => response,
                // Not handled, and there is no fallback in memory.
                Err(request) => {
                    crate::body::into_http_response(request, unrouted_response(&[]), &self.config)
                }
            },
            Err(allowed) => {
                crate::body::into_http_response(request, unrouted_response(&allowed), &self.config)
            }
        };
        TestSseResponse::new(response)
    }
}

/// What [`TestSseClient`] received: status, headers, and the messages.
pub struct TestSseResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Option<SseBody>,
    parser: SseParser,
    received: VecDeque<SseMessage>,
}

impl TestSseResponse {
    fn new(response: http::Response<SseBody>) -> Self {
        let (parts, body) = response.into_parts();
        TestSseResponse {
            status: parts.status,
            headers: parts.headers,
            body: Some(body),
            parser: SseParser::default(),
            received: VecDeque::new(),
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether a stream was opened.
    pub fn is_stream(&self) -> bool {
        self.body.as_ref().is_some_and(SseBody::is_stream)
    }

    /// The whole body of a refusal, as text.
    pub async fn text(mut self) -> String {
        let mut text = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            text.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        let body = self.body.as_mut()?;
        loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(data);
                    }
                }
                Some(Err(never)) => match never {},
                None => {
                    self.body = None;
                    return None;
                }
            }
        }
    }

    /// The next message; `None` once the stream has ended.
    pub async fn next_message(&mut self) -> Option<SseMessage> {
        loop {
            if let Some(message) = self.received.pop_front() {
                return Some(message);
            }
            let chunk = self.next_chunk().await?;
            self.received.extend(self.parser.feed(&chunk));
        }
    }

    /// The next message, or `None` if none arrives within `timeout` (or the
    /// stream ends). With tokio's paused test clock this does not really wait.
    pub async fn next_message_within(&mut self, timeout: Duration) -> Option<SseMessage> {
        tokio::time::timeout(timeout, self.next_message())
            .await
            .ok()
            .flatten()
    }

    /// Every message until the stream ends.
    pub async fn collect(mut self) -> Vec<SseMessage> {
        let mut all = Vec::new();
        while let Some(message) = self.next_message().await {
            all.push(message);
        }
        all
    }

    /// The messages as a stream.
    pub fn into_stream(self) -> impl Stream<Item = SseMessage> + Send {
        futures_util::stream::unfold(self, |mut response| async move {
            let message = response.next_message().await?;
            Some((message, response))
        })
    }

    /// The client goes away: the server side sees the connection close
    /// (its `on_close` callbacks run), as when a browser tab closes.
    pub fn close(mut self) {
        self.body = None;
    }
}

impl std::fmt::Debug for TestSseResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSseResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A WHATWG event-stream parser that gives back [`SseMessage`]s, so tests can
/// compare what was received with what was sent (see the [module docs](self)
/// for how received messages map to variants). Feed it bytes in chunks of
/// any size.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Feeds bytes; returns the messages they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseMessage> {
        self.pending.extend_from_slice(bytes);
        let mut messages = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.pending.len() {
            let end = match self.pending[i] {
                b'\n' => i + 1,
                // A CR at the end of what we have may be half of a CRLF.
                b'\r' if i + 1 == self.pending.len() => break,
                b'\r' if self.pending[i + 1] == b'\n' => i + 2,
                b'\r' => i + 1,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let line = String::from_utf8_lossy(&self.pending[start..i]).into_owned();
            if let Some(message) = self.line(&line) {
                messages.push(message);
            }
            start = end;
            i = end;
        }
        self.pending.drain(..start);
        messages
    }

    fn line(&mut self, line: &str) -> Option<SseMessage> {
        if line.is_empty() {
            return self.dispatch();
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "" => append_line(&mut self.comment, value),
            "event" => self.event = Some(value.to_owned()),
            "data" => append_line(&mut self.data, value),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(millis) = value.parse() {
                    self.retry = Some(Duration::from_millis(millis));
                }
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseMessage> {
        let event = self.event.take();
        let data = self.data.take();
        let id = self.id.take();
        let retry = self.retry.take();
        let comment = self.comment.take();
        match data {
            Some(data) if event.is_none() && id.is_none() && retry.is_none() => {
                Some(SseMessage::data(data))
            }
            Some(data) => {
                let mut message = SseEvent::new(event.unwrap_or_else(|| "message".into()), data)
                    .expect("a parsed line holds no line break");
                if let Some(id) = id {
                    message = message
                        .with_id(id)
                        .expect("a parsed line holds no line break");
                }
                if let Some(retry) = retry {
                    message = message.with_retry(retry);
                }
                Some(SseMessage::Event(message))
            }
            None => match (retry, comment) {
                (Some(retry), _) => Some(SseMessage::Retry(retry)),
                (None, Some(comment)) if comment.is_empty() => Some(SseMessage::Ping),
                (None, Some(comment)) => Some(SseMessage::comment(comment)),
                (None, None) => None,
            },
        }
    }
}

fn append_line(buffer: &mut Option<String>, value: &str) {
    match buffer {
        Some(text) => {
            text.push('\n');
            text.push_str(value);
        }
        None => *buffer = Some(value.to_owned()),
    }
}

/// A request for tests: `method` and `path_and_query`, no body.
pub fn request(method: Method, path_and_query: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(Bytes::new())
        .expect("a valid request")
}

impl Stream for TestSseResponse {
    type Item = SseMessage;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<SseMessage>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if let Some(message) = this.received.pop_front() {
                return Poll::Ready(Some(message));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(Pin::new(body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let parsed = this.parser.feed(&data);
                        this.received.extend(parsed);
                    }
                }
                Some(Err(never)) => match never {},
                None => this.body = None,
            }
        }
    }
}

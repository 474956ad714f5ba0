//! Handlers, consumers and responses: http4k's `SseHandler`, `SseConsumer`
//! and `SseResponse`.
//!
//! A handler looks at the [`Request`] and answers with an [`SseResponse`]:
//! either a stream (status 200 and a consumer that runs once the client is
//! connected) or a refusal (any status, headers, a short body) before any
//! stream starts. Plain async closures are handlers and consumers:
//!
//! ```
//! use sse::{Request, SseHandle, SseMessage, SseResponse};
//!
//! let handler = |request: Request| async move {
//!     if request.headers().contains_key("x-denied") {
//!         return SseResponse::refuse(http::StatusCode::FORBIDDEN, "no");
//!     }
//!     SseResponse::ok(|sse: SseHandle| async move {
//!         let _ = sse.send(SseMessage::data("hello"));
//!     })
//! };
//! # fn is_handler(_: impl sse::SseHandler) {}
//! # is_handler(handler);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::future::BoxFuture;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::sse::SseHandle;

/// A request as handlers see it: an [`http::Request`] whose body has been
/// collected (SSE over POST carries a prompt or a query in it). Its
/// extensions hold the [`PathParams`] the router matched.
pub type Request = http::Request<Bytes>;

/// What runs once a client is connected (http4k's `SseConsumer`).
///
/// The stream stays open while the consumer runs or any handle is alive; the
/// consumer's future is dropped when the connection closes. Any
/// `FnOnce(SseHandle) -> impl Future<Output = ()>` is a consumer.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE consumer",
    label = "expected an async closure taking the connection",
    note = "a consumer is `|sse: sse::SseHandle| async move {{ ... }}`"
)]
pub trait SseConsumer: Send + 'static {
    /// Runs the consumer on a connected client.
    fn consume(self: Box<Self>, sse: SseHandle) -> BoxFuture<'static, ()>;
}

impl<F, Fut> SseConsumer for F
where
    F: FnOnce(SseHandle) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn consume(self: Box<Self>, sse: SseHandle) -> BoxFuture<'static, ()> {
        Box::pin((*self)(sse))
    }
}

/// Turns a request into a response (http4k's `SseHandler`).
///
/// Any `Fn(Request) -> impl Future<Output = impl IntoSseResponse>` closure is
/// a handler, and so is a function marked `#[sse_handler]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE handler",
    label = "this is not an SSE handler",
    note = "a handler is a function marked `#[sse_handler]`, or a closure `|request: sse::Request| async move {{ ... }}` returning an `SseResponse`"
)]
pub trait SseHandler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: Request) -> BoxFuture<'static, SseResponse>;
}

impl<F, Fut> SseHandler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoSseResponse,
{
    fn handle(&self, request: Request) -> BoxFuture<'static, SseResponse> {
        let future = self(request);
        Box::pin(async move { future.await.into_sse_response() })
    }
}

impl SseHandler for Arc<dyn SseHandler> {
    fn handle(&self, request: Request) -> BoxFuture<'static, SseResponse> {
        (**self).handle(request)
    }
}

/// A shared, type-erased handler.
pub type BoxedHandler = Arc<dyn SseHandler>;

/// Erases a handler's type, without wrapping one that already is erased.
pub fn boxed(handler: impl SseHandler) -> BoxedHandler {
    let mut slot = Some(handler);
    let any: &mut dyn std::any::Any = &mut slot;
    if let Some(already) = any.downcast_mut::<Option<BoxedHandler>>() {
        return already.take().expect("just set");
    }
    Arc::new(slot.take().expect("just set"))
}

/// What a handler answers (http4k v5's `SseResponse`): a status, headers,
/// whether it handled the request at all, and the consumer to run if a
/// stream starts.
pub struct SseResponse {
    status: StatusCode,
    headers: HeaderMap,
    handled: bool,
    consumer: Option<Box<dyn SseConsumer>>,
    body: Bytes,
}

impl SseResponse {
    /// A stream: status 200, the SSE headers, and `consumer` once connected.
    pub fn ok(consumer: impl SseConsumer) -> Self {
        SseResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            handled: true,
            consumer: Some(Box::new(consumer)),
            body: Bytes::new(),
        }
    }

    /// A refusal before any stream starts: `status` (401, 403, 404, ...) with
    /// a short plain-text `reason` as the body.
    pub fn refuse(status: StatusCode, reason: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        SseResponse {
            status,
            headers,
            handled: true,
            consumer: None,
            body: reason.into(),
        }
    }

    /// Not handled: the server passes the request to its HTTP fallback
    /// service, as if no route had matched (404 without one).
    pub fn unhandled() -> Self {
        SseResponse {
            handled: false,
            ..SseResponse::refuse(StatusCode::NOT_FOUND, "not found")
        }
    }

    /// The same response with one more header (replacing any of that name).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The same response with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers to send with the status (the SSE headers are added to a
    /// stream by the server).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Whether the handler handled the request (see [`SseResponse::unhandled`]).
    pub fn is_handled(&self) -> bool {
        self.handled
    }

    /// Whether a stream starts (a consumer is present).
    pub fn is_stream(&self) -> bool {
        self.consumer.is_some()
    }

    /// The body of a refusal.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the consumer with `wrap(consumer)`, if there is one: how a
    /// filter decorates what runs on the connection.
    pub fn map_consumer(
        mut self,
        wrap: impl FnOnce(Box<dyn SseConsumer>) -> Box<dyn SseConsumer>,
    ) -> Self {
        self.consumer = self.consumer.map(wrap);
        self
    }

    /// Takes the consumer out, leaving the response a refusal.
    pub(crate) fn take_consumer(&mut self) -> Option<Box<dyn SseConsumer>> {
        self.consumer.take()
    }
}

impl fmt::Debug for SseResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("handled", &self.handled)
            .field("stream", &self.consumer.is_some())
            .field("body", &self.body)
            .finish()
    }
}

/// Anything a handler may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be turned into an SSE response",
    note = "return `SseResponse::ok(consumer)`, `SseResponse::refuse(status, reason)`, a `StatusCode`, or a `Result` of those"
)]
pub trait IntoSseResponse {
    /// The response.
    fn into_sse_response(self) -> SseResponse;
}

impl IntoSseResponse for SseResponse {
    fn into_sse_response(self) -> SseResponse {
        self
    }
}

impl IntoSseResponse for StatusCode {
    fn into_sse_response(self) -> SseResponse {
        SseResponse::refuse(self, self.canonical_reason().unwrap_or(""))
    }
}

impl IntoSseResponse for () {
    /// `()`: a stream that ends at once (a consumer that sends nothing).
    fn into_sse_response(self) -> SseResponse {
        SseResponse::ok(|_sse: SseHandle| async {})
    }
}

impl<T: IntoSseResponse, E: IntoSseResponse> IntoSseResponse for Result<T, E> {
    fn into_sse_response(self) -> SseResponse {
        match self {
            Ok(ok) => ok.into_sse_response(),
            Err(err) => err.into_sse_response(),
        }
    }
}

/// The path parameters a router matched, percent-decoded, in route order.
/// Handlers find them in the request's extensions; `#[sse_handler]` reads
/// them into typed arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams {
    pairs: Vec<(Cow<'static, str>, String)>,
}

impl PathParams {
    /// No params.
    pub fn new() -> Self {
        PathParams::default()
    }

    /// Adds a decoded param.
    pub fn push(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// The decoded value of the param `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `(name, value)` pairs in route order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }

    /// How many params there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Appends all of `other`'s params (a base path's before a route's).
    pub fn extend(&mut self, other: PathParams) {
        self.pairs.extend(other.pairs);
    }

    /// Decodes raw values matched against `names` (in order). Fails naming
    /// the first param whose value is not valid once percent-decoded.
    pub fn decode<'a>(
        names: impl IntoIterator<Item = impl Into<Cow<'static, str>>>,
        raw_values: impl IntoIterator<Item = &'a str>,
    ) -> Result<PathParams, ParamError> {
        let mut params = PathParams::new();
        for (name, raw) in names.into_iter().zip(raw_values) {
            let name = name.into();
            match sse_path::decode(raw) {
                Ok(value) => params.pairs.push((name, value.into_owned())),
                Err(error) => {
                    return Err(ParamError {
                        name: name.into_owned(),
                        problem: error.to_string(),
                    });
                }
            }
        }
        Ok(params)
    }
}

/// A path param that could not be read; answered with 400 naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    name: String,
    problem: String,
}

impl ParamError {
    /// A param `name` whose value has `problem` (plain words, e.g. "is not a
    /// valid u64: invalid digit found in string").
    pub fn new(name: impl Into<String>, problem: impl Into<String>) -> Self {
        ParamError {
            name: name.into(),
            problem: problem.into(),
        }
    }

    /// The param's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "path parameter `{}` {}", self.name, self.problem)
    }
}

impl std::error::Error for ParamError {}

impl IntoSseResponse for ParamError {
    fn into_sse_response(self) -> SseResponse {
        SseResponse::refuse(StatusCode::BAD_REQUEST, self.to_string())
    }
}

/// Typed access to what a request carries.
pub trait RequestExt {
    /// The matched path params (empty if the request was not routed).
    fn path_params(&self) -> &PathParams;

    /// The decoded value of path param `name`.
    fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params().get(name)
    }

    /// The `Last-Event-ID` header a reconnecting `EventSource` sends: `None`
    /// when absent; `Some` id otherwise (an id that is not valid UTF-8 is
    /// treated as absent, since no valid id could have produced it).
    fn last_event_id(&self) -> Option<&str>;
}

static NO_PARAMS: PathParams = PathParams { pairs: Vec::new() };

impl<B> RequestExt for http::Request<B> {
    fn path_params(&self) -> &PathParams {
        self.extensions().get::<PathParams>().unwrap_or(&NO_PARAMS)
    }

    fn last_event_id(&self) -> Option<&str> {
        self.headers()
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
    }
}

/// The `Last-Event-ID` a client reconnected with, as a typed handler argument.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// Reads it from a request.
    pub fn from_request<B>(request: &http::Request<B>) -> Self {
        LastEventId(request.last_event_id().map(str::to_owned))
    }

    /// The id, if the client sent one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The id parsed as a number (as the hub assigns them), if present and
    /// numeric.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.as_deref().and_then(|id| id.parse().ok())
    }
}

//! From an HTTP request to a response: routing on the head, the body limit,
//! the handler, and the HTTP fallback. Shared by [`Server`](super::Server)
//! and [`SseService`] (the router as a `tower::Service`).

use std::convert::Infallible;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::future::BoxFuture;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::body::{SseBody, into_http_response};
use crate::filter::{SseFilter as _, catch_panics};
use crate::handler::Request;
use crate::routing::{SseRouter, SseRouterMatch, serve_match, unrouted_response};
use crate::sse::StreamConfig;

/// The error type of boxed bodies and services.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The limits a matched route's request goes through.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) stream: StreamConfig,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_read_timeout: Duration,
}

/// What routing made of a request.
pub(crate) enum Dispatched<B> {
    /// Answered by the router: a stream, a refusal, 404/405, 400, 413, 408.
    Answered(http::Response<SseBody>),
    /// No route matched: the request, body untouched, for the fallback.
    Unrouted {
        request: http::Request<B>,
        allowed: Vec<Method>,
    },
    /// A route matched but its handler did not handle the request: the
    /// request with its collected body, for the fallback.
    Unhandled(Request),
}

/// Routes on the head, then (for a match) collects the body under the limit
/// and runs the handler with `catch_panics` outermost.
pub(crate) async fn dispatch<B>(
    router: &dyn SseRouter,
    limits: &Limits,
    request: http::Request<B>,
) -> Dispatched<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let found = match router.match_route(request.method(), request.uri().path()) {
        SseRouterMatch::Matched(found) => found,
        SseRouterMatch::MethodNotMatched { allowed } => {
            return Dispatched::Unrouted { request, allowed };
        }
        SseRouterMatch::Unmatched => {
            return Dispatched::Unrouted {
                request,
                allowed: Vec::new(),
            };
        }
    };
    let (parts, body) = request.into_parts();
    // Refuse a declared oversize body before reading a byte of it.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return Dispatched::Answered(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ));
    }
    let collect = Limited::new(body, limits.max_body_bytes).collect();
    let bytes = match tokio::time::timeout(limits.body_read_timeout, collect).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.is::<LengthLimitError>() => {
            return Dispatched::Answered(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "reading an SSE request body failed");
            return Dispatched::Answered(plain(
                StatusCode::BAD_REQUEST,
                "could not read the request body",
            ));
        }
        Err(_elapsed) => {
            return Dispatched::Answered(plain(
                StatusCode::REQUEST_TIMEOUT,
                "request body too slow",
            ));
        }
    };
    let request = http::Request::from_parts(parts, bytes);
    let mut found = found;
    // Outermost, so that a panic anywhere in the handler or its filters is
    // contained: 500 for a handler, a closed stream for a consumer.
    found.handler = catch_panics().wrap(found.handler);
    match serve_match(found, request, &limits.stream).await {
        Ok(response) => Dispatched::Answered(response),
        Err(request) => Dispatched::Unhandled(request),
    }
}

/// A short plain-text response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> http::Response<SseBody> {
    let mut response = http::Response::new(SseBody::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 404, or 405 with `Allow`.
pub(crate) fn unrouted(allowed: &[Method], stream: &StreamConfig) -> http::Response<SseBody> {
    // A refusal has no consumer, so the request is not kept: any will do.
    into_http_response(
        http::Request::new(Bytes::new()),
        unrouted_response(allowed),
        stream,
    )
}

/// The body of a request passed to the HTTP fallback service: either the
/// connection's body, untouched (no SSE route matched), or the body a
/// matched route already collected (its handler did not handle the
/// request).
pub struct RequestBody {
    kind: RequestKind,
}

enum RequestKind {
    Incoming(hyper::body::Incoming),
    Collected(Option<Bytes>),
}

impl RequestBody {
    pub(crate) fn incoming(body: hyper::body::Incoming) -> Self {
        RequestBody {
            kind: RequestKind::Incoming(body),
        }
    }

    pub(crate) fn collected(bytes: Bytes) -> Self {
        RequestBody {
            kind: RequestKind::Collected((!bytes.is_empty()).then_some(bytes)),
        }
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RequestKind::Incoming(body) => {
                f.debug_tuple("RequestBody::Incoming").field(body).finish()
            }
            RequestKind::Collected(bytes) => f
                .debug_tuple("RequestBody::Collected")
                .field(bytes)
                .finish(),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().kind {
            RequestKind::Incoming(body) => Pin::new(body).poll_frame(cx),
            RequestKind::Collected(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            RequestKind::Incoming(body) => body.is_end_stream(),
            RequestKind::Collected(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            RequestKind::Incoming(body) => body.size_hint(),
            RequestKind::Collected(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// The body of every response the [`Server`](super::Server) sends: an SSE
/// stream or refusal, or whatever the fallback service answered.
pub struct ResponseBody {
    kind: ResponseKind,
}

enum ResponseKind {
    Sse(SseBody),
    Fallback(UnsyncBoxBody<Bytes, BoxError>),
}

impl ResponseBody {
    pub(crate) fn sse(body: SseBody) -> Self {
        ResponseBody {
            kind: ResponseKind::Sse(body),
        }
    }

    pub(crate) fn fallback<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        ResponseBody {
            kind: ResponseKind::Fallback(body.map_err(Into::into).boxed_unsync()),
        }
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ResponseKind::Sse(body) => f.debug_tuple("ResponseBody::Sse").field(body).finish(),
            ResponseKind::Fallback(_) => f.write_str("ResponseBody::Fallback"),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            ResponseKind::Sse(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(|never| match never {}))),
            ResponseKind::Fallback(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            ResponseKind::Sse(body) => body.is_end_stream(),
            ResponseKind::Fallback(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            ResponseKind::Sse(body) => body.size_hint(),
            ResponseKind::Fallback(body) => body.size_hint(),
        }
    }
}

/// The HTTP fallback service, type-erased.
#[derive(Clone)]
pub(crate) struct Fallback {
    call: Arc<
        dyn Fn(http::Request<RequestBody>) -> BoxFuture<'static, http::Response<ResponseBody>>
            + Send
            + Sync,
    >,
}

impl Fallback {
    pub(crate) fn new<S, B>(service: S) -> Fallback
    where
        S: tower_service::Service<http::Request<RequestBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // Behind a mutex only to be `Sync` for services that are not (tower's
        // boxed services); each call works on its own clone, as hyper does.
        let service = Mutex::new(service);
        Fallback {
            call: Arc::new(move |request| {
                let mut service = service
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone();
                Box::pin(async move {
                    let answer = async {
                        poll_fn(|cx| service.poll_ready(cx))
                            .await
                            .map_err(Into::into)?;
                        service.call(request).await.map_err(Into::into)
                    };
                    match answer.await {
                        Ok(response) => response.map(ResponseBody::fallback),
                        Err(error) => {
                            let error: BoxError = error;
                            tracing::error!(%error, "the HTTP fallback service failed; answering 500");
                            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
                                .map(ResponseBody::sse)
                        }
                    }
                })
            }),
        }
    }

    pub(crate) fn call(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'static, http::Response<ResponseBody>> {
        (self.call)(request)
    }
}

/// An [`SseRouter`] as a `tower::Service`, to mount inside axum (or any
/// tower/hyper stack):
///
/// ```no_run
/// # async fn run(router: sse::routing::DynamicRouter) -> std::io::Result<()> {
/// use sse::server::SseService;
///
/// let app = axum::Router::new()
///     .route("/health", axum::routing::get(|| async { "ok" }))
///     .nest_service("/events", SseService::new(router));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
///
/// It routes, collects the body of a matched request under
/// [`with_max_body_bytes`](Self::with_max_body_bytes) (413 beyond it), runs
/// the handler with [`catch_panics`] outermost and answers 404/405 for what
/// no route takes (including a request its handler did not handle). What it
/// cannot do from inside another server: close streams at shutdown, enforce
/// connection limits, or notice vanished peers; that is
/// [`Server`](super::Server)'s job.
pub struct SseService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    router: Arc<dyn SseRouter>,
    limits: Limits,
}

impl SseService {
    /// The router as a service, with the default stream settings and limits
    /// (those of [`ServerConfig::default`](super::ServerConfig)).
    pub fn new(router: impl SseRouter) -> Self {
        let defaults = super::ServerConfig::default();
        SseService {
            inner: Arc::new(ServiceInner {
                router: Arc::new(router),
                limits: Limits {
                    stream: defaults.stream,
                    max_body_bytes: defaults.max_body_bytes,
                    body_read_timeout: defaults.body_read_timeout,
                },
            }),
        }
    }

    /// The limits, to change: copied first if clones of this service share
    /// them (the router itself is shared, never copied).
    fn limits_mut(&mut self) -> &mut Limits {
        if Arc::get_mut(&mut self.inner).is_none() {
            self.inner = Arc::new(ServiceInner {
                router: self.inner.router.clone(),
                limits: self.inner.limits.clone(),
            });
        }
        &mut Arc::get_mut(&mut self.inner)
            .expect("just made unique")
            .limits
    }

    /// The same service with other stream settings (keep-alive, queue
    /// bound, slow-consumer policy).
    pub fn with_stream_config(mut self, stream: StreamConfig) -> Self {
        self.limits_mut().stream = stream;
        self
    }

    /// The same service with another request-body limit (default 1 MiB).
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.limits_mut().max_body_bytes = max;
        self
    }
}

impl Clone for SseService {
    fn clone(&self) -> Self {
        SseService {
            inner: self.inner.clone(),
        }
    }
}

impl fmt::Debug for SseService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseService")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<http::Request<B>> for SseService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<SseBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<SseBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let response = match dispatch(&*inner.router, &inner.limits, request).await {
                Dispatched::Answered(response) => response,
                Dispatched::Unrouted { allowed, .. } => unrouted(&allowed, &inner.limits.stream),
                Dispatched::Unhandled(_) => unrouted(&[], &inner.limits.stream),
            };
            Ok(response)
        })
    }
}

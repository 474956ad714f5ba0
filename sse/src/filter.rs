//! Filters: http4k's `SseFilter`, a function from handler to handler.
//!
//! A filter can read or change the request, refuse it before a stream
//! starts, change the response, and decorate the consumer (wrap the
//! [`SseHandle`] it gets, to observe or change every send). Filters compose
//! with [`SseFilter::then`]: in `a.then(b)`, `a` is the outer filter and runs
//! first.
//!
//! | built-in | what it does |
//! | --- | --- |
//! | [`catch_panics`] | a handler that panics answers 500; a consumer that panics closes its stream; both are logged with `tracing::error!` |
//! | [`log_requests`] | logs each request and its status at `info`, and each stream's close with its duration |
//! | [`report`] | calls you with one [`SseTransaction`] per request when it is over: request, status, duration, messages and bytes sent |
//! | [`Cors`] | answers a request from an `Origin` not on the list with 403 (DNS-rebinding and cross-site protection); an allowed one gets `Access-Control-Allow-Origin` |
//! | [`bearer_auth`] | refuses a request without a valid `Authorization: Bearer` token with 401 and `WWW-Authenticate` |
//!
//! Build your own from a closure with [`filter_fn`] (around the handler) or
//! [`decorate_sse`] (around the connection).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use futures_util::FutureExt as _;
use http::header::{HeaderValue, ORIGIN};
use http::{Method, StatusCode, Uri};

use crate::handler::{BoxedHandler, Request, SseConsumer, SseHandler, SseResponse, boxed};
use crate::sse::{Frame, SendError, Sse, SseHandle, panic_message};

/// Wraps a handler (http4k's `SseFilter`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE filter",
    note = "build filters with `sse::filter::filter_fn` or `sse::filter::decorate_sse`, or use a built-in one from `sse::filter`"
)]
pub trait SseFilter: Send + Sync + 'static {
    /// The handler `next` with this filter around it.
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler;

    /// This filter around `handler`.
    fn apply(&self, handler: impl SseHandler) -> BoxedHandler
    where
        Self: Sized,
    {
        self.wrap(boxed(handler))
    }

    /// This filter outside `inner`: this one runs first.
    fn then<F: SseFilter>(self, inner: F) -> Then<Self, F>
    where
        Self: Sized,
    {
        Then { outer: self, inner }
    }
}

impl SseFilter for Arc<dyn SseFilter> {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        (**self).wrap(next)
    }
}

/// Two filters, the outer one first; see [`SseFilter::then`].
#[derive(Clone, Debug)]
pub struct Then<A, B> {
    outer: A,
    inner: B,
}

impl<A: SseFilter, B: SseFilter> SseFilter for Then<A, B> {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        self.outer.wrap(self.inner.wrap(next))
    }
}

/// A filter from an async closure that gets the request and the next
/// handler:
///
/// ```
/// use sse::filter::{SseFilter, filter_fn};
/// use sse::{BoxedHandler, Request, SseResponse};
///
/// let deny_bots = filter_fn(|request: Request, next: BoxedHandler| async move {
///     if request.headers().get("user-agent").is_some_and(|ua| ua == "bot") {
///         return SseResponse::refuse(http::StatusCode::FORBIDDEN, "no bots");
///     }
///     next.handle(request).await
/// });
/// ```
pub fn filter_fn<F, Fut>(filter: F) -> FilterFn<F>
where
    F: Fn(Request, BoxedHandler) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SseResponse> + Send + 'static,
{
    FilterFn(Arc::new(filter))
}

/// See [`filter_fn`].
pub struct FilterFn<F>(Arc<F>);

impl<F, Fut> SseFilter for FilterFn<F>
where
    F: Fn(Request, BoxedHandler) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SseResponse> + Send + 'static,
{
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let filter = self.0.clone();
        Arc::new(move |request: Request| filter(request, next.clone()))
    }
}

/// A filter that decorates the connection every consumer gets, e.g. to
/// observe every send.
pub fn decorate_sse<F>(decorate: F) -> DecorateSse<F>
where
    F: Fn(SseHandle) -> SseHandle + Send + Sync + 'static,
{
    DecorateSse(Arc::new(decorate))
}

/// See [`decorate_sse`].
pub struct DecorateSse<F>(Arc<F>);

impl<F> SseFilter for DecorateSse<F>
where
    F: Fn(SseHandle) -> SseHandle + Send + Sync + 'static,
{
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let decorate = self.0.clone();
        Arc::new(move |request: Request| {
            let response = next.handle(request);
            let decorate = decorate.clone();
            async move {
                response.await.map_consumer(|consumer| {
                    Box::new(move |sse: SseHandle| consumer.consume(decorate(sse)))
                })
            }
        })
    }
}

/// Wraps each consumer of a response with `around`, which gets the consumer
/// and the connection and runs the consumer itself.
fn around_consumer<A>(response: SseResponse, around: A) -> SseResponse
where
    A: FnOnce(Box<dyn SseConsumer>, SseHandle) -> BoxFuture<'static, ()> + Send + 'static,
{
    response.map_consumer(|consumer| {
        Box::new(move |sse: SseHandle| around(consumer, sse)) as Box<dyn SseConsumer>
    })
}

/// Contains panics; see the [module docs](self).
pub fn catch_panics() -> CatchPanics {
    CatchPanics
}

/// See [`catch_panics`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanics;

impl SseFilter for CatchPanics {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        Arc::new(move |request: Request| {
            let path = request.uri().path().to_owned();
            // `handle` itself may panic before it returns a future.
            let response = std::panic::catch_unwind(AssertUnwindSafe(|| next.handle(request)));
            async move {
                let outcome = match response {
                    Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                    Err(panic) => Err(panic),
                };
                match outcome {
                    Ok(response) => around_consumer(response, move |consumer, sse| {
                        Box::pin(async move {
                            let keep = sse.clone();
                            if let Err(panic) =
                                AssertUnwindSafe(consumer.consume(sse)).catch_unwind().await
                            {
                                tracing::error!(
                                    %path,
                                    panic = %panic_message(&panic),
                                    "SSE consumer panicked; closing its stream"
                                );
                                keep.close();
                            }
                        })
                    }),
                    Err(panic) => {
                        tracing::error!(
                            %path,
                            panic = %panic_message(&panic),
                            "SSE handler panicked; answering 500"
                        );
                        SseResponse::refuse(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal server error",
                        )
                    }
                }
            }
        })
    }
}

/// Logs requests and stream lifetimes; see the [module docs](self).
pub fn log_requests() -> LogRequests {
    LogRequests
}

/// See [`log_requests`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRequests;

impl SseFilter for LogRequests {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        report(|tx: SseTransaction| {
            if tx.stream {
                tracing::info!(
                    method = %tx.method,
                    path = %tx.uri.path(),
                    status = tx.status.as_u16(),
                    duration_ms = tx.duration.as_millis() as u64,
                    messages = tx.messages,
                    bytes = tx.bytes,
                    "SSE stream closed"
                );
            } else {
                tracing::info!(
                    method = %tx.method,
                    path = %tx.uri.path(),
                    status = tx.status.as_u16(),
                    "SSE request refused"
                );
            }
        })
        .wrap(next)
    }
}

/// One request, once it is over: what [`report`] yields.
#[derive(Clone, Debug)]
pub struct SseTransaction {
    /// The request method.
    pub method: Method,
    /// The request URI.
    pub uri: Uri,
    /// The response status.
    pub status: StatusCode,
    /// Whether a stream was opened.
    pub stream: bool,
    /// From the request reaching the filter to the stream closing (or the
    /// refusal being answered).
    pub duration: Duration,
    /// Messages queued for the client.
    pub messages: u64,
    /// Encoded bytes of those messages.
    pub bytes: u64,
}

/// Calls `on_transaction` with one [`SseTransaction`] per request: for a
/// refusal when it is answered, for a stream when it closes.
pub fn report<F>(on_transaction: F) -> Report<F>
where
    F: Fn(SseTransaction) + Send + Sync + 'static,
{
    Report(Arc::new(on_transaction))
}

/// See [`report`].
pub struct Report<F>(Arc<F>);

impl<F> SseFilter for Report<F>
where
    F: Fn(SseTransaction) + Send + Sync + 'static,
{
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let on_transaction = self.0.clone();
        Arc::new(move |request: Request| {
            let started = Instant::now();
            let method = request.method().clone();
            let uri = request.uri().clone();
            let response = next.handle(request);
            let on_transaction = on_transaction.clone();
            async move {
                let response = response.await;
                let mut tx = SseTransaction {
                    method,
                    uri,
                    status: response.status(),
                    stream: response.is_stream(),
                    duration: Duration::ZERO,
                    messages: 0,
                    bytes: 0,
                };
                if !tx.stream {
                    tx.duration = started.elapsed();
                    on_transaction(tx);
                    return response;
                }
                response.map_consumer(move |consumer| {
                    Box::new(move |sse: SseHandle| {
                        let counters = Arc::new(Counters::default());
                        let totals = counters.clone();
                        sse.on_close(Box::new(move || {
                            tx.duration = started.elapsed();
                            tx.messages = totals.messages.load(Ordering::Relaxed);
                            tx.bytes = totals.bytes.load(Ordering::Relaxed);
                            on_transaction(tx);
                        }));
                        consumer.consume(Arc::new(CountingSse {
                            inner: sse,
                            counters,
                        }))
                    })
                })
            }
        })
    }
}

/// Counts what is queued through it.
struct CountingSse {
    inner: SseHandle,
    counters: Arc<Counters>,
}

/// Shared with the `on_close` callback, which outlives the wrapper.
#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl CountingSse {
    fn count(&self, len: usize) {
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
}

impl Sse for CountingSse {
    fn connect_request(&self) -> &Request {
        self.inner.connect_request()
    }

    fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        let len = frame.len();
        self.inner.send_frame(frame)?;
        self.count(len);
        Ok(())
    }

    fn send_frame_wait(&self, frame: Frame) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(async move {
            let len = frame.len();
            self.inner.send_frame_wait(frame).await?;
            self.count(len);
            Ok(())
        })
    }

    fn close(&self) {
        self.inner.close();
    }

    fn on_close(&self, callback: Box<dyn FnOnce() + Send>) {
        self.inner.on_close(callback);
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn closed(&self) -> BoxFuture<'static, ()> {
        self.inner.closed()
    }
}

/// Origin checking and CORS headers; see the [module docs](self).
///
/// A request without `Origin` (same-origin `EventSource` requests, programs)
/// passes. One whose `Origin` is on the list passes and gets
/// `Access-Control-Allow-Origin` and `Vary: Origin`. Any other gets 403, so a
/// page on a foreign or rebound origin cannot read the stream.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    origins: Arc<Vec<HeaderValue>>,
    credentials: bool,
}

impl Cors {
    /// A filter that allows no foreign origin yet.
    pub fn new() -> Self {
        Cors::default()
    }

    /// Allows `origin` (scheme, host and port, e.g. `https://app.example`).
    /// An origin that is not a valid header value could never be sent, so it
    /// is ignored.
    pub fn allow_origin(mut self, origin: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(origin) {
            Arc::make_mut(&mut self.origins).push(value);
        }
        self
    }

    /// Also sends `Access-Control-Allow-Credentials: true`, so
    /// `new EventSource(url, { withCredentials: true })` works.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }
}

impl SseFilter for Cors {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let cors = self.clone();
        Arc::new(move |request: Request| {
            let origin = request.headers().get(ORIGIN).cloned();
            let allowed = origin.as_ref().map(|origin| cors.origins.contains(origin));
            let response = match allowed {
                Some(false) => None,
                _ => Some(next.handle(request)),
            };
            let credentials = cors.credentials;
            async move {
                let Some(response) = response else {
                    return SseResponse::refuse(StatusCode::FORBIDDEN, "origin not allowed");
                };
                let mut response = response.await;
                if let Some(origin) = origin {
                    let headers = response.headers_mut();
                    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
                    if credentials {
                        headers.insert(
                            http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                            HeaderValue::from_static("true"),
                        );
                    }
                }
                response
            }
        })
    }
}

/// Refuses requests without a valid bearer token; see the
/// [module docs](self). `check` gets the token and says whether it is valid:
///
/// ```
/// use sse::filter::bearer_auth;
/// let auth = bearer_auth("chat", |token: String| async move { token == "s3cret" });
/// ```
pub fn bearer_auth<F, Fut>(realm: &str, check: F) -> BearerAuth<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let quoted = realm.replace(['"', '\\'], "");
    BearerAuth {
        check: Arc::new(check),
        challenge: HeaderValue::from_str(&format!("Bearer realm=\"{quoted}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer")),
    }
}

/// See [`bearer_auth`].
pub struct BearerAuth<F> {
    check: Arc<F>,
    challenge: HeaderValue,
}

impl<F, Fut> SseFilter for BearerAuth<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let check = self.check.clone();
        let challenge = self.challenge.clone();
        Arc::new(move |request: Request| {
            let token = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| {
                    let (scheme, token) = value.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| token.trim().to_owned())
                });
            let check = check.clone();
            let challenge = challenge.clone();
            let next = next.clone();
            async move {
                let valid = match token {
                    Some(token) => check(token).await,
                    None => false,
                };
                if valid {
                    next.handle(request).await
                } else {
                    SseResponse::refuse(
                        StatusCode::UNAUTHORIZED,
                        "a valid bearer token is required",
                    )
                    .with_header(http::header::WWW_AUTHENTICATE, challenge)
                }
            }
        })
    }
}

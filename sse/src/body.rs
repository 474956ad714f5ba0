//! From an [`SseResponse`] to an [`http::Response`]: the SSE headers, the
//! body that streams a connection's frames, and the task running the
//! consumer. The server and the test client both go through here.

use std::convert::Infallible;
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http_body::{Body, Frame as BodyFrame, SizeHint};

use crate::handler::{Request, SseResponse};
use crate::sse::{Connection, Shared, SseHandle, StreamBody, StreamConfig};

/// The body of every response the toolkit produces: a refusal's short text,
/// or a live event stream.
pub struct SseBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(StreamBody),
}

impl SseBody {
    /// A fixed body.
    pub fn full(bytes: impl Into<Bytes>) -> SseBody {
        let bytes = bytes.into();
        SseBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// No body.
    pub fn empty() -> SseBody {
        SseBody {
            kind: Kind::Full(None),
        }
    }

    /// Whether this body is an event stream.
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_))
    }

    /// The connection state behind a stream body (for the server's
    /// shutdown registry and the test client).
    pub(crate) fn stream_shared(&self) -> Option<&Arc<Shared>> {
        match &self.kind {
            Kind::Stream(stream) => Some(stream.shared()),
            Kind::Full(_) => None,
        }
    }
}

impl fmt::Debug for SseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(bytes) => f.debug_tuple("SseBody::Full").field(bytes).finish(),
            Kind::Stream(stream) => f.debug_tuple("SseBody::Stream").field(stream).finish(),
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(BodyFrame::data(b)))),
            Kind::Stream(stream) => stream
                .poll_chunk(cx)
                .map(|chunk| chunk.map(|bytes| Ok(BodyFrame::data(bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) => SizeHint::default(),
        }
    }
}

/// Turns a handler's answer into the HTTP response. For a stream this starts
/// the connection: the consumer runs on its own task, and is dropped when the
/// connection closes. Must run inside a tokio runtime.
pub fn into_http_response(
    request: Request,
    mut response: SseResponse,
    config: &StreamConfig,
) -> http::Response<SseBody> {
    let consumer = response.take_consumer();
    let body = match consumer {
        None => SseBody::full(response.body().clone()),
        Some(consumer) => {
            let shared = Shared::new(request, config.clone());
            let body = StreamBody::new(shared.clone());
            let sse: SseHandle = Arc::new(Connection::new(shared.clone()));
            let mut task = Box::pin(async move {
                let closed = sse.closed();
                let run = consumer.consume(sse);
                // Whichever ends first: a consumer that returns leaves the
                // stream open while spawned clones of the handle live; a
                // closed connection drops the consumer's future.
                tokio::select! {
                    () = run => {}
                    () = closed => {}
                }
            });
            // Run the consumer up to its first await before the response
            // goes out, so what it does first (subscribing to a hub, sending
            // a greeting) has happened when the client sees the headers; a
            // test needs no sleep to know the subscription is there. The
            // spawned task polls it again at once with its own waker.
            let mut first_poll = Context::from_waker(std::task::Waker::noop());
            if task.as_mut().poll(&mut first_poll).is_pending() {
                tokio::spawn(task);
            }
            SseBody {
                kind: Kind::Stream(body),
            }
        }
    };
    let stream = body.is_stream();
    let mut http_response = http::Response::new(body);
    *http_response.status_mut() = response.status();
    let headers = http_response.headers_mut();
    *headers = std::mem::take(response.headers_mut());
    if stream {
        // The wire contract wins over whatever a handler set.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    http_response
}

//! Server-Sent Events for Rust.
//!
//! `sse` brings [http4k]'s SSE model to Rust (immutable [`SseMessage`]s, the
//! [`Sse`] connection, [`SseConsumer`], [`SseHandler`], [`SseFilter`],
//! [`SseRouter`], an in-memory [`TestSseClient`]) on tokio and hyper 1.
//!
//! | module | what lives there |
//! | --- | --- |
//! | [`message`] | [`SseMessage`] and its wire encoding |
//! | [`sse`](mod@sse) | the [`Sse`] connection, its send queue, close rules and slow-consumer policies |
//! | [`handler`] | [`SseHandler`], [`SseConsumer`], [`SseResponse`], path params, `Last-Event-ID` |
//! | [`filter`] | [`SseFilter`] and the built-in filters |
//! | [`routing`] | [`SseRouter`], [`DynamicRouter`](routing::DynamicRouter) and router combinators |
//! | [`testing`] | [`TestSseClient`]: handlers and routers in memory |
//! | [`hub`] | [`Hub`](hub::Hub): broadcast topics that resume from `Last-Event-ID` |
//!
//! [http4k]: https://www.http4k.org/

pub mod body;
pub mod filter;
pub mod handler;
pub mod hub;
pub mod message;
pub mod routing;
pub mod server;
pub mod sse;
pub mod testing;

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

pub use sse_macros::{sse_handler, sse_routes};

pub use body::SseBody;
pub use filter::SseFilter;
pub use handler::{
    BoxedHandler, IntoSseResponse, LastEventId, ParamError, PathParams, Request, RequestExt,
    SseConsumer, SseHandler, SseResponse,
};
pub use message::{SseEvent, SseMessage};
pub use routing::{SseRouter, SseRouterMatch};
pub use server::{Server, ServerConfig, ServerHandle, SseService};
pub use sse::{Frame, SendError, SlowConsumerPolicy, Sse, SseHandle, StreamConfig};
pub use testing::TestSseClient;

// The README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// Re-exported so users (and generated code) name one crate.
pub use http;

//! The macros of the [`sse`](https://docs.rs/sse) toolkit: `#[sse_handler]`
//! and `sse_routes!`. Use them through the `sse` crate, which re-exports
//! them; the generated code refers to `::sse`.
//!
//! Both check their input at compile time with the `sse_path` crate, the
//! same path parser and conflict rules the runtime router uses, so a table
//! that compiles is one `DynamicRouter` would accept, and both match every
//! path the same way.

mod handler;
mod matcher;
mod routes;

use proc_macro::TokenStream;

/// Turns an `async fn` into an SSE handler with typed path parameters.
///
/// ```
/// use sse::{LastEventId, SseHandle, SseMessage, sse_handler};
///
/// /// Streams a room's messages from `since` on.
/// #[sse_handler]
/// async fn room(sse: SseHandle, room: String, since: u64, last: LastEventId) {
///     let from = last.as_u64().unwrap_or(since);
///     let _ = sse.send(SseMessage::data(format!("{room} from {from}")));
/// }
/// ```
///
/// # Arguments
///
/// - The **first** argument is the connection, `sse: SseHandle` (an
///   `Arc<dyn Sse>`); name it `_` if the body does not use it.
/// - Every following `name: Type` argument is a **path parameter**: the
///   route must bind `{name}` (or `{*name}`), and the percent-decoded value
///   is parsed with `FromStr` *before* the stream starts. A value that does
///   not parse is answered `400 Bad Request` naming the parameter
///   (`path parameter `since` is not a valid u64: invalid digit found in
///   string`), and the body never runs.
/// - Two argument types are recognised by their name instead (any path
///   ending in it): `Request` (`sse::Request`, the whole request with its
///   body, taken at most once) and `LastEventId` (`sse::LastEventId`, the
///   `Last-Event-ID` header a reconnecting client sends). They may appear
///   anywhere after the connection and are not path parameters.
///
/// # Body
///
/// The body is the consumer: it runs once the client is connected, and the
/// stream stays open while it runs or a clone of `sse` is alive. It returns
/// `()` or `Result<(), E>` with `E: Display` (so `sse.send(..)?` works; an
/// error ends the consumer and is logged at `debug`). Its future must be
/// `Send`.
///
/// # What it generates
///
/// As Rocket does for its route attributes, two items share the fn's name:
///
/// - a fn `room(request: sse::Request) -> impl Future<Output = SseResponse>`
///   (the value `room`), which implements `SseHandler`: route it, filter it,
///   or run it with `TestSseClient::for_handler(room)`. Mounted without its
///   parameters (unchecked, e.g. in a `DynamicRouter` route that does not
///   bind them) it answers `500` naming the missing parameter;
/// - a hidden type `room` (the type namespace) listing the parameter names,
///   which `sse_routes!` reads to check, at compile time, that each route
///   binds exactly the parameters its handler takes.
///
/// Doc comments, `#[cfg]` and `#[deprecated]` stay on the generated fn; other
/// attributes (`#[allow]`, `#[tracing::instrument]`, ...) go on the body.
///
/// # Compile errors
///
/// Each points at the offending token:
///
/// | error | meaning |
/// | --- | --- |
/// | `an #[sse_handler] fn must be async` | write `async fn` |
/// | `cannot be const` / `unsafe` / `extern` ABI / variadic | remove the qualifier |
/// | `cannot be generic` | generics and `impl Trait` arguments: a router needs one concrete handler |
/// | `takes the connection as its first argument` | the fn has no arguments |
/// | `` `T` is not the connection handle `` | the first argument is not `SseHandle` |
/// | `the connection must be the first argument` | an `SseHandle` argument after the first |
/// | `cannot take self` | a method; write a free fn |
/// | `must be written name: Type` | a pattern such as `(a, b): (u32, u32)` |
/// | `a path parameter needs a name` | `_: u64`: nothing could bind it |
/// | `` path parameter type `T` cannot be parsed `` | `T` is not `FromStr` (with a `Display` error) |
/// | `parsed into an owned value` | `&str`: write `String` |
/// | `only one argument can receive` the request | two `Request` arguments |
/// | `` cannot return `T` `` | the body returns something other than `()` / `Result<(), E>` |
/// | `future cannot be sent between threads safely` (at the fn name) | the body holds a non-`Send` value across an `.await` |
/// | `takes no arguments` | `#[sse_handler(...)]` |
/// | `goes on an async fn` | the attribute is on something else |
#[proc_macro_attribute]
pub fn sse_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match handler::expand(attr.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // The item as written goes along with the errors, so that its
        // imports are used and code naming it does not fail a second time.
        Err(error) => {
            let mut output = error.into_compile_error();
            output.extend(item);
            output.into()
        }
    }
}

/// Declares a route table and generates its router at compile time.
///
/// ```
/// use sse::filter::{SseFilter, filter_fn};
/// use sse::testing::TestSseClient;
/// use sse::{BoxedHandler, Request, RequestExt, SseHandle, SseMessage, SseResponse};
/// use sse::{sse_handler, sse_routes};
///
/// #[sse_handler]
/// async fn clock(sse: SseHandle) {
///     let _ = sse.send(SseMessage::data("tick"));
/// }
///
/// #[sse_handler]
/// async fn room(sse: SseHandle, room: String, since: u64) {
///     let _ = sse.send(SseMessage::data(format!("{room} since {since}")));
/// }
///
/// mod files {
///     #[sse::sse_handler]
///     pub async fn serve(sse: sse::SseHandle, path: String) {
///         let _ = sse.send(sse::SseMessage::data(path));
///     }
/// }
///
/// fn admins_only() -> impl SseFilter {
///     filter_fn(|request: Request, next: BoxedHandler| async move {
///         match request.headers().get("authorization") {
///             Some(_) => next.handle(request).await,
///             None => SseResponse::refuse(http::StatusCode::UNAUTHORIZED, "log in"),
///         }
///     })
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = sse_routes! {
///     "/clock" => clock,                          // GET is the default method
///     "/rooms/{room}/since/{since}" => room,      // checked: binds what `room` takes
///     POST "/v1/rooms/{room}/since/{since}" => room, // SSE over POST
///     "/admin" with admins_only() => {            // a group: prefix + filter
///         "/stats" => clock,
///         "/rooms/{room}" => {                    // groups nest; params add up
///             "/since/{since}" => room,
///         },
///     },
///     "/files/{*path}" => files::serve,           // catch-all, module path
///     "/hello/{name}" => |request: Request| async move {  // any handler expression,
///         let name = request.path_param("name").unwrap_or("?").to_owned(); // reads params by name
///         SseResponse::ok(move |sse: SseHandle| async move {
///             let _ = sse.send(SseMessage::data(format!("hello {name}")));
///         })
///     },
/// };
///
/// let client = TestSseClient::new(app);
/// let mut response = client.get("/rooms/lobby/since/7").await;
/// assert_eq!(response.next_message().await, Some(SseMessage::data("lobby since 7")));
/// assert_eq!(client.get("/rooms/lobby/since/soon").await.status(), 400);
/// assert_eq!(client.get("/admin/stats").await.status(), 401);
/// assert_eq!(client.get("/nowhere").await.status(), 404);
/// assert_eq!(client.post("/clock", "").await.status(), 405);
/// # }
/// ```
///
/// # Grammar
///
/// A table is a comma-separated list of entries (a trailing comma is fine;
/// after a group's `}` the comma is optional):
///
/// ```text
/// entry   = [METHOD] "path" [with FILTER] => HANDLER
///         | "prefix" [with FILTER] => { entry, ... }
/// METHOD  = GET | POST | PUT | DELETE | PATCH | HEAD | OPTIONS | TRACE | CONNECT
/// ```
///
/// - **Paths** are string literals in the `sse_path` syntax: `/` separated
///   segments; `{name}` binds one segment, `{*name}` the non-empty rest of
///   the path (last segment only). Static segments win over params, params
///   over catch-alls; the query string never takes part; param values are
///   percent-decoded (a value that is not UTF-8 once decoded is answered 400
///   naming the param).
/// - **Methods**: GET when none is written. The same path may be routed for
///   several methods; a request whose path matches only routes of other
///   methods is answered 405 with `Allow` (the methods in priority order).
/// - **Groups** `"/prefix" => { ... }` join their prefix to every route
///   inside (`"/"` inside a group is the prefix itself), nest, and may bind
///   params. `with FILTER` on a group puts the filter (any `SseFilter`
///   expression, evaluated once) around every route inside it; an outer
///   group's filter runs before an inner one's. `with FILTER` also works on
///   a single route. Compose several filters with `a.then(b)`.
/// - **Handlers**: a plain path (`room`, `handlers::room`) must name an
///   `#[sse_handler]` fn, and the route is checked against its parameters
///   at compile time. Any other expression implementing `SseHandler` (a
///   closure, `filter.apply(room)`, a handler value in parentheses
///   `(my_handler)`) is used as it is, not checked, and reads params by name
///   (`request.path_param("name")`). Handler expressions and filters are
///   evaluated once, when the table is built, in the order written; each
///   handler is boxed and wrapped in its filters then, never per request.
///
/// # The generated router
///
/// The macro expands to an expression of a type generated for this table,
/// implementing `sse::SseRouter` (so `with_base_path`, `with_filter`, `or`,
/// the server and `TestSseClient` take it) and `sse::routing::RouteTable`
/// (its routes, and a lookup that returns a route index and the raw param
/// values borrowed from the path, without allocating).
///
/// No trie or table is built at run time: the routes become a tree of small
/// generated functions, one per path segment position, that the compiler
/// inlines. Each looks at the segment's length first, then (for many
/// candidates) its first byte, and compares static text as fixed-size byte
/// slices; params are borrowed slices written into a fixed array. It
/// backtracks only where the priority rules require (a static segment
/// matched but nothing below it did, so a param may still). Results equal
/// `DynamicRouter`'s for every method and path; a property test checks it.
///
/// # Compile errors
///
/// Every error in a table is reported at once where possible, each at the
/// path literal, method, filter or handler at fault:
///
/// | error | meaning |
/// | --- | --- |
/// | `invalid path "...": <reason>` | the path is malformed; the reason names the segment: empty path, no leading `/`, `//`, trailing `/`, unclosed `{` or unopened `}`, `{}`, a name that is not an identifier or is a keyword, a param mixed with text (`{id}.json`), a catch-all before the end, a param twice, a character that must be percent-encoded, a bad `%` escape, `?`/`#`, a `.`/`..` segment |
/// | `invalid path ... under the group ...` | the route's path is fine alone but not joined to its group's prefix (e.g. a param name used twice) |
/// | `invalid group path ...: it ends with a catch-all` | nothing can be nested under `{*rest}` |
/// | `the path must be a string literal` | a const, `concat!` or other expression stands where the path goes |
/// | `duplicate route: GET /a is already routed` | the same method and path twice, in a table or across groups |
/// | `ambiguous route: ... differ only in parameter names` | `/rooms/{id}` and `/rooms/{name}` for one method: the second could never be chosen |
/// | `route ... binds the path parameter {x}, but handler h takes no argument x` | add the argument, or remove the segment |
/// | `handler h takes the path parameter x, but this route does not bind it` | add `{x}` to the path, or remove the argument |
/// | `unknown HTTP method FETCH` | only the nine standard methods |
/// | `write the method in capitals` | `post` instead of `POST` |
/// | `a group has no method` | a method before a group's prefix |
/// | `this group has no routes` | `"/x" => {}` |
/// | `` `T` is not an `#[sse_handler]` function `` | a plain name after `=>` that is a type but not a handler fn; write `(T)` to route it unchecked |
/// | `expected type, found function h` | a plain name after `=>` that is a plain fn; mark it `#[sse_handler]`, or write `(h)` to route it unchecked |
/// | `attempt to use a non-constant value in a constant` | a plain name after `=>` that is a local variable (a closure, a handler value); write `(h)` |
/// | `` `T` is not an SSE handler `` | the expression after `=>` does not implement `SseHandler` |
/// | `` `T` is not an SSE filter `` | the expression after `with` does not implement `SseFilter` |
/// | `expected =>` / `expected ,` | the entry's syntax |
#[proc_macro]
pub fn sse_routes(input: TokenStream) -> TokenStream {
    routes::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

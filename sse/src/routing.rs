//! Routing: http4k's `SseRouter`, and a router built at run time.
//!
//! A router looks at a request's method and path (never its query string)
//! and answers [`SseRouterMatch`]: the handler with its path params, the
//! methods the path would take ([`MethodNotMatched`], answered 405 with
//! `Allow`), or [`Unmatched`] (404, or the server's HTTP fallback).
//!
//! Routes use the path-template syntax of the [`sse_path`] crate, the same
//! one `sse_routes!` checks at compile time: `{name}` binds one segment,
//! `{*name}` the rest of the path, static segments beat params and params
//! beat catch-alls, and param values are percent-decoded (a value that does
//! not decode to UTF-8 is answered 400 naming the param).
//!
//! For a given method, the best route for the path wins. If no route of the
//! request's method matches but routes of other methods do, the answer is
//! [`MethodNotMatched`] with those methods.
//!
//! Routers compose: [`SseRouter::or`] tries one and then another,
//! [`SseRouter::with_base_path`] mounts one under a prefix, and
//! [`SseRouter::with_filter`] puts a filter around every handler.
//!
//! [`MethodNotMatched`]: SseRouterMatch::MethodNotMatched
//! [`Unmatched`]: SseRouterMatch::Unmatched

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::{Method, StatusCode};
use sse_path::{Conflict, Template, TemplateError};

use crate::body::{SseBody, into_http_response};
use crate::filter::SseFilter;
use crate::handler::{
    BoxedHandler, ParamError, PathParams, Request, SseHandler, SseResponse, boxed,
};
use crate::sse::StreamConfig;

/// What a router answers for a request (http4k's `SseRouterMatch`).
pub enum SseRouterMatch {
    /// A route matched.
    Matched(RouteMatch),
    /// The path matched routes, none of them for this method.
    MethodNotMatched {
        /// The methods the path's routes take, without duplicates.
        allowed: Vec<Method>,
    },
    /// No route matched the path.
    Unmatched,
}

impl fmt::Debug for SseRouterMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseRouterMatch::Matched(m) => f.debug_tuple("Matched").field(m).finish(),
            SseRouterMatch::MethodNotMatched { allowed } => f
                .debug_struct("MethodNotMatched")
                .field("allowed", allowed)
                .finish(),
            SseRouterMatch::Unmatched => f.write_str("Unmatched"),
        }
    }
}

/// A matched route: its handler, its template and the decoded params.
pub struct RouteMatch {
    /// The handler to run (with the router's filters around it).
    pub handler: BoxedHandler,
    /// The template that matched, as written (with any base path before it).
    pub route: Arc<str>,
    /// The decoded path params, in template order.
    pub params: PathParams,
}

impl fmt::Debug for RouteMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteMatch")
            .field("route", &self.route)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl SseRouterMatch {
    /// A match from raw (not yet decoded) values, as matched against a
    /// template with params `names`. A value that does not decode gives a
    /// match whose handler answers 400 naming the param. Used by the
    /// routers of this crate and by `sse_routes!`.
    pub fn from_raw<'a, N>(
        handler: &BoxedHandler,
        route: &Arc<str>,
        names: impl IntoIterator<Item = N>,
        raw_values: impl IntoIterator<Item = &'a str>,
    ) -> SseRouterMatch
    where
        N: Into<Cow<'static, str>>,
    {
        let (handler, params) = match PathParams::decode(names, raw_values) {
            Ok(params) => (handler.clone(), params),
            Err(error) => (param_refusal(error), PathParams::new()),
        };
        SseRouterMatch::Matched(RouteMatch {
            handler,
            route: route.clone(),
            params,
        })
    }

    /// Whether a route matched.
    pub fn is_matched(&self) -> bool {
        matches!(self, SseRouterMatch::Matched(_))
    }
}

/// A handler that answers 400 naming the param that did not decode.
fn param_refusal(error: ParamError) -> BoxedHandler {
    Arc::new(move |_request| {
        let error = error.clone();
        async move { error }
    })
}

/// Finds the handler for a request (http4k's `SseRouter`).
///
/// Implemented by [`DynamicRouter`], by every router `sse_routes!` generates,
/// and by the combinators here. A router is also what the server serves and
/// what [`TestSseClient`](crate::testing::TestSseClient) runs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE router",
    note = "build a router with `sse::sse_routes! {{ ... }}` or `sse::routing::DynamicRouter`"
)]
pub trait SseRouter: Send + Sync + 'static {
    /// Matches a method and a path (without query string).
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch;

    /// Matches a request by its method and path.
    fn match_request<B>(&self, request: &http::Request<B>) -> SseRouterMatch
    where
        Self: Sized,
    {
        self.match_route(request.method(), request.uri().path())
    }

    /// This router mounted under `prefix` (a template, which may bind
    /// params): `/api` + `/clock` serves `/api/clock`.
    fn with_base_path(self, prefix: &str) -> Result<BasePath<Self>, TemplateError>
    where
        Self: Sized,
    {
        let prefix = Template::parse(prefix)?;
        if prefix.has_catch_all() {
            return Err(TemplateError::PrefixWithCatchAll(
                prefix.as_str().to_owned(),
            ));
        }
        Ok(BasePath {
            names: prefix
                .param_names()
                .map(|n| Cow::Owned(n.to_owned()))
                .collect(),
            prefix,
            inner: self,
        })
    }

    /// This router with `filter` around every handler it returns.
    fn with_filter<F: SseFilter>(self, filter: F) -> Filtered<Self, F>
    where
        Self: Sized,
    {
        Filtered {
            inner: self,
            filter,
        }
    }

    /// This router, then `other` for what this one does not match.
    fn or<R: SseRouter>(self, other: R) -> Or<Self, R>
    where
        Self: Sized,
    {
        Or {
            first: self,
            second: other,
        }
    }
}

impl SseRouter for Arc<dyn SseRouter> {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        (**self).match_route(method, path)
    }
}

impl SseRouter for Box<dyn SseRouter> {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        (**self).match_route(method, path)
    }
}

/// A router under a path prefix; see [`SseRouter::with_base_path`].
pub struct BasePath<R> {
    prefix: Template,
    names: Vec<Cow<'static, str>>,
    inner: R,
}

impl<R: SseRouter> SseRouter for BasePath<R> {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        let mut raw = Vec::new();
        let Some(rest) = self.prefix.match_prefix(path, &mut raw) else {
            return SseRouterMatch::Unmatched;
        };
        match self.inner.match_route(method, rest) {
            SseRouterMatch::Matched(inner) => {
                let route: Arc<str> = match (self.prefix.segments().is_empty(), &*inner.route) {
                    (true, _) => inner.route.clone(),
                    (false, "/") => self.prefix.as_str().into(),
                    (false, route) => format!("{}{route}", self.prefix.as_str()).into(),
                };
                let (handler, params) = match PathParams::decode(self.names.iter().cloned(), raw) {
                    Ok(mut params) => {
                        params.extend(inner.params);
                        (inner.handler, params)
                    }
                    Err(error) => (param_refusal(error), PathParams::new()),
                };
                SseRouterMatch::Matched(RouteMatch {
                    handler,
                    route,
                    params,
                })
            }
            other => other,
        }
    }
}

/// A router with a filter around its handlers; see [`SseRouter::with_filter`].
pub struct Filtered<R, F> {
    inner: R,
    filter: F,
}

impl<R: SseRouter, F: SseFilter> SseRouter for Filtered<R, F> {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        match self.inner.match_route(method, path) {
            SseRouterMatch::Matched(mut found) => {
                found.handler = self.filter.wrap(found.handler);
                SseRouterMatch::Matched(found)
            }
            other => other,
        }
    }
}

/// Two routers, tried in order; see [`SseRouter::or`].
pub struct Or<A, B> {
    first: A,
    second: B,
}

impl<A: SseRouter, B: SseRouter> SseRouter for Or<A, B> {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        match self.first.match_route(method, path) {
            SseRouterMatch::Matched(found) => SseRouterMatch::Matched(found),
            SseRouterMatch::Unmatched => self.second.match_route(method, path),
            SseRouterMatch::MethodNotMatched { mut allowed } => {
                match self.second.match_route(method, path) {
                    SseRouterMatch::Matched(found) => SseRouterMatch::Matched(found),
                    SseRouterMatch::MethodNotMatched { allowed: more } => {
                        for method in more {
                            if !allowed.contains(&method) {
                                allowed.push(method);
                            }
                        }
                        SseRouterMatch::MethodNotMatched { allowed }
                    }
                    SseRouterMatch::Unmatched => SseRouterMatch::MethodNotMatched { allowed },
                }
            }
        }
    }
}

/// A router built at run time from (method, template, handler) routes, for
/// routes only known when the program runs; `sse_routes!` is the faster,
/// compile-time-checked way for a table written in code.
///
/// ```
/// use sse::routing::{DynamicRouter, SseRouter};
/// use sse::{Request, SseResponse};
/// use http::Method;
///
/// # fn main() -> Result<(), sse::routing::RouteError> {
/// let hello = |_request: Request| async { SseResponse::ok(|_sse| async {}) };
/// let router = DynamicRouter::new()
///     .route(Method::GET, "/rooms/{room}", hello)?
///     .route(Method::POST, "/v1/completions", hello)?;
/// assert!(router.match_route(&Method::GET, "/rooms/lobby").is_matched());
/// assert!(DynamicRouter::new().route(Method::GET, "/{a}", hello)?.route(Method::GET, "/{b}", hello).is_err());
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct DynamicRouter {
    /// Sorted by rank, most specific first: the first route that matches a
    /// path is the best one.
    routes: Vec<DynamicRoute>,
}

struct DynamicRoute {
    method: Method,
    template: Template,
    route: Arc<str>,
    names: Vec<Cow<'static, str>>,
    handler: BoxedHandler,
}

/// Why a route was refused by [`DynamicRouter::route`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The path is not a valid template.
    Template {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        error: TemplateError,
    },
    /// The route conflicts with one already added for the same method.
    Conflict {
        /// The method of both routes.
        method: Method,
        /// The path as given.
        path: String,
        /// The route already there.
        existing: String,
        /// How they conflict.
        conflict: Conflict,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Template { path, error } => write!(f, "route `{path}`: {error}"),
            RouteError::Conflict {
                method,
                path,
                conflict: Conflict::Duplicate,
                ..
            } => write!(f, "route {method} `{path}` is defined twice"),
            RouteError::Conflict {
                method,
                path,
                existing,
                conflict: Conflict::SameShape,
            } => write!(
                f,
                "route {method} `{path}` conflicts with `{existing}`: they differ only in parameter names, so they match the same paths"
            ),
        }
    }
}

impl std::error::Error for RouteError {}

impl DynamicRouter {
    /// A router with no routes.
    pub fn new() -> Self {
        DynamicRouter::default()
    }

    /// Adds a route; fails on a bad template or a conflict with a route of the
    /// same method.
    pub fn route(
        mut self,
        method: Method,
        path: &str,
        handler: impl SseHandler,
    ) -> Result<Self, RouteError> {
        let template = Template::parse(path).map_err(|error| RouteError::Template {
            path: path.to_owned(),
            error,
        })?;
        self.insert(method, template, boxed(handler))?;
        Ok(self)
    }

    /// Adds a GET route.
    pub fn get(self, path: &str, handler: impl SseHandler) -> Result<Self, RouteError> {
        self.route(Method::GET, path, handler)
    }

    /// Adds a POST route.
    pub fn post(self, path: &str, handler: impl SseHandler) -> Result<Self, RouteError> {
        self.route(Method::POST, path, handler)
    }

    fn insert(
        &mut self,
        method: Method,
        template: Template,
        handler: BoxedHandler,
    ) -> Result<(), RouteError> {
        for existing in self.routes.iter().filter(|r| r.method == method) {
            if let Some(conflict) = template.conflict_with(&existing.template) {
                return Err(RouteError::Conflict {
                    method,
                    path: template.as_str().to_owned(),
                    existing: existing.template.as_str().to_owned(),
                    conflict,
                });
            }
        }
        let rank = template.rank();
        let at = self.routes.partition_point(|r| r.template.rank() >= rank);
        self.routes.insert(
            at,
            DynamicRoute {
                method,
                route: template.as_str().into(),
                names: template
                    .param_names()
                    .map(|n| Cow::Owned(n.to_owned()))
                    .collect(),
                template,
                handler,
            },
        );
        Ok(())
    }

    /// The routes, most specific first, as `(method, template)`.
    pub fn routes(&self) -> impl Iterator<Item = (&Method, &str)> {
        self.routes.iter().map(|r| (&r.method, r.template.as_str()))
    }
}

impl SseRouter for DynamicRouter {
    fn match_route(&self, method: &Method, path: &str) -> SseRouterMatch {
        let mut allowed: Vec<Method> = Vec::new();
        let mut raw = Vec::new();
        for route in &self.routes {
            raw.clear();
            if !route.template.match_path(path, &mut raw) {
                continue;
            }
            if route.method == method {
                return SseRouterMatch::from_raw(
                    &route.handler,
                    &route.route,
                    route.names.iter().cloned(),
                    raw,
                );
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method.clone());
            }
        }
        if allowed.is_empty() {
            SseRouterMatch::Unmatched
        } else {
            SseRouterMatch::MethodNotMatched { allowed }
        }
    }
}

/// The answer to a request no route handled: 405 with `Allow` when the path
/// takes other methods, 404 otherwise.
pub fn unrouted_response(allowed: &[Method]) -> SseResponse {
    if allowed.is_empty() {
        return SseResponse::refuse(StatusCode::NOT_FOUND, "no SSE route matches this path");
    }
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let value = http::HeaderValue::from_str(&allow).expect("method names are valid header text");
    SseResponse::refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this path",
    )
    .with_header(http::header::ALLOW, value)
}

/// Runs a matched route: the params go into the request's extensions, the
/// handler answers, and a stream starts if it accepted. `Err` gives the
/// request back when the handler did not handle it, for the HTTP fallback.
pub(crate) async fn serve_match(
    found: RouteMatch,
    mut request: Request,
    config: &StreamConfig,
) -> Result<http::Response<SseBody>, Request> {
    request.extensions_mut().insert(found.params);
    // The connection keeps its own copy of the request (`connect_request`);
    // the handler takes the original.
    let kept = copy_request(&request);
    let response = found.handler.handle(request).await;
    if !response.is_handled() {
        return Err(kept);
    }
    Ok(into_http_response(kept, response, config))
}

/// A copy of a request's head, body and path params (other extensions are
/// not `Clone`).
fn copy_request(request: &Request) -> Request {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    if let Some(params) = request.extensions().get::<PathParams>() {
        copy.extensions_mut().insert(params.clone());
    }
    copy
}

// The allocation-free lookup of the routers `sse_routes!` generates; defined
// beside the rest of the macros' support code.
pub use crate::__private::{
    AllowedMethods, RawMatch, RawParams, RawParamsIter, RouteInfo, RouteTable,
};

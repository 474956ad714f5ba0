//! The runtime router: a table of (method, path) -> outcome cases, the
//! combinators, and routing through `TestSseClient`.

use http::Method;
use sse::filter::filter_fn;
use sse::routing::{DynamicRouter, RouteError, SseRouter};
use sse::testing::TestSseClient;
use sse::{BoxedHandler, Request, RequestExt, SseHandle, SseMessage, SseResponse, SseRouterMatch};

/// A handler that sends the route's params as `name=value` lines.
fn echo_params() -> impl sse::SseHandler + Clone {
    |request: Request| async move {
        let params: Vec<String> = request
            .path_params()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        SseResponse::ok(move |sse: SseHandle| async move {
            sse.send(SseMessage::data(params.join("\n"))).unwrap();
        })
    }
}

fn router(routes: &[(Method, &str)]) -> DynamicRouter {
    routes
        .iter()
        .fold(DynamicRouter::new(), |router, (method, path)| {
            router.route(method.clone(), path, echo_params()).unwrap()
        })
}

/// What a match comes to, in a comparable form.
#[derive(Debug, PartialEq)]
enum Outcome {
    Route(&'static str, Vec<(&'static str, &'static str)>),
    Methods(Vec<Method>),
    NotFound,
}
use Outcome::*;

fn outcome(found: SseRouterMatch) -> (Option<String>, Vec<(String, String)>, Vec<Method>) {
    match found {
        SseRouterMatch::Matched(m) => (
            Some(m.route.to_string()),
            m.params
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            vec![],
        ),
        SseRouterMatch::MethodNotMatched { allowed } => (None, vec![], allowed),
        SseRouterMatch::Unmatched => (None, vec![], vec![]),
    }
}

fn check(router: &impl SseRouter, cases: &[(Method, &str, Outcome)]) {
    for (method, path, expected) in cases {
        let got = outcome(router.match_route(method, path));
        let want = match expected {
            Route(route, params) => (
                Some(route.to_string()),
                params
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                vec![],
            ),
            Methods(methods) => (None, vec![], methods.clone()),
            NotFound => (None, vec![], vec![]),
        };
        assert_eq!(got, want, "{method} {path}");
    }
}

#[test]
fn matching_table() {
    let get = Method::GET;
    let post = Method::POST;
    let table = router(&[
        (get.clone(), "/"),
        (get.clone(), "/clock"),
        (get.clone(), "/rooms/{room}"),
        (get.clone(), "/rooms/lobby"),
        (get.clone(), "/rooms/{room}/since/{since}"),
        (get.clone(), "/files/{*path}"),
        (get.clone(), "/files/readme"),
        (get.clone(), "/a/{x}/c"),
        (get.clone(), "/a/{*rest}"),
        (post.clone(), "/v1/completions"),
        (post.clone(), "/rooms/{room}"),
        (Method::DELETE, "/rooms/{room}"),
        (post.clone(), "/only-post/{id}"),
        (get.clone(), "/only-post/special"),
    ]);
    check(
        &table,
        &[
            (get.clone(), "/", Route("/", vec![])),
            (get.clone(), "/clock", Route("/clock", vec![])),
            // Static beats param.
            (get.clone(), "/rooms/lobby", Route("/rooms/lobby", vec![])),
            (
                get.clone(),
                "/rooms/den",
                Route("/rooms/{room}", vec![("room", "den")]),
            ),
            // Percent-decoded params; the query never takes part.
            (
                get.clone(),
                "/rooms/caf%C3%A9",
                Route("/rooms/{room}", vec![("room", "café")]),
            ),
            (
                get.clone(),
                "/rooms/a%2Fb",
                Route("/rooms/{room}", vec![("room", "a/b")]),
            ),
            (
                get.clone(),
                "/rooms/den/since/42",
                Route(
                    "/rooms/{room}/since/{since}",
                    vec![("room", "den"), ("since", "42")],
                ),
            ),
            // Catch-all takes the non-empty rest; static beats it.
            (
                get.clone(),
                "/files/a/b/c.txt",
                Route("/files/{*path}", vec![("path", "a/b/c.txt")]),
            ),
            (get.clone(), "/files/readme", Route("/files/readme", vec![])),
            (get.clone(), "/files/", NotFound),
            (get.clone(), "/files", NotFound),
            // Param beats catch-all at the first differing segment.
            (get.clone(), "/a/b/c", Route("/a/{x}/c", vec![("x", "b")])),
            (
                get.clone(),
                "/a/b/d",
                Route("/a/{*rest}", vec![("rest", "b/d")]),
            ),
            // Empty segments and trailing slashes do not match params.
            (get.clone(), "/rooms/", NotFound),
            (get.clone(), "/clock/", NotFound),
            (get.clone(), "//clock", NotFound),
            (get.clone(), "/nowhere", NotFound),
            // Methods.
            (
                post.clone(),
                "/v1/completions",
                Route("/v1/completions", vec![]),
            ),
            (get.clone(), "/v1/completions", Methods(vec![post.clone()])),
            (
                post.clone(),
                "/rooms/den",
                Route("/rooms/{room}", vec![("room", "den")]),
            ),
            (
                Method::PUT,
                "/rooms/den",
                Methods(vec![get.clone(), post.clone(), Method::DELETE]),
            ),
            // The best route of the request's method wins, whatever ranks higher for others.
            (
                post.clone(),
                "/only-post/special",
                Route("/only-post/{id}", vec![("id", "special")]),
            ),
            (
                Method::PUT,
                "/only-post/special",
                Methods(vec![get.clone(), post.clone()]),
            ),
        ],
    );
}

#[test]
fn conflicting_routes_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (&["/a"], "route GET `/a` is defined twice"),
        (&["/rooms/{room}"], "conflicts with `/rooms/{room}`"),
        (&["/files/{*path}"], "conflicts with `/files/{*path}`"),
    ];
    let second = ["/a", "/rooms/{id}", "/files/{*rest}"];
    for ((existing, message), path) in cases.iter().zip(second) {
        let router = existing.iter().fold(DynamicRouter::new(), |r, p| {
            r.get(p, echo_params()).unwrap()
        });
        let error = router.get(path, echo_params()).err().expect("a conflict");
        assert!(matches!(error, RouteError::Conflict { .. }));
        assert!(error.to_string().contains(message), "{error}");
    }
    // The same path for another method is no conflict.
    assert!(
        DynamicRouter::new()
            .get("/a", echo_params())
            .unwrap()
            .post("/a", echo_params())
            .is_ok()
    );
    // Bad templates are refused with the parser's words.
    let error = DynamicRouter::new()
        .get("/{*a}/b", echo_params())
        .err()
        .unwrap();
    assert!(matches!(error, RouteError::Template { .. }));
    assert!(
        error.to_string().contains("must be the last segment"),
        "{error}"
    );
}

#[test]
fn base_paths_mount_a_router_under_a_prefix() {
    let inner = router(&[
        (Method::GET, "/"),
        (Method::GET, "/clock"),
        (Method::GET, "/rooms/{room}"),
    ]);
    let mounted = inner.with_base_path("/t/{tenant}").unwrap();
    check(
        &mounted,
        &[
            (
                Method::GET,
                "/t/acme",
                Route("/t/{tenant}", vec![("tenant", "acme")]),
            ),
            (Method::GET, "/t/acme/", NotFound),
            (
                Method::GET,
                "/t/acme/clock",
                Route("/t/{tenant}/clock", vec![("tenant", "acme")]),
            ),
            (
                Method::GET,
                "/t/acme/rooms/den",
                Route(
                    "/t/{tenant}/rooms/{room}",
                    vec![("tenant", "acme"), ("room", "den")],
                ),
            ),
            (Method::GET, "/clock", NotFound),
            (Method::POST, "/t/acme/clock", Methods(vec![Method::GET])),
        ],
    );
    assert!(router(&[]).with_base_path("/a/{*rest}").is_err());
    assert!(router(&[]).with_base_path("no-slash").is_err());
}

#[test]
fn or_tries_routers_in_order_and_merges_allowed_methods() {
    let first = router(&[(Method::GET, "/a"), (Method::GET, "/shared")]);
    let second = router(&[
        (Method::GET, "/b"),
        (Method::POST, "/shared"),
        (Method::POST, "/a"),
    ]);
    let both = first.or(second);
    check(
        &both,
        &[
            (Method::GET, "/a", Route("/a", vec![])),
            (Method::GET, "/b", Route("/b", vec![])),
            (Method::POST, "/a", Route("/a", vec![])),
            (
                Method::PUT,
                "/shared",
                Methods(vec![Method::GET, Method::POST]),
            ),
            (Method::GET, "/c", NotFound),
        ],
    );
}

#[tokio::test]
async fn with_filter_wraps_every_matched_handler() {
    let tagged = router(&[(Method::GET, "/x/{id}")]).with_filter(filter_fn(
        |request: Request, next: BoxedHandler| async move {
            next.handle(request).await.with_header(
                http::header::HeaderName::from_static("x-filtered"),
                http::HeaderValue::from_static("yes"),
            )
        },
    ));
    let client = TestSseClient::new(tagged);
    let response = client.get("/x/7").await;
    assert_eq!(response.headers()["x-filtered"], "yes");
    assert_eq!(response.collect().await, vec![SseMessage::data("id=7")]);
    // Unmatched requests are not filtered.
    let missing = client.get("/y").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("x-filtered").is_none());
}

#[tokio::test]
async fn the_test_client_routes_like_the_server() {
    let client = TestSseClient::new(router(&[
        (Method::GET, "/rooms/{room}"),
        (Method::POST, "/v1/completions"),
    ]));
    let ok = client.get("/rooms/den?ignored=1").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.collect().await, vec![SseMessage::data("room=den")]);

    let post = client.post("/v1/completions", "{}").await;
    assert_eq!(post.status(), 200);

    let missing = client.get("/nope").await;
    assert_eq!(missing.status(), 404);

    let wrong_method = client.get("/v1/completions").await;
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");

    // A param that does not decode is answered 400, naming it.
    let bad = client.get("/rooms/%FF").await;
    assert_eq!(bad.status(), 400);
    let text = bad.text().await;
    assert!(text.contains("`room`"), "{text}");
    let bad_escape = client.get("/rooms/%zz").await;
    assert_eq!(bad_escape.status(), 400);
}

#[tokio::test]
async fn an_unhandled_response_falls_through_to_404_in_memory() {
    let router = DynamicRouter::new()
        .get("/maybe", |_request: Request| async {
            SseResponse::unhandled()
        })
        .unwrap();
    let response = TestSseClient::new(router).get("/maybe").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn last_event_id_is_offered_typed() {
    let router = DynamicRouter::new()
        .get("/feed", |request: Request| async move {
            let last = sse::LastEventId::from_request(&request);
            SseResponse::ok(move |sse: SseHandle| async move {
                let text = format!("{:?} {:?}", last.as_deref(), last.as_u64());
                sse.send(SseMessage::data(text)).unwrap();
            })
        })
        .unwrap();
    let client = TestSseClient::new(router);
    let fresh = client.get("/feed").await.collect().await;
    assert_eq!(fresh, vec![SseMessage::data("None None")]);
    let request = http::Request::get("/feed")
        .header("last-event-id", "41")
        .body(bytes::Bytes::new())
        .unwrap();
    let resumed = client.request(request).await.collect().await;
    assert_eq!(resumed, vec![SseMessage::data("Some(\"41\") Some(41)")]);
}

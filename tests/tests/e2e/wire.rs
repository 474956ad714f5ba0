//! What clients see on the wire: the event encoding through an independent
//! parser, headers, keep-alive bytes, flushing, routing answers, SSE over
//! POST, refusals.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use sse::filter::bearer_auth;
use sse::routing::{DynamicRouter, SseRouter as _};
use sse::{ParamError, Request, RequestExt as _, SseHandle, SseMessage, SseResponse};
use sse_tests::{RawClient, events, h2c, http1, next_event, server, url, within};
use tokio::sync::Notify;

/// The messages whose encoding a client must undo exactly.
fn tricky_messages() -> Vec<SseMessage> {
    vec![
        SseMessage::data("line one\nline two\r\nline three"),
        SseMessage::data("lone\rCR"),
        SseMessage::data("héllo wörld — 日本語 🎉"),
        SseMessage::data(""),
        SseMessage::data(" leading space"),
        SseMessage::event("tick", "42")
            .unwrap()
            .with_id("7")
            .unwrap(),
        SseMessage::Event(
            sse::SseEvent::new("slow-down", "")
                .unwrap()
                .with_retry(Duration::from_millis(2500)),
        ),
        SseMessage::comment("clients ignore this"),
        SseMessage::data("last"),
    ]
}

fn tricky_router() -> DynamicRouter {
    DynamicRouter::new()
        .get("/tricky", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                for message in tricky_messages() {
                    sse.send(message).unwrap();
                }
            })
        })
        .unwrap()
}

/// Reads the tricky stream with `client` and checks every event.
async fn check_tricky(client: reqwest::Client, expected_version: http::Version) {
    let server = server().await.spawn(tricky_router());
    let response = client
        .get(url(server.local_addr(), "/tricky"))
        // A client asking for compression must still get identity.
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), expected_version);
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(
        headers.get("content-encoding").is_none(),
        "never compressed"
    );

    let mut events = events(response);
    let mut next = async || next_event(&mut events).await.expect("another event");
    let e = next().await;
    assert_eq!(
        (e.event.as_str(), e.data.as_str()),
        ("message", "line one\nline two\nline three")
    );
    assert_eq!(
        next().await.data,
        "lone\nCR",
        "a lone CR starts a new data line"
    );
    assert_eq!(next().await.data, "héllo wörld — 日本語 🎉");
    let empty = next().await;
    assert_eq!(
        (empty.event.as_str(), empty.data.as_str()),
        ("message", ""),
        "empty data still dispatches"
    );
    assert_eq!(next().await.data, " leading space");
    let tick = next().await;
    assert_eq!(
        (tick.event.as_str(), tick.data.as_str(), tick.id.as_str()),
        ("tick", "42", "7")
    );
    let slow = next().await;
    assert_eq!(slow.event, "slow-down");
    assert_eq!(slow.retry, Some(Duration::from_millis(2500)));
    assert_eq!(slow.id, "7", "the last event id carries over");
    // The comment produced no event: `last` is next, then the end.
    assert_eq!(next().await.data, "last");
    assert!(
        next_event(&mut events).await.is_none(),
        "the stream ends when the consumer returns"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tricky_events_reach_an_independent_parser_intact_over_http1() {
    check_tricky(http1(), http::Version::HTTP_11).await;
}

#[tokio::test]
async fn tricky_events_reach_an_independent_parser_intact_over_h2c() {
    check_tricky(h2c(), http::Version::HTTP_2).await;
}

#[tokio::test]
async fn keep_alive_comments_are_on_the_wire_while_the_handler_is_silent() {
    let router = DynamicRouter::new()
        .get("/quiet", |_request: Request| async {
            SseResponse::ok(|_sse: SseHandle| std::future::pending::<()>())
        })
        .unwrap();
    let server = server()
        .await
        .keep_alive(Some(Duration::from_millis(200)))
        .spawn(router);
    let mut client = RawClient::connect(server.local_addr()).await;
    client.get("/quiet", &[]).await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    // Two comments in a row: the interval repeats while nothing is sent.
    for _ in 0..2 {
        let chunk = within("a keep-alive chunk", client.chunk())
            .await
            .expect("a chunk");
        assert_eq!(chunk, b":\n\n", "a keep-alive is a bare comment");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn each_event_is_flushed_when_sent_not_batched() {
    let go_on = Arc::new(Notify::new());
    let handler_go_on = go_on.clone();
    let router = DynamicRouter::new()
        .get("/stepwise", move |_request: Request| {
            let go_on = handler_go_on.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    sse.send(SseMessage::data("first")).unwrap();
                    // The second event waits for the client to have seen the
                    // first: only possible if the first was flushed alone.
                    go_on.notified().await;
                    sse.send(SseMessage::data("second")).unwrap();
                })
            }
        })
        .unwrap();
    // Keep-alive off: nothing but the events themselves could push bytes out.
    let server = server().await.keep_alive(None).spawn(router);
    let response = http1()
        .get(url(server.local_addr(), "/stepwise"))
        .send()
        .await
        .unwrap();
    let mut events = events(response);
    assert_eq!(next_event(&mut events).await.unwrap().data, "first");
    go_on.notify_one();
    assert_eq!(next_event(&mut events).await.unwrap().data, "second");
    server.shutdown().await;
}

fn routing_router() -> DynamicRouter {
    let ok = |_request: Request| async { SseResponse::ok(|_sse: SseHandle| async {}) };
    DynamicRouter::new()
        .get("/clock", ok)
        .unwrap()
        .route(http::Method::PUT, "/clock", ok)
        .unwrap()
        .get(
            "/rooms/{room}/since/{since}",
            |request: Request| async move {
                // A typed param, read the way `#[sse_handler]` reads it.
                let since: u64 = request
                    .path_param("since")
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| ParamError::new("since", format!("is not a valid u64: {e}")))?;
                let room = request.path_param("room").unwrap_or_default().to_owned();
                Ok::<_, ParamError>(SseResponse::ok(move |sse: SseHandle| async move {
                    sse.send(SseMessage::data(format!("{room} since {since}")))
                        .unwrap();
                }))
            },
        )
        .unwrap()
}

#[tokio::test]
async fn unrouted_paths_answer_404_wrong_methods_405_with_allow_and_bad_params_400() {
    let server = server().await.spawn(routing_router());
    let client = http1();
    let addr = server.local_addr();

    let missing = client.get(url(addr, "/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let wrong = client.delete(url(addr, "/clock")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = wrong.headers()["allow"].to_str().unwrap().to_owned();
    let mut allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["GET", "PUT"]);

    let typed = client
        .get(url(addr, "/rooms/lobby/since/yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), StatusCode::BAD_REQUEST);
    let text = typed.text().await.unwrap();
    assert!(text.contains("`since`"), "the 400 names the param: {text}");

    // Not UTF-8 once decoded: the router refuses it, naming the param.
    let undecodable = client
        .get(url(addr, "/rooms/%FF/since/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(undecodable.status(), StatusCode::BAD_REQUEST);
    let text = undecodable.text().await.unwrap();
    assert!(text.contains("`room`"), "the 400 names the param: {text}");

    // And the route works, with decoded params.
    let fine = client
        .get(url(addr, "/rooms/caf%C3%A9/since/3"))
        .send()
        .await
        .unwrap();
    let mut events = events(fine);
    assert_eq!(next_event(&mut events).await.unwrap().data, "café since 3");
    server.shutdown().await;
}

#[derive(serde::Deserialize)]
struct Completion {
    prompt: String,
    repeat: usize,
}

#[tokio::test]
async fn sse_over_post_with_a_json_body() {
    let router = DynamicRouter::new()
        .post("/v1/completions", |request: Request| async move {
            let Ok(completion) = serde_json::from_slice::<Completion>(request.body()) else {
                return SseResponse::refuse(StatusCode::UNPROCESSABLE_ENTITY, "bad JSON");
            };
            SseResponse::ok(move |sse: SseHandle| async move {
                for _ in 0..completion.repeat {
                    for word in completion.prompt.split(' ') {
                        let token = serde_json::json!({ "token": word });
                        sse.send_wait(SseMessage::json(&token).unwrap())
                            .await
                            .unwrap();
                    }
                }
                sse.send(SseMessage::event("done", "").unwrap()).unwrap();
            })
        })
        .unwrap();
    let server = server().await.spawn(router);
    for client in [http1(), h2c()] {
        let response = client
            .post(url(server.local_addr(), "/v1/completions"))
            .json(&serde_json::json!({ "prompt": "stream me", "repeat": 2 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut events = events(response);
        let mut tokens = Vec::new();
        loop {
            let event = next_event(&mut events).await.expect("tokens, then done");
            if event.event == "done" {
                break;
            }
            let value: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            tokens.push(value["token"].as_str().unwrap().to_owned());
        }
        assert_eq!(tokens, ["stream", "me", "stream", "me"]);
    }
    let bad = http1()
        .post(url(server.local_addr(), "/v1/completions"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    server.shutdown().await;
}

#[tokio::test]
async fn a_filter_refusing_answers_401_before_any_stream() {
    let router = DynamicRouter::new()
        .get("/private", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                sse.send(SseMessage::data("secret")).unwrap();
            })
        })
        .unwrap()
        .with_filter(bearer_auth("events", |token: String| async move {
            token == "s3cret"
        }));
    let server = server().await.spawn(router);
    let address = url(server.local_addr(), "/private");

    let refused = http1().get(&address).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"events\""
    );
    assert_ne!(refused.headers()["content-type"], "text/event-stream");

    let wrong = http1()
        .get(&address)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let allowed = http1()
        .get(&address)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        next_event(&mut events(allowed)).await.unwrap().data,
        "secret"
    );
    server.shutdown().await;
}

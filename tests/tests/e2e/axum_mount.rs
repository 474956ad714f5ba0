//! The ecosystem both ways: the router mounted inside an axum app, and an
//! axum app as the server's HTTP fallback (http4k's PolyHandler).

use axum::routing::{get, post};
use http::StatusCode;
use sse::routing::DynamicRouter;
use sse::server::SseService;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::{events, h2c, http1, next_event, server, url};

fn sse_router() -> DynamicRouter {
    DynamicRouter::new()
        .get("/clock", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                for tick in 0..3 {
                    sse.send(SseMessage::event("tick", tick.to_string()).unwrap())
                        .unwrap();
                }
            })
        })
        .unwrap()
        .post("/echo", |request: Request| async move {
            let body = String::from_utf8_lossy(request.body()).into_owned();
            SseResponse::ok(move |sse: SseHandle| async move {
                sse.send(SseMessage::data(body)).unwrap();
            })
        })
        .unwrap()
        .get("/maybe", |request: Request| async move {
            // Only some requests are for the stream; the rest fall through.
            if request.uri().query() == Some("stream") {
                SseResponse::ok(|sse: SseHandle| async move {
                    sse.send(SseMessage::data("streamed")).unwrap();
                })
            } else {
                SseResponse::unhandled()
            }
        })
        .unwrap()
}

#[tokio::test]
async fn the_router_nested_in_axum_serves_beside_an_axum_route_on_one_port() {
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest_service("/events", SseService::new(sse_router()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = http1();
    let health = client.get(url(addr, "/health")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    let clock = client.get(url(addr, "/events/clock")).send().await.unwrap();
    assert_eq!(clock.headers()["content-type"], "text/event-stream");
    let mut ticks = events(clock);
    for tick in 0..3 {
        let event = next_event(&mut ticks).await.unwrap();
        assert_eq!(
            (event.event.as_str(), event.data.as_str()),
            ("tick", tick.to_string().as_str())
        );
    }
    assert!(next_event(&mut ticks).await.is_none());

    let echo = client
        .post(url(addr, "/events/echo"))
        .body("through axum")
        .send()
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut events(echo)).await.unwrap().data,
        "through axum"
    );

    let missing = client
        .get(url(addr, "/events/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let wrong = client
        .delete(url(addr, "/events/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    serving.abort();
}

#[tokio::test]
async fn an_axum_fallback_serves_pages_and_posts_the_router_does_not_take() {
    let pages = axum::Router::new()
        .route("/", get(|| async { "the page" }))
        // Same path as an SSE route, another method: the fallback takes it.
        .route(
            "/clock",
            post(|body: String| async move { format!("set clock to {body}") }),
        )
        .route(
            "/upload",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route("/maybe", get(|| async { "not a stream" }));
    let server = server()
        .await
        // Far below the upload: the fallback's bodies are not ours to limit.
        .max_body_bytes(1024)
        .fallback(pages)
        .spawn(sse_router());
    let addr = server.local_addr();
    for client in [http1(), h2c()] {
        let page = client.get(url(addr, "/")).send().await.unwrap();
        assert_eq!(page.text().await.unwrap(), "the page");

        let set = client
            .post(url(addr, "/clock"))
            .body("noon")
            .send()
            .await
            .unwrap();
        assert_eq!(set.text().await.unwrap(), "set clock to noon");

        let upload = client
            .post(url(addr, "/upload"))
            .body(vec![7u8; 100_000])
            .send()
            .await
            .unwrap();
        assert_eq!(
            upload.text().await.unwrap(),
            "100000",
            "the body reached the fallback untouched"
        );

        let clock = client.get(url(addr, "/clock")).send().await.unwrap();
        assert_eq!(next_event(&mut events(clock)).await.unwrap().event, "tick");

        // The handler declined: the fallback answers the same request.
        let declined = client.get(url(addr, "/maybe")).send().await.unwrap();
        assert_eq!(declined.text().await.unwrap(), "not a stream");
        let streamed = client.get(url(addr, "/maybe?stream")).send().await.unwrap();
        assert_eq!(
            next_event(&mut events(streamed)).await.unwrap().data,
            "streamed"
        );

        let missing = client.get(url(addr, "/nowhere")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "axum's own 404");
    }
    server.shutdown().await;
}

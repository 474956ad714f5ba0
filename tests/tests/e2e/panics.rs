//! A panic costs only its own request or stream; it is logged, and the
//! server goes on serving.

use http::StatusCode;
use sse::routing::DynamicRouter;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::{Logs, events, http1, next_event, server, url, within};

fn router() -> DynamicRouter {
    DynamicRouter::new()
        .get("/handler-panics", |request: Request| async move {
            if request.uri().path().starts_with('/') {
                panic!("the handler fell over");
            }
            SseResponse::ok(|_sse: SseHandle| async {})
        })
        .unwrap()
        .get("/consumer-panics", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                sse.send(SseMessage::data("before")).unwrap();
                // Let the first event go out before the panic.
                tokio::task::yield_now().await;
                panic!("the consumer fell over");
            })
        })
        .unwrap()
        .get("/fine", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                sse.send(SseMessage::data("still serving")).unwrap();
            })
        })
        .unwrap()
}

async fn still_serving(client: &reqwest::Client, addr: std::net::SocketAddr) {
    let response = client.get(url(addr, "/fine")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        next_event(&mut events(response)).await.unwrap().data,
        "still serving"
    );
}

// Current-thread: the server's tasks run on this thread, so the captured
// subscriber sees their logs.
#[tokio::test(flavor = "current_thread")]
async fn a_panicking_handler_answers_500_is_logged_and_the_server_goes_on() {
    let (logs, _guard) = Logs::capture();
    let server = server().await.spawn(router());
    let client = http1();
    let response = client
        .get(url(server.local_addr(), "/handler-panics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // The same connection (reqwest keeps it alive) and new ones still work.
    still_serving(&client, server.local_addr()).await;
    still_serving(&http1(), server.local_addr()).await;
    let text = logs.text();
    assert!(text.contains("SSE handler panicked"), "logged: {text}");
    assert!(
        text.contains("the handler fell over"),
        "the panic message is logged: {text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_consumer_closes_only_its_stream_is_logged_and_the_server_goes_on() {
    let (logs, _guard) = Logs::capture();
    let server = server().await.spawn(router());
    let client = http1();
    // Another stream is open beside the one that panics, and must survive.
    let bystander_router_response = client
        .get(url(server.local_addr(), "/fine"))
        .send()
        .await
        .unwrap();
    let response = client
        .get(url(server.local_addr(), "/consumer-panics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = events(response);
    assert_eq!(next_event(&mut stream).await.unwrap().data, "before");
    assert!(
        next_event(&mut stream).await.is_none(),
        "the panic closed the stream"
    );
    assert_eq!(
        next_event(&mut events(bystander_router_response))
            .await
            .unwrap()
            .data,
        "still serving"
    );
    still_serving(&client, server.local_addr()).await;
    let text = logs.text();
    assert!(text.contains("SSE consumer panicked"), "logged: {text}");
    assert!(
        text.contains("the consumer fell over"),
        "the panic message is logged: {text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_fallback_costs_only_its_own_connection() {
    let (logs, _guard) = Logs::capture();
    let fallback = tower::service_fn(|_request: http::Request<sse::server::RequestBody>| async {
        if std::hint::black_box(true) {
            panic!("the fallback fell over");
        }
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let server = server().await.fallback(fallback).spawn(router());
    let failed = http1()
        .get(url(server.local_addr(), "/not-sse"))
        .send()
        .await;
    assert!(failed.is_err(), "the connection was dropped: {failed:?}");
    still_serving(&http1(), server.local_addr()).await;
    within("the panic to be logged", async {
        while !logs.text().contains("a connection task panicked") {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    server.shutdown().await;
}

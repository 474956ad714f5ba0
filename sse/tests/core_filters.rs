//! Filters: composition, and each built-in filter.

use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use http::StatusCode;
use sse::filter::{
    Cors, SseFilter, SseTransaction, bearer_auth, catch_panics, decorate_sse, filter_fn,
    log_requests, report,
};
use sse::testing::TestSseClient;
use sse::{BoxedHandler, Frame, Request, SendError, Sse, SseHandle, SseMessage, SseResponse};

fn hello() -> impl sse::SseHandler + Clone {
    |_request: Request| async {
        SseResponse::ok(|sse: SseHandle| async move {
            sse.send(SseMessage::data("hello")).unwrap();
        })
    }
}

/// A filter that records `name` on the way in and on the way out.
fn recording(name: &'static str, log: Arc<Mutex<Vec<String>>>) -> impl SseFilter {
    filter_fn(move |request: Request, next: BoxedHandler| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(format!("{name} in"));
            let response = next.handle(request).await;
            log.lock().unwrap().push(format!("{name} out"));
            response
        }
    })
}

#[tokio::test]
async fn then_runs_the_outer_filter_first() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let filters = recording("outer", log.clone()).then(recording("inner", log.clone()));
    let response = TestSseClient::for_handler(filters.apply(hello()))
        .get("/")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        *log.lock().unwrap(),
        ["outer in", "inner in", "inner out", "outer out"]
    );
}

#[tokio::test]
async fn a_filter_can_refuse_before_the_handler_runs() {
    let reached = Arc::new(Mutex::new(false));
    let seen = reached.clone();
    let handler = move |_request: Request| {
        *seen.lock().unwrap() = true;
        async { SseResponse::ok(|_sse: SseHandle| async {}) }
    };
    let deny = filter_fn(|_request: Request, _next: BoxedHandler| async {
        SseResponse::refuse(StatusCode::FORBIDDEN, "denied")
    });
    let response = TestSseClient::for_handler(deny.apply(handler))
        .get("/")
        .await;
    assert_eq!(response.status(), 403);
    assert!(!*reached.lock().unwrap());
}

/// Upper-cases every data message it sees: a consumer decorator.
struct Shouting(SseHandle);

impl Sse for Shouting {
    fn connect_request(&self) -> &Request {
        self.0.connect_request()
    }
    fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        let text = String::from_utf8(frame.as_bytes().to_vec()).unwrap();
        self.0.send_frame(Frame::from(SseMessage::data(
            text.trim_start_matches("data: ").trim_end().to_uppercase(),
        )))
    }
    fn send_frame_wait(
        &self,
        frame: Frame,
    ) -> futures_util::future::BoxFuture<'_, Result<(), SendError>> {
        self.0.send_frame_wait(frame)
    }
    fn close(&self) {
        self.0.close()
    }
    fn on_close(&self, callback: Box<dyn FnOnce() + Send>) {
        self.0.on_close(callback)
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
    fn closed(&self) -> futures_util::future::BoxFuture<'static, ()> {
        self.0.closed()
    }
}

#[tokio::test]
async fn decorate_sse_sees_every_send() {
    let shout = decorate_sse(|sse: SseHandle| Arc::new(Shouting(sse)) as SseHandle);
    let received = TestSseClient::for_handler(shout.apply(hello()))
        .get("/")
        .await
        .collect()
        .await;
    assert_eq!(received, vec![SseMessage::data("HELLO")]);
}

#[tokio::test]
async fn catch_panics_answers_500_for_a_panicking_handler() {
    let async_panic = |_request: Request| async {
        if true {
            panic!("boom in the handler");
        }
        SseResponse::ok(|_sse: SseHandle| async {})
    };
    let response = TestSseClient::for_handler(catch_panics().apply(async_panic))
        .get("/")
        .await;
    assert_eq!(response.status(), 500);

    // A handler that panics before it even returns its future.
    fn sync_panic(_request: Request) -> futures_util::future::Ready<SseResponse> {
        panic!("boom before the future")
    }
    let response = TestSseClient::for_handler(catch_panics().apply(sync_panic))
        .get("/")
        .await;
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn catch_panics_closes_the_stream_of_a_panicking_consumer() {
    let handler = |_request: Request| async {
        SseResponse::ok(|sse: SseHandle| async move {
            // A clone held elsewhere would otherwise keep the stream open.
            let keeper = sse.clone();
            tokio::spawn(async move {
                keeper.closed().await;
            });
            sse.send(SseMessage::data("before")).unwrap();
            panic!("boom in the consumer");
        })
    };
    let response = TestSseClient::for_handler(catch_panics().apply(handler))
        .get("/")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.collect().await, vec![SseMessage::data("before")]);
}

#[tokio::test]
async fn report_yields_one_transaction_per_request() {
    let transactions = Arc::new(Mutex::new(Vec::<SseTransaction>::new()));
    let sink = transactions.clone();
    let reporting = report(move |tx| sink.lock().unwrap().push(tx));
    let handler = |request: Request| async move {
        if request.uri().path() == "/refuse" {
            return SseResponse::refuse(StatusCode::NOT_FOUND, "nope");
        }
        SseResponse::ok(|sse: SseHandle| async move {
            sse.send(SseMessage::data("one")).unwrap();
            sse.send_wait(SseMessage::data("two")).await.unwrap();
        })
    };
    let client = TestSseClient::for_handler(reporting.apply(handler));
    let received = client.get("/stream").await.collect().await;
    assert_eq!(received.len(), 2);
    assert_eq!(client.get("/refuse").await.status(), 404);

    let transactions = transactions.lock().unwrap();
    assert_eq!(transactions.len(), 2, "{transactions:?}");
    let stream = &transactions[0];
    assert_eq!(stream.uri.path(), "/stream");
    assert_eq!(stream.status, StatusCode::OK);
    assert!(stream.stream);
    assert_eq!(stream.messages, 2);
    assert_eq!(
        stream.bytes,
        ("data: one\n\n".len() + "data: two\n\n".len()) as u64
    );
    let refused = &transactions[1];
    assert_eq!(refused.uri.path(), "/refuse");
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(!refused.stream);
    assert_eq!(refused.messages, 0);
}

#[tokio::test]
async fn report_counts_a_stream_the_client_left() {
    let transactions = Arc::new(Mutex::new(Vec::<SseTransaction>::new()));
    let sink = transactions.clone();
    let handler = |_request: Request| async {
        SseResponse::ok(|sse: SseHandle| async move {
            sse.send(SseMessage::data("x")).unwrap();
            std::future::pending::<()>().await;
        })
    };
    let client =
        TestSseClient::for_handler(report(move |tx| sink.lock().unwrap().push(tx)).apply(handler));
    let mut response = client.get("/").await;
    assert_eq!(response.next_message().await, Some(SseMessage::data("x")));
    response.close();
    // `close` runs the callbacks synchronously, before it returns.
    let transactions = transactions.lock().unwrap();
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].messages, 1);
}

#[tokio::test]
async fn log_requests_passes_responses_through() {
    let client = TestSseClient::for_handler(log_requests().apply(hello()));
    assert_eq!(
        client.get("/").await.collect().await,
        vec![SseMessage::data("hello")]
    );
}

fn get_with(headers: &[(&str, &str)]) -> Request {
    let mut builder = http::Request::get("/events");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(bytes::Bytes::new()).unwrap()
}

#[tokio::test]
async fn cors_checks_the_origin() {
    let cors = Cors::new()
        .allow_origin("https://app.example")
        .allow_credentials(true);
    let client = TestSseClient::for_handler(cors.apply(hello()));

    let same_origin = client.request(get_with(&[])).await;
    assert_eq!(same_origin.status(), 200);
    assert!(
        same_origin
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let allowed = client
        .request(get_with(&[("origin", "https://app.example")]))
        .await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(allowed.headers()["vary"], "Origin");

    for foreign in ["https://evil.example", "http://app.example", "null"] {
        let refused = client.request(get_with(&[("origin", foreign)])).await;
        assert_eq!(refused.status(), 403, "{foreign}");
        assert!(!refused.is_stream());
    }
}

#[tokio::test]
async fn bearer_auth_refuses_without_a_valid_token() {
    let auth = bearer_auth("chat", |token: String| async move { token == "s3cret" });
    let client = TestSseClient::for_handler(auth.apply(hello()));
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[], 401),
        (&[("authorization", "Bearer wrong")], 401),
        (&[("authorization", "Basic czNjcmV0")], 401),
        (&[("authorization", "Bearer")], 401),
        (&[("authorization", "Bearer s3cret")], 200),
        (&[("authorization", "bearer s3cret")], 200),
    ];
    for (headers, status) in cases {
        let response = client.request(get_with(headers)).await;
        assert_eq!(response.status(), *status, "{headers:?}");
        if *status == 401 {
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"chat\""
            );
        }
    }
}

#[tokio::test]
async fn handler_panics_propagate_without_catch_panics() {
    // Without the filter, a panic is the caller's (the server always adds it).
    let panicking = |_request: Request| async {
        if true {
            panic!("unfiltered");
        }
        SseResponse::ok(|_sse: SseHandle| async {})
    };
    let client = TestSseClient::for_handler(panicking);
    let outcome = std::panic::AssertUnwindSafe(client.get("/"))
        .catch_unwind()
        .await;
    assert!(outcome.is_err());
}

//! Every form `sse_routes!` and `#[sse_handler]` accept, run in memory.

use http::{Method, StatusCode};
use sse::filter::{SseFilter, filter_fn};
use sse::routing::{RawMatch, RouteTable, SseRouter};
use sse::testing::TestSseClient;
use sse::{
    BoxedHandler, LastEventId, Request, RequestExt, SendError, SseHandle, SseMessage, SseResponse,
    sse_handler, sse_routes,
};

mod handlers {
    use sse::{SseHandle, SseMessage, sse_handler};

    /// Docs and other attributes stay on the handler.
    #[sse_handler]
    #[allow(clippy::unused_async)]
    pub async fn files(sse: SseHandle, path: String) {
        let _ = sse.send(SseMessage::data(path));
    }

    pub mod nested {
        #[sse::sse_handler]
        pub(crate) async fn stats(_sse: sse::SseHandle) {}
    }
}

#[sse_handler]
async fn clock(sse: SseHandle) {
    let _ = sse.send(SseMessage::data("tick"));
}

// A param may share the handler's name, as in `room(.., room: String)`.
#[sse_handler]
async fn room(sse: SseHandle, room: String, since: u64) -> Result<(), SendError> {
    sse.send(SseMessage::data(format!("{room} {since}")))?;
    Ok(())
}

#[sse_handler]
async fn completions(
    sse: SseHandle,
    mut model: String,
    last_event_id: LastEventId,
    request: sse::Request,
) {
    model.push('!');
    let prompt = String::from_utf8_lossy(request.body()).into_owned();
    let from = last_event_id.as_u64().unwrap_or(0);
    let _ = sse.send(SseMessage::data(format!("{model} {prompt} {from}")));
}

#[sse_handler]
async fn everything(_: SseHandle, a: u8, b: i64, c: char, d: bool, e: std::net::IpAddr) {
    let _ = (a, b, c, d, e);
}

fn auth() -> impl SseFilter {
    filter_fn(|request: Request, next: BoxedHandler| async move {
        if request.headers().contains_key("authorization") {
            next.handle(request).await
        } else {
            SseResponse::refuse(StatusCode::UNAUTHORIZED, "log in")
        }
    })
}

fn main() {
    let label = String::from("hello");
    let app = sse_routes! {
        "/clock" => clock,
        GET "/rooms/{room}/since/{since}" => room,
        POST "/v1/{model}/completions" => completions,
        PUT "/put" => clock,
        DELETE "/delete" => clock,
        PATCH "/patch" => clock,
        HEAD "/head" => clock,
        OPTIONS "/options" => clock,
        TRACE "/trace" => clock,
        CONNECT "/connect" => clock,
        "/files/{*path}" => handlers::files,
        "/all/{a}/{b}/{c}/{d}/{e}" => everything,
        "/admin" with auth() => {
            "/stats" => handlers::nested::stats,
            "/" => clock,
            "/rooms/{room}" => {
                "/since/{since}" => room,
            }
        },
        "/v2" => {
            "/clock" with auth().then(auth()) => clock,
        },
        "/label" => move |_request: Request| {
            let label = label.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    let _ = sse.send(SseMessage::data(label));
                })
            }
        },
        "/by-name/{name}" => |request: Request| async move {
            let name = request.path_param("name").unwrap_or_default().to_owned();
            SseResponse::ok(move |sse: SseHandle| async move {
                let _ = sse.send(SseMessage::data(name));
            })
        },
        "/wrapped/{room}/{since}" => auth().apply(room),
        r"/raw" => (clock),
    };
    assert_eq!(app.routes().len(), 20);
    assert!(matches!(
        app.lookup(&Method::GET, "/admin/rooms/r/since/1"),
        RawMatch::Found { .. }
    ));
    assert!(
        app.match_route(&Method::POST, "/v1/gpt/completions")
            .is_matched()
    );

    let empty = sse_routes! {};
    assert!(matches!(
        empty.lookup(&Method::GET, "/"),
        RawMatch::Unmatched
    ));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = TestSseClient::new(app);
        let mut response = client.get("/rooms/lobby/since/3").await;
        assert_eq!(
            response.next_message().await,
            Some(SseMessage::data("lobby 3"))
        );
        assert_eq!(client.get("/admin/stats").await.status(), 401);
        let mut response = client.post("/v1/m/completions", "hi").await;
        assert_eq!(
            response.next_message().await,
            Some(SseMessage::data("m! hi 0"))
        );
        assert_eq!(client.get("/rooms/lobby/since/x").await.status(), 400);
    });
}

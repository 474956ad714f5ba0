use futures_core::future::BoxFuture;
use sse::{Request, SseHandler, SseResponse, sse_routes};

#[derive(Clone, Copy)]
struct Clock;

impl SseHandler for Clock {
    fn handle(&self, _request: Request) -> BoxFuture<'static, SseResponse> {
        Box::pin(async { SseResponse::ok(|_sse| async {}) })
    }
}

fn main() {
    let _app = sse_routes! {
        "/clock" => Clock,
    };
}

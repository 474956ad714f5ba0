use sse::{Request, SseResponse, sse_routes};

fn main() {
    let clock = |_request: Request| async { SseResponse::ok(|_sse| async {}) };
    let _app = sse_routes! {
        "/clock" => clock,
    };
}

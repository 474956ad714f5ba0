use sse::{Request, SseResponse, sse_routes};

async fn clock(_request: Request) -> SseResponse {
    SseResponse::ok(|_sse| async {})
}

fn main() {
    let _app = sse_routes! {
        "/clock" => clock,
    };
}

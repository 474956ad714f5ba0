use sse::{SseHandle, sse_handler, sse_routes};

#[sse_handler]
async fn stats(sse: SseHandle) {
    let _ = sse;
}

fn main() {
    let _app = sse_routes! {
        POST "/admin" => {
            "/stats" => stats,
        },
    };
}

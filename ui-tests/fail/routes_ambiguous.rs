use sse::{SseHandle, sse_handler, sse_routes};

#[sse_handler]
async fn by_id(sse: SseHandle, id: u64) {
    let _ = (sse, id);
}

#[sse_handler]
async fn by_name(sse: SseHandle, name: String) {
    let _ = (sse, name);
}

fn main() {
    let _app = sse_routes! {
        "/rooms/{id}" => by_id,
        "/rooms/{name}" => by_name,
    };
}

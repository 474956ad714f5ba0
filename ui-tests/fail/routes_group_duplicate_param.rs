use sse::{SseHandle, sse_handler, sse_routes};

#[sse_handler]
async fn item(sse: SseHandle, id: u64) {
    let _ = (sse, id);
}

fn main() {
    let _app = sse_routes! {
        "/rooms/{id}" => {
            "/items/{id}" => item,
        },
    };
}

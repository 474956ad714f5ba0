use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn room(sse: SseHandle, _: u64) {
    let _ = sse;
}

fn main() {}

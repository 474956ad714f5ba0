use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn room(sse: SseHandle, room: &str) {
    let _ = (sse, room);
}

fn main() {}

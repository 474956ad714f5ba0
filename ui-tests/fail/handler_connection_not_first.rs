use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn room(room: String, sse: SseHandle) {
    let _ = (room, sse);
}

fn main() {}

use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn room(sse: SseHandle, room: impl std::fmt::Display) {
    let _ = (sse, room.to_string());
}

fn main() {}

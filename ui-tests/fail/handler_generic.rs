use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn room<T: std::str::FromStr>(sse: SseHandle, room: T) {
    let _ = (sse, room);
}

fn main() {}

use sse::{SseHandle, sse_handler, sse_routes};

#[sse_handler]
async fn room(sse: SseHandle, room: String) {
    let _ = (sse, room);
}

fn main() {
    let _app = sse_routes! {
        "/rooms/{room}/since/{since}" => room,
    };
}

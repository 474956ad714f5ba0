use sse::{SseHandle, sse_handler};

struct RoomId(u64);

#[sse_handler]
async fn room(sse: SseHandle, room: RoomId, since: u64) {
    let _ = (sse, room.0, since);
}

fn main() {}

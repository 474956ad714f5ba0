use sse::{SseHandle, sse_handler, sse_routes};

mod handlers {
    use sse::{SseHandle, sse_handler};

    #[sse_handler]
    pub async fn room(sse: SseHandle, room: String, since: u64) {
        let _ = (sse, room, since);
    }
}

#[sse_handler]
async fn clock(sse: SseHandle) {
    let _ = sse;
}

fn main() {
    let _app = sse_routes! {
        "/rooms/{room}" => handlers::room,
        "/clock" => clock,
    };
}

use sse::sse_handler;

#[sse_handler]
async fn room(room: String) {
    let _ = room;
}

fn main() {}

use sse::{SseHandle, sse_handler};

#[sse_handler("/clock")]
async fn clock(sse: SseHandle) {
    let _ = sse;
}

fn main() {}

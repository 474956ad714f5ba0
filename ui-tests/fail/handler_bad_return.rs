use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn clock(sse: SseHandle) -> u32 {
    let _ = sse;
    7
}

fn main() {}

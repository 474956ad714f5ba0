use sse::{SseHandle, sse_handler};

#[sse_handler]
fn clock(sse: SseHandle) {
    let _ = sse;
}

fn main() {}

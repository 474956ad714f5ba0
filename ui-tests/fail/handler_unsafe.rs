use sse::{SseHandle, sse_handler};

#[sse_handler]
async unsafe fn clock(sse: SseHandle) {
    let _ = sse;
}

fn main() {}

use sse::{SseHandle, sse_handler};

#[sse_handler]
async fn pair(sse: SseHandle, (a, b): (u32, u32)) {
    let _ = (sse, a, b);
}

fn main() {}

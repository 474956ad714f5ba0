use sse::{Request, SseHandle, sse_handler};

#[sse_handler]
async fn echo(sse: SseHandle, first: Request, second: Request) {
    let _ = (sse, first, second);
}

fn main() {}

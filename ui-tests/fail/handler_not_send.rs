use std::rc::Rc;

use sse::{SseHandle, SseMessage, sse_handler};

#[sse_handler]
async fn clock(sse: SseHandle) {
    let count = Rc::new(1);
    tokio::task::yield_now().await;
    let _ = sse.send(SseMessage::data(count.to_string()));
}

fn main() {}

use sse::{SseHandle, sse_handler, sse_routes};

const CLOCK: &str = "/clock";

#[sse_handler]
async fn clock(sse: SseHandle) {
    let _ = sse;
}

fn main() {
    let _app = sse_routes! {
        CLOCK => clock,
        concat!("/cl", "ock2") => clock,
    };
}

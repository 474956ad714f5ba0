use sse::sse_handler;

#[sse_handler]
async fn clock() {}

fn main() {}

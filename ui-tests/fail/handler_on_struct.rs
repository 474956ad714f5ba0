use sse::sse_handler;

#[sse_handler]
struct Clock;

fn main() {}

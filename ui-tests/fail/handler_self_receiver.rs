use sse::sse_handler;

struct Clock;

impl Clock {
    #[sse_handler]
    async fn tick(&self) {}
}

fn main() {}

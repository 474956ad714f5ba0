//! The smallest complete server: one route, one event, done.
//!
//! ```text
//! cargo run --example hello
//! curl -N localhost:3000/hello/world     # data: Hello, world!
//! ```

use sse::{Server, SseHandle, SseMessage, sse_handler, sse_routes};

/// Greets `name`; the stream ends when the function returns.
#[sse_handler]
async fn hello(sse: SseHandle, name: String) {
    let _ = sse.send(SseMessage::data(format!("Hello, {name}!")));
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind(sse_examples::listen_addr(3000)).await?;
    println!("hello: curl -N http://{}/hello/world", server.local_addr()?);
    // Serves until Ctrl-C, then shuts down gracefully.
    server.serve(sse_routes! { "/hello/{name}" => hello }).await;
    Ok(())
}

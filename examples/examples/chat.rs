//! The main example: a chat page with rooms, fed by a resumable hub.
//!
//! ```text
//! cargo run --example chat                # then open the URL it prints
//! cargo run --example chat -- --port 0    # any free port (or PORT=8000)
//! ```
//!
//! Open the URL in two windows and talk; open `/?room=NAME` for another
//! room. From a shell:
//!
//! ```text
//! curl -N localhost:3000/rooms/lobby/events
//! curl -N -H 'Last-Event-ID: 2' localhost:3000/rooms/lobby/events   # replays from 3 on
//! curl -X POST localhost:3000/rooms/lobby/messages \
//!      -H 'content-type: application/json' -d '{"user":"curl","text":"hi"}'
//! curl -X POST localhost:3000/admin/rooms/lobby/disconnect   # cut every page off:
//!                                                            # they reconnect and miss nothing
//! ```
//!
//! The app itself is `sse_examples::chat`, shared with the browser tests.

use sse::Server;
use sse_examples::chat::Chat;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    sse_examples::init_logging();
    let server = Server::bind(sse_examples::listen_addr(3000)).await?;
    println!("chat: open http://{}/", server.local_addr()?);
    let chat = Chat::default();
    // Pages and POSTs go to axum (the fallback); the streams to the router.
    server.fallback(chat.pages()).serve(chat.router()).await;
    Ok(())
}

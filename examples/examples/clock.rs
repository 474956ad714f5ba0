//! A named `tick` event every second, each with an id, resumable.
//!
//! ```text
//! cargo run --example clock
//! curl -N localhost:3000/clock                         # id: 1, event: tick, data: 12:00:01 UTC
//! curl -N -H 'Last-Event-ID: 41' localhost:3000/clock  # a reconnecting client goes on at 42
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sse::{LastEventId, Server, SseHandle, SseMessage, sse_handler, sse_routes};

/// Ticks forever: the consumer is dropped when the client goes away.
#[sse_handler]
async fn clock(sse: SseHandle, last: LastEventId) -> Result<(), Box<dyn std::error::Error>> {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    // The id is the tick's number, so a client that reconnects with
    // `Last-Event-ID` carries on counting where it left off.
    for tick in last.as_u64().unwrap_or(0) + 1.. {
        interval.tick().await;
        let event = SseMessage::event("tick", utc_time())?.with_id(tick.to_string())?;
        // Waits for room rather than dropping a slow client: ticks are tiny.
        sse.send_wait(event).await?;
    }
    Ok(())
}

/// The wall-clock time as `HH:MM:SS UTC`.
fn utc_time() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let day = seconds % 86_400;
    format!("{:02}:{:02}:{:02} UTC", day / 3600, day / 60 % 60, day % 60)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind(sse_examples::listen_addr(3000)).await?;
    println!("clock: curl -N http://{}/clock", server.local_addr()?);
    server.serve(sse_routes! { "/clock" => clock }).await;
    Ok(())
}

//! The axum 0.8 SSE baseline server; see `sse_benches::servers`.
//! Usage: `axum-server [CPU]` (pins to CPU when given).

fn main() {
    let cpu = std::env::args().nth(1).and_then(|a| a.parse().ok());
    sse_benches::servers::run(sse_benches::servers::Kind::Axum, cpu);
}

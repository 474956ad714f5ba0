//! Our benchmark server (`sse::Server` + hub); see `sse_benches::servers`.
//! Usage: `sse-server [CPU]` (pins to CPU when given).

fn main() {
    let cpu = std::env::args().nth(1).and_then(|a| a.parse().ok());
    sse_benches::servers::run(sse_benches::servers::Kind::Ours, cpu);
}

//! Benchmarks of the `sse` toolkit against the crates its users would pick
//! instead: matchit (the router benchmark, `benches/router.rs`) and axum
//! (the load tool, `src/bin/loadtest.rs`, driving the two servers of
//! [`servers`]). See `BENCHMARKS.md` at the workspace root.

pub mod client;
pub mod proc;
pub mod servers;
pub mod svg;

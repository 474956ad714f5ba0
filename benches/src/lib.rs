//! Benchmarks of the `sse` toolkit against the crates its users would pick
//! instead: matchit (the router benchmark, `benches/router.rs`) and axum
//! (the load tool, `src/bin/loadtest.rs`, driving `sse-server` and
//! `axum-server`). See `BENCHMARKS.md` at the workspace root.

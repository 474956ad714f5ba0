//! End-to-end tests of the server over real loopback TCP, with real clients
//! (reqwest, `eventsource-stream`, `reqwest-eventsource`, a hand-written
//! HTTP/1.1 client) and no fixed sleeps: every wait ends on an event and has
//! a limit. One test binary, so the suite links once.

mod axum_mount;
mod dead_peers;
mod limits;
mod panics;
mod reconnect;
mod shutdown;
mod wire;

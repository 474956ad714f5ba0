//! Shared code of the `sse` examples (`examples/examples/*.rs`).
//!
//! The chat app lives here rather than in `examples/chat.rs` so that the
//! browser tests in `tests/` run exactly the app that
//! `cargo run --example chat` runs.

pub mod chat;

use std::net::{Ipv4Addr, SocketAddr};

/// The address an example listens on: loopback (the examples have no
/// authentication, so they are not reachable from other machines), on the
/// port given by `--port N` (or `--port=N`), else the `PORT` environment
/// variable, else `default`. Port `0` asks the system for a free port.
///
/// # Panics
///
/// When the port given is not a number from 0 to 65535: an example should
/// say so at once rather than listen somewhere unexpected.
pub fn listen_addr(default: u16) -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut port = std::env::var("PORT").ok();
    while let Some(arg) = args.next() {
        if arg == "--port" {
            port = args.next();
        } else if let Some(value) = arg.strip_prefix("--port=") {
            port = Some(value.to_owned());
        }
    }
    let port = match port {
        Some(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("the port must be a number from 0 to 65535, not {text:?}")),
        None => default,
    };
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Logs to stderr (stdout keeps just the URL line) at `info`, or as
/// `RUST_LOG` says, so the examples show what the server does: connections,
/// `Last-Event-ID`s, closes.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sse=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

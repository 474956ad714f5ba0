//! Shared helpers for the end-to-end tests in `tests/`: real servers on
//! loopback, an SSE parser that is not ours (`eventsource-stream`), a raw
//! HTTP/1.1 client for what must be seen on the wire, probes that record
//! when streams open and close, and private network namespaces for
//! vanishing clients.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use eventsource_stream::{Event, Eventsource as _};
use futures_util::{Stream, StreamExt as _};
use sse::server::Server;
use sse::{Request, SseHandle, SseResponse};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

/// How long any single wait in these tests may take before it counts as a
/// failure. Generous, because CI machines are shared; the waits themselves
/// end as soon as what they wait for happens.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` if it takes longer than
/// [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(PATIENCE, what, future).await
}

/// Awaits `future`, failing the test with `what` after `limit`.
pub async fn within_for<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// A server on a free loopback port.
pub async fn server() -> Server {
    Server::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port")
}

/// `http://{addr}{path}`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// A reqwest client for HTTP/1.1.
pub fn http1() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("a reqwest client")
}

/// A reqwest client that speaks HTTP/2 without TLS (h2c, prior knowledge).
pub fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("a reqwest h2c client")
}

/// A response body parsed by `eventsource-stream`: an independent SSE
/// parser, so what the tests see is what a third-party client sees.
pub fn events(response: reqwest::Response) -> impl Stream<Item = Event> + Unpin {
    Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .map(|event| event.expect("a well-formed event stream")),
    )
}

/// The next event, or `None` at the end of the stream.
pub async fn next_event(events: &mut (impl Stream<Item = Event> + Unpin)) -> Option<Event> {
    within("the next event", events.next()).await
}

/// What a [`Probe`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A consumer started (the stream is open on the server).
    Opened,
    /// `on_close` ran.
    Closed,
}

/// Records when the streams of a handler open and close, to wait for those
/// moments instead of sleeping.
#[derive(Clone)]
pub struct Probe {
    tx: mpsc::UnboundedSender<(Seen, Instant)>,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(Seen, Instant)>>>,
    dropped: Arc<(AtomicUsize, Notify)>,
}

/// Counts a consumer future as dropped when it is.
struct DropSignal(Arc<(AtomicUsize, Notify)>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

impl Probe {
    /// A probe that has seen nothing.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Probe {
            tx,
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            dropped: Arc::default(),
        }
    }

    /// Records the opening of `sse` now and its close when `on_close` runs.
    pub fn watch(&self, sse: &SseHandle) {
        let _ = self.tx.send((Seen::Opened, Instant::now()));
        let tx = self.tx.clone();
        sse.on_close(Box::new(move || {
            let _ = tx.send((Seen::Closed, Instant::now()));
        }));
    }

    /// A handler whose streams are watched and then stay open, sending
    /// nothing, until the connection closes; its consumers' futures count
    /// as dropped (see [`Probe::consumers_dropped`]) when they are.
    pub fn silent_handler(
        &self,
    ) -> impl Fn(Request) -> std::future::Ready<SseResponse> + Send + Sync + 'static {
        let probe = self.clone();
        move |_request: Request| {
            let probe = probe.clone();
            std::future::ready(SseResponse::ok(move |sse: SseHandle| async move {
                let _signal = DropSignal(probe.dropped.clone());
                probe.watch(&sse);
                std::future::pending::<()>().await;
            }))
        }
    }

    /// Waits until `count` consumer futures of [`Probe::silent_handler`]
    /// have been dropped (they never return, so only a close drops them).
    pub async fn consumers_dropped(&self, count: usize) {
        within(&format!("{count} consumer futures to be dropped"), async {
            loop {
                let notified = self.dropped.1.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.dropped.0.load(Ordering::SeqCst) >= count {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    /// Waits for the next thing seen; fails the test if it is not `what`.
    pub async fn expect(&self, what: Seen) -> Instant {
        let next = within(&format!("the probe to see {what:?}"), async {
            self.rx.lock().await.recv().await
        })
        .await;
        match next {
            Some((seen, at)) if seen == what => at,
            other => panic!("expected {what:?}, the probe saw {other:?}"),
        }
    }

    /// Whether the probe has seen something it was not asked about yet.
    pub async fn nothing_pending(&self) -> bool {
        self.rx.lock().await.is_empty()
    }
}

/// A hand-written HTTP/1.1 client, for what only the raw wire shows
/// (keep-alive comments, chunk boundaries, half-sent requests) and for
/// closing connections in exact ways.
pub struct RawClient {
    /// The socket.
    pub stream: TcpStream,
    buf: BytesMut,
}

/// A response head read by [`RawClient`].
#[derive(Debug)]
pub struct RawHead {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl RawHead {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl RawClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect to the server");
        RawClient::from_stream(stream)
    }

    /// Wraps a connected socket.
    pub fn from_stream(stream: TcpStream) -> RawClient {
        RawClient {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("write to the server");
    }

    /// Sends `GET path` with the given extra header lines.
    pub async fn get(&mut self, path: &str, headers: &[&str]) {
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        self.send(request.as_bytes()).await;
    }

    /// Reads more bytes; `false` at EOF.
    async fn fill(&mut self) -> bool {
        let read = within("bytes from the server", self.stream.read_buf(&mut self.buf))
            .await
            .expect("read from the server");
        read > 0
    }

    /// Reads the response head.
    pub async fn head(&mut self) -> RawHead {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = self.buf.split_to(end + 4);
                let text = std::str::from_utf8(&head).expect("a UTF-8 response head");
                let mut lines = text.split("\r\n");
                let status_line = lines.next().expect("a status line");
                let status = status_line
                    .split(' ')
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .unwrap_or_else(|| panic!("a status code in {status_line:?}"));
                let headers = lines
                    .filter(|line| !line.is_empty())
                    .map(|line| {
                        let (name, value) = line.split_once(':').expect("a header line");
                        (name.trim().to_ascii_lowercase(), value.trim().to_owned())
                    })
                    .collect();
                return RawHead { status, headers };
            }
            assert!(
                self.fill().await,
                "the server closed before a full response head"
            );
        }
    }

    /// Reads the next chunk of a chunked body (its payload); `None` at the
    /// last chunk or at EOF.
    pub async fn chunk(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(line_end) = find(&self.buf, b"\r\n") {
                let size_line =
                    std::str::from_utf8(&self.buf[..line_end]).expect("a chunk size line");
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                        .unwrap_or_else(|_| panic!("a hex chunk size, not {size_line:?}"));
                if self.buf.len() >= line_end + 2 + size + 2 {
                    self.buf.advance(line_end + 2);
                    let payload = self.buf.split_to(size).to_vec();
                    self.buf.advance(2);
                    return (size > 0).then_some(payload);
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads body bytes (dechunked) until they contain `needle`; returns
    /// everything read up to and including it.
    pub async fn body_until(&mut self, needle: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        while find(&body, needle).is_none() {
            match self.chunk().await {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => panic!(
                    "the stream ended before {:?}; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&body)
                ),
            }
        }
        body
    }

    /// Reads until the server closes the connection; `true` if it did so
    /// within `limit` (and read or reset errors count as closed).
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let mut scratch = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The resident memory of this process, in bytes (Linux `/proc`).
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("the resident field of /proc/self/statm");
    pages * 4096
}

/// Log lines captured from `tracing`, to check that something was logged.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures the logs of the current thread (and so of a current-thread
    /// runtime's tasks) until the guard drops.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.0.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a test that needs a private network namespace could not have one.
#[derive(Debug)]
pub struct NoNamespace(pub String);

/// Runs `test` on a thread of its own inside a new, private network
/// namespace (only a loopback interface, brought up here), on a
/// current-thread runtime. Inside it the test may change routes without
/// touching the machine's network: nobody else's traffic is there.
///
/// Needs root (or `CAP_SYS_ADMIN`) and `ip` from iproute2.
pub fn in_private_netns<F, Fut>(test: F) -> Result<Fut::Output, NoNamespace>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    let thread = std::thread::spawn(move || {
        // Namespaces belong to threads: only this one moves, and whatever it
        // spawns (the runtime's blocking threads, `ip`) inherits it.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|errno| NoNamespace(format!("unshare(CLONE_NEWNET) failed: {errno}")))?;
        ip(&["link", "set", "lo", "up"])?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Ok(runtime.block_on(test()))
    });
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `ip ARGS` (iproute2) in the calling thread's network namespace.
pub fn ip(args: &[&str]) -> Result<(), NoNamespace> {
    let output = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| NoNamespace(format!("running `ip {}` failed: {error}", args.join(" "))))?;
    if !output.status.success() {
        return Err(NoNamespace(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// For a test whose environment lacks something: in CI (`CI` set) that is a
/// failure, since CI must run every test; elsewhere the test says why it is
/// skipped and returns.
pub fn missing_tool(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run in CI: {why} (CI must install iproute2 and run as root)");
    }
    eprintln!("SKIPPED {test}: {why} (set up iproute2 and root to run it; in CI this fails)");
}

pub mod reliability;

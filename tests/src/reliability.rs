//! Helpers for the reliability suite (`tests/tests/reliability_*.rs`): the
//! process's resources (file descriptors, the open-files limit, tokio
//! tasks), a panic counter, a seeded random source, and waits that end as
//! soon as a reading reaches the value wanted.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream;

use crate::{PATIENCE, RawClient};

/// The most files this suite asks for, whatever the hard limit says: the
/// machines it runs on cap open files at 20,000 per process.
pub const MAX_FILES: u64 = 20_000;

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (capped at
/// [`MAX_FILES`]) and returns the soft limit in force afterwards. A test
/// that needs `needed` descriptors fails here, naming the limit, rather
/// than later with an obscure `EMFILE`.
pub fn raise_open_files_limit(needed: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(RLIMIT_NOFILE)");
    let target = hard.min(MAX_FILES).max(soft);
    if target > soft {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).expect("raise RLIMIT_NOFILE");
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(RLIMIT_NOFILE)");
    assert!(
        soft >= needed,
        "this test needs {needed} open files; the limit is {soft} (hard {hard})"
    );
    soft
}

/// How many file descriptors this process has open (Linux `/proc/self/fd`;
/// the directory handle used to count is itself one, every time).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// How many tasks the current tokio runtime has alive.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Polls `reading` until it returns `want`, failing the test after
/// [`PATIENCE`] with the last value read. For counts that settle (open
/// connections, tasks, descriptors) rather than events one can await.
pub async fn settles_to<T: PartialEq + Debug>(what: &str, want: T, mut reading: impl FnMut() -> T) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = reading();
        if now == want {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{what}: wanted {want:?}, still {now:?} after {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Counts every panic in the process from its installation on (the default
/// hook still prints each one). Panics caught by the server's
/// `catch_panics` count too: the hook runs before unwinding.
#[derive(Clone)]
pub struct PanicCounter(Arc<AtomicUsize>);

impl PanicCounter {
    /// Installs the counting hook in front of the current one.
    pub fn install() -> PanicCounter {
        PanicCounter::install_quieting(None)
    }

    /// Like [`install`](PanicCounter::install), but panics whose message
    /// starts with `expected` (the ones a test raises on purpose, by the
    /// hundred) are only counted, not printed with their backtraces.
    pub fn install_quieting(expected: Option<&'static str>) -> PanicCounter {
        let count = Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            counted.fetch_add(1, Ordering::SeqCst);
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if let (Some(expected), Some(message)) = (expected, message)
                && message.starts_with(expected)
            {
                return;
            }
            previous(info);
        }));
        PanicCounter(count)
    }

    /// Panics so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A small deterministic random source (SplitMix64), so that a failing
/// chaos run can be replayed from its seed.
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A source that starts from `seed`.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed for a chaos test: `SSE_CHAOS_SEED` if set (to replay a run),
/// else `default`. The test prints it.
pub fn chaos_seed(default: u64) -> u64 {
    std::env::var("SSE_CHAOS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(default)
}

/// Opens `count` HTTP/1.1 streams on `path`, `parallel` connects at a time,
/// and returns the clients once each has read a `200` head.
pub async fn open_streams(
    addr: SocketAddr,
    path: &str,
    count: usize,
    parallel: usize,
) -> Vec<RawClient> {
    stream::iter(0..count)
        .map(|_| async move {
            let mut client = RawClient::connect(addr).await;
            client.get(path, &[]).await;
            let head = client.head().await;
            assert_eq!(head.status, 200, "a stream on {path} opens");
            client
        })
        .buffer_unordered(parallel)
        .collect()
        .await
}

/// Parses a whole event-stream body with `eventsource-stream` (not our
/// parser), fed in pieces of `piece` bytes.
pub async fn parse_body(body: &[u8], piece: usize) -> Vec<eventsource_stream::Event> {
    use eventsource_stream::Eventsource as _;
    let pieces: Vec<Result<bytes::Bytes, std::convert::Infallible>> = body
        .chunks(piece.max(1))
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(pieces)
        .eventsource()
        .map(|event| event.expect("a well-formed event stream"))
        .collect()
        .await
}

/// Reads a stream's dechunked body until the server ends it (last chunk or
/// EOF), each read within [`PATIENCE`].
pub async fn read_to_end(client: &mut RawClient) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(chunk) = client.chunk().await {
        body.extend_from_slice(&chunk);
    }
    body
}

/// Counts streams opened, their `on_close` calls, and their consumers'
/// futures dropped, for tests that check every stream was wound up.
#[derive(Default)]
pub struct StreamCounts {
    /// Consumers started.
    pub opened: AtomicUsize,
    /// `on_close` callbacks run.
    pub closed: AtomicUsize,
    /// Consumer futures dropped.
    pub dropped: AtomicUsize,
}

/// Adds one to [`StreamCounts::dropped`] when dropped; keep it inside a
/// consumer's future.
pub struct CountDrop(Arc<StreamCounts>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl StreamCounts {
    /// Counts `sse` as opened and its close when it comes; the guard counts
    /// the consumer's future as dropped.
    pub fn watch(self: &Arc<Self>, sse: &sse::SseHandle) -> CountDrop {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let on_close = self.clone();
        sse.on_close(Box::new(move || {
            on_close.closed.fetch_add(1, Ordering::SeqCst);
        }));
        CountDrop(self.clone())
    }
}

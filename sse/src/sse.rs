//! The [`Sse`] connection: what a consumer holds to talk to one client.
//!
//! # Lifetime of a connection
//!
//! A connection is open from the moment its consumer starts until the first
//! of these happens; then it is *closed*, for good:
//!
//! | what happens | queued messages |
//! | --- | --- |
//! | [`Sse::close`] is called (by any holder of a handle, or by a filter) | still delivered, then the stream ends |
//! | the last [`SseHandle`] is dropped (the consumer returned and no spawned task kept a clone) | still delivered, then the stream ends |
//! | the client goes away (its stream is dropped: the socket closed, reset, or timed out, or the test client closed) | dropped |
//! | the send queue overflowed under [`SlowConsumerPolicy::Disconnect`] | dropped |
//! | the server shuts down | still delivered, then the server's optional final message, then the stream ends (a client that does not read them is cut off at the shutdown deadline) |
//!
//! Callbacks registered with [`Sse::on_close`] run exactly once, on the first
//! of these, whoever caused it; one registered after the close runs at once.
//! They run on the closing thread, except after a queue overflow: that close
//! happens inside a producer's `send`, so its callbacks run on a task of
//! their own and can never re-enter the producer (a callback may publish to
//! the hub that was delivering).
//! Once closed, [`Sse::send`] returns [`SendError::Closed`]; it never panics.
//! The consumer's future is dropped when the connection closes, so a consumer
//! that loops forever need not watch for the client going away; a spawned task
//! that holds a handle can `select!` on [`Sse::closed`].
//!
//! # The send queue and slow consumers
//!
//! Each connection queues encoded messages for its client, up to a bound in
//! bytes ([`StreamConfig::queue_bytes`], 1 MiB by default). A message larger
//! than the whole bound is still accepted when the queue is empty, so no
//! message is unsendable. Producers choose how to meet a full queue:
//!
//! - [`Sse::send`] never waits: when the message does not fit, the
//!   connection's [`SlowConsumerPolicy`] decides: [`Disconnect`] (the
//!   default) closes the connection, so one stalled client costs at most its
//!   bound and producers (a broadcast hub, say) never block;
//!   [`DropMessage`] refuses just this message with [`SendError::Full`] and
//!   keeps the connection.
//! - [`Sse::send_wait`] waits for room instead (backpressure), whatever the
//!   policy, and fails only if the connection closes meanwhile.
//!
//! [`Disconnect`]: SlowConsumerPolicy::Disconnect
//! [`DropMessage`]: SlowConsumerPolicy::DropMessage

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::handler::Request;
use crate::message::SseMessage;

/// A shareable handle to a connection: clone it into spawned tasks; the
/// stream stays open while any clone is alive (see the [module docs](self)).
pub type SseHandle = Arc<dyn Sse>;

/// A connection to one SSE client (http4k's `Sse`).
///
/// The server and [`TestSseClient`](crate::testing::TestSseClient) hand each
/// consumer an [`SseHandle`]. Filters may wrap it in their own implementation
/// to observe or change what is sent; such a wrapper implements the required
/// methods by delegating to the handle it wraps.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE connection",
    note = "handlers and consumers receive connections as `sse::SseHandle` (an `Arc<dyn Sse>`)"
)]
pub trait Sse: Send + Sync + 'static {
    /// The request that opened this connection, with its path params.
    fn connect_request(&self) -> &Request;

    /// Queues an encoded message without waiting. When the queue is full the
    /// slow-consumer policy applies. Every other send method ends here, so a
    /// wrapper that observes this one sees every message.
    fn send_frame(&self, frame: Frame) -> Result<(), SendError>;

    /// Queues an encoded message, first waiting until the queue has room for
    /// it (backpressure). Fails only when the connection is closed.
    fn send_frame_wait(&self, frame: Frame) -> BoxFuture<'_, Result<(), SendError>>;

    /// Closes the connection: what is queued is still delivered, then the
    /// stream ends. Closing twice is harmless.
    fn close(&self);

    /// Registers a callback that runs exactly once when the connection
    /// closes, whoever closes it; at once if it is already closed.
    fn on_close(&self, callback: Box<dyn FnOnce() + Send>);

    /// Whether the connection is closed.
    fn is_closed(&self) -> bool;

    /// Resolves once the connection is closed.
    fn closed(&self) -> BoxFuture<'static, ()>;

    /// Encodes and queues a message without waiting.
    fn send(&self, message: SseMessage) -> Result<(), SendError> {
        self.send_frame(Frame::from(&message))
    }

    /// Encodes a message and queues it once there is room.
    fn send_wait(&self, message: SseMessage) -> BoxFuture<'_, Result<(), SendError>> {
        self.send_frame_wait(Frame::from(&message))
    }
}

/// A message already encoded for the wire. Encode once with
/// `Frame::from(&message)` and send clones of it to many connections: they
/// all share the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    /// The encoded bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The encoded length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the frame is empty (never, for frames made from messages).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&SseMessage> for Frame {
    fn from(message: &SseMessage) -> Self {
        Frame(message.encode())
    }
}

impl From<SseMessage> for Frame {
    fn from(message: SseMessage) -> Self {
        Frame(message.encode())
    }
}

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closed; nothing more can be sent.
    Closed,
    /// The queue was full and the policy is
    /// [`SlowConsumerPolicy::DropMessage`]: this message was dropped, the
    /// connection stays open.
    Full,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the SSE connection is closed",
            SendError::Full => "the SSE client is not keeping up; the message was dropped",
        })
    }
}

impl std::error::Error for SendError {}

/// What a full send queue does to [`Sse::send`]; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Close the connection (the default): the client reconnects with
    /// `Last-Event-ID` and catches up from history, instead of holding the
    /// server's memory.
    #[default]
    Disconnect,
    /// Drop the message that did not fit and return [`SendError::Full`].
    DropMessage,
}

/// Per-stream settings, shared by the server and the test client.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// The send queue bound in bytes of encoded messages. Default 1 MiB.
    pub queue_bytes: usize,
    /// What [`Sse::send`] does when the queue is full. Default
    /// [`SlowConsumerPolicy::Disconnect`].
    pub slow_consumer: SlowConsumerPolicy,
    /// Send a comment after this much idle time, to keep proxies from timing
    /// the stream out and to reveal dead peers. Default 15 s; `None` is off.
    pub keep_alive: Option<Duration>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            queue_bytes: 1 << 20,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            keep_alive: Some(Duration::from_secs(15)),
        }
    }
}

/// Why a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Sse::close`] was called.
    Closed,
    /// The last handle was dropped.
    HandlesDropped,
    /// The client went away.
    ClientGone,
    /// The queue overflowed under [`SlowConsumerPolicy::Disconnect`].
    SlowConsumer,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// Whether messages queued before the close are still delivered.
    fn delivers_queue(self) -> bool {
        matches!(
            self,
            CloseReason::Closed | CloseReason::HandlesDropped | CloseReason::Shutdown
        )
    }
}

/// The state both ends share: the producer side ([`Connection`]) and the
/// writer side ([`StreamBody`]).
pub(crate) struct Shared {
    request: Request,
    config: StreamConfig,
    state: Mutex<State>,
    /// Set under the lock, read without it for `is_closed`.
    closed: AtomicBool,
    /// Wakes producers waiting for room, and `closed()` futures.
    changed: Notify,
}

struct State {
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    writer: Option<Waker>,
    close: Option<CloseReason>,
    callbacks: Vec<Box<dyn FnOnce() + Send>>,
}

impl Shared {
    pub(crate) fn new(request: Request, config: StreamConfig) -> Arc<Shared> {
        Arc::new(Shared {
            request,
            config,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued_bytes: 0,
                writer: None,
                close: None,
                callbacks: Vec::new(),
            }),
            closed: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held (callbacks run after
        // it is released), so poisoning carries no broken invariant.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.lock().close
    }

    /// Pushes a frame if it fits (or the queue is empty). `Ok(false)` means
    /// it did not fit and nothing changed.
    fn try_push(&self, frame: &Frame) -> Result<bool, SendError> {
        let mut state = self.lock();
        if state.close.is_some() {
            return Err(SendError::Closed);
        }
        let fits =
            state.queue.is_empty() || state.queued_bytes + frame.len() <= self.config.queue_bytes;
        if !fits {
            return Ok(false);
        }
        state.queued_bytes += frame.len();
        state.queue.push_back(frame.0.clone());
        let writer = state.writer.take();
        drop(state);
        if let Some(writer) = writer {
            writer.wake();
        }
        Ok(true)
    }

    fn send_now(&self, frame: Frame) -> Result<(), SendError> {
        if self.try_push(&frame)? {
            return Ok(());
        }
        match self.config.slow_consumer {
            SlowConsumerPolicy::Disconnect => {
                tracing::debug!(
                    path = %self.request.uri().path(),
                    queue_bytes = self.config.queue_bytes,
                    "SSE client is not keeping up; disconnecting it"
                );
                self.close(CloseReason::SlowConsumer);
                Err(SendError::Closed)
            }
            SlowConsumerPolicy::DropMessage => Err(SendError::Full),
        }
    }

    async fn send_when_room(&self, frame: Frame) -> Result<(), SendError> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.try_push(&frame)? {
                return Ok(());
            }
            changed.await;
        }
    }

    async fn wait_closed(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_closed() {
                return;
            }
            changed.await;
        }
    }

    pub(crate) fn on_close(&self, callback: Box<dyn FnOnce() + Send>) {
        let mut state = self.lock();
        if state.close.is_none() {
            state.callbacks.push(callback);
            return;
        }
        drop(state);
        run_callback(callback);
    }

    /// Closes for `reason` unless already closed; runs the callbacks once.
    pub(crate) fn close(&self, reason: CloseReason) {
        self.close_with(reason, None);
    }

    /// Closes like [`close`](Self::close), first queueing `last` past the
    /// bound (a final message is never refused), under the same lock so that
    /// nothing is queued after it. The server's shutdown uses this.
    pub(crate) fn close_with(&self, reason: CloseReason, last: Option<&Frame>) {
        let mut state = self.lock();
        if state.close.is_some() {
            return;
        }
        state.close = Some(reason);
        if !reason.delivers_queue() {
            state.queue.clear();
            state.queued_bytes = 0;
        }
        if let Some(frame) = last {
            state.queued_bytes += frame.len();
            state.queue.push_back(frame.0.clone());
        }
        let callbacks = std::mem::take(&mut state.callbacks);
        let writer = state.writer.take();
        self.closed.store(true, Ordering::Release);
        drop(state);
        if let Some(writer) = writer {
            writer.wake();
        }
        self.changed.notify_waiters();
        let run_all = move || {
            for callback in callbacks {
                run_callback(callback);
            }
        };
        // An overflow closes the connection from inside a producer's `send`,
        // and the producer may hold its own locks (the hub delivers under
        // its topic lock); a callback that published to that topic would
        // deadlock. So those callbacks run on a task of their own.
        match (reason, tokio::runtime::Handle::try_current()) {
            (CloseReason::SlowConsumer, Ok(runtime)) => {
                runtime.spawn(async move { run_all() });
            }
            _ => run_all(),
        }
    }

    /// The writer's side: the next frame to write, or the end.
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut state = self.lock();
        if let Some(first) = state.queue.pop_front() {
            state.queued_bytes -= first.len();
            // Coalesce what else is queued into one chunk (up to
            // `COALESCE_BYTES`): one HTTP chunk and one socket write for a
            // burst instead of one per frame. A lone frame goes out as is,
            // without a copy.
            let bytes = if state.queue.is_empty() || first.len() >= COALESCE_BYTES {
                first
            } else {
                let mut total = first.len();
                let mut count = 0;
                for next in &state.queue {
                    if total + next.len() > COALESCE_BYTES {
                        break;
                    }
                    total += next.len();
                    count += 1;
                }
                let mut chunk = BytesMut::with_capacity(total);
                chunk.extend_from_slice(&first);
                for next in state.queue.drain(..count) {
                    chunk.extend_from_slice(&next);
                }
                state.queued_bytes -= total - first.len();
                chunk.freeze()
            };
            drop(state);
            // Producers waiting in `send_wait` may now fit.
            self.changed.notify_waiters();
            return Poll::Ready(Some(bytes));
        }
        if state.close.is_some() {
            return Poll::Ready(None);
        }
        if !state
            .writer
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.writer = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

fn run_callback(callback: Box<dyn FnOnce() + Send>) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(callback)) {
        tracing::error!(panic = %panic_message(&panic), "an SSE on_close callback panicked");
    }
}

/// The text of a panic payload, for logs.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// The connection itself: the one [`Sse`] implementation, behind every
/// [`SseHandle`]. Dropping the last handle closes it.
pub(crate) struct Connection {
    shared: Arc<Shared>,
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>) -> Connection {
        Connection { shared }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.close(CloseReason::HandlesDropped);
    }
}

impl Sse for Connection {
    fn connect_request(&self) -> &Request {
        &self.shared.request
    }

    fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        self.shared.send_now(frame)
    }

    fn send_frame_wait(&self, frame: Frame) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.shared.send_when_room(frame))
    }

    fn close(&self) {
        self.shared.close(CloseReason::Closed);
    }

    fn on_close(&self, callback: Box<dyn FnOnce() + Send>) {
        self.shared.on_close(callback);
    }

    fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    fn closed(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        Box::pin(async move { shared.wait_closed().await })
    }
}

/// The most bytes of queued frames [`Shared::poll_next`] joins into one
/// chunk for the socket.
const COALESCE_BYTES: usize = 64 * 1024;

/// The writer's end of a connection: yields encoded frames for the client,
/// and a keep-alive comment after each idle interval. Dropping it before the
/// end means the client went away.
pub(crate) struct StreamBody {
    shared: Arc<Shared>,
    keep_alive: Option<KeepAlive>,
    ended: bool,
}

struct KeepAlive {
    interval: Duration,
    /// Fires at `last_write + interval`; moved only when it fires, so a busy
    /// stream does not touch the timer for every frame.
    timer: Pin<Box<Sleep>>,
    last_write: Instant,
}

const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

impl StreamBody {
    pub(crate) fn new(shared: Arc<Shared>) -> StreamBody {
        let keep_alive = shared.config.keep_alive.map(|interval| KeepAlive {
            interval,
            timer: Box::pin(tokio::time::sleep(interval)),
            last_write: Instant::now(),
        });
        StreamBody {
            shared,
            keep_alive,
            ended: false,
        }
    }

    /// The next chunk of bytes for the client; `None` at the end.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.shared.poll_next(cx) {
            Poll::Ready(Some(bytes)) => {
                if let Some(keep_alive) = &mut self.keep_alive {
                    keep_alive.last_write = Instant::now();
                }
                return Poll::Ready(Some(bytes));
            }
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let Some(keep_alive) = &mut self.keep_alive else {
            return Poll::Pending;
        };
        loop {
            if keep_alive.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = keep_alive.last_write + keep_alive.interval;
            if Instant::now() >= due {
                keep_alive.last_write = Instant::now();
                let next = keep_alive.last_write + keep_alive.interval;
                keep_alive.timer.as_mut().reset(next);
                return Poll::Ready(Some(Bytes::from_static(KEEP_ALIVE_FRAME)));
            }
            keep_alive.timer.as_mut().reset(due);
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        // Harmless when already closed; otherwise the client is gone.
        self.shared.close(CloseReason::ClientGone);
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody")
            .field("path", &self.shared.request.uri().path())
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}

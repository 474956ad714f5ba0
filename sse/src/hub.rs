//! A broadcast hub with resumable topics.
//!
//! Publishers send events to named topics; each connection subscribes to a
//! topic with the `Last-Event-ID` its client reconnected with, and gets
//! exactly the events after that id, then the live ones.
//!
//! # Guarantees
//!
//! - **Ids.** [`Hub::publish`] gives each event of a topic the next id of
//!   that topic (1, 2, 3, ... as decimal text), and the client's
//!   `EventSource` sends the last one it saw back as `Last-Event-ID` when it
//!   reconnects.
//! - **Exactly the missed events.** [`Hub::subscribe`] with a last id replays
//!   the retained events after it, then continues live, with no duplicate and
//!   no gap at the switch from replay to live, however publishers race with
//!   it: replay and registration happen under the topic's lock, which every
//!   publish takes too.
//! - **Told, never silently skipped.** If the last id is older than what the
//!   topic retains, or is not an id this topic gave out (a server restart, a
//!   foreign id), the subscriber first gets a [`RESYNC_EVENT`] event, then
//!   every event the topic retains. A page that gets it should reload its
//!   state.
//! - **Encode once.** An event is encoded once when published; every
//!   subscriber's queue shares those bytes.
//! - **Slow subscribers never block.** Delivery uses [`Sse::send_frame`](crate::Sse::send_frame),
//!   which never waits: a subscriber whose queue is full meets its
//!   connection's [`SlowConsumerPolicy`](crate::SlowConsumerPolicy)
//!   (disconnect, by default; its client reconnects and replays), and
//!   publishers and other subscribers go on.
//! - **Bounded history.** Each topic retains its newest events up to
//!   [`HubConfig::history_events`] and [`HubConfig::history_bytes`].
//!
//! A subscription lasts as long as its connection: the hub holds a handle,
//! so the stream stays open after the consumer returns, and drops it when
//! the connection closes.
//!
//! # Other brokers
//!
//! [`Hub`] is a handle to a [`Broker`]. The default is [`LocalBroker`], in
//! process. A broker shared by several server instances (Redis pub/sub, say)
//! implements the same trait, and `Hub::with_broker` puts it behind the same
//! handle, so handler code does not change.
//!
//! ```
//! use sse::hub::Hub;
//! use sse::testing::TestSseClient;
//! use sse::{LastEventId, Request, SseHandle, SseMessage, SseResponse};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hub = Hub::new();
//! let subscriber = hub.clone();
//! let feed = move |request: Request| {
//!     let hub = subscriber.clone();
//!     let last = LastEventId::from_request(&request);
//!     async move {
//!         SseResponse::ok(move |sse: SseHandle| async move {
//!             hub.subscribe("news", &last, sse).await;
//!         })
//!     }
//! };
//! let client = TestSseClient::for_handler(feed);
//! hub.publish("news", SseMessage::data("one")).await.unwrap();
//! let mut late = client.get("/").await;
//! hub.publish("news", SseMessage::data("two")).await.unwrap();
//! // A new subscriber without a last id gets only what is published from now on.
//! assert_eq!(late.next_message().await, Some(SseMessage::data("two").with_id("2").unwrap()));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_core::future::BoxFuture;

use crate::handler::LastEventId;
use crate::message::SseMessage;
use crate::sse::{Frame, SendError, SseHandle};

/// The name of the event a subscriber gets when its `Last-Event-ID` cannot
/// be resumed from; its data says why, as JSON:
/// `{"reason":"too_old"|"unknown","last_event_id":"…","oldest_id":N}`
/// (`oldest_id` is the first replayed id, or the next id when nothing is
/// retained).
pub const RESYNC_EVENT: &str = "sse-resync";

/// A handle to a broadcast hub; cheap to clone. See the [module docs](self).
#[derive(Clone)]
pub struct Hub {
    broker: Arc<dyn Broker>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// An in-process hub with the default history bounds.
    pub fn new() -> Self {
        Hub::with_broker(LocalBroker::new(HubConfig::default()))
    }

    /// A hub over any broker.
    pub fn with_broker(broker: impl Broker) -> Self {
        Hub {
            broker: Arc::new(broker),
        }
    }

    /// Publishes `message` (a [`SseMessage::Data`] or [`SseMessage::Event`];
    /// its own id, if any, is replaced) to `topic`; returns the id it got.
    pub async fn publish(&self, topic: &str, message: SseMessage) -> Result<u64, HubError> {
        self.broker.publish(topic, message).await
    }

    /// Subscribes a connection to `topic`, resuming after `last_event_id`
    /// (typically the request's [`LastEventId`]; `LastEventId(None)` means
    /// live events only).
    pub async fn subscribe(&self, topic: &str, last_event_id: &LastEventId, sse: SseHandle) {
        self.broker.subscribe(topic, last_event_id, sse).await;
    }
}

/// Where a [`Hub`]'s events come from and go to.
pub trait Broker: Send + Sync + 'static {
    /// Publishes to a topic; returns the event's id.
    fn publish(&self, topic: &str, message: SseMessage) -> BoxFuture<'_, Result<u64, HubError>>;

    /// Subscribes a connection, replaying after `last_event_id`.
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        last_event_id: &'a LastEventId,
        sse: SseHandle,
    ) -> BoxFuture<'a, ()>;
}

/// Why a publish failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// Only data and events can be published (not retry, ping or comment).
    NotAnEvent,
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::NotAnEvent => f.write_str(
                "only data and event messages can be published; retry, ping and comment cannot carry an id",
            ),
        }
    }
}

impl std::error::Error for HubError {}

/// History bounds for each topic of a [`LocalBroker`].
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Events retained per topic. Default 1,000.
    pub history_events: usize,
    /// Encoded bytes retained per topic. Default 1 MiB.
    pub history_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            history_events: 1000,
            history_bytes: 1 << 20,
        }
    }
}

/// The in-process broker: topics in memory, created on first use.
pub struct LocalBroker {
    config: HubConfig,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
}

struct Topic {
    state: Mutex<TopicState>,
}

struct TopicState {
    /// The id the next event gets.
    next_id: u64,
    history: VecDeque<(u64, Frame)>,
    history_bytes: usize,
    subscribers: Vec<(u64, SseHandle)>,
    next_subscriber: u64,
}

impl LocalBroker {
    /// An empty broker.
    pub fn new(config: HubConfig) -> Self {
        LocalBroker {
            config,
            topics: Mutex::new(HashMap::new()),
        }
    }

    fn topic(&self, name: &str) -> Arc<Topic> {
        let mut topics = lock(&self.topics);
        if let Some(topic) = topics.get(name) {
            return topic.clone();
        }
        let topic = Arc::new(Topic {
            state: Mutex::new(TopicState {
                next_id: 1,
                history: VecDeque::new(),
                history_bytes: 0,
                subscribers: Vec::new(),
                next_subscriber: 0,
            }),
        });
        topics.insert(name.to_owned(), topic.clone());
        topic
    }

    /// Publishes without the async wrapper (the local broker never waits).
    pub fn publish_now(&self, topic: &str, message: SseMessage) -> Result<u64, HubError> {
        if !matches!(message, SseMessage::Data(_) | SseMessage::Event(_)) {
            return Err(HubError::NotAnEvent);
        }
        let topic = self.topic(topic);
        let mut state = lock(&topic.state);
        let id = state.next_id;
        state.next_id += 1;
        let frame = Frame::from(
            message
                .with_id(id.to_string())
                .expect("a decimal id is a valid id"),
        );
        // Deliver under the lock: a subscriber registering concurrently
        // either replays this event or gets it live, never both or neither.
        state
            .subscribers
            .retain(|(_, sse)| match sse.send_frame(frame.clone()) {
                Ok(()) | Err(SendError::Full) => true,
                Err(SendError::Closed) => false,
            });
        state.history_bytes += frame.len();
        state.history.push_back((id, frame));
        while state.history.len() > self.config.history_events
            || (state.history_bytes > self.config.history_bytes && state.history.len() > 1)
        {
            let (_, evicted) = state.history.pop_front().expect("not empty");
            state.history_bytes -= evicted.len();
        }
        Ok(id)
    }

    /// Subscribes without the async wrapper.
    pub fn subscribe_now(&self, topic_name: &str, last_event_id: &LastEventId, sse: SseHandle) {
        let topic = self.topic(topic_name);
        let mut state = lock(&topic.state);
        let oldest = state.history.front().map_or(state.next_id, |(id, _)| *id);
        let resume_after = match last_event_id.as_deref() {
            None => None,
            Some(raw) => match raw.parse::<u64>() {
                // Everything after `last` is still retained.
                Ok(last) if last + 1 >= oldest && last < state.next_id => Some(last),
                parsed => {
                    let reason = if parsed.is_ok_and(|last| last < state.next_id) {
                        "too_old"
                    } else {
                        "unknown"
                    };
                    let notice = format!(
                        "{{\"reason\":\"{reason}\",\"last_event_id\":{},\"oldest_id\":{oldest}}}",
                        json_string(raw)
                    );
                    let resync =
                        SseMessage::event(RESYNC_EVENT, notice).expect("a constant event name");
                    if sse.send(resync).is_err() {
                        return;
                    }
                    Some(oldest.saturating_sub(1))
                }
            },
        };
        if let Some(after) = resume_after {
            for (_, frame) in state.history.iter().filter(|(id, _)| *id > after) {
                if sse.send_frame(frame.clone()) == Err(SendError::Closed) {
                    return;
                }
            }
        }
        let key = state.next_subscriber;
        state.next_subscriber += 1;
        state.subscribers.push((key, sse.clone()));
        drop(state);
        // Let go of the handle when the connection closes, not only at the
        // next publish, so an idle topic does not hold closed connections.
        let weak: Weak<Topic> = Arc::downgrade(&topic);
        sse.on_close(Box::new(move || {
            if let Some(topic) = weak.upgrade() {
                lock(&topic.state).subscribers.retain(|(k, _)| *k != key);
            }
        }));
    }

    /// How many connections are subscribed to `topic` now.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        lock(&self.topic(topic).state).subscribers.len()
    }
}

impl Broker for LocalBroker {
    fn publish(&self, topic: &str, message: SseMessage) -> BoxFuture<'_, Result<u64, HubError>> {
        let result = self.publish_now(topic, message);
        Box::pin(std::future::ready(result))
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        last_event_id: &'a LastEventId,
        sse: SseHandle,
    ) -> BoxFuture<'a, ()> {
        self.subscribe_now(topic, last_event_id, sse);
        Box::pin(std::future::ready(()))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; poisoning carries nothing.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

//! The chat app of `cargo run --example chat`: rooms, a page, and a hub.
//!
//! | request | served by | what it does |
//! | --- | --- | --- |
//! | `GET /` | the page ([`Chat::pages`], axum) | the chat page; `/?room=NAME` opens a room (default `lobby`) |
//! | `GET /rooms/{room}/events` | the stream ([`Chat::router`], `sse_routes!`) | the room's events, resuming after `Last-Event-ID` |
//! | `POST /rooms/{room}/messages` | axum | JSON [`ChatMessage`] in, published to the room; answers `{"id":N}` |
//! | `POST /admin/rooms/{room}/disconnect` | axum | closes every open stream of the room; answers `{"closed":N}` |
//!
//! A room's stream carries, in order: a `retry:` line (how soon a cut page
//! reconnects); an [`sse::hub::RESYNC_EVENT`] when the page's
//! `Last-Event-ID` can no longer be resumed from; the messages it missed
//! (replayed by the hub); a [`WELCOME_EVENT`]; then every new
//! [`MESSAGE_EVENT`] live. The page's `EventSource` remembers the id of the
//! last message it got and sends it back when it reconnects, so a page whose
//! connection drops misses nothing and sees nothing twice.
//!
//! The disconnect endpoint is how a demo (or a test) cuts pages off on
//! purpose; it has no authentication, which is why the example listens on
//! loopback only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sse::filter::{SseFilter, filter_fn};
use sse::hub::Hub;
use sse::{
    BoxedHandler, LastEventId, Request, SseHandle, SseMessage, SseRouter, sse_handler, sse_routes,
};

/// The name of the event that carries a [`ChatMessage`] as JSON, with the
/// hub's id.
pub const MESSAGE_EVENT: &str = "chat";

/// The name of the event each stream gets once it is subscribed: a
/// multi-line greeting naming the room (and, on a resume, the last message
/// the page had). Not a hub event: it has no id, so it leaves the page's
/// last event id alone.
pub const WELCOME_EVENT: &str = "welcome";

/// A chat message, as posted and as delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub user: String,
    /// What they wrote; any text, line breaks included.
    pub text: String,
}

/// One stream opened on a room, as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The `Last-Event-ID` the page sent (`None` on a first visit).
    pub last_event_id: Option<String>,
    /// The id of the room's newest message when the stream opened: the hub
    /// replayed at least the messages after `last_event_id` up to this one.
    pub newest_id: u64,
}

/// The chat app's settings.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// How long a page waits before reconnecting after its stream ends
    /// (sent as `retry:`; browsers wait about 3 s without it).
    pub retry: Duration,
    /// Where messages are published; a hub with a different history bound,
    /// or over another broker, fits here.
    pub hub: Hub,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            retry: Duration::from_secs(1),
            hub: Hub::new(),
        }
    }
}

/// The chat app's state; cheap to clone. Serve it with
/// `server.fallback(chat.pages()).serve(chat.router())`.
#[derive(Clone, Debug)]
pub struct Chat {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ChatConfig,
    rooms: Mutex<HashMap<String, Room>>,
}

#[derive(Default)]
struct Room {
    /// Open streams, by key, for the disconnect endpoint.
    open: Vec<(u64, SseHandle)>,
    next_key: u64,
    newest_id: u64,
    subscriptions: Vec<Subscription>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("open", &self.open.len())
            .field("newest_id", &self.newest_id)
            .finish_non_exhaustive()
    }
}

impl Default for Chat {
    fn default() -> Self {
        Chat::new(ChatConfig::default())
    }
}

impl Chat {
    /// A chat with no rooms yet (rooms appear when first used).
    pub fn new(config: ChatConfig) -> Self {
        Chat {
            inner: Arc::new(Inner {
                config,
                rooms: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The event streams: `GET /rooms/{room}/events`.
    pub fn router(&self) -> impl SseRouter {
        sse_routes! {
            // The filter hands every request of the group this app's state,
            // as axum's `Extension` does: handlers stay plain functions.
            "/rooms" with self.state() => {
                "/{room}/events" => room_events,
            },
        }
    }

    /// The page and the POST endpoints, for the server's HTTP fallback.
    pub fn pages(&self) -> axum::Router {
        axum::Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/rooms/{room}/messages", post(post_message))
            .route("/admin/rooms/{room}/disconnect", post(disconnect))
            .with_state(self.clone())
    }

    /// The hub the rooms publish to (topic `room:NAME`).
    pub fn hub(&self) -> &Hub {
        &self.inner.config.hub
    }

    /// Publishes `message` to `room`, as the POST endpoint does; returns its
    /// id.
    pub async fn publish(&self, room: &str, message: &ChatMessage) -> u64 {
        let event = SseMessage::json_event(MESSAGE_EVENT, message)
            .expect("a constant event name and a serializable message");
        let id = self
            .hub()
            .publish(&topic(room), event)
            .await
            .expect("a named event can be published");
        let mut rooms = self.rooms();
        let newest = &mut rooms.entry(room.to_owned()).or_default().newest_id;
        *newest = (*newest).max(id);
        id
    }

    /// Closes every open stream of `room`; returns how many. Each page's
    /// `EventSource` reconnects after [`ChatConfig::retry`] and resumes.
    pub fn disconnect(&self, room: &str) -> usize {
        let open = match self.rooms().get_mut(room) {
            Some(room) => std::mem::take(&mut room.open),
            None => Vec::new(),
        };
        // Closed outside the lock: `on_close` callbacks take it.
        for (_, sse) in &open {
            sse.close();
        }
        open.len()
    }

    /// Every stream opened on `room` so far, oldest first.
    pub fn subscriptions(&self, room: &str) -> Vec<Subscription> {
        self.rooms()
            .get(room)
            .map(|room| room.subscriptions.clone())
            .unwrap_or_default()
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        // Nothing panics while holding this lock; poisoning carries nothing.
        self.inner
            .rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A filter that puts this app into each request's extensions.
    fn state(&self) -> impl SseFilter {
        let chat = self.clone();
        filter_fn(move |mut request: Request, next: BoxedHandler| {
            request.extensions_mut().insert(chat.clone());
            next.handle(request)
        })
    }

    /// Remembers an opened stream, until it closes.
    fn opened(&self, room: &str, last: &LastEventId, sse: &SseHandle) {
        let key = {
            let mut rooms = self.rooms();
            let state = rooms.entry(room.to_owned()).or_default();
            let key = state.next_key;
            state.next_key += 1;
            state.open.push((key, sse.clone()));
            let subscription = Subscription {
                last_event_id: last.0.clone(),
                newest_id: state.newest_id,
            };
            tracing::info!(room, ?subscription, "stream opened");
            state.subscriptions.push(subscription);
            key
        };
        // Forget the handle when the page goes away, so the room does not
        // keep closed connections.
        let chat = self.clone();
        let room = room.to_owned();
        sse.on_close(Box::new(move || {
            if let Some(state) = chat.rooms().get_mut(&room) {
                state.open.retain(|(k, _)| *k != key);
            }
        }));
    }
}

fn topic(room: &str) -> String {
    format!("room:{room}")
}

/// The greeting a page gets each time its stream (re)opens.
pub fn welcome_text(room: &str, last: &LastEventId) -> String {
    let mut text =
        format!("Welcome to #{room}!\nEvery message posted here reaches every open page.");
    if let Some(id) = last.as_deref() {
        text.push_str(&format!("\nReconnected after message {id}."));
    }
    text
}

/// `GET /rooms/{room}/events`: the room's stream.
#[sse_handler]
async fn room_events(
    sse: SseHandle,
    room: String,
    last: LastEventId,
    request: Request,
) -> Result<(), sse::SendError> {
    let chat = request
        .extensions()
        .get::<Chat>()
        .cloned()
        .expect("the /rooms group's filter adds the app");
    sse.send(SseMessage::retry(chat.inner.config.retry))?;
    chat.opened(&room, &last, &sse);
    // Replays what the page missed, then keeps the stream subscribed (the
    // hub holds the handle) until it closes.
    chat.hub()
        .subscribe(&topic(&room), &last, sse.clone())
        .await;
    // Sent after subscribing, so a page that has seen it knows that every
    // message posted from now on reaches it.
    let welcome = SseMessage::event(WELCOME_EVENT, welcome_text(&room, &last))
        .expect("a constant event name");
    sse.send(welcome)
}

/// `POST /rooms/{room}/messages`.
async fn post_message(
    State(chat): State<Chat>,
    Path(room): Path<String>,
    axum::Json(message): axum::Json<ChatMessage>,
) -> Response {
    if message.user.trim().is_empty() || message.text.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "a message needs a user and a text",
        )
            .into_response();
    }
    let id = chat.publish(&room, &message).await;
    axum::Json(serde_json::json!({ "id": id })).into_response()
}

/// `POST /admin/rooms/{room}/disconnect`.
async fn disconnect(State(chat): State<Chat>, Path(room): Path<String>) -> Response {
    let closed = chat.disconnect(&room);
    tracing::info!(room, closed, "disconnected the room's streams");
    axum::Json(serde_json::json!({ "closed": closed })).into_response()
}

/// The page: no external assets, so it works offline.
const PAGE: &str = include_str!("chat.html");

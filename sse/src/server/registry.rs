//! The open streams of one server, so that shutdown can close every one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;

use crate::filter::SseFilter;
use crate::handler::{BoxedHandler, Request, SseConsumer};
use crate::sse::{CloseReason, Frame, Shared, SseHandle};

/// Open streams by id. Entries are weak: the registry never keeps a stream
/// alive; each removes itself when it closes.
#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    streams: HashMap<u64, Weak<Shared>>,
    /// Set once shutdown began: the final message (if any) for streams that
    /// start afterwards (their handler was still running), which are closed
    /// at once.
    shutting_down: Option<Option<Frame>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tracks a stream that just started.
    pub(crate) fn register(self: &Arc<Self>, shared: &Arc<Shared>) {
        let mut state = self.lock();
        if let Some(last) = &state.shutting_down {
            let last = last.clone();
            drop(state);
            shared.close_with(CloseReason::Shutdown, last.as_ref());
            return;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.streams.insert(id, Arc::downgrade(shared));
        drop(state);
        // Registered outside the lock: on an already closed stream the
        // callback runs at once and takes the lock itself.
        let registry = Arc::downgrade(self);
        let stream = Arc::downgrade(shared);
        shared.on_close(Box::new(move || {
            if let Some(stream) = stream.upgrade() {
                tracing::debug!(reason = ?stream.close_reason(), "SSE stream closed");
            }
            if let Some(registry) = registry.upgrade() {
                registry.lock().streams.remove(&id);
            }
        }));
    }

    /// How many streams are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().streams.len()
    }

    /// Closes every open stream (and every one that starts from now on)
    /// with [`CloseReason::Shutdown`], after `last`. Returns how many were
    /// open.
    pub(crate) fn shutdown(&self, last: Option<Frame>) -> usize {
        let mut state = self.lock();
        state.shutting_down = Some(last.clone());
        let open: Vec<Arc<Shared>> = state.streams.values().filter_map(Weak::upgrade).collect();
        drop(state);
        // Closing runs each stream's `on_close` callbacks, ours included,
        // which take the lock: so close outside it.
        for shared in &open {
            shared.close_with(CloseReason::Shutdown, last.as_ref());
        }
        open.len()
    }
}

/// The consumers a server started that have not finished yet. Each runs on
/// a task of its own and is dropped when its stream closes; shutdown waits
/// (within its deadline) until the last one is gone, so that no handler
/// task outlives the server.
#[derive(Default)]
pub(crate) struct Consumers {
    running: AtomicUsize,
    idle: Notify,
}

/// Counts one consumer as running until dropped (with the consumer's
/// future, or with the response if the consumer never starts).
struct Running(Arc<Consumers>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Consumers {
    /// Resolves once no consumer is running.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The filter that counts every consumer of a server's router in
/// [`Consumers`].
pub(crate) struct TrackConsumers(pub(crate) Arc<Consumers>);

impl SseFilter for TrackConsumers {
    fn wrap(&self, next: BoxedHandler) -> BoxedHandler {
        let consumers = self.0.clone();
        Arc::new(move |request: Request| {
            let response = next.handle(request);
            let consumers = consumers.clone();
            async move {
                response.await.map_consumer(|consumer| {
                    consumers.running.fetch_add(1, Ordering::AcqRel);
                    let running = Running(consumers);
                    Box::new(move |sse: SseHandle| async move {
                        let _running = running;
                        consumer.consume(sse).await;
                    }) as Box<dyn SseConsumer>
                })
            }
        })
    }
}

//! The open streams of one server, so that shutdown can close every one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::sse::{CloseReason, Frame, Shared};

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

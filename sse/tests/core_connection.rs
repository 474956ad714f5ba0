//! The connection's lifetime, queue and close rules, through `TestSseClient`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sse::testing::TestSseClient;
use sse::{
    Request, SendError, SlowConsumerPolicy, SseHandle, SseMessage, SseResponse, StreamConfig,
};
use tokio::sync::{mpsc, oneshot};

fn data(text: &str) -> SseMessage {
    SseMessage::data(text)
}

/// A handler whose consumer is `consumer`, called once per request.
fn handler_with<F, Fut>(consumer: F) -> impl sse::SseHandler
where
    F: Fn(SseHandle) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    move |_request: Request| {
        let consumer = consumer.clone();
        async move { SseResponse::ok(move |sse: SseHandle| consumer(sse)) }
    }
}

/// Counts `on_close` calls.
fn close_counter(sse: &SseHandle) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    sse.on_close(Box::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    count
}

#[test]
fn handles_are_send_sync_static() {
    fn assert_shareable<T: Send + Sync + 'static>() {}
    assert_shareable::<SseHandle>();
    assert_shareable::<SseMessage>();
}

#[tokio::test]
async fn messages_arrive_in_order_and_the_stream_ends_when_the_consumer_returns() {
    let client = TestSseClient::for_handler(handler_with(|sse: SseHandle| async move {
        for i in 0..100 {
            sse.send(data(&i.to_string())).unwrap();
        }
    }));
    let response = client.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let received = response.collect().await;
    let expected: Vec<_> = (0..100).map(|i| data(&i.to_string())).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn a_spawned_handle_keeps_the_stream_open_until_it_drops() {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(Some(release_rx)));
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let release = release_rx.lock().unwrap().take().unwrap();
        async move {
            tokio::spawn(async move {
                sse.send(data("from the task")).unwrap();
                release.await.unwrap();
                sse.send(data("last")).unwrap();
            });
        }
    }));
    let mut response = client.get("/").await;
    assert_eq!(response.next_message().await, Some(data("from the task")));
    release_tx.send(()).unwrap();
    assert_eq!(response.next_message().await, Some(data("last")));
    assert_eq!(response.next_message().await, None);
}

#[tokio::test]
async fn close_delivers_what_is_queued_then_ends_and_later_sends_fail() {
    let (result_tx, mut result_rx) = mpsc::unbounded_channel();
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let result_tx = result_tx.clone();
        async move {
            let closes = close_counter(&sse);
            sse.send(data("a")).unwrap();
            sse.send(data("b")).unwrap();
            sse.close();
            sse.close();
            let after = sse.send(data("c"));
            let after_wait = sse.send_wait(data("d")).await;
            result_tx
                .send((
                    after,
                    after_wait,
                    sse.is_closed(),
                    closes.load(Ordering::SeqCst),
                ))
                .unwrap();
            // Keep the handle past the close: the stream must end anyway.
            std::future::pending::<()>().await;
        }
    }));
    let response = client.get("/").await;
    assert_eq!(response.collect().await, vec![data("a"), data("b")]);
    let (after, after_wait, closed, closes) = result_rx.recv().await.unwrap();
    assert_eq!(after, Err(SendError::Closed));
    assert_eq!(after_wait, Err(SendError::Closed));
    assert!(closed);
    assert_eq!(closes, 1);
}

#[tokio::test]
async fn a_client_going_away_runs_on_close_once_and_drops_the_consumer() {
    struct DropFlag(#[allow(dead_code)] oneshot::Sender<()>);
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let opened_tx = opened_tx.clone();
        let flag = DropFlag(dropped_tx.lock().unwrap().take().unwrap());
        async move {
            let _flag = flag;
            let closes = close_counter(&sse);
            let watcher = sse.clone();
            opened_tx.send((closes, watcher)).unwrap();
            // A consumer that never returns and never sends.
            std::future::pending::<()>().await;
        }
    }));
    let response = client.get("/").await;
    let (closes, watcher) = opened_rx.recv().await.unwrap();
    assert_eq!(closes.load(Ordering::SeqCst), 0);
    response.close();
    watcher.closed().await;
    // The consumer's future was dropped, dropping what it owned.
    let _ = dropped_rx.await;
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    assert_eq!(watcher.send(data("too late")), Err(SendError::Closed));
    watcher.close();
    assert_eq!(
        closes.load(Ordering::SeqCst),
        1,
        "on_close runs exactly once"
    );
}

#[tokio::test]
async fn on_close_registered_after_the_close_runs_at_once() {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let done_tx = done_tx.clone();
        async move {
            sse.close();
            let late = close_counter(&sse);
            done_tx.send(late.load(Ordering::SeqCst)).unwrap();
        }
    }));
    let response = client.get("/").await;
    assert!(response.collect().await.is_empty());
    assert_eq!(done_rx.recv().await, Some(1));
}

#[tokio::test]
async fn dropping_the_last_handle_closes_and_runs_on_close() {
    let (count_tx, mut count_rx) = mpsc::unbounded_channel();
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let count_tx = count_tx.clone();
        async move {
            count_tx.send(close_counter(&sse)).unwrap();
            sse.send(data("bye")).unwrap();
        }
    }));
    let response = client.get("/").await;
    assert_eq!(response.collect().await, vec![data("bye")]);
    let closes = count_rx.recv().await.unwrap();
    assert_eq!(closes.load(Ordering::SeqCst), 1);
}

fn small_queue(policy: SlowConsumerPolicy) -> StreamConfig {
    StreamConfig {
        queue_bytes: 64,
        slow_consumer: policy,
        keep_alive: None,
    }
}

#[tokio::test]
async fn a_full_queue_disconnects_a_slow_consumer_by_default() {
    let (result_tx, mut result_rx) = mpsc::unbounded_channel();
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let result_tx = result_tx.clone();
        async move {
            let closes = close_counter(&sse);
            // 12 bytes each on the wire ("data: 0000\n\n"): the 6th overflows 64.
            let results: Vec<_> = (0..8).map(|i| sse.send(data(&format!("{i:04}")))).collect();
            // Callbacks of an overflow close run on their own task, never
            // inside the `send` that overflowed.
            let inside_send = closes.load(Ordering::SeqCst);
            result_tx.send((results, inside_send, closes)).unwrap();
        }
    }))
    .with_config(small_queue(SlowConsumerPolicy::Disconnect));
    let response = client.get("/").await;
    let (results, inside_send, closes) = result_rx.recv().await.unwrap();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    assert!(results[5..].iter().all(|r| *r == Err(SendError::Closed)));
    assert_eq!(inside_send, 0);
    // The queue was dropped with the slow client.
    assert!(response.collect().await.is_empty());
    while closes.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(closes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn drop_message_policy_refuses_the_message_and_keeps_the_connection() {
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let go_rx = Arc::new(std::sync::Mutex::new(Some(go_rx)));
    let (result_tx, mut result_rx) = mpsc::unbounded_channel();
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let result_tx = result_tx.clone();
        let go = go_rx.lock().unwrap().take().unwrap();
        async move {
            let results: Vec<_> = (0..7).map(|i| sse.send(data(&format!("{i:04}")))).collect();
            result_tx.send(results).unwrap();
            go.await.unwrap();
            sse.send(data("after")).unwrap();
        }
    }))
    .with_config(small_queue(SlowConsumerPolicy::DropMessage));
    let mut response = client.get("/").await;
    let results = result_rx.recv().await.unwrap();
    assert_eq!(&results[5..], &[Err(SendError::Full), Err(SendError::Full)]);
    for i in 0..5 {
        assert_eq!(
            response.next_message().await,
            Some(data(&format!("{i:04}")))
        );
    }
    go_tx.send(()).unwrap();
    assert_eq!(response.next_message().await, Some(data("after")));
    assert_eq!(response.next_message().await, None);
}

#[tokio::test]
async fn send_wait_waits_for_room_instead_of_dropping() {
    let client = TestSseClient::for_handler(handler_with(|sse: SseHandle| async move {
        for i in 0..50 {
            sse.send_wait(data(&format!("{i:04}"))).await.unwrap();
        }
    }))
    .with_config(small_queue(SlowConsumerPolicy::Disconnect));
    let response = client.get("/").await;
    let received = response.collect().await;
    let expected: Vec<_> = (0..50).map(|i| data(&format!("{i:04}"))).collect();
    assert_eq!(received, expected, "backpressure loses nothing");
}

#[tokio::test]
async fn a_message_larger_than_the_bound_still_goes_when_the_queue_is_empty() {
    let big = "x".repeat(1000);
    let expected = data(&big);
    let client = TestSseClient::for_handler(handler_with(move |sse: SseHandle| {
        let big = big.clone();
        async move {
            sse.send(data(&big)).unwrap();
        }
    }))
    .with_config(small_queue(SlowConsumerPolicy::Disconnect));
    assert_eq!(client.get("/").await.collect().await, vec![expected]);
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_gets_keep_alive_comments() {
    let client = TestSseClient::for_handler(handler_with(|sse: SseHandle| async move {
        sse.send(data("first")).unwrap();
        sse.closed().await;
    }))
    .with_config(StreamConfig {
        keep_alive: Some(Duration::from_secs(15)),
        ..StreamConfig::default()
    });
    let mut response = client.get("/").await;
    assert_eq!(response.next_message().await, Some(data("first")));
    let started = tokio::time::Instant::now();
    assert_eq!(response.next_message().await, Some(SseMessage::Ping));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(14) && waited <= Duration::from_secs(16),
        "{waited:?}"
    );
    assert_eq!(response.next_message().await, Some(SseMessage::Ping));
}

#[tokio::test]
async fn the_connection_sees_its_request() {
    let client = TestSseClient::for_handler(handler_with(|sse: SseHandle| async move {
        let request = sse.connect_request();
        let text = format!("{} {}", request.method(), request.uri());
        sse.send(data(&text)).unwrap();
    }));
    let received = client.get("/feed?x=1").await.collect().await;
    assert_eq!(received, vec![data("GET /feed?x=1")]);
}

#[tokio::test]
async fn a_refusal_has_no_stream() {
    let client = TestSseClient::for_handler(|_request: Request| async {
        SseResponse::refuse(http::StatusCode::FORBIDDEN, "go away")
    });
    let response = client.get("/").await;
    assert_eq!(response.status(), 403);
    assert!(!response.is_stream());
    assert_eq!(response.text().await, "go away");
}

//! The hub's guarantees: ids, replay, resync, history bounds, slow and
//! vanished subscribers, and replay-to-live under concurrent publishers.

use std::sync::Arc;
use std::time::Duration;

use sse::hub::{Hub, HubConfig, HubError, LocalBroker, RESYNC_EVENT};
use sse::testing::{TestSseClient, TestSseResponse};
use sse::{
    LastEventId, Request, SlowConsumerPolicy, SseHandle, SseMessage, SseResponse, StreamConfig,
};

/// A client whose every request subscribes to the topic named by its path,
/// resuming from its `Last-Event-ID`.
fn client_for(hub: &Hub) -> TestSseClient {
    let hub = hub.clone();
    TestSseClient::for_handler(move |request: Request| {
        let hub = hub.clone();
        let topic = request.uri().path().trim_start_matches('/').to_owned();
        let last = LastEventId::from_request(&request);
        async move {
            SseResponse::ok(move |sse: SseHandle| async move {
                hub.subscribe(&topic, &last, sse).await;
            })
        }
    })
}

async fn subscribe(client: &TestSseClient, topic: &str, last: Option<&str>) -> TestSseResponse {
    let mut request = http::Request::get(format!("/{topic}"));
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    client
        .request(request.body(bytes::Bytes::new()).unwrap())
        .await
}

fn hub_with(history_events: usize, history_bytes: usize) -> (Hub, Arc<LocalBroker>) {
    let broker = Arc::new(LocalBroker::new(HubConfig {
        history_events,
        history_bytes,
    }));
    (Hub::with_broker(SharedBroker(broker.clone())), broker)
}

/// Lets a test keep a handle on the broker it gave the hub.
struct SharedBroker(Arc<LocalBroker>);

impl sse::hub::Broker for SharedBroker {
    fn publish(
        &self,
        topic: &str,
        message: SseMessage,
    ) -> futures_util::future::BoxFuture<'_, Result<u64, HubError>> {
        self.0.publish(topic, message)
    }
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        last_event_id: &'a LastEventId,
        sse: SseHandle,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        sse::hub::Broker::subscribe(&*self.0, topic, last_event_id, sse)
    }
}

fn event_id(message: &SseMessage) -> u64 {
    match message {
        SseMessage::Event(event) => event.id().expect("hub events carry ids").parse().unwrap(),
        other => panic!("not a hub event: {other:?}"),
    }
}

async fn publish(hub: &Hub, topic: &str, text: &str) -> u64 {
    hub.publish(topic, SseMessage::data(text)).await.unwrap()
}

#[tokio::test]
async fn ids_increase_per_topic_and_the_message_keeps_its_name_and_data() {
    let hub = Hub::new();
    assert_eq!(publish(&hub, "a", "x").await, 1);
    assert_eq!(publish(&hub, "a", "y").await, 2);
    assert_eq!(publish(&hub, "b", "z").await, 1);
    let named = SseMessage::event("chat", "hi")
        .unwrap()
        .with_id("ignored")
        .unwrap();
    assert_eq!(hub.publish("a", named).await, Ok(3));
    assert_eq!(
        hub.publish("a", SseMessage::Ping).await,
        Err(HubError::NotAnEvent)
    );
    let client = client_for(&hub);
    let mut replay = subscribe(&client, "a", Some("0")).await;
    assert_eq!(
        replay.next_message().await,
        Some(SseMessage::data("x").with_id("1").unwrap())
    );
    replay.next_message().await;
    assert_eq!(
        replay.next_message().await,
        Some(
            SseMessage::event("chat", "hi")
                .unwrap()
                .with_id("3")
                .unwrap()
        )
    );
}

#[tokio::test]
async fn a_new_subscriber_gets_live_events_only() {
    let hub = Hub::new();
    publish(&hub, "t", "old").await;
    let client = client_for(&hub);
    let mut live = subscribe(&client, "t", None).await;
    publish(&hub, "t", "new").await;
    assert_eq!(
        live.next_message().await,
        Some(SseMessage::data("new").with_id("2").unwrap())
    );
}

#[tokio::test]
async fn resuming_replays_exactly_the_missed_events_then_continues_live() {
    let hub = Hub::new();
    for i in 1..=5 {
        publish(&hub, "t", &format!("e{i}")).await;
    }
    let client = client_for(&hub);
    let mut resumed = subscribe(&client, "t", Some("3")).await;
    publish(&hub, "t", "e6").await;
    let ids: Vec<u64> = [
        resumed.next_message().await,
        resumed.next_message().await,
        resumed.next_message().await,
    ]
    .iter()
    .map(|m| event_id(m.as_ref().unwrap()))
    .collect();
    assert_eq!(ids, [4, 5, 6]);
    // Caught up: resuming from the newest id replays nothing.
    let mut current = subscribe(&client, "t", Some("6")).await;
    publish(&hub, "t", "e7").await;
    assert_eq!(event_id(&current.next_message().await.unwrap()), 7);
}

fn resync_reason(message: &SseMessage) -> String {
    let SseMessage::Event(event) = message else {
        panic!("expected the resync event, got {message:?}");
    };
    assert_eq!(event.name(), RESYNC_EVENT);
    event.data().to_owned()
}

#[tokio::test]
async fn an_id_older_than_the_history_or_unknown_is_told_explicitly() {
    let (hub, _broker) = hub_with(3, 1 << 20);
    for i in 1..=10 {
        publish(&hub, "t", &format!("e{i}")).await;
    }
    let client = client_for(&hub);
    let cases: &[(&str, &str)] = &[
        (
            "2",
            r#"{"reason":"too_old","last_event_id":"2","oldest_id":8}"#,
        ),
        (
            "6",
            r#"{"reason":"too_old","last_event_id":"6","oldest_id":8}"#,
        ),
        (
            "11",
            r#"{"reason":"unknown","last_event_id":"11","oldest_id":8}"#,
        ),
        (
            "abc",
            r#"{"reason":"unknown","last_event_id":"abc","oldest_id":8}"#,
        ),
        (
            "",
            r#"{"reason":"unknown","last_event_id":"","oldest_id":8}"#,
        ),
    ];
    for (last, notice) in cases {
        let mut response = subscribe(&client, "t", Some(last)).await;
        assert_eq!(
            resync_reason(&response.next_message().await.unwrap()),
            *notice
        );
        // Then everything retained, in order.
        for id in 8..=10 {
            assert_eq!(
                event_id(&response.next_message().await.unwrap()),
                id,
                "after {last:?}"
            );
        }
    }
    // The oldest retained id minus one is still a clean resume.
    let mut clean = subscribe(&client, "t", Some("7")).await;
    assert_eq!(event_id(&clean.next_message().await.unwrap()), 8);
}

#[tokio::test]
async fn history_is_bounded_by_bytes_too() {
    // Each event here is about 30 bytes encoded; 100 bytes keep three.
    let (hub, _broker) = hub_with(1000, 100);
    for i in 1..=20 {
        publish(&hub, "t", &format!("event-{i:02}")).await;
    }
    let client = client_for(&hub);
    let mut response = subscribe(&client, "t", Some("0")).await;
    resync_reason(&response.next_message().await.unwrap());
    let first = event_id(&response.next_message().await.unwrap());
    assert!((17..=19).contains(&first), "kept from {first}");
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_off_without_blocking_publishers_or_others() {
    let hub = Hub::new();
    let fast_client = client_for(&hub);
    let slow_client = client_for(&hub).with_config(StreamConfig {
        queue_bytes: 256,
        slow_consumer: SlowConsumerPolicy::Disconnect,
        keep_alive: None,
    });
    let mut slow = subscribe(&slow_client, "t", None).await;
    let mut fast = subscribe(&fast_client, "t", None).await;
    // The slow one never reads while 1000 events go out; publish never waits.
    for i in 1..=1000u64 {
        assert_eq!(publish(&hub, "t", &format!("{i:08}")).await, i);
        if i % 100 == 0 {
            // The fast one keeps up.
            for id in i - 99..=i {
                assert_eq!(event_id(&fast.next_message().await.unwrap()), id);
            }
        }
    }
    // The slow one was disconnected: its stream ends after nothing
    // (a Disconnect drops the queue).
    assert_eq!(slow.next_message().await, None);
}

#[tokio::test]
async fn closed_subscribers_are_let_go() {
    let (hub, broker) = hub_with(10, 1 << 20);
    let client = client_for(&hub);
    let first = subscribe(&client, "t", None).await;
    let mut second = subscribe(&client, "t", None).await;
    // Let both consumers run.
    publish(&hub, "t", "x").await;
    second.next_message().await.unwrap();
    assert_eq!(broker.subscriber_count("t"), 2);
    first.close();
    assert_eq!(broker.subscriber_count("t"), 1);
    second.close();
    assert_eq!(broker.subscriber_count("t"), 0);
}

/// Publishers race with subscribers that join, leave and resume: every
/// session sees consecutive ids, and every subscriber's sessions together
/// see exactly the published sequence from its first id, with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publish_subscribe_and_reconnect_lose_and_repeat_nothing() {
    const PUBLISHERS: u64 = 4;
    const PER_PUBLISHER: u64 = 500;
    const TOTAL: u64 = PUBLISHERS * PER_PUBLISHER;
    const SUBSCRIBERS: usize = 16;
    let (hub, _broker) = hub_with(TOTAL as usize, 1 << 24);
    let client = client_for(&hub);

    // Half the subscribers join before publishing starts and see it all
    // live; the other half join while publishers run, replaying from the
    // start (`Last-Event-ID: 0`), so their switch from replay to live races
    // with the publishers.
    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut subscribers = Vec::new();
    for s in 0..SUBSCRIBERS {
        let client = client.clone();
        let joined_tx = joined_tx.clone();
        subscribers.push(tokio::spawn(async move {
            let early = s % 2 == 0;
            if !early {
                for _ in 0..s * 7 {
                    tokio::task::yield_now().await;
                }
            }
            let mut received: Vec<u64> = Vec::new();
            let from = if early { None } else { Some("0") };
            let mut response = subscribe(&client, "race", from).await;
            joined_tx.send(()).unwrap();
            let mut session = 0;
            loop {
                let message =
                    tokio::time::timeout(Duration::from_secs(20), response.next_message())
                        .await
                        .expect("events keep coming")
                        .expect("the stream stays open");
                let id = event_id(&message);
                match received.last() {
                    Some(&last) => assert_eq!(
                        id,
                        last + 1,
                        "subscriber {s}, session {session}: gap or duplicate"
                    ),
                    None => assert_eq!(id, 1, "subscriber {s} starts at the first event"),
                }
                received.push(id);
                if id == TOTAL {
                    return received;
                }
                // Leave and resume now and then, mid-stream.
                if (id + s as u64).is_multiple_of(97) {
                    response.close();
                    session += 1;
                    let last = id.to_string();
                    response = subscribe(&client, "race", Some(&last)).await;
                }
            }
        }));
    }
    // The early half is subscribed before the first publish.
    for _ in 0..SUBSCRIBERS / 2 {
        joined_rx.recv().await.unwrap();
    }
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let hub = hub.clone();
        publishers.push(tokio::spawn(async move {
            for i in 0..PER_PUBLISHER {
                hub.publish("race", SseMessage::data(format!("p{p}-{i}")))
                    .await
                    .unwrap();
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for subscriber in subscribers {
        let received = subscriber.await.unwrap();
        let expected: Vec<u64> = (1..=TOTAL).collect();
        assert_eq!(received, expected);
    }
}

/// A chat announces who left from `on_close`; when the hub itself cut the
/// subscriber off (its queue overflowed during a publish), that callback
/// publishes to the very topic that was delivering, and must not deadlock.
#[tokio::test]
async fn an_on_close_callback_may_publish_to_the_topic_that_cut_it_off() {
    let hub = Hub::new();
    let announcer = hub.clone();
    let slow_client = TestSseClient::for_handler(move |_request: Request| {
        let hub = announcer.clone();
        async move {
            SseResponse::ok(move |sse: SseHandle| async move {
                let farewell = hub.clone();
                sse.on_close(Box::new(move || {
                    tokio::spawn(async move {
                        farewell
                            .publish("room", SseMessage::data("someone left"))
                            .await
                            .unwrap();
                    });
                }));
                hub.subscribe("room", &LastEventId(None), sse).await;
            })
        }
    })
    .with_config(StreamConfig {
        queue_bytes: 128,
        slow_consumer: SlowConsumerPolicy::Disconnect,
        keep_alive: None,
    });
    let _slow = subscribe(&slow_client, "room", None).await;
    let mut watcher = subscribe(&client_for(&hub), "room", None).await;
    for i in 0..20 {
        publish(&hub, "room", &format!("message {i}")).await;
    }
    let mut texts = Vec::new();
    while texts.last().map(String::as_str) != Some("someone left") {
        let Some(SseMessage::Event(event)) = watcher.next_message().await else {
            panic!("the watcher's stream ended");
        };
        texts.push(event.data().to_owned());
    }
    assert_eq!(texts.len(), 21);
}

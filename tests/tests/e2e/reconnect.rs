//! A real reconnecting client (`reqwest-eventsource`, which follows the
//! EventSource rules: reconnect after `retry`, send `Last-Event-ID`) against
//! a handler that resumes from the id it is given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest_eventsource::{Event, EventSource};
use sse::routing::DynamicRouter;
use sse::{LastEventId, Request, SseHandle, SseMessage, SseResponse};
use sse_tests::{http1, server, url, within};

#[tokio::test]
async fn a_reconnecting_client_carries_last_event_id_and_the_handler_resumes() {
    let seen_ids: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen_ids.clone();
    let router = DynamicRouter::new()
        .get("/feed", move |request: Request| {
            let last = LastEventId::from_request(&request);
            record.lock().unwrap().push(last.0.clone());
            async move {
                // Three events per connection, numbered on from the last id
                // the client saw; then the stream ends and the client must
                // come back.
                let start = last.as_u64().map_or(0, |id| id + 1);
                SseResponse::ok(move |sse: SseHandle| async move {
                    sse.send(SseMessage::retry(Duration::from_millis(20)))
                        .unwrap();
                    for id in start..start + 3 {
                        let event = SseMessage::data(format!("n{id}"))
                            .with_id(id.to_string())
                            .unwrap();
                        sse.send(event).unwrap();
                    }
                })
            }
        })
        .unwrap();
    let server = server().await.spawn(router);
    let mut source = EventSource::new(http1().get(url(server.local_addr(), "/feed"))).unwrap();
    let mut data = Vec::new();
    within("nine events over three connections", async {
        while data.len() < 9 {
            match source.next().await.expect("the event source goes on") {
                Ok(Event::Open) => {}
                Ok(Event::Message(message)) => {
                    assert_eq!(message.data, format!("n{}", message.id));
                    data.push(message.data);
                }
                // The end of each stream; the source reconnects by itself.
                Err(reqwest_eventsource::Error::StreamEnded) => {}
                Err(error) => panic!("unexpected event source error: {error}"),
            }
        }
    })
    .await;
    source.close();
    let expected: Vec<String> = (0..9).map(|n| format!("n{n}")).collect();
    assert_eq!(
        data, expected,
        "no event lost or repeated across reconnects"
    );
    assert_eq!(
        seen_ids.lock().unwrap()[..3],
        [None, Some("2".to_owned()), Some("5".to_owned())],
        "the handler was offered each reconnect's Last-Event-ID, typed"
    );
    server.shutdown().await;
}

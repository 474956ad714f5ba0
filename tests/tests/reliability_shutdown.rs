//! Shutdown under load (issue 6, point 7): a graceful shutdown with a
//! thousand open streams, half of them sending as fast as their clients
//! read, ends within its deadline; every `on_close` has run and every
//! consumer future (the handler's task) is gone by the time `shutdown`
//! returns; every client got each event in order, then the final message,
//! then the end of its stream; and the runtime's tasks are back to what
//! they were before the server started.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use sse::routing::DynamicRouter;
use sse::{Request, SseHandle, SseMessage, SseResponse};
use sse_tests::reliability::{
    StreamCounts, alive_tasks, open_streams, parse_body, raise_open_files_limit, read_to_end,
    settles_to,
};
use sse_tests::{server, within};

const STREAMS: usize = 1_000;
const DEADLINE: Duration = Duration::from_secs(3);

fn router(counts: &Arc<StreamCounts>) -> DynamicRouter {
    let ticking = counts.clone();
    let silent = counts.clone();
    DynamicRouter::new()
        // Sends numbered events for as long as the client takes them.
        .get("/tick", move |_request: Request| {
            let counts = ticking.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    let _dropped = counts.watch(&sse);
                    for n in 0u64.. {
                        if sse
                            .send_wait(SseMessage::data(n.to_string()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            }
        })
        .unwrap()
        // Sends nothing and never returns.
        .get("/silent", move |_request: Request| {
            let counts = silent.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    let _dropped = counts.watch(&sse);
                    std::future::pending::<()>().await;
                })
            }
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_thousand_busy_streams_ends_within_its_deadline() {
    raise_open_files_limit(2 * STREAMS as u64 + 256);
    let tasks_before = alive_tasks();
    let counts = Arc::new(StreamCounts::default());
    let server = server()
        .await
        .keep_alive(Some(Duration::from_millis(200)))
        .max_connections(2 * STREAMS)
        .shutdown_message(SseMessage::event("shutdown", "bye").unwrap())
        .shutdown_deadline(DEADLINE)
        .spawn(router(&counts));
    let addr = server.local_addr();

    let ticking = open_streams(addr, "/tick", STREAMS / 2, 64).await;
    let silent = open_streams(addr, "/silent", STREAMS / 2, 64).await;
    settles_to("every stream open", STREAMS, || server.open_streams()).await;
    assert_eq!(counts.opened.load(Ordering::SeqCst), STREAMS);
    // Every client reads on a task of its own until its stream ends.
    let readers: Vec<_> = ticking
        .into_iter()
        .map(|client| (true, client))
        .chain(silent.into_iter().map(|client| (false, client)))
        .map(|(ticks, mut client)| {
            tokio::spawn(async move { (ticks, read_to_end(&mut client).await) })
        })
        .collect();
    // Let the ticking streams get going.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let report = within("the shutdown", server.shutdown()).await;
    let took = started.elapsed();
    // Read at once: nothing may be left running behind the returned call.
    let closed = counts.closed.load(Ordering::SeqCst);
    let dropped = counts.dropped.load(Ordering::SeqCst);
    assert!(
        took <= DEADLINE,
        "shutdown took {took:?}, over its deadline: {report:?}"
    );
    assert!(report.elapsed <= DEADLINE, "{report:?}");
    assert_eq!(report.streams_closed, STREAMS, "{report:?}");
    assert_eq!(report.connections_finished, STREAMS, "{report:?}");
    assert_eq!(report.connections_dropped, 0, "{report:?}");
    assert_eq!(
        closed, STREAMS,
        "every on_close ran before shutdown returned"
    );
    assert_eq!(
        dropped, STREAMS,
        "every consumer was dropped before shutdown returned"
    );

    // Each client: its events in order with none missing, the final
    // message, then the end of the stream.
    let bodies = within("every reader", join_all(readers)).await;
    let mut ticks_seen = 0;
    for joined in bodies {
        let (ticks, body) = joined.expect("a reader task");
        let events = parse_body(&body, 1024).await;
        let (last, before) = events.split_last().expect("at least the final message");
        assert_eq!(
            (last.event.as_str(), last.data.as_str()),
            ("shutdown", "bye")
        );
        if ticks {
            for (n, event) in before.iter().enumerate() {
                assert_eq!(event.data, n.to_string(), "ticks in order, none missing");
            }
            ticks_seen += before.len();
        } else {
            assert!(before.is_empty(), "a silent stream got {before:?}");
        }
    }
    assert!(ticks_seen > 0, "the ticking streams were busy");
    settles_to("tasks back to before the server", tasks_before, alive_tasks).await;
}

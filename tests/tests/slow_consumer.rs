//! One client stops reading while tens of MB go out to it and to fast
//! clients beside it. The stalled connection's bound holds, the policy
//! applies, the fast clients get every byte, and the process's memory stays
//! bounded. Its own test binary, so that the resident-memory readings see
//! only this test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt as _;
use sse::routing::DynamicRouter;
use sse::sse::Frame;
use sse::{Request, SendError, SlowConsumerPolicy, SseHandle, SseMessage, SseResponse};
use sse_tests::{RawClient, http1, resident_bytes, server, url, within};
use tokio::sync::{Notify, mpsc};

/// Per-connection send-queue bound.
const QUEUE: usize = 256 * 1024;
/// Frames sent to every client, 64 KiB each: 32 MiB per client.
const FRAMES: usize = 512;
const FAST_CLIENTS: usize = 3;
/// The memory the whole run may add to the process. Were the stalled
/// client's queue unbounded it alone would add 32 MiB.
const MEMORY_BUDGET: usize = 16 * 1024 * 1024;

/// Both tests read the process's resident memory: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A router whose streams hand their connection to the test (a hub, in
/// effect) and stay open until closed.
fn hub_router(hub: mpsc::UnboundedSender<SseHandle>) -> DynamicRouter {
    DynamicRouter::new()
        .get("/firehose", move |_request: Request| {
            let hub = hub.clone();
            async move {
                SseResponse::ok(move |sse: SseHandle| async move {
                    let _ = hub.send(sse.clone());
                    sse.closed().await;
                })
            }
        })
        .unwrap()
}

struct Outcome {
    /// Kept running: dropping it would shut down and close every stream.
    server: sse::server::ServerHandle,
    /// Bytes the stalled connection accepted before its queue refused.
    stalled_accepted: u64,
    /// The send error the stalled connection gave first.
    stalled_error: Option<SendError>,
    stalled: SseHandle,
    stalled_client: RawClient,
    peak_growth: usize,
}

async fn run(policy: SlowConsumerPolicy) -> Outcome {
    let (hub_tx, mut hub) = mpsc::unbounded_channel();
    let server = server()
        .await
        .keep_alive(None)
        .queue_bytes(QUEUE)
        .slow_consumer(policy)
        // The kernel would cut off a client whose receive window stays shut
        // for TCP_USER_TIMEOUT (see `ServerConfig::tcp_user_timeout`); off
        // here, so that what is tested is the queue bound and its policy.
        .tcp_user_timeout(None)
        .spawn(hub_router(hub_tx));
    let addr = server.local_addr();

    // The stalled client: asks, reads the head, then never reads again.
    let mut stalled_client = RawClient::connect(addr).await;
    stalled_client.get("/firehose", &[]).await;
    assert_eq!(stalled_client.head().await.status, 200);
    let stalled = within("the stalled stream", hub.recv()).await.unwrap();

    let frame_len = Frame::from(frame_message(0)).len() as u64;
    let total = frame_len * FRAMES as u64;
    let progress = Arc::new(Notify::new());
    let mut received = Vec::new();
    let mut readers = Vec::new();
    let mut fast = Vec::new();
    for _ in 0..FAST_CLIENTS {
        let response = http1().get(url(addr, "/firehose")).send().await.unwrap();
        fast.push(within("a fast stream", hub.recv()).await.unwrap());
        let count = Arc::new(AtomicU64::new(0));
        received.push(count.clone());
        let progress = progress.clone();
        readers.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            while count.load(Ordering::Relaxed) < total {
                let chunk = body
                    .next()
                    .await
                    .expect("more bytes")
                    .expect("a body chunk");
                count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                progress.notify_waiters();
            }
            // Nothing beyond what was sent.
            assert_eq!(count.load(Ordering::Relaxed), total);
        }));
    }

    let baseline = resident_bytes();
    let mut peak = baseline;
    let mut sent = 0u64;
    let mut stalled_accepted = 0u64;
    let mut stalled_error = None;
    let started = Instant::now();
    for n in 0..FRAMES {
        let frame = Frame::from(frame_message(n));
        // Fast clients keep up: never more outstanding than their queue
        // holds, whatever sits in socket buffers.
        let needed = (sent + frame_len).saturating_sub(QUEUE as u64);
        within("the fast clients to keep up", async {
            loop {
                let notified = progress.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if received.iter().all(|r| r.load(Ordering::Relaxed) >= needed) {
                    break;
                }
                notified.await;
            }
        })
        .await;
        for client in &fast {
            client
                .send_frame(frame.clone())
                .expect("a fast client is never refused");
        }
        sent += frame_len;
        match stalled.send_frame(frame.clone()) {
            Ok(()) if stalled_error.is_none() => stalled_accepted += frame_len,
            Ok(()) => panic!("the stalled stream accepted a frame after refusing one"),
            Err(error) => {
                stalled_error.get_or_insert(error);
            }
        }
        if n % 8 == 0 {
            peak = peak.max(resident_bytes());
        }
    }
    for reader in readers {
        within("a fast client to read everything", reader)
            .await
            .unwrap();
    }
    peak = peak.max(resident_bytes());
    eprintln!(
        "{policy:?}: {FRAMES} frames ({} MiB) to each of {FAST_CLIENTS} fast clients in {:?}; \
         the stalled one accepted {} KiB; resident memory grew {} KiB at most",
        total >> 20,
        started.elapsed(),
        stalled_accepted >> 10,
        peak.saturating_sub(baseline) >> 10,
    );
    Outcome {
        server,
        stalled_accepted,
        stalled_error,
        stalled,
        stalled_client,
        peak_growth: peak.saturating_sub(baseline),
    }
}

fn frame_message(n: usize) -> SseMessage {
    let mut data = format!("{n:08}:");
    data.push_str(&"x".repeat(64 * 1024 - data.len()));
    SseMessage::data(data)
}

/// Reads what the stalled client was sent, once it wakes up; the body ends
/// when the stream does.
async fn drain(client: &mut RawClient) -> u64 {
    within("the stalled client's stream to end", async {
        let mut bytes = 0u64;
        while let Some(chunk) = client.chunk().await {
            bytes += chunk.len() as u64;
        }
        bytes
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_disconnected_and_the_others_get_everything() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut outcome = run(SlowConsumerPolicy::Disconnect).await;
    assert_eq!(
        outcome.stalled_error,
        Some(SendError::Closed),
        "the stalled client was cut off"
    );
    assert!(outcome.stalled.is_closed());
    // What it took: socket buffers plus its queue, far from 32 MiB.
    assert!(
        outcome.stalled_accepted < 16 << 20,
        "the stalled connection accepted {} bytes",
        outcome.stalled_accepted
    );
    assert!(
        outcome.peak_growth < MEMORY_BUDGET,
        "memory grew {} bytes",
        outcome.peak_growth
    );
    // The queue was dropped on disconnect: the client gets less than was
    // accepted, then the end.
    let delivered = drain(&mut outcome.stalled_client).await;
    assert!(
        delivered < outcome.stalled_accepted,
        "{delivered} of {}",
        outcome.stalled_accepted
    );
    outcome.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_under_drop_message_keeps_its_stream_and_loses_only_messages() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut outcome = run(SlowConsumerPolicy::DropMessage).await;
    assert_eq!(
        outcome.stalled_error,
        Some(SendError::Full),
        "messages were refused"
    );
    assert!(!outcome.stalled.is_closed(), "the stream stays open");
    assert!(
        outcome.stalled_accepted < 16 << 20,
        "the stalled connection accepted {} bytes",
        outcome.stalled_accepted
    );
    assert!(
        outcome.peak_growth < MEMORY_BUDGET,
        "memory grew {} bytes",
        outcome.peak_growth
    );
    // Closing delivers what is queued: the client, reading at last, gets
    // exactly the frames that were accepted, whole.
    outcome.stalled.close();
    let delivered = drain(&mut outcome.stalled_client).await;
    assert_eq!(delivered, outcome.stalled_accepted);
    outcome.server.shutdown().await;
}

//! Hostile input corpus (issue 6, point 5): malformed request lines, bad
//! header bytes, huge heads, invalid percent-escapes and non-UTF-8 in paths,
//! `..` segments, absurd `Content-Length`s, chunked bodies that never end,
//! HTTP/2 garbage and slowloris clients. Each one, on a connection of its
//! own, gets a 4xx or a clean close (never a 2xx, a 5xx or a hang); nothing
//! panics anywhere in the process (a panic hook counts); and a normal SSE
//! client on the same server receives its events in order throughout: after
//! every case it must have received at least one more event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sse::routing::DynamicRouter;
use sse::{PathParams, Request, SseHandle, SseMessage, SseResponse};
use sse_tests::reliability::PanicCounter;
use sse_tests::{events, http1, next_event, server, url, within};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(400);
const BODY_READ_TIMEOUT: Duration = Duration::from_millis(400);

fn router() -> DynamicRouter {
    DynamicRouter::new()
        // The normal client's stream: numbered events until it goes away.
        .get("/events", |_request: Request| async {
            SseResponse::ok(|sse: SseHandle| async move {
                for n in 0u64.. {
                    if sse.send(SseMessage::data(n.to_string())).is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .unwrap()
        .get("/rooms/{room}", |request: Request| async move {
            let room = request
                .extensions()
                .get::<PathParams>()
                .and_then(|params| params.get("room"))
                .unwrap_or_default()
                .to_owned();
            SseResponse::ok(move |sse: SseHandle| async move {
                let _ = sse.send(SseMessage::data(room));
            })
        })
        .unwrap()
        .post("/echo", |request: Request| async move {
            let length = request.body().len();
            SseResponse::ok(move |sse: SseHandle| async move {
                let _ = sse.send(SseMessage::data(length.to_string()));
            })
        })
        .unwrap()
}

/// One hostile client: what it sends at once, then what it trickles, a
/// byte at a time.
struct Case {
    name: String,
    send: Vec<u8>,
    trickle: Vec<u8>,
    /// Odd but legal: may be served (and must not panic).
    lenient: bool,
}

fn case(name: impl Into<String>, send: impl Into<Vec<u8>>) -> Case {
    Case {
        name: name.into(),
        send: send.into(),
        trickle: Vec::new(),
        lenient: false,
    }
}

fn slow(name: impl Into<String>, send: impl Into<Vec<u8>>, trickle: impl Into<Vec<u8>>) -> Case {
    Case {
        name: name.into(),
        send: send.into(),
        trickle: trickle.into(),
        lenient: false,
    }
}

fn get(path: &[u8]) -> Vec<u8> {
    [b"GET ".as_slice(), path, b" HTTP/1.1\r\nHost: t\r\n\r\n"].concat()
}

fn with_header(header: &[u8]) -> Vec<u8> {
    [
        b"GET /events HTTP/1.1\r\nHost: t\r\n".as_slice(),
        header,
        b"\r\n\r\n",
    ]
    .concat()
}

fn post(headers: &str, body: &[u8]) -> Vec<u8> {
    [
        format!("POST /echo HTTP/1.1\r\nHost: t\r\n{headers}\r\n").as_bytes(),
        body,
    ]
    .concat()
}

fn corpus() -> Vec<Case> {
    let mut cases = vec![
        // Request lines.
        case("garbage line", "GARBAGE\r\n\r\n"),
        case("method only", "GET\r\n\r\n"),
        case("HTTP/0.9", "GET /events\r\n\r\n"),
        case("unknown version", "GET /events HTTP/9.9\r\nHost: t\r\n\r\n"),
        case("extra token", "GET /events HTTP/1.1 x\r\nHost: t\r\n\r\n"),
        case("leading space", " GET /events HTTP/1.1\r\nHost: t\r\n\r\n"),
        case("double space", "GET  /events HTTP/1.1\r\nHost: t\r\n\r\n"),
        case("empty lines only", "\r\n\r\n\r\n\r\n"),
        case(
            "binary",
            (0u8..=255).cycle().take(4096).collect::<Vec<u8>>(),
        ),
        case("NUL line", vec![0u8; 64]),
        case("bad method byte", "G(T /events HTTP/1.1\r\nHost: t\r\n\r\n"),
        case("absolute-form to nowhere", get(b"http://[::1")),
        case("no leading slash", get(b"events")),
        case(
            "asterisk-form",
            "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        ),
        case(
            "huge method",
            [vec![b'A'; 64 * 1024], b" / HTTP/1.1\r\n\r\n".to_vec()].concat(),
        ),
        case(
            "huge URI",
            get(&[b"/".as_slice(), &vec![b'a'; 64 * 1024]].concat()),
        ),
        case(
            "LF only line ends with a bad header",
            "GET /events HTTP/1.1\nHost t\n\n",
        ),
        // Header bytes.
        case("space in a header name", with_header(b"Bad Name: x")),
        case("no colon", with_header(b"NoColon")),
        case("NUL in a value", with_header(b"X-A: a\0b")),
        case("CR in a value", with_header(b"X-A: a\rb")),
        case("DEL in a name", with_header(b"X-\x7f: a")),
        case("non-UTF-8 name", with_header(b"X-\xff\xfe: a")),
        case("empty name", with_header(b": a")),
        case("obs-fold", with_header(b"X-A: a\r\n  folded")),
        case("Host twice", with_header(b"Host: b")),
        // Huge heads: one header, many headers.
        case(
            "one 64 KiB header",
            with_header(&[b"X-Big: ".as_slice(), &vec![b'b'; 64 * 1024]].concat()),
        ),
        case(
            "500 headers",
            with_header(
                &(0..500)
                    .map(|i| format!("X-H{i}: v"))
                    .collect::<Vec<_>>()
                    .join("\r\n")
                    .into_bytes(),
            ),
        ),
        // Paths: escapes, non-UTF-8, dot segments.
        case("escape without digits", get(b"/rooms/%")),
        case("escape with one digit", get(b"/rooms/%4")),
        case("escape with non-hex", get(b"/rooms/%zz")),
        case("escaped non-UTF-8", get(b"/rooms/%ff%fe")),
        case("escaped lone continuation", get(b"/rooms/a%80b")),
        case("escaped overlong slash", get(b"/rooms/%c0%af")),
        case("escaped surrogate", get(b"/rooms/%ed%a0%80")),
        case("raw non-UTF-8 in the path", get(b"/rooms/\xff\xfe")),
        // Not a valid request-target (RFC 3986 wants it escaped), but taken
        // leniently by hyper, and the router reads it as text.
        Case {
            lenient: true,
            ..case("raw UTF-8 in the path", get("/rooms/caf\u{e9}".as_bytes()))
        },
        case("raw space in the path", get(b"/rooms/a b")),
        case("dot-dot up", get(b"/../events")),
        case("dot-dot down", get(b"/events/../../etc/passwd")),
        case("escaped dot-dot", get(b"/%2e%2e/events")),
        case("dot-dot in a room then more", get(b"/rooms/../../x")),
        case("backslashes", get(b"/..\\..\\events")),
        case("query only", get(b"?a=b")),
        // Bodies: absurd lengths, contradictions, chunked that never ends.
        case(
            "Content-Length overflows u64",
            post("Content-Length: 99999999999999999999999\r\n", b""),
        ),
        case(
            "Content-Length u64::MAX",
            post("Content-Length: 18446744073709551615\r\n", b""),
        ),
        case(
            "negative Content-Length",
            post("Content-Length: -1\r\n", b""),
        ),
        case(
            "non-numeric Content-Length",
            post("Content-Length: ten\r\n", b""),
        ),
        case(
            "two Content-Lengths",
            post("Content-Length: 1\r\nContent-Length: 2\r\n", b"ab"),
        ),
        case(
            "Content-Length longer than what comes",
            post("Content-Length: 100\r\n", b"short"),
        ),
        case(
            "chunked, never ends",
            post("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n"),
        ),
        case(
            "chunked, bad size",
            post(
                "Transfer-Encoding: chunked\r\n",
                b"zz\r\nhello\r\n0\r\n\r\n",
            ),
        ),
        case(
            "chunked, size overflows",
            post(
                "Transfer-Encoding: chunked\r\n",
                b"ffffffffffffffffff\r\nx\r\n",
            ),
        ),
        case(
            "chunked, more than the body limit",
            post(
                "Transfer-Encoding: chunked\r\n",
                &b"400\r\n"
                    .iter()
                    .chain(&[b'x'; 1024])
                    .chain(b"\r\n")
                    .copied()
                    .collect::<Vec<u8>>()
                    .repeat(8),
            ),
        ),
        case(
            "unknown transfer coding",
            post("Transfer-Encoding: gzip\r\n", b"xxxx"),
        ),
        case(
            "chunked to an unrouted path, never ends",
            b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                .to_vec(),
        ),
        // HTTP/2 (prior knowledge) followed by garbage frames.
        case(
            "h2 preface then garbage",
            [
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(),
                &[0xffu8; 64],
            ]
            .concat(),
        ),
        case("h2 preface, truncated", "PRI * HTTP/2.0\r\n\r\nSM\r\n"),
        // Slowloris: nothing, half a head, a trickle that never completes.
        case("silent", ""),
        case("half a head", "GET /events HTTP/1.1\r\nHost: t"),
        slow(
            "trickled head",
            "GET /events HTTP/1.1\r\n",
            "X-Slow: ".repeat(64),
        ),
        slow(
            "trickled chunked body",
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            "1\r\nx\r\n".repeat(64),
        ),
    ];
    // Every control byte in a header value.
    for byte in (0u8..0x20).filter(|b| *b != b'\t') {
        cases.push(case(
            format!("control byte {byte:#04x} in a value"),
            with_header(&[b"X-A: a".as_slice(), &[byte], b"b"].concat()),
        ));
    }
    cases
}

/// What became of one hostile client.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A response head with this status.
    Status(u16),
    /// The server closed (or reset) the connection without an HTTP/1.1
    /// answer.
    Closed,
}

/// Runs one case: sends its bytes (write errors are the server closing
/// early, which is fine), trickles the rest while reading, and reads until
/// a whole response head or the end of the connection.
async fn attack(addr: std::net::SocketAddr, case: &Case) -> Outcome {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let send = case.send.clone();
    let trickle = case.trickle.clone();
    let writer = tokio::spawn(async move {
        if write.write_all(&send).await.is_err() {
            return;
        }
        for byte in trickle {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
        }
        // Keep the write half open: a FIN would end the request early.
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let outcome = within(
        &format!("an answer or a close for {:?}", case.name),
        async {
            loop {
                if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n")
                    && received.starts_with(b"HTTP/1.1 ")
                {
                    let head = String::from_utf8_lossy(&received[..end]);
                    let status = head[9..12].parse().expect("a status code");
                    return Outcome::Status(status);
                }
                let mut buf = [0u8; 4096];
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => return Outcome::Closed,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
        },
    )
    .await;
    writer.abort();
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_get_4xx_or_a_close_and_a_normal_client_is_served_throughout() {
    let panics = PanicCounter::install();
    let server = server()
        .await
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .body_read_timeout(BODY_READ_TIMEOUT)
        .max_request_header_bytes(8 * 1024)
        .max_body_bytes(1024)
        .keep_alive(Some(Duration::from_millis(200)))
        .spawn(router());
    let addr = server.local_addr();

    // The normal client: an independent parser on a real HTTP client.
    let received = Arc::new(Mutex::new(Vec::<u64>::new()));
    let arrived = Arc::new(Notify::new());
    let response = http1().get(url(addr, "/events")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let normal = {
        let received = received.clone();
        let arrived = arrived.clone();
        tokio::spawn(async move {
            let mut stream = events(response);
            while let Some(event) = next_event(&mut stream).await {
                received.lock().unwrap().push(event.data.parse().unwrap());
                arrived.notify_waiters();
            }
        })
    };
    let count = || received.lock().unwrap().len();
    let served_since = |before: usize| {
        let arrived = arrived.clone();
        let count = &count;
        async move {
            within("the normal client's next event", async {
                loop {
                    let notified = arrived.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if count() > before {
                        return;
                    }
                    notified.await;
                }
            })
            .await;
        }
    };
    served_since(0).await;

    let corpus = corpus();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for case in &corpus {
        let before = count();
        let outcome = attack(addr, case).await;
        let fine = match outcome {
            Outcome::Status(200) => case.lenient,
            Outcome::Status(status) => (400..500).contains(&status),
            Outcome::Closed => true,
        };
        if !fine {
            failures.push(format!("{}: {:?}", case.name, outcome));
        }
        table.push(format!("{:<45} {:?}", case.name, outcome));
        served_since(before).await;
    }
    // All of them at once, too, beside the normal client.
    let before = count();
    let all = futures_util::future::join_all(corpus.iter().map(|case| attack(addr, case))).await;
    for (case, outcome) in corpus.iter().zip(all) {
        if let Outcome::Status(status) = outcome
            && !(400..500).contains(&status)
            && !(status == 200 && case.lenient)
        {
            failures.push(format!("{} (concurrently): {:?}", case.name, outcome));
        }
    }
    served_since(before).await;
    eprintln!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "not a 4xx nor a close:\n{}",
        failures.join("\n")
    );
    assert_eq!(panics.count(), 0, "something panicked");

    // The normal client's events came in order, none missing.
    let seen = received.lock().unwrap().clone();
    assert!(
        seen.iter().copied().eq(0..seen.len() as u64),
        "events out of order or missing: {seen:?}"
    );
    assert!(!normal.is_finished(), "the normal stream is still open");
    server.shutdown().await;
    within("the normal client to see the end", normal)
        .await
        .unwrap();
}

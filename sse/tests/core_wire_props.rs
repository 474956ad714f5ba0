//! Property tests of the encoder against an independent SSE parser
//! (`eventsource-stream`), and of field validation.

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use proptest::prelude::*;
use sse::testing::SseParser;
use sse::{SseEvent, SseMessage};

/// Text with the characters that matter on the wire: line breaks of every
/// kind, leading spaces, colons, NUL, unicode.
fn wire_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            Just(":".to_owned()),
            Just("\0".to_owned()),
            Just("data: x".to_owned()),
            Just("é✓🦀".to_owned()),
            "[a-z]{1,4}",
            any::<char>().prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// What the spec says a client gets back: every CRLF and CR becomes LF.
fn normalised(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Parses `wire` with eventsource-stream, fed in chunks of `chunk` bytes.
fn parse_independently(wire: &[u8], chunk: usize) -> Vec<eventsource_stream::Event> {
    let chunks: Vec<Result<Bytes, std::convert::Infallible>> = wire
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = futures_util::stream::iter(chunks).eventsource();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(stream.collect::<Vec<_>>())
        .into_iter()
        .map(|event| event.expect("the encoder writes a valid stream"))
        .collect()
}

proptest! {
    #[test]
    fn data_round_trips_through_an_independent_parser(data in wire_text(), chunk in 1usize..16) {
        let wire = SseMessage::data(data.clone()).encode();
        let events = parse_independently(&wire, chunk);
        prop_assert_eq!(events.len(), 1, "exactly one event dispatches: {:?}", wire);
        prop_assert_eq!(&events[0].event, "message");
        prop_assert_eq!(&events[0].data, &normalised(&data));
    }

    #[test]
    fn events_round_trip_through_an_independent_parser(
        name in wire_text(),
        data in wire_text(),
        id in proptest::option::of(wire_text()),
        retry in proptest::option::of(0u64..10_000_000),
        chunk in 1usize..16,
    ) {
        let event = SseEvent::new(name.clone(), data.clone());
        let name_ok = !name.contains(['\r', '\n']);
        prop_assert_eq!(event.is_ok(), name_ok, "name {:?}", name);
        let Ok(mut event) = event else { return Ok(()) };
        if let Some(id) = &id {
            let with_id = event.clone().with_id(id.clone());
            let id_ok = !id.contains(['\r', '\n', '\0']);
            prop_assert_eq!(with_id.is_ok(), id_ok, "id {:?}", id);
            match with_id {
                Ok(e) => event = e,
                Err(_) => return Ok(()),
            }
        }
        if let Some(millis) = retry {
            event = event.with_retry(Duration::from_millis(millis));
        }
        let message = SseMessage::Event(event);
        let wire = message.encode();
        let events = parse_independently(&wire, chunk);
        prop_assert_eq!(events.len(), 1, "exactly one event dispatches: {:?}", wire);
        // An empty event name means the default type, as the spec says.
        let expected_name = if name.is_empty() { "message" } else { name.as_str() };
        prop_assert_eq!(&events[0].event, expected_name);
        prop_assert_eq!(&events[0].data, &normalised(&data));
        prop_assert_eq!(&events[0].id, id.as_deref().unwrap_or(""));
        prop_assert_eq!(events[0].retry, retry.map(Duration::from_millis));

        // Our own parser (used by TestSseClient) agrees.
        let ours = SseParser::new().feed(&wire);
        prop_assert_eq!(ours.len(), 1);
        let SseMessage::Event(parsed) = &ours[0] else {
            return Err(TestCaseError::fail(format!("not an event: {:?}", ours[0])));
        };
        prop_assert_eq!(parsed.data(), normalised(&data));
        prop_assert_eq!(parsed.id(), id.as_deref());
    }

    #[test]
    fn invalid_names_and_ids_never_reach_the_wire(
        before in "[a-z]{0,3}",
        bad in prop_oneof![Just('\r'), Just('\n')],
        after in "[a-z]{0,3}",
    ) {
        let name = format!("{before}{bad}{after}");
        prop_assert!(SseMessage::event(name.clone(), "x").is_err());
        prop_assert!(SseMessage::data("x").with_id(name.clone()).is_err());
        let with_nul = format!("{before}\0{after}");
        prop_assert!(SseMessage::data("x").with_id(with_nul).is_err());
    }

    #[test]
    fn a_stream_of_messages_parses_back_in_order(datas in prop::collection::vec(wire_text(), 0..8), chunk in 1usize..32) {
        let mut wire = Vec::new();
        for data in &datas {
            wire.extend_from_slice(&SseMessage::data(data.clone()).encode());
            // Keep-alive comments between messages change nothing.
            wire.extend_from_slice(b":\n\n");
        }
        let events = parse_independently(&wire, chunk);
        let got: Vec<String> = events.into_iter().map(|e| e.data).collect();
        let want: Vec<String> = datas.iter().map(|d| normalised(d)).collect();
        prop_assert_eq!(got, want);

        let mut parser = SseParser::new();
        let mut ours = Vec::new();
        for piece in wire.chunks(chunk) {
            ours.extend(parser.feed(piece));
        }
        let data: Vec<SseMessage> = ours.into_iter().filter(|m| *m != SseMessage::Ping).collect();
        let want: Vec<SseMessage> = datas.iter().map(|d| SseMessage::data(normalised(d))).collect();
        prop_assert_eq!(data, want);
    }
}

//! The message encoder on any text: construction refuses exactly the
//! fields that would change what a client parses, and what is encoded
//! parses back (with our parser) to the same data, CR and CRLF read as LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse::testing::SseParser;
use sse::{SseEvent, SseMessage};

fuzz_target!(|input: (&str, &str, &str, &[u8])| {
    let (name, data, id, binary) = input;
    let normalised = data.replace("\r\n", "\n").replace('\r', "\n");
    let wire = SseMessage::data(data).encode();
    let parsed = SseParser::new().feed(&wire);
    assert_eq!(parsed, vec![SseMessage::data(normalised.clone())]);

    let event = SseEvent::new(name, data);
    assert_eq!(event.is_ok(), !name.contains(['\r', '\n']));
    if let Ok(event) = event {
        let with_id = event.with_id(id);
        assert_eq!(with_id.is_ok(), !id.contains(['\r', '\n', '\0']));
        if let Ok(event) = with_id {
            let wire = SseMessage::Event(event).encode();
            let parsed = SseParser::new().feed(&wire);
            assert_eq!(parsed.len(), 1, "{wire:?}");
            let SseMessage::Event(parsed) = &parsed[0] else {
                panic!("not an event: {parsed:?}");
            };
            assert_eq!(parsed.data(), normalised);
            assert_eq!(parsed.id(), Some(id));
        }
    }
    let _ = SseMessage::bytes(binary).encode();
    let _ = SseParser::new().feed(binary);
});

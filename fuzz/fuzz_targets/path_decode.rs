//! The request-path decoder on any input: never panics, borrows when there
//! is no `%`, and percent-encoding any bytes then decoding gives them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse::PathParams;
use sse_path::{DecodeError, decode};

fuzz_target!(|input: (&str, Vec<u8>)| {
    let (raw, bytes) = input;
    match decode(raw) {
        Ok(value) if !raw.contains('%') => assert_eq!(value, raw),
        _ => {}
    }
    let encoded: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
    match (decode(&encoded), String::from_utf8(bytes.clone())) {
        (Ok(value), Ok(want)) => assert_eq!(value, want),
        (Err(DecodeError::NotUtf8), Err(_)) => {}
        (got, want) => panic!("{encoded:?}: {got:?} vs {want:?}"),
    }
    let names = ["a", "b", "c"];
    let values: Vec<&str> = raw.split('/').collect();
    let _ = PathParams::decode(names, values);
});

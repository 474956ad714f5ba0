//! Fuzzing by property tests (issue 6, point 8), for what the existing
//! proptests (sse-path/tests/templates.rs, sse/tests/core_wire_props.rs,
//! sse/tests/dsl_equivalence.rs) leave out:
//!
//! - the template parser on arbitrary Unicode strings: never panics, and
//!   everything it accepts obeys the documented syntax; every template built
//!   from valid parts is accepted with exactly those parts;
//! - the request-path decoder (`sse_path::decode`, `PathParams::decode`):
//!   any bytes, percent-encoded any valid way, decode back to themselves (or
//!   to `NotUtf8`); broken escapes are refused; the first bad param is named;
//! - `DynamicRouter` on random route tables against a brute-force reference
//!   (every template tried, the greatest rank wins), methods included;
//! - the encoder on mixed message sequences (binary data, comments, retries,
//!   pings among events) against `eventsource-stream`.
//!
//! `PROPTEST_CASES=N` runs more cases (the fuzzing section of the README).

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use http::Method;
use proptest::prelude::*;
use sse::routing::DynamicRouter;
use sse::{PathParams, Request, SseMessage, SseResponse, SseRouter, SseRouterMatch};
use sse_path::{DecodeError, Segment, Template, decode, is_identifier};
use sse_tests::reliability::parse_body;

/// RFC 3986 `pchar` minus escapes, as the crate docs define static text.
fn is_pchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c)
}

/// What the docs promise of every accepted template.
fn check_accepted(source: &str, template: &Template) -> Result<(), TestCaseError> {
    prop_assert!(source.starts_with('/'));
    prop_assert_eq!(template.as_str(), source);
    prop_assert_eq!(&Template::parse(&template.to_string()).unwrap(), template);
    let last = template.segments().len().saturating_sub(1);
    let mut names = BTreeSet::new();
    for (i, segment) in template.segments().iter().enumerate() {
        match segment {
            Segment::Static(text) => {
                prop_assert!(!text.is_empty());
                let lower = text.to_ascii_lowercase();
                prop_assert!(
                    !matches!(
                        lower.as_str(),
                        "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
                    ),
                    "dot segment {:?}",
                    text
                );
                let bytes = text.as_bytes();
                let mut j = 0;
                while j < bytes.len() {
                    if bytes[j] == b'%' {
                        prop_assert!(
                            bytes.len() >= j + 3
                                && bytes[j + 1].is_ascii_hexdigit()
                                && bytes[j + 2].is_ascii_hexdigit(),
                            "bad escape in {:?}",
                            text
                        );
                        j += 3;
                    } else {
                        prop_assert!(is_pchar(bytes[j] as char), "{:?} in {:?}", bytes[j], text);
                        j += 1;
                    }
                }
            }
            Segment::Param(name) | Segment::CatchAll(name) => {
                prop_assert!(is_identifier(name));
                prop_assert!(names.insert(name.clone()), "duplicate {}", name);
                if matches!(segment, Segment::CatchAll(_)) {
                    prop_assert_eq!(i, last);
                }
            }
        }
    }
    Ok(())
}

/// A valid segment and how it should parse.
fn valid_segment() -> impl Strategy<Value = (String, Segment)> {
    let static_text = prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(
                "abcxyzABZ019-._~!$&'()*+,;=:@".chars().collect::<Vec<_>>()
            )
            .prop_map(String::from),
            1 => (0u8..=255).prop_map(|b| format!("%{b:02X}")),
            1 => (0u8..=255).prop_map(|b| format!("%{b:02x}")),
        ],
        1..6,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("not a dot segment", |text| {
        !matches!(
            text.to_ascii_lowercase().as_str(),
            "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
        )
    });
    prop_oneof![
        3 => static_text.prop_map(|text| (text.clone(), Segment::Static(text))),
        1 => "[a-z_][a-z0-9_]{0,6}"
            .prop_filter("an identifier", |name| is_identifier(name))
            .prop_map(|name| (format!("{{{name}}}"), Segment::Param(name))),
    ]
}

/// Percent-encodes `bytes`: bytes that must be escaped always are, the
/// others when `escape` says so, in upper or lower case hex.
fn encode(bytes: &[u8], escape: &[bool], upper: &[bool]) -> String {
    let mut out = String::new();
    for (i, &b) in bytes.iter().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if plain && !escape[i % escape.len()] {
            out.push(b as char);
        } else if upper[i % upper.len()] {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn ok(_request: Request) -> std::future::Ready<SseResponse> {
    std::future::ready(SseResponse::ok(|_sse| async {}))
}

/// A small template over a tiny alphabet, so that random tables overlap.
fn route_template() -> impl Strategy<Value = String> {
    // Param names carry their position, so a template never repeats one,
    // while two templates may differ only in names (a conflict).
    let segment = prop_oneof![
        3 => prop::sample::select(vec!["a", "b", "c", "%41"]).prop_map(Some),
        2 => prop::sample::select(vec!["x", "y"]).prop_map(|_| None).boxed(),
    ];
    let names = prop::collection::vec(prop::sample::select(vec!["x", "y"]), 5);
    (prop::collection::vec(segment, 0..4), names, any::<bool>()).prop_map(
        |(segments, names, catch_all)| {
            let mut parts: Vec<String> = segments
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Some(text) => (*text).to_owned(),
                    None => format!("{{{}{i}}}", names[i]),
                })
                .collect();
            if catch_all {
                parts.push(format!("{{*{}rest}}", names[4]));
            }
            format!("/{}", parts.join("/"))
        },
    )
}

/// A request path over the same alphabet, with escapes good and bad.
fn route_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "%41", "A", "%zz", "%c3%a9", "%ff", ""]),
        0..6,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![Method::GET, Method::POST, Method::PUT])
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Matched(String, Result<Vec<(String, String)>, String>),
    MethodNotMatched(BTreeSet<String>),
    Unmatched,
}

/// The reference: try every route; the greatest rank among those that
/// match for this method wins; else the methods of those that match.
fn reference(routes: &[(Method, Template)], method: &Method, path: &str) -> Outcome {
    let mut best: Option<(&Template, Vec<&str>)> = None;
    let mut others = BTreeSet::new();
    for (m, template) in routes {
        let mut raw = Vec::new();
        if !template.match_path(path, &mut raw) {
            continue;
        }
        if m != method {
            others.insert(m.to_string());
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(b, _)| template.rank() > b.rank())
        {
            best = Some((template, raw));
        }
    }
    match best {
        Some((template, raw)) => {
            let names: Vec<String> = template.param_names().map(str::to_owned).collect();
            let params = PathParams::decode(names, raw)
                .map(|params| {
                    params
                        .iter()
                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                        .collect()
                })
                .map_err(|error| error.name().to_owned());
            Outcome::Matched(template.as_str().to_owned(), params)
        }
        None if !others.is_empty() => Outcome::MethodNotMatched(others),
        None => Outcome::Unmatched,
    }
}

fn observed(found: SseRouterMatch, reference: &Outcome) -> Outcome {
    match found {
        SseRouterMatch::Matched(found) => {
            let params = found
                .params
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            // A param that does not decode gives a refusing handler and no
            // params; which one failed is the reference's to say.
            let params = match reference {
                Outcome::Matched(_, Err(name)) if found.params.is_empty() => Err(name.clone()),
                _ => Ok(params),
            };
            Outcome::Matched(found.route.to_string(), params)
        }
        SseRouterMatch::MethodNotMatched { allowed } => {
            Outcome::MethodNotMatched(allowed.iter().map(Method::to_string).collect())
        }
        SseRouterMatch::Unmatched => Outcome::Unmatched,
    }
}

/// Messages of every kind, with their expected effect on a client: the
/// data of a dispatched event, or nothing.
fn message() -> impl Strategy<Value = (SseMessage, Option<(String, String)>)> {
    let text = "[a-z \\n\\r:é]{0,8}";
    prop_oneof![
        text.prop_map(|t: String| {
            let seen = t.replace("\r\n", "\n").replace('\r', "\n");
            (SseMessage::data(t), Some(("message".to_owned(), seen)))
        }),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|bytes| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            (SseMessage::bytes(&bytes), Some(("message".to_owned(), b64)))
        }),
        ("[a-z]{1,5}", text).prop_map(|(name, t): (String, String)| {
            let seen = t.replace("\r\n", "\n").replace('\r', "\n");
            (
                SseMessage::event(name.clone(), t).unwrap(),
                Some((name, seen)),
            )
        }),
        text.prop_map(|t| (SseMessage::comment(t), None)),
        Just((SseMessage::Ping, None)),
        (0u64..100_000).prop_map(|ms| (SseMessage::retry(Duration::from_millis(ms)), None)),
    ]
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parser_never_panics_and_accepts_only_the_syntax(source in any::<String>()) {
        if let Ok(template) = Template::parse(&source) {
            check_accepted(&source, &template)?;
        }
        let slashed = format!("/{source}");
        if let Ok(template) = Template::parse(&slashed) {
            check_accepted(&slashed, &template)?;
        }
    }

    #[test]
    fn templates_made_of_valid_parts_parse_to_those_parts(
        parts in prop::collection::vec(valid_segment(), 0..6),
        catch_all in prop::option::of("[a-z][a-z0-9_]{0,4}".prop_filter("id", |n| is_identifier(n))),
    ) {
        let mut sources: Vec<String> = parts.iter().map(|(s, _)| s.clone()).collect();
        let mut segments: Vec<Segment> = parts.into_iter().map(|(_, seg)| seg).collect();
        if let Some(name) = catch_all {
            sources.push(format!("{{*{name}}}"));
            segments.push(Segment::CatchAll(name));
        }
        let source = format!("/{}", sources.join("/"));
        let names: Vec<&str> = segments.iter().filter_map(Segment::param_name).collect();
        let unique = names.iter().collect::<BTreeSet<_>>().len() == names.len();
        match Template::parse(&source) {
            Ok(template) => {
                prop_assert!(unique, "{} has duplicate names", source);
                prop_assert_eq!(template.segments(), segments.as_slice());
                check_accepted(&source, &template)?;
            }
            Err(error) => prop_assert!(!unique, "{} refused: {}", source, error),
        }
    }

    #[test]
    fn decode_inverts_any_percent_encoding(
        bytes in prop::collection::vec(any::<u8>(), 0..32),
        escape in prop::collection::vec(any::<bool>(), 1..8),
        upper in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let raw = encode(&bytes, &escape, &upper);
        match (decode(&raw), String::from_utf8(bytes.clone())) {
            (Ok(value), Ok(want)) => prop_assert_eq!(value.as_ref(), want.as_str()),
            (Err(DecodeError::NotUtf8), Err(_)) => {}
            (got, want) => prop_assert!(false, "{:?} decoded to {:?}, bytes {:?}", raw, got, want),
        }
    }

    #[test]
    fn decode_refuses_broken_escapes_and_never_panics(
        before in "[a-z%0-9]{0,6}",
        broken in prop_oneof![Just("%".to_owned()), "%[0-9a-fA-F]", "%[g-zG-Z%/ é][0-9a-z]?"],
        after in "([g-z][a-z]{0,3})?",
        anything in any::<String>(),
    ) {
        // A broken escape at the end, or followed by a non-hex digit.
        let raw = format!("{before}{broken}");
        prop_assert!(decode(&raw).is_err(), "{:?}", raw);
        let raw = format!("{before}{broken}{after}");
        if broken.len() < 3 || !broken.as_bytes()[1].is_ascii_hexdigit() {
            prop_assert_eq!(decode(&raw), Err(DecodeError::InvalidEscape), "{:?}", raw);
        }
        // Anything at all: no panic, and no `%` means borrowed and equal.
        let decoded = decode(&anything);
        if !anything.contains('%') {
            let decoded = decoded.unwrap();
            prop_assert_eq!(decoded.as_ref(), anything.as_str());
        }
    }

    #[test]
    fn path_params_decode_each_value_and_name_the_first_bad_one(
        values in prop::collection::vec(
            prop_oneof![
                "[a-z]{1,4}",
                Just("%41".to_owned()),
                Just("%c3%a9".to_owned()),
                Just("%ff".to_owned()),
                Just("%g".to_owned()),
                Just("%".to_owned()),
            ],
            0..6,
        ),
        extra_names in 0usize..3,
    ) {
        let names: Vec<String> = (0..values.len() + extra_names).map(|i| format!("p{i}")).collect();
        let result = PathParams::decode(names.clone(), values.iter().map(String::as_str));
        let first_bad = values.iter().position(|v| decode(v).is_err());
        match (result, first_bad) {
            (Ok(params), None) => {
                prop_assert_eq!(params.len(), values.len());
                for (i, value) in values.iter().enumerate() {
                    let want = decode(value).unwrap();
                    prop_assert_eq!(params.get(&names[i]), Some(want.as_ref()));
                }
            }
            (Err(error), Some(i)) => prop_assert_eq!(error.name(), names[i].as_str()),
            (got, want) => prop_assert!(false, "{:?} vs first bad {:?}", got, want),
        }
    }

    #[test]
    fn the_dynamic_router_agrees_with_a_brute_force_reference(
        table in prop::collection::vec((method(), route_template()), 0..12),
        requests in prop::collection::vec((method(), route_path()), 1..24),
    ) {
        let mut router = DynamicRouter::new();
        let mut routes: Vec<(Method, Template)> = Vec::new();
        for (method, path) in table {
            let template = Template::parse(&path).unwrap();
            let conflicts = routes
                .iter()
                .any(|(m, t)| *m == method && t.conflict_with(&template).is_some());
            match router.route(method.clone(), &path, ok) {
                Ok(next) => {
                    prop_assert!(!conflicts, "{} {} was accepted beside a conflict", method, path);
                    router = next;
                    routes.push((method, template));
                }
                Err(error) => {
                    prop_assert!(conflicts, "{} {} refused: {}", method, path, error);
                    // A refused route leaves the router as it was: rebuild.
                    router = routes.iter().fold(DynamicRouter::new(), |r, (m, t)| {
                        r.route(m.clone(), t.as_str(), ok).unwrap()
                    });
                }
            }
        }
        for (method, path) in &requests {
            let want = reference(&routes, method, path);
            let got = observed(router.match_route(method, path), &want);
            prop_assert_eq!(got, want, "{} {:?} over {:?}", method, path, routes);
        }
    }

    #[test]
    fn mixed_message_streams_parse_back_in_order(
        messages in prop::collection::vec(message(), 0..12),
        piece in 1usize..24,
    ) {
        let mut wire = Vec::new();
        for (message, _) in &messages {
            let mut buf = bytes::BytesMut::new();
            message.encode_into(&mut buf);
            prop_assert_eq!(&buf[..], &message.encode()[..]);
            wire.extend_from_slice(&message.encode());
        }
        let got: Vec<(String, String)> = block_on(parse_body(&wire, piece))
            .into_iter()
            .map(|event| (event.event, event.data))
            .collect();
        let want: Vec<(String, String)> = messages.into_iter().filter_map(|(_, seen)| seen).collect();
        prop_assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&wire));
    }
}

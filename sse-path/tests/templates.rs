//! Table-driven tests for `sse-path`, in the spirit of matchit's tests: each
//! test is a table of `input -> expected` rows plus a few properties checked
//! with proptest. A failing row names itself in the panic message.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use proptest::prelude::*;
use sse_path::{Conflict, DecodeError, Segment, Template, TemplateError, decode};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn t(source: &str) -> Template {
    Template::parse(source).unwrap_or_else(|e| panic!("{source:?} should parse, got {e:?}: {e}"))
}

fn st(text: &str) -> Segment {
    Segment::Static(text.to_owned())
}

fn pa(name: &str) -> Segment {
    Segment::Param(name.to_owned())
}

fn ca(name: &str) -> Segment {
    Segment::CatchAll(name.to_owned())
}

/// `match_path` as an `Option`, also checking that `values` is appended to
/// on success and left untouched on failure.
fn match_path<'p>(template: &Template, path: &'p str) -> Option<Vec<&'p str>> {
    let mut values = vec!["sentinel"];
    let matched = template.match_path(path, &mut values);
    assert_eq!(
        values[0], "sentinel",
        "{template} over {path:?}: existing values must be kept"
    );
    if !matched {
        assert_eq!(
            values,
            ["sentinel"],
            "{template} over {path:?}: values must be untouched on failure"
        );
        return None;
    }
    values.remove(0);
    Some(values)
}

/// `match_prefix` as an `Option`, with the same checks on `values`.
fn match_prefix<'p>(template: &Template, path: &'p str) -> Option<(&'p str, Vec<&'p str>)> {
    let mut values = vec!["sentinel"];
    let inner = template.match_prefix(path, &mut values);
    assert_eq!(
        values[0], "sentinel",
        "{template} over {path:?}: existing values must be kept"
    );
    let Some(inner) = inner else {
        assert_eq!(
            values,
            ["sentinel"],
            "{template} over {path:?}: values must be untouched on failure"
        );
        return None;
    };
    values.remove(0);
    Some((inner, values))
}

/// Asserts an error message reads as plain words: one line, lowercase start,
/// several words, and none of the `Debug` spelling of the variant.
fn assert_plain_words(message: &str, debug: &str, context: &str) {
    assert!(!message.is_empty(), "{context}: empty message");
    assert!(
        !message.contains('\n'),
        "{context}: multi-line message {message:?}"
    );
    assert!(
        message.starts_with(|c: char| c.is_ascii_lowercase()),
        "{context}: message should start with a lowercase word: {message:?}"
    );
    assert!(
        message.split_whitespace().count() >= 4,
        "{context}: message is not a sentence: {message:?}"
    );
    let variant = debug.split('(').next().unwrap_or(debug);
    assert!(
        !message.contains(variant),
        "{context}: message leaks the variant name {variant}: {message:?}"
    );
}

// ---------------------------------------------------------------------------
// 1. Parsing valid templates
// ---------------------------------------------------------------------------

#[test]
fn parse_valid() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Segment>, Vec<&str>)> = vec![
        ("/",                       vec![],                                   vec![]),
        ("/a",                      vec![st("a")],                            vec![]),
        ("/a/b",                    vec![st("a"), st("b")],                   vec![]),
        ("/clock",                  vec![st("clock")],                        vec![]),
        ("/{id}",                   vec![pa("id")],                           vec!["id"]),
        ("/a/{id}/b",               vec![st("a"), pa("id"), st("b")],         vec!["id"]),
        ("/rooms/{room}/since/{since}",
                                    vec![st("rooms"), pa("room"), st("since"), pa("since")],
                                                                              vec!["room", "since"]),
        ("/files/{*path}",          vec![st("files"), ca("path")],            vec!["path"]),
        ("/{*rest}",                vec![ca("rest")],                         vec!["rest"]),
        ("/{a}/{*b}",               vec![pa("a"), ca("b")],                   vec!["a", "b"]),
        ("/{a}/{b}/{c}",            vec![pa("a"), pa("b"), pa("c")],          vec!["a", "b", "c"]),
        // Identifiers.
        ("/{_id}",                  vec![pa("_id")],                          vec!["_id"]),
        ("/{__}",                   vec![pa("__")],                           vec!["__"]),
        ("/{a1}",                   vec![pa("a1")],                           vec!["a1"]),
        ("/{Room_ID2}",             vec![pa("Room_ID2")],                     vec!["Room_ID2"]),
        // Percent escapes, kept as written.
        ("/caf%C3%A9",              vec![st("caf%C3%A9")],                    vec![]),
        ("/caf%c3%a9",              vec![st("caf%c3%a9")],                    vec![]),
        ("/%41",                    vec![st("%41")],                          vec![]),
        ("/a%2Fb",                  vec![st("a%2Fb")],                        vec![]),
        ("/%25",                    vec![st("%25")],                          vec![]),
        ("/%2E1",                   vec![st("%2E1")],                         vec![]),
        // Unreserved, sub-delims, `:` and `@` in static text.
        ("/a-b.c_d~e",              vec![st("a-b.c_d~e")],                    vec![]),
        ("/!$&'()*+,;=",            vec![st("!$&'()*+,;=")],                  vec![]),
        ("/user:pass@host",         vec![st("user:pass@host")],               vec![]),
        ("/v1:generate",            vec![st("v1:generate")],                  vec![]),
        ("/@me",                    vec![st("@me")],                          vec![]),
        ("/*",                      vec![st("*")],                            vec![]),
        ("/*a",                     vec![st("*a")],                           vec![]),
        ("/.well-known/x",          vec![st(".well-known"), st("x")],         vec![]),
        ("/...",                    vec![st("...")],                          vec![]),
        ("/a.",                     vec![st("a.")],                           vec![]),
        ("/.a",                     vec![st(".a")],                           vec![]),
        ("/a/{x}/c",                vec![st("a"), pa("x"), st("c")],          vec!["x"]),
    ];
    for (source, segments, names) in cases {
        let template = t(source);
        assert_eq!(
            template.segments(),
            segments.as_slice(),
            "segments of {source:?}"
        );
        assert_eq!(
            template.param_names().collect::<Vec<_>>(),
            names,
            "param_names of {source:?}"
        );
        assert_eq!(template.as_str(), source, "as_str of {source:?}");
        assert_eq!(template.to_string(), source, "Display of {source:?}");
        assert_eq!(
            source.parse::<Template>().as_ref(),
            Ok(&template),
            "FromStr of {source:?}"
        );
        assert_eq!(
            template.has_catch_all(),
            matches!(segments.last(), Some(Segment::CatchAll(_))),
            "has_catch_all of {source:?}"
        );
        // Segment Display rebuilds the source.
        let rebuilt: String = segments.iter().map(|s| format!("/{s}")).collect();
        let rebuilt = if rebuilt.is_empty() {
            "/".to_owned()
        } else {
            rebuilt
        };
        assert_eq!(rebuilt, source, "segment Display of {source:?}");
        // Kinds and names agree with the variants.
        for segment in &segments {
            match segment {
                Segment::Static(_) => assert_eq!(segment.param_name(), None),
                Segment::Param(n) | Segment::CatchAll(n) => {
                    assert_eq!(segment.param_name(), Some(n.as_str()))
                }
            }
        }
    }
}

#[test]
fn identifiers() {
    #[rustfmt::skip]
    let cases: &[(&str, bool)] = &[
        ("a", true), ("id", true), ("_a", true), ("__", true), ("a1", true),
        ("A_b_2", true), ("snake_case", true), ("CamelCase", true),
        // Keywords cannot be argument names.
        ("type", false), ("fn", false), ("self", false), ("Self", false), ("crate", false),
        ("async", false), ("gen", false), ("types", true), ("self_", true),
        ("", false), ("_", false), ("1a", false), ("a-b", false), ("a.b", false),
        ("a b", false), (" a", false), ("café", false), ("a*", false), ("r#type", false),
    ];
    for &(name, expected) in cases {
        assert_eq!(
            sse_path::is_identifier(name),
            expected,
            "is_identifier({name:?})"
        );
        // The parser accepts exactly the identifiers as names.
        let parsed = Template::parse(&format!("/{{{name}}}"));
        match (expected, parsed) {
            (true, Ok(template)) => assert_eq!(template.segments(), [pa(name)]),
            (false, Err(_)) => {}
            (_, parsed) => panic!("/{{{name}}}: {parsed:?}"),
        }
    }
}

#[test]
fn segment_kinds_are_ordered_by_specificity() {
    use sse_path::SegmentKind;
    assert_eq!(st("a").kind(), SegmentKind::Static);
    assert_eq!(pa("a").kind(), SegmentKind::Param);
    assert_eq!(ca("a").kind(), SegmentKind::CatchAll);
    assert!(SegmentKind::Static > SegmentKind::Param);
    assert!(SegmentKind::Param > SegmentKind::CatchAll);
}

// ---------------------------------------------------------------------------
// 2. Parse errors
// ---------------------------------------------------------------------------

#[test]
fn parse_errors() {
    use TemplateError::*;
    let s = String::from;
    #[rustfmt::skip]
    let cases: Vec<(&str, TemplateError)> = vec![
        // Empty.
        ("",                Empty),
        // Leading slash.
        ("a",               MissingLeadingSlash),
        ("a/b",             MissingLeadingSlash),
        ("{id}",            MissingLeadingSlash),
        (" /a",             MissingLeadingSlash),
        // Empty segments.
        ("//",              EmptySegment),
        ("///",             EmptySegment),
        ("//a",             EmptySegment),
        ("/a//b",           EmptySegment),
        ("/{a}//{b}",       EmptySegment),
        // Trailing slash.
        ("/a/",             TrailingSlash),
        ("/a/b/",           TrailingSlash),
        ("/{id}/",          TrailingSlash),
        ("/{*rest}/",       TrailingSlash),
        // Unclosed brace.
        ("/{",              UnclosedBrace(s("{"))),
        ("/{id",            UnclosedBrace(s("{id"))),
        ("/{*id",           UnclosedBrace(s("{*id"))),
        ("/a{",             UnclosedBrace(s("a{"))),
        ("/{id/x}",         UnclosedBrace(s("{id"))),
        ("/a/{b",           UnclosedBrace(s("{b"))),
        // Unopened brace.
        ("/}",              UnopenedBrace(s("}"))),
        ("/id}",            UnopenedBrace(s("id}"))),
        ("/a}b",            UnopenedBrace(s("a}b"))),
        ("/x/}",            UnopenedBrace(s("}"))),
        // Empty parameter name.
        ("/{}",             EmptyParamName(s("{}"))),
        ("/{*}",            EmptyParamName(s("{*}"))),
        ("/a/{}",           EmptyParamName(s("{}"))),
        // Invalid parameter name.
        ("/{1a}",           InvalidParamName(s("1a"))),
        ("/{a-b}",          InvalidParamName(s("a-b"))),
        ("/{a.b}",          InvalidParamName(s("a.b"))),
        ("/{_}",            InvalidParamName(s("_"))),
        ("/{*_}",           InvalidParamName(s("_"))),
        ("/{ id}",          InvalidParamName(s(" id"))),
        ("/{id }",          InvalidParamName(s("id "))),
        ("/{café}",         InvalidParamName(s("café"))),
        ("/{**a}",          InvalidParamName(s("*a"))),
        ("/{*1}",           InvalidParamName(s("1"))),
        ("/{a*}",           InvalidParamName(s("a*"))),
        // Parameter not a whole segment.
        ("/{id}.json",      ParamNotWholeSegment(s("{id}.json"))),
        ("/x{id}",          ParamNotWholeSegment(s("x{id}"))),
        ("/x{id}y",         ParamNotWholeSegment(s("x{id}y"))),
        ("/{a}{b}",         ParamNotWholeSegment(s("{a}{b}"))),
        ("/{*a}.txt",       ParamNotWholeSegment(s("{*a}.txt"))),
        ("/{{a}}",          ParamNotWholeSegment(s("{{a}}"))),
        ("/{a}}",           ParamNotWholeSegment(s("{a}}"))),
        // Catch-all not last.
        ("/{*a}/b",         CatchAllNotLast(s("{*a}"))),
        ("/{*a}/{b}",       CatchAllNotLast(s("{*a}"))),
        ("/x/{*a}/{*b}",    CatchAllNotLast(s("{*a}"))),
        // Duplicate parameter.
        ("/{a}/{a}",        DuplicateParam(s("a"))),
        ("/{a}/x/{a}",      DuplicateParam(s("a"))),
        ("/{a}/{*a}",       DuplicateParam(s("a"))),
        ("/{a}/{b}/{b}",    DuplicateParam(s("b"))),
        // Invalid characters.
        ("/a b",            InvalidChar(' ')),
        ("/café",           InvalidChar('é')),
        ("/a\"b",           InvalidChar('"')),
        ("/<a>",            InvalidChar('<')),
        ("/a\\b",           InvalidChar('\\')),
        ("/a|b",            InvalidChar('|')),
        ("/a^b",            InvalidChar('^')),
        ("/`a`",            InvalidChar('`')),
        ("/a[0]",           InvalidChar('[')),
        ("/a\tb",           InvalidChar('\t')),
        ("/a\nb",           InvalidChar('\n')),
        ("/a\u{0}",         InvalidChar('\u{0}')),
        ("/😀",             InvalidChar('😀')),
        ("/%41é",           InvalidChar('é')),
        // Invalid percent escapes.
        ("/%zz",            InvalidPercentEscape(s("%zz"))),
        ("/%4",             InvalidPercentEscape(s("%4"))),
        ("/a%4",            InvalidPercentEscape(s("a%4"))),
        ("/%",              InvalidPercentEscape(s("%"))),
        ("/%4g",            InvalidPercentEscape(s("%4g"))),
        ("/%g4",            InvalidPercentEscape(s("%g4"))),
        ("/%%41",           InvalidPercentEscape(s("%%41"))),
        ("/%4/b",           InvalidPercentEscape(s("%4"))),
        ("/%é",             InvalidPercentEscape(s("%é"))),
        // Query or fragment.
        ("/?",              QueryOrFragment),
        ("/a?b=1",          QueryOrFragment),
        ("/a#top",          QueryOrFragment),
        ("/#",              QueryOrFragment),
        ("/{id}?x",         QueryOrFragment),
        ("/a/?",            QueryOrFragment),
        // Dot segments.
        ("/.",              DotSegment(s("."))),
        ("/..",             DotSegment(s(".."))),
        ("/%2E",            DotSegment(s("%2E"))),
        ("/%2e%2E",         DotSegment(s("%2e%2E"))),
        ("/.%2e",           DotSegment(s(".%2e"))),
        ("/a/./b",          DotSegment(s("."))),
        ("/a/..",           DotSegment(s(".."))),
        ("/../{x}",         DotSegment(s(".."))),
    ];

    for (source, expected) in cases {
        let got = Template::parse(source);
        assert_eq!(got.as_ref(), Err(&expected), "parse({source:?})");
        assert_eq!(
            source.parse::<Template>(),
            Err(expected.clone()),
            "FromStr {source:?}"
        );
        let message = expected.to_string();
        assert_plain_words(&message, &format!("{expected:?}"), source);
    }
}

#[test]
fn every_error_variant_has_plain_display() {
    use TemplateError::*;
    let s = String::from;
    let all = [
        Empty,
        MissingLeadingSlash,
        EmptySegment,
        TrailingSlash,
        UnclosedBrace(s("{a")),
        UnopenedBrace(s("a}")),
        EmptyParamName(s("{}")),
        InvalidParamName(s("1a")),
        ParamNotWholeSegment(s("{a}.json")),
        CatchAllNotLast(s("{*a}")),
        DuplicateParam(s("a")),
        InvalidChar(' '),
        InvalidPercentEscape(s("%zz")),
        QueryOrFragment,
        DotSegment(s("..")),
        PrefixWithCatchAll(s("/files/{*p}")),
    ];
    for error in all {
        let debug = format!("{error:?}");
        assert_plain_words(&error.to_string(), &debug, &debug);
        // Errors carrying text name it in the message.
        if let Some(payload) = debug.split_once('(').map(|(_, p)| p.trim_end_matches(')')) {
            let payload = payload.trim_matches('"').trim_matches('\'');
            assert!(
                error.to_string().contains(payload),
                "{debug}: message {:?} should name {payload:?}",
                error.to_string()
            );
        }
        let _: &dyn std::error::Error = &error;
    }
}

// ---------------------------------------------------------------------------
// 3. match_path
// ---------------------------------------------------------------------------

#[test]
fn match_path_table() {
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Option<Vec<&str>>)> = vec![
        // Root.
        ("/",               "/",                Some(vec![])),
        ("/",               "",                 None),
        ("/",               "//",               None),
        ("/",               "/a",               None),
        ("/",               "a",                None),
        // Static.
        ("/a",              "/a",               Some(vec![])),
        ("/a",              "/",                None),
        ("/a",              "/a/",              None),
        ("/a",              "/a/b",             None),
        ("/a",              "/ab",              None),
        ("/a",              "/A",               None),
        ("/a",              "a",                None),
        ("/a",              "",                 None),
        ("/a",              "//a",              None),
        ("/a/b",            "/a/b",             Some(vec![])),
        ("/a/b",            "/a",               None),
        ("/a/b",            "/a/",              None),
        ("/a/b",            "/a/b/",            None),
        ("/a/b",            "/a//b",            None),
        ("/a/b",            "/a/b/c",           None),
        ("/user:pass@host", "/user:pass@host",  Some(vec![])),
        // Static escapes are compared raw, byte for byte.
        ("/caf%C3%A9",      "/caf%C3%A9",       Some(vec![])),
        ("/caf%C3%A9",      "/caf%c3%a9",       None),
        ("/caf%C3%A9",      "/café",            None),
        ("/%41",            "/%41",             Some(vec![])),
        ("/%41",            "/A",               None),
        ("/A",              "/%41",             None),
        ("/a%2Fb",          "/a%2Fb",           Some(vec![])),
        ("/a%2Fb",          "/a/b",             None),
        // One param.
        ("/{id}",           "/42",              Some(vec!["42"])),
        ("/{id}",           "/",                None),
        ("/{id}",           "//",               None),
        ("/{id}",           "/42/",             None),
        ("/{id}",           "/42/x",            None),
        ("/{id}",           "42",               None),
        ("/{id}",           "/%2F",             Some(vec!["%2F"])),
        ("/{id}",           "/caf%C3%A9",       Some(vec!["caf%C3%A9"])),
        ("/{id}",           "/a+b",             Some(vec!["a+b"])),
        ("/{id}",           "/..",              Some(vec![".."])),
        ("/{id}",           "/%zz",             Some(vec!["%zz"])),
        ("/{id}",           "/café",            Some(vec!["café"])),
        ("/a/{id}/b",       "/a/x/b",           Some(vec!["x"])),
        ("/a/{id}/b",       "/a//b",            None),
        ("/a/{id}/b",       "/a/x/c",           None),
        ("/a/{id}/b",       "/a/x/b/",          None),
        ("/a/{id}/b",       "/b/x/b",           None),
        ("/rooms/{room}/since/{since}",
                            "/rooms/lobby/since/17",
                                                Some(vec!["lobby", "17"])),
        ("/rooms/{room}/since/{since}",
                            "/rooms/lobby/since/",
                                                None),
        ("/{a}/{b}",        "/x/y",             Some(vec!["x", "y"])),
        ("/{a}/{b}",        "/x",               None),
        ("/{a}/{b}",        "/x/",              None),
        ("/{a}/{b}",        "//y",              None),
        ("/{a}/{b}",        "/x/y/z",           None),
        // Catch-all.
        ("/files/{*path}",  "/files/a",         Some(vec!["a"])),
        ("/files/{*path}",  "/files/a/b/c",     Some(vec!["a/b/c"])),
        ("/files/{*path}",  "/files/a/",        Some(vec!["a/"])),
        ("/files/{*path}",  "/files//",         Some(vec!["/"])),
        ("/files/{*path}",  "/files//a",        Some(vec!["/a"])),
        ("/files/{*path}",  "/files/%2F",       Some(vec!["%2F"])),
        ("/files/{*path}",  "/files/../x",      Some(vec!["../x"])),
        ("/files/{*path}",  "/files/",          None),
        ("/files/{*path}",  "/files",           None),
        ("/files/{*path}",  "/filesx/a",        None),
        ("/files/{*path}",  "/file/a",          None),
        ("/files/{*path}",  "files/a",          None),
        ("/{*rest}",        "/a",               Some(vec!["a"])),
        ("/{*rest}",        "/a/b/",            Some(vec!["a/b/"])),
        ("/{*rest}",        "//",               Some(vec!["/"])),
        ("/{*rest}",        "///",              Some(vec!["//"])),
        ("/{*rest}",        "/",                None),
        ("/{*rest}",        "",                 None),
        ("/{*rest}",        "a",                None),
        ("/{a}/{*rest}",    "/x/y/z",           Some(vec!["x", "y/z"])),
        ("/{a}/{*rest}",    "/x/",              None),
        ("/{a}/{*rest}",    "/x",               None),
        ("/{a}/{*rest}",    "//y",              None),
    ];

    for (source, path, expected) in cases {
        let template = t(source);
        assert_eq!(
            match_path(&template, path),
            expected,
            "{source} over {path:?}"
        );
        // Matching into an empty vector gives the same answer.
        let mut fresh = Vec::new();
        let matched = template.match_path(path, &mut fresh);
        assert_eq!(
            matched,
            expected.is_some(),
            "{source} over {path:?} (fresh)"
        );
        assert_eq!(
            fresh,
            expected.unwrap_or_default(),
            "{source} over {path:?} (fresh)"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. match_prefix
// ---------------------------------------------------------------------------

/// What `match_prefix` leaves for nested routes, and the values it collected.
type Inner<'a> = (&'a str, Vec<&'a str>);

#[test]
fn match_prefix_table() {
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Option<Inner>)> = vec![
        ("/admin",          "/admin",           Some(("/", vec![]))),
        ("/admin",          "/admin/x",         Some(("/x", vec![]))),
        ("/admin",          "/admin/x/y",       Some(("/x/y", vec![]))),
        ("/admin",          "/admin/x/",        Some(("/x/", vec![]))),
        ("/admin",          "/admin//x",        Some(("//x", vec![]))),
        ("/admin",          "/admin//",         Some(("//", vec![]))),
        ("/admin",          "/admin/",          None),
        ("/admin",          "/administrator",   None),
        ("/admin",          "/adm",             None),
        ("/admin",          "/",                None),
        ("/admin",          "admin",            None),
        ("/admin",          "",                 None),
        ("/a/b",            "/a/b/c",           Some(("/c", vec![]))),
        ("/a/b",            "/a/bc",            None),
        ("/t/{tenant}",     "/t/acme",          Some(("/", vec!["acme"]))),
        ("/t/{tenant}",     "/t/acme/rooms",    Some(("/rooms", vec!["acme"]))),
        ("/t/{tenant}",     "/t/acme/rooms/1",  Some(("/rooms/1", vec!["acme"]))),
        ("/t/{tenant}",     "/t/acme/",         None),
        ("/t/{tenant}",     "/t/",              None),
        ("/t/{tenant}",     "/t//rooms",        None),
        ("/t/{tenant}",     "/t",               None),
        ("/t/{tenant}/u/{user}",
                            "/t/a/u/b/c",       Some(("/c", vec!["a", "b"]))),
        ("/t/{tenant}/u/{user}",
                            "/t/a/u/b",         Some(("/", vec!["a", "b"]))),
        ("/t/{tenant}/u/{user}",
                            "/t/a/v/b",         None),
        ("/{x}",            "/%41/b",           Some(("/b", vec!["%41"]))),
        // The root prefix leaves the whole path.
        ("/",               "/",                Some(("/", vec![]))),
        ("/",               "/x",               Some(("/x", vec![]))),
        ("/",               "/x/y",             Some(("/x/y", vec![]))),
        ("/",               "/x/",              Some(("/x/", vec![]))),
        ("/",               "//",               Some(("//", vec![]))),
        ("/",               "",                 None),
        ("/",               "x",                None),
        // A catch-all prefix swallows everything; only `/` can be nested.
        ("/files/{*p}",     "/files/a/b",       Some(("/", vec!["a/b"]))),
        ("/files/{*p}",     "/files/a/",        Some(("/", vec!["a/"]))),
        ("/files/{*p}",     "/files/",          None),
        ("/files/{*p}",     "/files",           None),
    ];

    for (source, path, expected) in cases {
        let template = t(source);
        assert_eq!(
            match_prefix(&template, path),
            expected,
            "{source} prefix of {path:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. Priority
// ---------------------------------------------------------------------------

#[test]
fn rank_table() {
    use Ordering::*;
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Ordering)> = vec![
        ("/a",              "/{x}",             Greater),
        ("/{x}",            "/{*r}",            Greater),
        ("/a",              "/{*r}",            Greater),
        ("/a/{x}/c",        "/a/{*rest}",       Greater),
        ("/a/{y}",          "/{x}/b",           Greater),
        ("/a/{*r}",         "/{x}/b/c",         Greater),
        ("/{x}/{*r}",       "/{*r}",            Greater),
        ("/a/b",            "/a/{x}",           Greater),
        ("/a/{x}",          "/a/{y}",           Equal),
        ("/a",              "/b",               Equal),
        ("/{*a}",           "/{*b}",            Equal),
        ("/",               "/",                Equal),
        ("/",               "/a",               Less),
        ("/a",              "/a/b",             Less),
    ];
    for (a, b, expected) in cases {
        let (ra, rb) = (t(a).rank(), t(b).rank());
        assert_eq!(ra.cmp(&rb), expected, "rank({a}) vs rank({b})");
        assert_eq!(rb.cmp(&ra), expected.reverse(), "rank({b}) vs rank({a})");
        assert_eq!(
            ra.partial_cmp(&rb),
            Some(expected),
            "partial_cmp {a} vs {b}"
        );
    }
}

/// The templates in `routes` sorted by rank, best first, after checking that
/// no two of them conflict.
fn sorted_routes(routes: &[&str]) -> Vec<Template> {
    let mut templates: Vec<Template> = routes.iter().map(|r| t(r)).collect();
    for (i, a) in templates.iter().enumerate() {
        for b in &templates[i + 1..] {
            assert_eq!(a.conflict_with(b), None, "{a} and {b} should not conflict");
        }
    }
    templates.sort_by_key(|t| std::cmp::Reverse(t.rank()));
    templates
}

fn best_match<'t>(sorted: &'t [Template], path: &str) -> Option<&'t Template> {
    sorted.iter().find(|t| t.match_path(path, &mut Vec::new()))
}

/// A request path and the template expected to win it, if any.
type PathWinner<'a> = (&'a str, Option<&'a str>);

#[test]
fn priority_table() {
    #[rustfmt::skip]
    let tables: Vec<(Vec<&str>, Vec<PathWinner>)> = vec![
        (
            vec!["/", "/a", "/a/b", "/a/{x}", "/a/{x}/c", "/a/{*rest}", "/{x}", "/{x}/b", "/{*all}"],
            vec![
                ("/",           Some("/")),
                ("/a",          Some("/a")),
                ("/a/b",        Some("/a/b")),
                ("/a/z",        Some("/a/{x}")),
                ("/a/b/c",      Some("/a/{x}/c")),
                ("/a/z/c",      Some("/a/{x}/c")),
                ("/a/b/d",      Some("/a/{*rest}")),
                ("/a/b/c/d",    Some("/a/{*rest}")),
                ("/a/b/",       Some("/a/{*rest}")),
                ("/z",          Some("/{x}")),
                ("/z/b",        Some("/{x}/b")),
                ("/z/c",        Some("/{*all}")),
                ("/a/",         Some("/{*all}")),
                ("/z/",         Some("/{*all}")),
                ("//",          Some("/{*all}")),
                ("//a",         Some("/{*all}")),
                ("",            None),
                ("a",           None),
            ],
        ),
        (
            vec!["/{x}/b", "/a/{y}"],
            vec![
                ("/a/b",        Some("/a/{y}")),
                ("/a/z",        Some("/a/{y}")),
                ("/z/b",        Some("/{x}/b")),
                ("/z/z",        None),
                ("/a",          None),
            ],
        ),
        (
            vec!["/a/{*rest}", "/{x}/b/c"],
            vec![
                ("/a/b/c",      Some("/a/{*rest}")),
                ("/z/b/c",      Some("/{x}/b/c")),
            ],
        ),
        (
            vec!["/{x}/{*rest}", "/{*all}", "/a/{*rest}", "/{x}"],
            vec![
                ("/a/b",        Some("/a/{*rest}")),
                ("/b/c",        Some("/{x}/{*rest}")),
                ("/b/c/d",      Some("/{x}/{*rest}")),
                ("/b",          Some("/{x}")),
                ("/b/",         Some("/{*all}")),
                ("//b",         Some("/{*all}")),
            ],
        ),
        (
            vec!["/files/{*path}", "/files/{name}", "/files/readme", "/files/readme/{x}"],
            vec![
                ("/files/readme",       Some("/files/readme")),
                ("/files/readme/1",     Some("/files/readme/{x}")),
                ("/files/readme/1/2",   Some("/files/{*path}")),
                ("/files/x",            Some("/files/{name}")),
                ("/files/x/y",          Some("/files/{*path}")),
                ("/files/readme/",      Some("/files/{*path}")),
                ("/files/",             None),
                ("/files",              None),
            ],
        ),
        (
            vec!["/caf%C3%A9", "/{x}"],
            vec![
                ("/caf%C3%A9",  Some("/caf%C3%A9")),
                ("/caf%c3%a9",  Some("/{x}")),
                ("/café",       Some("/{x}")),
            ],
        ),
        (
            // Order of insertion does not matter.
            vec!["/{*all}", "/{x}/b", "/{x}", "/a/{*rest}", "/a/{x}/c", "/a/{x}", "/a/b", "/a", "/"],
            vec![
                ("/a/b/c",      Some("/a/{x}/c")),
                ("/a/b/d",      Some("/a/{*rest}")),
                ("/a/b",        Some("/a/b")),
                ("/z/b",        Some("/{x}/b")),
            ],
        ),
    ];

    for (routes, paths) in tables {
        let sorted = sorted_routes(&routes);
        for (path, expected) in paths {
            let got = best_match(&sorted, path).map(Template::as_str);
            assert_eq!(got, expected, "routes {routes:?}, path {path:?}");
            // The best match is the unique one of maximal rank.
            let matching: Vec<&Template> = sorted
                .iter()
                .filter(|t| t.match_path(path, &mut Vec::new()))
                .collect();
            if let Some(best) = matching.iter().map(|t| t.rank()).max() {
                let top: Vec<_> = matching.iter().filter(|t| t.rank() == best).collect();
                assert_eq!(top.len(), 1, "routes {routes:?}, path {path:?}: {top:?}");
                assert_eq!(Some(top[0].as_str()), expected);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Conflicts
// ---------------------------------------------------------------------------

#[test]
fn conflict_table() {
    use Conflict::*;
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Option<Conflict>)> = vec![
        ("/",               "/",                Some(Duplicate)),
        ("/a",              "/a",               Some(Duplicate)),
        ("/a/{x}",          "/a/{x}",           Some(Duplicate)),
        ("/{*a}",           "/{*a}",            Some(Duplicate)),
        ("/a/{x}",          "/a/{y}",           Some(SameShape)),
        ("/{*a}",           "/{*b}",            Some(SameShape)),
        ("/{a}/{b}",        "/{b}/{a}",         Some(SameShape)),
        ("/x/{a}/y/{*r}",   "/x/{b}/y/{*s}",    Some(SameShape)),
        ("/a/{x}",          "/a/b",             None),
        ("/a",              "/a/{x}",           None),
        ("/a",              "/b",               None),
        ("/",               "/a",               None),
        ("/",               "/{*a}",            None),
        ("/{x}",            "/{*x}",            None),
        ("/{x}/b",          "/a/{y}",           None),
        ("/a/{x}/c",        "/a/{*rest}",       None),
        ("/%41",            "/A",               None),
        ("/caf%C3%A9",      "/caf%c3%a9",       None),
        ("/{a}",            "/{a}/{b}",         None),
    ];
    for (a, b, expected) in cases {
        let (ta, tb) = (t(a), t(b));
        assert_eq!(ta.conflict_with(&tb), expected, "{a} vs {b}");
        assert_eq!(tb.conflict_with(&ta), expected, "{b} vs {a} (symmetry)");
        if expected.is_some() {
            assert_eq!(ta.rank(), tb.rank(), "conflicting {a} and {b} share a rank");
        }
    }
}

// ---------------------------------------------------------------------------
// 7. join
// ---------------------------------------------------------------------------

#[test]
fn join_table() {
    use TemplateError::*;
    let s = String::from;
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Result<&str, TemplateError>)> = vec![
        ("/",               "/",                Ok("/")),
        ("/",               "/a",               Ok("/a")),
        ("/a",              "/",                Ok("/a")),
        ("/",               "/{*p}",            Ok("/{*p}")),
        ("/{*p}",           "/",                Ok("/{*p}")),
        ("/admin",          "/stats",           Ok("/admin/stats")),
        ("/admin",          "/{id}",            Ok("/admin/{id}")),
        ("/admin",          "/{*rest}",         Ok("/admin/{*rest}")),
        ("/a/b",            "/c/d",             Ok("/a/b/c/d")),
        ("/t/{tenant}",     "/rooms/{room}",    Ok("/t/{tenant}/rooms/{room}")),
        ("/t/{tenant}",     "/files/{*path}",   Ok("/t/{tenant}/files/{*path}")),
        ("/t/{id}",         "/x/{id}",          Err(DuplicateParam(s("id")))),
        ("/{a}",            "/{a}",             Err(DuplicateParam(s("a")))),
        ("/{a}",            "/{*a}",            Err(DuplicateParam(s("a")))),
        ("/files/{*p}",     "/x",               Err(PrefixWithCatchAll(s("/files/{*p}")))),
        ("/files/{*p}",     "/{x}",             Err(PrefixWithCatchAll(s("/files/{*p}")))),
        ("/{*p}",           "/{*q}",            Err(PrefixWithCatchAll(s("/{*p}")))),
        ("/{*p}",           "/{*p}",            Err(PrefixWithCatchAll(s("/{*p}")))),
    ];
    for (prefix, rest, expected) in cases {
        let got = t(prefix).join(&t(rest));
        match expected {
            Ok(source) => {
                let joined = got.unwrap_or_else(|e| panic!("{prefix} + {rest}: {e}"));
                assert_eq!(joined, t(source), "{prefix} + {rest}");
                assert_eq!(joined.as_str(), source, "{prefix} + {rest}");
            }
            Err(error) => assert_eq!(got, Err(error), "{prefix} + {rest}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 8. decode
// ---------------------------------------------------------------------------

#[test]
fn decode_table() {
    use DecodeError::*;
    // (raw, expected, borrowed)
    #[rustfmt::skip]
    let cases: Vec<(&str, Result<&str, DecodeError>, bool)> = vec![
        ("",                Ok(""),             true),
        ("abc",             Ok("abc"),          true),
        ("a+b",             Ok("a+b"),          true),
        ("café",            Ok("café"),         true),
        ("a/b",             Ok("a/b"),          true),
        ("%2F",             Ok("/"),            false),
        ("a%2Fb",           Ok("a/b"),          false),
        ("a%2fb",           Ok("a/b"),          false),
        ("%2B",             Ok("+"),            false),
        ("a+%2B",           Ok("a++"),          false),
        ("%20",             Ok(" "),            false),
        ("%41",             Ok("A"),            false),
        ("%25",             Ok("%"),            false),
        ("%2541",           Ok("%41"),          false),
        ("%00",             Ok("\0"),           false),
        ("%C3%A9",          Ok("é"),            false),
        ("caf%C3%A9",       Ok("café"),         false),
        ("caf%c3%a9",       Ok("café"),         false),
        ("%F0%9F%98%80",    Ok("😀"),           false),
        ("%zz",             Err(InvalidEscape), false),
        ("%4",              Err(InvalidEscape), false),
        ("a%4",             Err(InvalidEscape), false),
        ("%",               Err(InvalidEscape), false),
        ("a%",              Err(InvalidEscape), false),
        ("%g1",             Err(InvalidEscape), false),
        ("%1g",             Err(InvalidEscape), false),
        ("%%41",            Err(InvalidEscape), false),
        ("%C3%A",           Err(InvalidEscape), false),
        ("%é",              Err(InvalidEscape), false),
        ("%FF",             Err(NotUtf8),       false),
        ("%C3",             Err(NotUtf8),       false),
        ("%C3%28",          Err(NotUtf8),       false),
        ("%ED%A0%80",       Err(NotUtf8),       false),
        ("%C0%AF",          Err(NotUtf8),       false),
    ];
    for (raw, expected, borrowed) in cases {
        let got = decode(raw);
        match (&got, expected.clone()) {
            (Ok(value), Ok(want)) => {
                assert_eq!(value, want, "decode({raw:?})");
                assert_eq!(
                    matches!(value, Cow::Borrowed(_)),
                    borrowed,
                    "decode({raw:?}) borrowed?"
                );
            }
            (Err(e), Err(want)) => {
                assert_eq!(*e, want, "decode({raw:?})");
                assert!(!e.to_string().is_empty(), "decode({raw:?}) message");
            }
            _ => panic!("decode({raw:?}) = {got:?}, want {expected:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// A small template source: up to three static (`a`, `b`, `%41`) or param
/// segments, then maybe a catch-all. Param names start with `prefix` and are
/// distinct within the template.
fn template_source(prefix: char) -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just(Some("a")),
        Just(Some("b")),
        Just(Some("%41")),
        Just(None::<&str>),
    ];
    (prop::collection::vec(segment, 0..4), any::<bool>()).prop_map(move |(segments, catch_all)| {
        let mut source = String::new();
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                Some(text) => write!(source, "/{text}").unwrap(),
                None => write!(source, "/{{{prefix}{i}}}").unwrap(),
            }
        }
        if catch_all {
            write!(source, "/{{*{prefix}rest}}").unwrap();
        }
        if source.is_empty() {
            source.push('/');
        }
        source
    })
}

fn template(prefix: char) -> impl Strategy<Value = Template> {
    template_source(prefix).prop_map(|s| t(&s))
}

/// A request path over a small alphabet: mostly `/`-separated segments from
/// `a`, `b`, `%41`, empty and `..`; sometimes a raw token soup (no leading
/// slash, doubled slashes, ...).
fn request_path() -> impl Strategy<Value = String> {
    let segments =
        prop::collection::vec(prop::sample::select(vec!["a", "b", "%41", "", ".."]), 0..6)
            .prop_map(|segments| format!("/{}", segments.join("/")));
    let soup = prop::collection::vec(prop::sample::select(vec!["/", "a", "b", "%41", ".."]), 0..8)
        .prop_map(|tokens| tokens.concat());
    prop_oneof![4 => segments, 1 => soup]
}

/// Two templates with the same segment kinds (so the same rank); statics are
/// drawn independently from `a` and `b`, param names differ.
fn twin_templates() -> impl Strategy<Value = (Template, Template)> {
    let segment = prop_oneof![
        (
            prop::sample::select(vec!["a", "b"]),
            prop::sample::select(vec!["a", "b"])
        )
            .prop_map(|(x, y)| Some((x, y))),
        Just(None),
    ];
    (prop::collection::vec(segment, 0..4), any::<bool>()).prop_map(|(segments, catch_all)| {
        let build = |prefix: char, pick: fn((&'static str, &'static str)) -> &'static str| {
            let mut source = String::new();
            for (i, segment) in segments.iter().enumerate() {
                match segment {
                    Some(texts) => write!(source, "/{}", pick(*texts)).unwrap(),
                    None => write!(source, "/{{{prefix}{i}}}").unwrap(),
                }
            }
            if catch_all {
                write!(source, "/{{*{prefix}rest}}").unwrap();
            }
            if source.is_empty() {
                source.push('/');
            }
            t(&source)
        };
        (build('a', |(x, _)| x), build('b', |(_, y)| y))
    })
}

/// A request path built from `template`: each param at index `i` takes
/// `params[i]`, the catch-all takes `rest`. Returns the path and the values.
fn instance<'v>(template: &Template, params: &[&'v str], rest: &'v str) -> (String, Vec<&'v str>) {
    let mut path = String::new();
    let mut values = Vec::new();
    for (i, segment) in template.segments().iter().enumerate() {
        path.push('/');
        match segment {
            Segment::Static(text) => path.push_str(text),
            Segment::Param(_) => {
                path.push_str(params[i]);
                values.push(params[i]);
            }
            Segment::CatchAll(_) => {
                path.push_str(rest);
                values.push(rest);
            }
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    (path, values)
}

/// Conflicting templates match the same paths; non-conflicting ones never
/// both match a path with the same rank.
fn check_conflict(a: &Template, b: &Template, path: &str) -> Result<(), TestCaseError> {
    let ma = a.match_path(path, &mut Vec::new());
    let mb = b.match_path(path, &mut Vec::new());
    match a.conflict_with(b) {
        Some(_) => prop_assert_eq!(ma, mb, "{} vs {} over {:?}", a, b, path),
        None => prop_assert!(
            !(ma && mb && a.rank() == b.rank()),
            "{} and {} both match {:?} with the same rank",
            a,
            b,
            path
        ),
    }
    prop_assert_eq!(a.conflict_with(b), b.conflict_with(a));
    Ok(())
}

/// Matches `path` with `prefix.match_prefix` then `rest.match_path`.
fn nested_match<'p>(prefix: &Template, rest: &Template, path: &'p str) -> Option<Vec<&'p str>> {
    let mut values = Vec::new();
    let inner = prefix.match_prefix(path, &mut values)?;
    rest.match_path(inner, &mut values).then_some(values)
}

proptest! {
    /// Matching a joined template equals matching the prefix, then the rest on
    /// the inner path, with the same values.
    #[test]
    fn join_agrees_with_prefix_then_inner(
        prefix in template('p'),
        rest in template('r'),
        path in request_path(),
    ) {
        if let Ok(joined) = prefix.join(&rest) {
            let mut values = Vec::new();
            let direct = joined.match_path(&path, &mut values).then_some(values);
            prop_assert_eq!(direct, nested_match(&prefix, &rest, &path),
                "{} + {} = {} over {:?}", prefix, rest, joined, path);
        } else {
            prop_assert!(prefix.has_catch_all());
        }
    }

    /// `join` is associative and agrees with parsing the joined source.
    #[test]
    fn join_is_associative(a in template('a'), b in template('b'), c in template('c')) {
        let left = a.join(&b).and_then(|ab| ab.join(&c));
        let right = b.join(&c).and_then(|bc| a.join(&bc));
        if let (Ok(left), Ok(right)) = (&left, &right) {
            prop_assert_eq!(left, right);
            prop_assert_eq!(&Template::parse(left.as_str()).unwrap(), left);
        } else {
            prop_assert!(left.is_err() && right.is_err(), "{:?} vs {:?}", left, right);
        }
    }

    /// With conflicting templates left out, at most one template of maximal
    /// rank matches any path, and sorting by rank finds it first.
    #[test]
    fn best_match_is_unique(
        candidates in prop::collection::vec(template('x'), 1..10),
        paths in prop::collection::vec(request_path(), 1..8),
    ) {
        let mut routes: Vec<Template> = Vec::new();
        for candidate in candidates {
            if routes.iter().all(|r| r.conflict_with(&candidate).is_none()) {
                routes.push(candidate);
            }
        }
        let mut sorted = routes.clone();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.rank()));
        for path in &paths {
            let matching: Vec<&Template> =
                routes.iter().filter(|t| t.match_path(path, &mut Vec::new())).collect();
            let first = best_match(&sorted, path);
            match matching.iter().map(|t| t.rank()).max() {
                None => prop_assert!(first.is_none()),
                Some(best) => {
                    let top: Vec<&&Template> =
                        matching.iter().filter(|t| t.rank() == best).collect();
                    prop_assert_eq!(top.len(), 1, "{:?} over {:?}", top, path);
                    prop_assert_eq!(first, Some(*top[0]));
                }
            }
        }
    }

    /// Same-shape templates match exactly the same paths; templates that do
    /// not conflict never match one path with the same rank.
    #[test]
    fn conflicts_are_exactly_same_rank_overlaps(
        a in template('a'),
        b in template('b'),
        path in request_path(),
    ) {
        check_conflict(&a, &b, &path)?;
    }

    /// The same, over pairs of templates of one rank (same segment kinds,
    /// statics drawn independently), where conflicts are likely; also over a
    /// path built from the first template.
    #[test]
    fn conflicts_between_twins(
        (a, b) in twin_templates(),
        path in request_path(),
    ) {
        prop_assert_eq!(a.rank(), b.rank());
        let statics_equal = a.segments().iter().zip(b.segments()).all(|pair| match pair {
            (Segment::Static(x), Segment::Static(y)) => x == y,
            _ => true,
        });
        let expected = match (statics_equal, a.param_names().next().is_some()) {
            (false, _) => None,
            (true, false) => Some(Conflict::Duplicate),
            (true, true) => Some(Conflict::SameShape),
        };
        prop_assert_eq!(a.conflict_with(&b), expected, "{} vs {}", a, b);
        check_conflict(&a, &b, &path)?;
        let (own, _) = instance(&a, &["v"; 4], "v/w");
        check_conflict(&a, &b, &own)?;
        prop_assert!(a.match_path(&own, &mut Vec::new()));
    }

    /// A template matches a path built from it, and gives back the values.
    #[test]
    fn template_matches_its_instances(
        source in template_source('v'),
        params in prop::collection::vec("[a-z0-9%.~+:@-]{1,4}", 4),
        rest in "[a-z/]{1,6}",
    ) {
        let template = t(&source);
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        let (path, expected) = instance(&template, &params, &rest);
        let mut values = vec!["sentinel"];
        prop_assert!(template.match_path(&path, &mut values), "{} over {:?}", template, path);
        prop_assert_eq!(&values[1..], expected.as_slice());
        // A trailing slash never matches unless a catch-all takes it.
        let slashed = format!("{path}/");
        prop_assert_eq!(
            template.match_path(&slashed, &mut Vec::new()),
            template.has_catch_all()
        );
    }

    /// Parsing never panics; a parsed template round-trips through Display,
    /// and its segments rebuild the source.
    #[test]
    fn parse_round_trips(source in "/?[/{}*a-z0-9_%.?#é =-]{0,12}") {
        match Template::parse(&source) {
            Ok(template) => {
                prop_assert_eq!(template.to_string(), source.clone());
                prop_assert_eq!(Template::parse(&template.to_string()).unwrap(), template.clone());
                let rebuilt: String =
                    template.segments().iter().map(|s| format!("/{s}")).collect();
                prop_assert_eq!(if rebuilt.is_empty() { "/".to_owned() } else { rebuilt }, source);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// Decoding never panics and is the identity without `%`.
    #[test]
    fn decode_never_panics(raw in "[a-z%0-9A-F+/é]{0,10}") {
        match decode(&raw) {
            Ok(value) if !raw.contains('%') => {
                prop_assert!(matches!(value, Cow::Borrowed(_)));
                prop_assert_eq!(value, raw.as_str());
            }
            Ok(value) => prop_assert!(matches!(value, Cow::Owned(_))),
            Err(_) => prop_assert!(raw.contains('%')),
        }
    }
}

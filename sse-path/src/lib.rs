//! Path templates for the [`sse`](https://docs.rs/sse) toolkit.
//!
//! This crate is the single definition of the route-path syntax. The runtime
//! router (`sse::routing`) uses it when routes are added at run time, and the
//! `sse_routes!` macro uses the very same parser and conflict rules at compile
//! time, so a table that compiles is a table the runtime would accept, and both
//! match a request path the same way.
//!
//! # Syntax
//!
//! A template starts with `/` and is a list of `/`-separated segments:
//!
//! | segment | matches | example |
//! | --- | --- | --- |
//! | static text | exactly that text, byte for byte | `/clock` |
//! | `{name}` | one whole, non-empty segment | `/rooms/{room}` |
//! | `{*name}` | the non-empty rest of the path, slashes included; last segment only | `/files/{*path}` |
//!
//! - `/` alone is the root. Empty segments (`//`) and a trailing slash are
//!   refused: a request for `/a/` does not match `/a`, and saying so in the
//!   template would only hide that.
//! - A parameter fills a whole segment (`/{id}.json` is refused) and its name
//!   is a Rust identifier, because `#[sse_handler]` binds it to an argument.
//! - Static text uses the characters RFC 3986 allows in a path segment, and
//!   `%XX` escapes. It is compared with the raw request path, so write escapes
//!   the way clients send them (`%C3%A9` and `%c3%a9` are different
//!   routes). `.` and `..` segments, escaped as `%2e` or not, are refused:
//!   clients resolve them before sending, so such a route could never match.
//!
//! Request paths are matched as sent, not normalised: `/files/{*path}`
//! matches `/files/../etc`, and a decoded value may hold `/` or `..`. A
//! handler that maps a value to a file must sanitise it.
//!
//! # Matching and priority
//!
//! The query string never takes part. Among the templates that match a path,
//! the most specific wins, segment by segment from the left: static text beats
//! a parameter, and a parameter beats a catch-all ([`Template::rank`]). Two
//! templates that could match the same path with the same rank have the same
//! *shape* (they differ at most in parameter names); adding both is a conflict
//! ([`Template::conflict_with`]). With conflicts refused, every path has at
//! most one best template, and sorting templates by rank and taking the first
//! that matches finds it.
//!
//! Parameter values are borrowed raw from the path; [`decode`] percent-decodes
//! one when a handler reads it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// A parsed path template such as `/rooms/{room}/since/{since}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// One `/`-separated part of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Literal text, compared byte for byte.
    Static(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{*name}`: the non-empty rest of the path.
    CatchAll(String),
}

/// How specific a segment is; a larger kind wins when several templates match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentKind {
    /// `{*name}`, the least specific.
    CatchAll,
    /// `{name}`.
    Param,
    /// Literal text, the most specific.
    Static,
}

impl Segment {
    /// The kind of this segment.
    pub fn kind(&self) -> SegmentKind {
        match self {
            Segment::Static(_) => SegmentKind::Static,
            Segment::Param(_) => SegmentKind::Param,
            Segment::CatchAll(_) => SegmentKind::CatchAll,
        }
    }

    /// The parameter name, for `{name}` and `{*name}`.
    pub fn param_name(&self) -> Option<&str> {
        match self {
            Segment::Static(_) => None,
            Segment::Param(name) | Segment::CatchAll(name) => Some(name),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Static(text) => f.write_str(text),
            Segment::Param(name) => write!(f, "{{{name}}}"),
            Segment::CatchAll(name) => write!(f, "{{*{name}}}"),
        }
    }
}

/// The priority of a template: compare two with `Ord`; the greater one wins
/// when both match a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rank(Vec<SegmentKind>);

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lexicographic, segment by segment from the left; a longer template
        // wins a tie so that the order is total (two templates of different
        // lengths without catch-alls never match the same path anyway).
        self.0.cmp(&other.0)
    }
}

/// Why a template was refused. `Display` says what is wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is the empty string.
    Empty,
    /// The template does not start with `/`.
    MissingLeadingSlash,
    /// `//` somewhere in the template.
    EmptySegment,
    /// The template ends with `/` (and is not `/`).
    TrailingSlash,
    /// A `{` without its `}` in the segment.
    UnclosedBrace(String),
    /// A `}` without a `{` before it in the segment.
    UnopenedBrace(String),
    /// `{}` or `{*}`.
    EmptyParamName(String),
    /// A parameter name that is not a Rust identifier.
    InvalidParamName(String),
    /// A parameter that shares its segment with other text, like `{id}.json`.
    ParamNotWholeSegment(String),
    /// `{*name}` somewhere other than the last segment.
    CatchAllNotLast(String),
    /// The same parameter name twice in one template.
    DuplicateParam(String),
    /// A character that may not appear in a path.
    InvalidChar(char),
    /// A `%` not followed by two hex digits.
    InvalidPercentEscape(String),
    /// `?` or `#`: the query and fragment never take part in matching.
    QueryOrFragment,
    /// A `.` or `..` segment, which clients resolve before sending.
    DotSegment(String),
    /// A prefix with a catch-all was joined with more path.
    PrefixWithCatchAll(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Empty => f.write_str("the path is empty; write \"/\" for the root"),
            TemplateError::MissingLeadingSlash => f.write_str("the path must start with `/`"),
            TemplateError::EmptySegment => f.write_str(
                "the path has an empty segment (`//`); remove the extra slash",
            ),
            TemplateError::TrailingSlash => f.write_str(
                "the path ends with `/`; remove the trailing slash (a request for `/a/` never matches `/a`)",
            ),
            TemplateError::UnclosedBrace(seg) => {
                write!(f, "segment `{seg}` opens `{{` without closing it; write `{{name}}`")
            }
            TemplateError::UnopenedBrace(seg) => {
                write!(f, "segment `{seg}` closes `}}` without opening it; write `{{name}}`")
            }
            TemplateError::EmptyParamName(seg) => {
                write!(f, "segment `{seg}` has a parameter without a name; write `{{name}}` or `{{*name}}`")
            }
            TemplateError::InvalidParamName(name) => write!(
                f,
                "parameter name `{name}` is not usable as a Rust argument name; use ASCII letters, digits and `_`, not starting with a digit, and not a keyword"
            ),
            TemplateError::ParamNotWholeSegment(seg) => write!(
                f,
                "segment `{seg}` mixes a parameter with other text; a parameter must fill a whole segment"
            ),
            TemplateError::CatchAllNotLast(seg) => write!(
                f,
                "catch-all `{seg}` must be the last segment of the path"
            ),
            TemplateError::DuplicateParam(name) => {
                write!(f, "parameter `{name}` appears twice in the path; give each a distinct name")
            }
            TemplateError::InvalidChar(c) => write!(
                f,
                "character {c:?} cannot appear in a path; percent-encode it (`%XX`)"
            ),
            TemplateError::InvalidPercentEscape(seg) => write!(
                f,
                "segment `{seg}` has a `%` not followed by two hex digits"
            ),
            TemplateError::QueryOrFragment => f.write_str(
                "the path contains `?` or `#`; the query string and fragment never take part in matching, remove them",
            ),
            TemplateError::DotSegment(seg) => write!(
                f,
                "segment `{seg}` can never match: clients resolve `.` and `..` before sending"
            ),
            TemplateError::PrefixWithCatchAll(prefix) => write!(
                f,
                "prefix `{prefix}` ends with a catch-all, so nothing can be nested under it"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Two templates that cannot both be routed for the same method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The very same template twice.
    Duplicate,
    /// The templates differ only in parameter names, so they match exactly the
    /// same paths and neither would ever win.
    SameShape,
}

impl Template {
    /// Parses a template; see the [crate docs](crate) for the syntax.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.is_empty() {
            return Err(TemplateError::Empty);
        }
        if !source.starts_with('/') {
            return Err(TemplateError::MissingLeadingSlash);
        }
        if source.contains(['?', '#']) {
            return Err(TemplateError::QueryOrFragment);
        }
        let mut segments = Vec::new();
        if source != "/" {
            let body = &source[1..];
            if body.ends_with('/') {
                return Err(if body.split('/').all(str::is_empty) {
                    TemplateError::EmptySegment
                } else {
                    TemplateError::TrailingSlash
                });
            }
            for raw in body.split('/') {
                if raw.is_empty() {
                    return Err(TemplateError::EmptySegment);
                }
                segments.push(parse_segment(raw)?);
            }
        }
        let template = Template {
            source: source.to_owned(),
            segments,
        };
        template.validate()?;
        Ok(template)
    }

    /// Checks the rules that span segments.
    fn validate(&self) -> Result<(), TemplateError> {
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            if let Segment::CatchAll(_) = segment
                && i != last
            {
                return Err(TemplateError::CatchAllNotLast(segment.to_string()));
            }
            if let Some(name) = segment.param_name()
                && self.segments[..i]
                    .iter()
                    .any(|s| s.param_name() == Some(name))
            {
                return Err(TemplateError::DuplicateParam(name.to_owned()));
            }
        }
        Ok(())
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The segments, left to right; empty for `/`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The parameter names, left to right.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(Segment::param_name)
    }

    /// Whether the last segment is a catch-all.
    pub fn has_catch_all(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::CatchAll(_)))
    }

    /// This template followed by `rest`, as for a nested group or a base path:
    /// `/admin` joined with `/stats` is `/admin/stats`; `/` is neutral on
    /// either side.
    pub fn join(&self, rest: &Template) -> Result<Template, TemplateError> {
        if self.has_catch_all() && !rest.segments.is_empty() {
            return Err(TemplateError::PrefixWithCatchAll(self.source.clone()));
        }
        let source = match (self.segments.is_empty(), rest.segments.is_empty()) {
            (true, _) => rest.source.clone(),
            (false, true) => self.source.clone(),
            (false, false) => format!("{}{}", self.source, rest.source),
        };
        let mut segments = self.segments.clone();
        segments.extend(rest.segments.iter().cloned());
        let joined = Template { source, segments };
        joined.validate()?;
        Ok(joined)
    }

    /// The priority key: when several templates match one path, the one with
    /// the greatest rank wins.
    pub fn rank(&self) -> Rank {
        Rank(self.segments.iter().map(Segment::kind).collect())
    }

    /// Whether this template and `other` may not be routed side by side for
    /// the same method, and why.
    pub fn conflict_with(&self, other: &Template) -> Option<Conflict> {
        if self.segments == other.segments {
            return Some(Conflict::Duplicate);
        }
        let same_shape = self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Static(a), Segment::Static(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    (Segment::CatchAll(_), Segment::CatchAll(_)) => true,
                    _ => false,
                });
        same_shape.then_some(Conflict::SameShape)
    }

    /// Matches the whole request `path` (no query string). On success the raw
    /// parameter values are appended to `values` in template order and `true`
    /// is returned; on failure `values` is left as it was.
    pub fn match_path<'p>(&self, path: &'p str, values: &mut Vec<&'p str>) -> bool {
        let start = values.len();
        match self.match_segments(path, values) {
            Some("") => true,
            _ => {
                values.truncate(start);
                false
            }
        }
    }

    /// Matches the template against the start of `path`, as a base path: on
    /// success appends the parameter values to `values` and returns the path
    /// left for the nested routes (`/` when nothing is left). `/prefix/`
    /// leaves nothing a nested route could match, as with [`Template::join`]:
    /// `/admin` joined with `/` is `/admin`, which `/admin/` does not match.
    pub fn match_prefix<'p>(&self, path: &'p str, values: &mut Vec<&'p str>) -> Option<&'p str> {
        let start = values.len();
        let inner = match self.match_segments(path, values) {
            Some("") => Some("/"),
            Some("/") | None => None,
            Some(rest) => Some(rest),
        };
        if inner.is_none() {
            values.truncate(start);
        }
        inner
    }

    /// Walks the segments over `path`; returns what follows the last one
    /// (empty, or starting with `/`). May leave values behind on failure.
    fn match_segments<'p>(&self, path: &'p str, values: &mut Vec<&'p str>) -> Option<&'p str> {
        let mut rest = path.strip_prefix('/')?;
        let Some(last) = self.segments.len().checked_sub(1) else {
            // The root: all of the path (past the slash) is left.
            return Some(if rest.is_empty() { "" } else { path });
        };
        for (i, segment) in self.segments.iter().enumerate() {
            let (head, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match segment {
                Segment::Static(text) if head == text => {}
                Segment::Param(_) if !head.is_empty() => values.push(head),
                Segment::CatchAll(_) if !rest.is_empty() => {
                    values.push(rest);
                    return Some("");
                }
                _ => return None,
            }
            if i == last {
                return Some(tail);
            }
            rest = tail.strip_prefix('/')?;
        }
        unreachable!("the loop returns at the last segment")
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

fn parse_segment(raw: &str) -> Result<Segment, TemplateError> {
    if let Some(inner) = raw.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}') else {
            return Err(if raw.contains('}') {
                TemplateError::ParamNotWholeSegment(raw.to_owned())
            } else {
                TemplateError::UnclosedBrace(raw.to_owned())
            });
        };
        if inner.contains(['{', '}']) {
            return Err(TemplateError::ParamNotWholeSegment(raw.to_owned()));
        }
        let (name, catch_all) = match inner.strip_prefix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty() {
            return Err(TemplateError::EmptyParamName(raw.to_owned()));
        }
        if !is_identifier(name) {
            return Err(TemplateError::InvalidParamName(name.to_owned()));
        }
        return Ok(if catch_all {
            Segment::CatchAll(name.to_owned())
        } else {
            Segment::Param(name.to_owned())
        });
    }
    match (raw.find('{'), raw.find('}')) {
        (Some(open), Some(close)) if open < close => {
            return Err(TemplateError::ParamNotWholeSegment(raw.to_owned()));
        }
        (Some(_), _) => return Err(TemplateError::UnclosedBrace(raw.to_owned())),
        (None, Some(_)) => return Err(TemplateError::UnopenedBrace(raw.to_owned())),
        (None, None) => {}
    }
    // Clients resolve `.` and `..`, escaped or not, before sending.
    if matches!(
        raw.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
    ) {
        return Err(TemplateError::DotSegment(raw.to_owned()));
    }
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(TemplateError::InvalidPercentEscape(raw.to_owned()));
                }
                i += 3;
                continue;
            }
            b if is_pchar(b) => {}
            _ => {
                let c = raw[i..].chars().next().expect("in bounds");
                return Err(TemplateError::InvalidChar(c));
            }
        }
        i += 1;
    }
    Ok(Segment::Static(raw.to_owned()))
}

/// RFC 3986 `pchar` without `pct-encoded`: unreserved, sub-delims, `:`, `@`.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Whether `name` can name a parameter: an ASCII Rust identifier that is not
/// `_` and not a keyword (the handler binds it as an argument name).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_"
        && !KEYWORDS.contains(&name)
}

/// Rust's strict and reserved keywords (2024 edition).
const KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// A parameter value that is not valid once percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::InvalidEscape => "has a `%` not followed by two hex digits",
            DecodeError::NotUtf8 => "is not UTF-8 once percent-decoded",
        })
    }
}

impl std::error::Error for DecodeError {}

/// Percent-decodes a raw parameter value. `+` stays `+` (this is a path, not
/// a form). Borrows when there is nothing to decode.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(DecodeError::InvalidEscape);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

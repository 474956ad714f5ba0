//! [`SseMessage`]: the immutable unit a connection sends, and its wire format.
//!
//! Encoding follows WHATWG HTML §9.2 ("Server-sent events"):
//!
//! - every CRLF, CR or LF in data starts a new `data:` line, so a client gets
//!   the data back with each line break turned into LF;
//! - a value follows its field name and `": "` (one space), so values that
//!   start with a space survive the parser, which strips exactly one;
//! - every message a client should see ends with a blank line and carries at
//!   least one `data:` line, so it dispatches even when the data is empty;
//! - `retry:` is the reconnection delay in ASCII-digit milliseconds;
//! - comments (and [`SseMessage::Ping`]) start with `:`.
//!
//! An event name or id that would change what a client parses (CR or LF in
//! either, NUL in an id) is refused at construction with [`InvalidField`]; it
//! never reaches the wire and is never rewritten.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

/// One Server-Sent Events message. Immutable and cheap to clone: text is held
/// in reference-counted [`Bytes`].
///
/// ```
/// use sse::SseMessage;
/// use std::time::Duration;
///
/// let hello = SseMessage::data("hello");
/// let tick = SseMessage::event("tick", "42").unwrap().with_id("42").unwrap();
/// let slower = SseMessage::retry(Duration::from_secs(5));
/// assert_eq!(&hello.encode()[..], b"data: hello\n\n");
/// assert_eq!(&tick.encode()[..], b"event: tick\nid: 42\ndata: 42\n\n");
/// assert_eq!(&slower.encode()[..], b"retry: 5000\n\n");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SseMessage {
    /// Data with no event name: the client sees a `message` event.
    Data(Text),
    /// A named event with optional id and retry.
    Event(SseEvent),
    /// Tells the client how long to wait before reconnecting.
    Retry(Duration),
    /// A comment line with no text (`:`): keeps the connection alive, the
    /// client ignores it.
    Ping,
    /// A comment with text (`: text`), ignored by clients; each line of the
    /// text becomes its own comment line.
    Comment(Text),
}

/// Text held in [`Bytes`]: always valid UTF-8, cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Bytes);

impl Text {
    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        // The only constructors take `String`/`&str`, so the bytes are UTF-8.
        std::str::from_utf8(&self.0).expect("Text holds UTF-8")
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Self {
        Text::from(String::from(s))
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A named event: `event:`, optional `id:` and `retry:`, then the data.
///
/// Build one with [`SseMessage::event`] (or [`SseEvent::new`]) and the
/// `with_*` methods, which validate as they go.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SseEvent {
    name: Text,
    data: Text,
    id: Option<Text>,
    retry: Option<Duration>,
}

impl SseEvent {
    /// An event named `name` carrying `data`. Fails if the name holds CR or LF.
    pub fn new(name: impl Into<Text>, data: impl Into<Text>) -> Result<Self, InvalidField> {
        let name = name.into();
        check_no_line_break(Field::EventName, &name)?;
        Ok(SseEvent {
            name,
            data: data.into(),
            id: None,
            retry: None,
        })
    }

    /// The same event with an id, which the client remembers and sends back
    /// as `Last-Event-ID` when it reconnects. Fails on CR, LF or NUL.
    pub fn with_id(mut self, id: impl Into<Text>) -> Result<Self, InvalidField> {
        let id = id.into();
        check_no_line_break(Field::Id, &id)?;
        if id.as_str().contains('\0') {
            return Err(InvalidField {
                field: Field::Id,
                reason: "contains NUL",
            });
        }
        self.id = Some(id);
        Ok(self)
    }

    /// The same event, also telling the client its reconnection delay.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The event name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The data.
    pub fn data(&self) -> &str {
        self.data.as_str()
    }

    /// The id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_ref().map(Text::as_str)
    }

    /// The retry delay, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }
}

/// Which field of a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The `event:` name.
    EventName,
    /// The `id:`.
    Id,
}

/// A field value that would change what a client parses; see the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    field: Field,
    reason: &'static str,
}

impl InvalidField {
    /// The refused field.
    pub fn field(&self) -> Field {
        self.field
    }
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.field {
            Field::EventName => "event name",
            Field::Id => "event id",
        };
        write!(
            f,
            "{field} {}; it would change what the client parses",
            self.reason
        )
    }
}

impl std::error::Error for InvalidField {}

fn check_no_line_break(field: Field, text: &Text) -> Result<(), InvalidField> {
    if text.as_str().contains(['\r', '\n']) {
        return Err(InvalidField {
            field,
            reason: "contains a line break (CR or LF)",
        });
    }
    Ok(())
}

impl SseMessage {
    /// Data with no event name (the client sees a `message` event).
    pub fn data(data: impl Into<Text>) -> Self {
        SseMessage::Data(data.into())
    }

    /// Binary data, base64-encoded (standard alphabet, padded), as http4k's
    /// `SseMessage.Data(ByteArray)` does: SSE is a text protocol.
    pub fn bytes(data: impl AsRef<[u8]>) -> Self {
        SseMessage::Data(
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .into(),
        )
    }

    /// A named event; fails if the name holds CR or LF.
    pub fn event(name: impl Into<Text>, data: impl Into<Text>) -> Result<Self, InvalidField> {
        SseEvent::new(name, data).map(SseMessage::Event)
    }

    /// A reconnection delay for the client.
    pub fn retry(delay: Duration) -> Self {
        SseMessage::Retry(delay)
    }

    /// A comment; clients ignore it. Line breaks start new comment lines.
    pub fn comment(text: impl Into<Text>) -> Self {
        SseMessage::Comment(text.into())
    }

    /// An id for this message; a [`Data`](SseMessage::Data) message becomes a
    /// `message` event. Fails on CR, LF or NUL, or for messages that carry no
    /// event ([`Retry`](SseMessage::Retry), [`Ping`](SseMessage::Ping),
    /// [`Comment`](SseMessage::Comment)) and so cannot carry an id.
    pub fn with_id(self, id: impl Into<Text>) -> Result<Self, InvalidField> {
        match self {
            SseMessage::Data(data) => SseEvent::new("message", data)?
                .with_id(id)
                .map(SseMessage::Event),
            SseMessage::Event(event) => event.with_id(id).map(SseMessage::Event),
            _ => Err(InvalidField {
                field: Field::Id,
                reason: "cannot be set on a retry, ping or comment",
            }),
        }
    }

    /// The message as it goes on the wire.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut buf);
        buf.freeze()
    }

    /// Appends the wire form to `buf`.
    pub fn encode_into(&self, buf: &mut BytesMut) {
        match self {
            SseMessage::Data(data) => write_data(buf, data.as_str()),
            SseMessage::Event(event) => {
                write_field(buf, "event", event.name());
                if let Some(id) = event.id() {
                    write_field(buf, "id", id);
                }
                if let Some(retry) = event.retry {
                    write_retry(buf, retry);
                }
                write_data(buf, event.data());
            }
            SseMessage::Retry(delay) => write_retry(buf, *delay),
            SseMessage::Ping => buf.put_slice(b":\n"),
            SseMessage::Comment(text) => {
                for line in lines(text.as_str()) {
                    write_field(buf, "", line);
                }
            }
        }
        // The blank line that ends (and dispatches) the message.
        buf.put_u8(b'\n');
    }

    fn encoded_len_hint(&self) -> usize {
        let text = match self {
            SseMessage::Data(t) | SseMessage::Comment(t) => t.0.len(),
            SseMessage::Event(e) => {
                e.name.0.len() + e.data.0.len() + e.id.as_ref().map_or(0, |i| i.0.len()) + 40
            }
            SseMessage::Retry(_) | SseMessage::Ping => 0,
        };
        text + 32
    }
}

#[cfg(feature = "json")]
impl SseMessage {
    /// Data holding `value` as JSON (the `json` feature).
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(SseMessage::data)
    }

    /// A named event holding `value` as JSON (the `json` feature). JSON never
    /// contains a raw line break, so the data is always one `data:` line.
    pub fn json_event<T: serde::Serialize + ?Sized>(
        name: impl Into<Text>,
        value: &T,
    ) -> Result<Self, JsonEventError> {
        let data = serde_json::to_string(value).map_err(JsonEventError::Json)?;
        SseMessage::event(name, data).map_err(JsonEventError::Field)
    }
}

/// Why [`SseMessage::json_event`] failed (the `json` feature).
#[cfg(feature = "json")]
#[derive(Debug)]
pub enum JsonEventError {
    /// The value did not serialize.
    Json(serde_json::Error),
    /// The event name was refused.
    Field(InvalidField),
}

#[cfg(feature = "json")]
impl fmt::Display for JsonEventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonEventError::Json(e) => write!(f, "could not serialize the event data: {e}"),
            JsonEventError::Field(e) => e.fmt(f),
        }
    }
}

#[cfg(feature = "json")]
impl std::error::Error for JsonEventError {}

impl From<SseEvent> for SseMessage {
    fn from(event: SseEvent) -> Self {
        SseMessage::Event(event)
    }
}

/// Splits on CRLF, CR and LF, the three line breaks the parser knows.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn write_data(buf: &mut BytesMut, data: &str) {
    for line in lines(data) {
        write_field(buf, "data", line);
    }
}

/// One `name: value` line; the empty name makes a comment line.
fn write_field(buf: &mut BytesMut, name: &str, value: &str) {
    buf.put_slice(name.as_bytes());
    buf.put_slice(b": ");
    buf.put_slice(value.as_bytes());
    buf.put_u8(b'\n');
}

fn write_retry(buf: &mut BytesMut, delay: Duration) {
    let millis = delay.as_millis().to_string();
    write_field(buf, "retry", &millis);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(message: &SseMessage) -> String {
        String::from_utf8(message.encode().to_vec()).unwrap()
    }

    #[test]
    fn encodes_each_kind_of_message() {
        let cases: &[(SseMessage, &str)] = &[
            (SseMessage::data("hi"), "data: hi\n\n"),
            (SseMessage::data(""), "data: \n\n"),
            (SseMessage::data(" lead"), "data:  lead\n\n"),
            (SseMessage::data("a\nb"), "data: a\ndata: b\n\n"),
            (SseMessage::data("a\r\nb"), "data: a\ndata: b\n\n"),
            (SseMessage::data("a\rb"), "data: a\ndata: b\n\n"),
            (SseMessage::data("a\n"), "data: a\ndata: \n\n"),
            (SseMessage::data("\r\r\n"), "data: \ndata: \ndata: \n\n"),
            (SseMessage::data("é✓"), "data: é✓\n\n"),
            (SseMessage::bytes([0u8, 255, 10]), "data: AP8K\n\n"),
            (
                SseMessage::event("tick", "1").unwrap(),
                "event: tick\ndata: 1\n\n",
            ),
            (
                SseMessage::event("tick", "").unwrap().with_id("").unwrap(),
                "event: tick\nid: \ndata: \n\n",
            ),
            (
                SseEvent::new("e", "x")
                    .unwrap()
                    .with_id("7")
                    .unwrap()
                    .with_retry(Duration::from_millis(1500))
                    .into(),
                "event: e\nid: 7\nretry: 1500\ndata: x\n\n",
            ),
            (
                SseMessage::data("x").with_id("1").unwrap(),
                "event: message\nid: 1\ndata: x\n\n",
            ),
            (SseMessage::retry(Duration::from_secs(3)), "retry: 3000\n\n"),
            (SseMessage::Ping, ":\n\n"),
            (SseMessage::comment("hi"), ": hi\n\n"),
            (SseMessage::comment("a\nb"), ": a\n: b\n\n"),
        ];
        for (message, expected) in cases {
            assert_eq!(wire(message), *expected, "{message:?}");
        }
    }

    #[test]
    fn refuses_fields_that_would_change_parsing() {
        let refused: Vec<Result<SseMessage, InvalidField>> = vec![
            SseMessage::event("a\nb", "x"),
            SseMessage::event("a\rb", "x"),
            SseMessage::data("x").with_id("1\n"),
            SseMessage::data("x").with_id("\r"),
            SseMessage::data("x").with_id("a\0b"),
            SseMessage::Ping.with_id("1"),
            SseMessage::retry(Duration::ZERO).with_id("1"),
        ];
        for result in refused {
            let error = result.expect_err("must be refused");
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(
            SseMessage::event("a\nb", "").unwrap_err().field(),
            Field::EventName
        );
    }

    #[test]
    fn clones_share_the_text() {
        let message = SseMessage::data("x".repeat(1000));
        let copy = message.clone();
        let (SseMessage::Data(a), SseMessage::Data(b)) = (&message, &copy) else {
            unreachable!()
        };
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_messages() {
        #[derive(serde::Serialize)]
        struct Token<'a> {
            text: &'a str,
        }
        let message = SseMessage::json_event("token", &Token { text: "a\nb" }).unwrap();
        assert_eq!(
            wire(&message),
            "event: token\ndata: {\"text\":\"a\\nb\"}\n\n"
        );
        assert_eq!(wire(&SseMessage::json(&[1, 2]).unwrap()), "data: [1,2]\n\n");
    }
}

//! The load tool's client side: raw HTTP/1.1 subscribers over loopback
//! (source addresses spread over 127.0.0.2–127.0.0.20), a chunked-body and
//! SSE frame decoder, and a keep-alive connection for `POST /publish`.

use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, Interest};
use tokio::net::{TcpSocket, TcpStream};

/// How many source addresses connections are spread over.
const SOURCES: u32 = 19;

/// The source address of connection `index`: 127.0.0.2 to 127.0.0.20.
pub fn source_addr(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (index as u32 % SOURCES) as u8)
}

/// An open event stream: the socket, and the body bytes already read with
/// the response head.
pub struct Subscriber {
    /// The socket.
    pub stream: TcpStream,
    /// Body bytes read along with the head.
    pub leftover: Vec<u8>,
}

/// Connects subscriber `index` to `GET /events` and reads the response head.
pub async fn subscribe(addr: SocketAddr, index: usize) -> io::Result<Subscriber> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source_addr(index), 0)))?;
    let mut stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let (head, leftover) = read_head(&mut stream).await?;
    if !head.starts_with("HTTP/1.1 200") || !head.to_ascii_lowercase().contains("chunked") {
        return Err(io::Error::other(format!("unexpected response: {head}")));
    }
    Ok(Subscriber { stream, leftover })
}

async fn read_head(stream: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok((head, buf[end + 4..].to_vec()));
        }
        if buf.len() > 16 * 1024 {
            return Err(io::Error::other("response head too large"));
        }
    }
}

/// A keep-alive connection that asks the server to publish.
pub struct Publisher {
    stream: TcpStream,
}

impl Publisher {
    /// Connects from 127.0.0.1.
    pub async fn connect(addr: SocketAddr) -> io::Result<Publisher> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Publisher { stream })
    }

    /// Publishes events `seq..seq + n` and waits for the `204`.
    pub async fn publish(&mut self, seq: u64, n: u64) -> io::Result<()> {
        let request = format!(
            "POST /publish?seq={seq}&n={n} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n"
        );
        self.stream.write_all(request.as_bytes()).await?;
        let (head, rest) = read_head(&mut self.stream).await?;
        if !head.starts_with("HTTP/1.1 204") || !rest.is_empty() {
            return Err(io::Error::other(format!("publish answered: {head}")));
        }
        Ok(())
    }
}

/// Decodes a chunked body into SSE frames.
#[derive(Default)]
pub struct Decoder {
    state: ChunkState,
    size: usize,
    pending: Vec<u8>,
    scanned: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Done,
}

/// One SSE frame's meaning to the load tool.
pub enum Frame<'a> {
    /// A comment (keep-alive).
    Comment,
    /// An event, with its `data:` value.
    Event(&'a [u8]),
}

impl Decoder {
    /// Feeds raw body bytes; calls `on_frame` for each complete frame.
    /// Returns false once the body has ended.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(Frame<'_>)) -> bool {
        while !bytes.is_empty() {
            match self.state {
                ChunkState::Size => {
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    match b {
                        b'0'..=b'9' => self.size = self.size * 16 + usize::from(b - b'0'),
                        b'a'..=b'f' => self.size = self.size * 16 + usize::from(b - b'a' + 10),
                        b'A'..=b'F' => self.size = self.size * 16 + usize::from(b - b'A' + 10),
                        b'\r' => self.state = ChunkState::SizeLf,
                        _ => {}
                    }
                }
                ChunkState::SizeLf => {
                    bytes = &bytes[1..];
                    self.state = if self.size == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Data
                    };
                }
                ChunkState::Data => {
                    let take = self.size.min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    self.size -= take;
                    if self.size == 0 {
                        self.state = ChunkState::DataCr;
                    }
                }
                ChunkState::DataCr => {
                    bytes = &bytes[1..];
                    self.state = ChunkState::DataLf;
                }
                ChunkState::DataLf => {
                    bytes = &bytes[1..];
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => break,
            }
        }
        self.frames(&mut on_frame);
        self.state != ChunkState::Done
    }

    fn frames(&mut self, on_frame: &mut impl FnMut(Frame<'_>)) {
        let mut start = 0;
        let from = self.scanned.saturating_sub(1);
        let mut search = from;
        while let Some(at) = memchr::memmem::find(&self.pending[search..], b"\n\n") {
            let end = search + at + 2;
            let frame = &self.pending[start..end];
            if frame.first() == Some(&b':') {
                on_frame(Frame::Comment);
            } else {
                let data = memchr::memmem::find(frame, b"data: ")
                    .map(|i| {
                        let value = &frame[i + 6..];
                        let stop = memchr::memchr(b'\n', value).unwrap_or(value.len());
                        &value[..stop]
                    })
                    .unwrap_or(&[]);
                on_frame(Frame::Event(data));
            }
            start = end;
            search = end;
        }
        self.pending.drain(..start);
        self.scanned = self.pending.len();
    }
}

/// The sequence number at the start of a benchmark payload.
pub fn payload_seq(data: &[u8]) -> Option<u64> {
    let digits = data.get(..20)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Turns on kernel receive timestamps for a socket.
pub fn enable_rx_timestamps(stream: &TcpStream) -> io::Result<()> {
    setsockopt(stream, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// Reads into `buf`; returns the byte count and the kernel's receive time of
/// the data (nanoseconds since the Unix epoch), or the time now when the
/// kernel gave none.
pub async fn read_timestamped(stream: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, u64)> {
    loop {
        stream.readable().await?;
        let fd = stream.as_raw_fd();
        let result = stream.try_io(Interest::READABLE, || {
            let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
            let mut iov = [IoSliceMut::new(buf)];
            let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
                .map_err(io::Error::from)?;
            let mut at = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        at = Some(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64);
                    }
                }
            }
            Ok((msg.bytes, at.unwrap_or_else(now_ns)))
        });
        match result {
            Ok(read) => return Ok(read),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Nanoseconds since the Unix epoch (the clock of kernel timestamps).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_reassembles_frames_across_chunks_and_reads() {
        // One comment and one event, cut into chunks at awkward places.
        let pieces: [&[u8]; 3] = [b":\n\nid", b": 1\ndata: 00000000000000000042|x", b"\n\n"];
        let mut body = Vec::new();
        for piece in pieces {
            body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            body.extend_from_slice(piece);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        // Every split point gives the same frames.
        for split in 0..body.len() {
            let mut decoder = Decoder::default();
            let mut comments = 0;
            let mut seqs = Vec::new();
            let mut on_frame = |frame: Frame<'_>| match frame {
                Frame::Comment => comments += 1,
                Frame::Event(data) => seqs.push(payload_seq(data)),
            };
            let first = decoder.feed(&body[..split], &mut on_frame);
            // The body ends at the last chunk's size line.
            assert_eq!(first, split < body.len() - 2, "split at {split}");
            let open = decoder.feed(&body[split..], &mut on_frame);
            assert!(!open, "the last chunk ends the body");
            assert_eq!(comments, 1, "split at {split}");
            assert_eq!(seqs, vec![Some(42)], "split at {split}");
        }
    }

    #[test]
    fn payload_is_64_bytes_and_reads_back() {
        let payload = crate::proc::payload(7);
        assert_eq!(payload.len(), crate::proc::PAYLOAD_BYTES);
        assert_eq!(payload_seq(payload.as_bytes()), Some(7));
    }
}

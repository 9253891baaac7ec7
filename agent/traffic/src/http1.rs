//! HTTP/1.1 message framing: finds where requests and responses begin and end in a byte stream, and nothing
//! more. Bytes are never rewritten; bodies are walked, not buffered, so a 50 MB body costs no memory. Both the
//! capture proxy (to cut the stream it forwards) and the readers of captures (to pair requests with responses)
//! use it.
//!
//! [`Framer::next`] consumes input up to the next boundary and reports it, so callers forward or record exactly
//! the consumed slice and act on the event. Incomplete input is not an error: the framer keeps the partial head
//! and asks for more.

use std::fmt;

/// Heads (request/status line plus headers) larger than this are rejected: real clients stay far below it.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Why bytes are not HTTP/1.1 this framer can follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed HTTP/1.1 {what} at byte {offset} of the message: {reason}")]
pub struct ParseError {
    /// `request` or `response`.
    pub what: &'static str,
    /// Offset within the current message where the problem was seen.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`, up to and including the trailers' final empty line.
    Chunked,
    /// Everything until the sender closes the connection (responses without a length).
    UntilClose,
}

/// The parts of a message head the framing depends on, plus what inspection tools show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Request method (empty for responses).
    pub method: String,
    /// Request target (empty for responses).
    pub target: String,
    /// Response status (0 for requests).
    pub status: u16,
    /// Length of the first line including its line ending.
    pub first_line_len: usize,
    /// Length of the whole head including the blank line that ends it.
    pub head_len: usize,
    /// How the body that follows is delimited.
    pub body: BodyKind,
    /// The request carries `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The request asks to leave HTTP/1.1 (`CONNECT`, or an `Upgrade` header): the proxy refuses these.
    pub wants_tunnel: bool,
    /// `Connection: close` was sent, or HTTP/1.0 without keep-alive.
    pub close: bool,
    /// Header names and values, in order (values as raw bytes made lossy UTF-8).
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A 1xx response other than 101: an interim answer that the final response of the same request follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// A boundary found by [`Framer::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A head was completed by the consumed bytes.
    Head(Head),
    /// The message (head and body) ended with the consumed bytes.
    End,
}

/// Outcome of one [`Framer::next`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// How many input bytes belong to the current message up to `event` (all of them when `event` is `None`).
    pub consumed: usize,
    /// The boundary reached, if any.
    pub event: Option<Event>,
}

/// Which side of the exchange a framer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Client to server.
    Request,
    /// Server to client.
    Response,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; the value so far and whether any digit was seen.
    Size(u64, bool),
    /// In a chunk extension, skipping to the line end; the size read.
    Extension(u64),
    /// Saw CR after the size line.
    SizeLf(u64),
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR at the start of a trailer line: LF ends the message.
    FinalLf,
}

#[derive(Debug, Clone)]
enum State {
    Head(Vec<u8>),
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Incremental framer for one direction of one connection.
#[derive(Debug, Clone)]
pub struct Framer {
    side: Side,
    state: State,
    /// Bytes consumed of the current message, for error offsets.
    offset: u64,
    /// For responses: the request being answered was `HEAD` (its response has no body).
    head_request: bool,
}

impl Framer {
    /// A framer at the start of a message.
    pub fn new(side: Side) -> Framer {
        Framer { side, state: State::Head(Vec::new()), offset: 0, head_request: false }
    }

    /// For a response framer: the next response answers a `HEAD` request (no body whatever the headers say).
    pub fn expect_head_response(&mut self, head_request: bool) {
        self.head_request = head_request;
    }

    /// True between messages or inside a head (nothing of a body pending).
    pub fn in_head(&self) -> bool {
        matches!(self.state, State::Head(_))
    }

    /// True when no byte of the next message has been seen.
    pub fn at_message_start(&self) -> bool {
        matches!(&self.state, State::Head(buf) if buf.is_empty())
    }

    /// Whether the current body runs until the connection closes.
    pub fn until_close(&self) -> bool {
        matches!(self.state, State::UntilClose)
    }

    /// Consumes `input` up to the next boundary. `consumed` is never 0 for non-empty input unless an error is
    /// returned; after an error the framer must not be used again for this connection.
    pub fn next(&mut self, input: &[u8]) -> Result<Step, ParseError> {
        let step =
            match &mut self.state {
                State::Head(buf) => {
                    // Only the bytes needed to finish the head are taken, so a body or a pipelined message in the
                    // same read stays for the next call.
                    let before = buf.len();
                    let scan_from = before.saturating_sub(3);
                    let take = input.len().min(MAX_HEAD_BYTES.saturating_sub(before).saturating_add(1));
                    buf.extend_from_slice(input.get(..take).unwrap_or(input));
                    match find_head_end(buf, scan_from) {
                        Some(end) => {
                            let consumed = end.saturating_sub(before);
                            buf.truncate(end);
                            let bytes = std::mem::take(buf);
                            let head = parse_head(self.side, &bytes, self.head_request)
                                .map_err(|reason| ParseError { what: self.side.name(), offset: 0, reason })?;
                            self.state = match head.body {
                                BodyKind::Empty => State::Head(Vec::new()),
                                BodyKind::Length(n) => State::Length(n),
                                BodyKind::Chunked => State::Chunked(Chunk::Size(0, false)),
                                BodyKind::UntilClose => State::UntilClose,
                            };
                            Step { consumed, event: Some(Event::Head(head)) }
                        }
                        None if buf.len() > MAX_HEAD_BYTES => {
                            let reason = format!("head longer than {MAX_HEAD_BYTES} bytes");
                            return Err(ParseError { what: self.side.name(), offset: buf.len() as u64, reason });
                        }
                        None => Step { consumed: take, event: None },
                    }
                }
                State::Length(left) => {
                    let n = (input.len() as u64).min(*left);
                    *left -= n;
                    let consumed = usize::try_from(n).unwrap_or(input.len());
                    if *left == 0 {
                        self.state = State::Head(Vec::new());
                        Step { consumed, event: Some(Event::End) }
                    } else {
                        Step { consumed, event: None }
                    }
                }
                State::Chunked(chunk) => {
                    let (consumed, done) = advance_chunked(chunk, input).map_err(|(at, reason)| {
                        let offset = self.offset.saturating_add(at as u64);
                        ParseError { what: self.side.name(), offset, reason }
                    })?;
                    if done {
                        self.state = State::Head(Vec::new());
                        Step { consumed, event: Some(Event::End) }
                    } else {
                        Step { consumed, event: None }
                    }
                }
                State::UntilClose => Step { consumed: input.len(), event: None },
            };
        let ended = matches!(step.event, Some(Event::End)) || (step.event.is_some() && self.at_message_start());
        self.offset = if ended { 0 } else { self.offset.saturating_add(step.consumed as u64) };
        Ok(step)
    }

    /// Whether a message that just produced `Head` already ended (it has no body).
    pub fn message_done(&self) -> bool {
        self.at_message_start()
    }
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.windows(4).position(|w| w == b"\r\n\r\n").map(|p| from + p + 4)
}

/// Walks chunked encoding; returns bytes consumed and whether the message ended (error: offset and reason).
fn advance_chunked(chunk: &mut Chunk, input: &[u8]) -> Result<(usize, bool), (usize, String)> {
    let mut i = 0;
    while i < input.len() {
        if let Chunk::Data(left) = chunk {
            let n = ((input.len() - i) as u64).min(*left);
            *left -= n;
            i += usize::try_from(n).unwrap_or(0);
            if *left == 0 {
                *chunk = Chunk::DataCr;
            }
            continue;
        }
        let byte = input.get(i).copied().unwrap_or(0);
        i += 1;
        *chunk = match (*chunk, byte) {
            (Chunk::Size(size, _), b) if b.is_ascii_hexdigit() => {
                let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                let size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or_else(|| (i - 1, "chunk size overflows 64 bits".to_string()))?;
                Chunk::Size(size, true)
            }
            (Chunk::Size(size, true), b';' | b' ' | b'\t') => Chunk::Extension(size),
            (Chunk::Size(size, true), b'\r') | (Chunk::Extension(size), b'\r') => Chunk::SizeLf(size),
            (Chunk::Extension(size), _) => Chunk::Extension(size),
            (Chunk::SizeLf(0), b'\n') => Chunk::TrailerStart,
            (Chunk::SizeLf(size), b'\n') => Chunk::Data(size),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Size(0, false),
            (Chunk::TrailerStart, b'\r') => Chunk::FinalLf,
            (Chunk::FinalLf, b'\n') => return Ok((i, true)),
            (Chunk::TrailerStart | Chunk::TrailerLine, b'\n') => Chunk::TrailerStart,
            (Chunk::TrailerStart | Chunk::TrailerLine, _) => Chunk::TrailerLine,
            (state, b) => return Err((i - 1, format!("unexpected byte 0x{b:02x} in chunked body ({state:?})"))),
        };
    }
    Ok((i, false))
}

fn parse_head(side: Side, bytes: &[u8], head_request: bool) -> Result<Head, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let first_line_len = first.len() + 2;
    let mut head = Head {
        method: String::new(),
        target: String::new(),
        status: 0,
        first_line_len,
        head_len: bytes.len(),
        body: BodyKind::Empty,
        expect_continue: false,
        wants_tunnel: false,
        close: false,
        headers: Vec::new(),
    };
    let mut parts = first.split(' ');
    let version = match side {
        Side::Request => {
            let (method, target, version) = (parts.next(), parts.next(), parts.next());
            match (method, target, version, parts.next()) {
                (Some(m), Some(t), Some(v), None) if is_token(m) && !t.is_empty() => {
                    head.method = m.to_string();
                    head.target = t.to_string();
                    v
                }
                _ => return Err(format!("bad request line {:?}", Shorten(first))),
            }
        }
        Side::Response => {
            let (version, status) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            head.status = match status.parse::<u16>() {
                Ok(s) if status.len() == 3 && (100..1000).contains(&s) => s,
                _ => return Err(format!("bad status line {:?}", Shorten(first))),
            };
            version
        }
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(format!("unsupported protocol version {:?}", Shorten(version))),
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut keep_alive = false;
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = match line.split_once(':') {
            Some((n, v)) if is_token(n) => (n, v.trim_matches([' ', '\t'])),
            _ => return Err(format!("bad header line {:?}", Shorten(line))),
        };
        if name.eq_ignore_ascii_case("content-length") {
            for v in value.split(',').map(str::trim) {
                let n = v
                    .parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("bad Content-Length {:?}", Shorten(value)))?;
                if length.is_some_and(|l| l != n) {
                    return Err("conflicting Content-Length headers".to_string());
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            chunked = value.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                head.close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                head.wants_tunnel |= side == Side::Request && token.eq_ignore_ascii_case("upgrade");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue = value.eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("upgrade") {
            head.wants_tunnel |= side == Side::Request;
        }
        head.headers.push((name.to_string(), value.to_string()));
    }
    head.close |= http10 && !keep_alive;
    if transfer_encoding && length.is_some() {
        // Both framings at once is the request-smuggling pattern; the bytes cannot be forwarded safely as-is.
        return Err("both Transfer-Encoding and Content-Length".to_string());
    }
    head.wants_tunnel |= side == Side::Request && head.method.eq_ignore_ascii_case("CONNECT");
    head.body = match side {
        Side::Request if transfer_encoding && !chunked => {
            return Err("request Transfer-Encoding does not end in chunked".to_string())
        }
        Side::Response if head_request || head.status < 200 || head.status == 204 || head.status == 304 => {
            if head.status == 101 {
                BodyKind::UntilClose
            } else {
                BodyKind::Empty
            }
        }
        _ if chunked => BodyKind::Chunked,
        _ => match (side, length) {
            (_, Some(0)) => BodyKind::Empty,
            (_, Some(n)) => BodyKind::Length(n),
            (Side::Request, None) => BodyKind::Empty,
            (Side::Response, None) => BodyKind::UntilClose,
        },
    };
    Ok(head)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Debug-prints at most 80 characters of untrusted text in error messages.
struct Shorten<'a>(&'a str);

impl fmt::Debug for Shorten<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.0.char_indices().nth(80).map_or(self.0.len(), |(i, _)| i);
        fmt::Debug::fmt(self.0.get(..end).unwrap_or_default(), f)
    }
}

//! Rebuilds a connection's request/response exchanges from its records: reads up to each end-of-message form
//! a request, and the response byte stream is cut with the HTTP/1.1 framer, answering requests in order.

use crate::http1::{Event, Framer, Head, ParseError, Side};
use crate::{Capture, Timestamp, TrafficStream};

/// One request and its response as the client saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exchange {
    /// The request bytes exactly as the client sent them.
    pub request: Vec<u8>,
    /// The parsed request head, when the request bytes start with one.
    pub request_head: Option<Head>,
    /// The response bytes exactly as the client received them (interim 1xx responses included).
    pub response: Vec<u8>,
    /// The final response's head, when one was seen.
    pub response_head: Option<Head>,
    /// When the first request byte was read.
    pub request_start: Option<Timestamp>,
    /// When the request was complete.
    pub request_end: Option<Timestamp>,
    /// When the first response byte was written.
    pub response_start: Option<Timestamp>,
    /// When the last response byte was written.
    pub response_end: Option<Timestamp>,
    /// The response ended cleanly (false: the connection ended first).
    pub complete: bool,
}

/// Everything recovered from one connection's records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connection {
    /// The connection id shared by its records.
    pub id: String,
    /// The exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// Requests the capture deliberately left out (suppressed, or dropped under back-pressure).
    pub dropped: u64,
    /// Error observations on the connection, in order.
    pub errors: Vec<String>,
    /// Request bytes read after the last end-of-message (a request cut off by the connection's end).
    pub unterminated_request: Vec<u8>,
    /// The connection's last record was seen.
    pub closed: bool,
    /// Response bytes the framer could not follow (the proxy forwarded them opaquely).
    pub unframed_response: Vec<u8>,
}

/// Incremental assembler for one connection: feed its records in sequence order.
#[derive(Debug)]
pub struct Assembler {
    connection: Connection,
    /// Request being read.
    reading: Exchange,
    /// Exchanges whose request is complete and whose response is not, oldest first.
    waiting: std::collections::VecDeque<Exchange>,
    responses: Framer,
    response_error: Option<ParseError>,
}

impl Assembler {
    /// An assembler for the connection `id`.
    pub fn new(id: &str) -> Assembler {
        Assembler {
            connection: Connection { id: id.to_string(), ..Connection::default() },
            reading: Exchange::default(),
            waiting: std::collections::VecDeque::new(),
            responses: Framer::new(Side::Response),
            response_error: None,
        }
    }

    /// Adds one record's observations.
    pub fn push(&mut self, record: &TrafficStream) {
        for observation in &record.sub_stream {
            let ts = observation.ts;
            match &observation.capture {
                Some(Capture::Read(r)) => self.read(ts, &r.data),
                Some(Capture::ReadSegment(r)) => self.read(ts, &r.data),
                Some(Capture::EndOfMessageIndicator(_)) => {
                    let mut exchange = std::mem::take(&mut self.reading);
                    exchange.request_end = ts;
                    exchange.request_head = head_of(&exchange.request);
                    self.waiting.push_back(exchange);
                    if self.waiting.len() == 1 {
                        self.expect_next_response();
                    }
                }
                Some(Capture::RequestDropped(_)) => {
                    self.reading = Exchange::default();
                    self.connection.dropped += 1;
                }
                Some(Capture::Write(w)) => self.write(ts, &w.data),
                Some(Capture::WriteSegment(w)) => self.write(ts, &w.data),
                Some(Capture::ConnectionException(e)) => self.connection.errors.push(e.message.clone()),
                _ => {}
            }
        }
        self.connection.closed |= record.is_last();
    }

    /// Ends the connection and returns what was recovered.
    pub fn finish(mut self) -> Connection {
        if self.responses.until_close() {
            // A response delimited by the connection's end is complete exactly now.
            if let Some(exchange) = self.waiting.front_mut() {
                exchange.complete = true;
            }
        }
        let waiting = std::mem::take(&mut self.waiting);
        self.connection.exchanges.extend(waiting);
        self.connection.unterminated_request = self.reading.request;
        if let Some(e) = self.response_error {
            self.connection.errors.push(e.to_string());
        }
        self.connection
    }

    fn read(&mut self, ts: Option<Timestamp>, data: &[u8]) {
        if self.reading.request_start.is_none() {
            self.reading.request_start = ts;
        }
        self.reading.request.extend_from_slice(data);
    }

    fn expect_next_response(&mut self) {
        let head_request = self
            .waiting
            .front()
            .and_then(|e| e.request_head.as_ref())
            .is_some_and(|h| h.method.eq_ignore_ascii_case("HEAD"));
        self.responses.expect_head_response(head_request);
    }

    fn write(&mut self, ts: Option<Timestamp>, mut data: &[u8]) {
        while !data.is_empty() {
            if self.response_error.is_some() || self.waiting.is_empty() {
                self.connection.unframed_response.extend_from_slice(data);
                return;
            }
            let step = match self.responses.next(data) {
                Ok(step) => step,
                Err(e) => {
                    self.response_error = Some(e);
                    continue;
                }
            };
            let (part, rest) = data.split_at(step.consumed.min(data.len()));
            data = rest;
            let Some(exchange) = self.waiting.front_mut() else { continue };
            if exchange.response_start.is_none() {
                exchange.response_start = ts;
            }
            exchange.response_end = ts;
            exchange.response.extend_from_slice(part);
            let done = match step.event {
                Some(Event::Head(head)) => {
                    let interim = head.is_interim();
                    exchange.response_head = Some(head);
                    !interim && self.responses.message_done()
                }
                Some(Event::End) => true,
                None => false,
            };
            if done {
                if let Some(mut exchange) = self.waiting.pop_front() {
                    exchange.complete = true;
                    self.connection.exchanges.push(exchange);
                }
                self.expect_next_response();
            }
        }
    }
}

fn head_of(request: &[u8]) -> Option<Head> {
    let mut framer = Framer::new(Side::Request);
    match framer.next(request) {
        Ok(step) => match step.event {
            Some(Event::Head(head)) => Some(head),
            _ => None,
        },
        Err(_) => None,
    }
}

/// Groups records by connection and assembles each, in first-seen order of connections. Records of a
/// connection must be given in sequence order (as one log or one Kafka partition yields them).
pub fn assemble<'a>(records: impl IntoIterator<Item = &'a TrafficStream>) -> Vec<Connection> {
    let mut order: Vec<String> = Vec::new();
    let mut assemblers: std::collections::HashMap<String, Assembler> = std::collections::HashMap::new();
    for record in records {
        let assembler = assemblers.entry(record.connection_id.clone()).or_insert_with(|| {
            order.push(record.connection_id.clone());
            Assembler::new(&record.connection_id)
        });
        assembler.push(record);
    }
    order.into_iter().filter_map(|id| assemblers.remove(&id)).map(Assembler::finish).collect()
}

//! Rebuilds a connection's request/response exchanges from its records: reads up to each end-of-message form
//! a request, and the response byte stream is cut with the HTTP/1.1 framer, answering requests in order.
//!
//! [`Assembler`] works incrementally, so a replayer can take each exchange as soon as it is complete
//! ([`Assembler::take_exchanges`]) while the connection goes on. Captures are not always whole: a capture (or a
//! replay resuming from a checkpoint) may begin in the middle of a connection, records may be missing, and the
//! proxy may leave requests out. The assembler never waits for bytes that cannot come: a request whose start
//! was not captured is marked [`Exchange::partial`], a missing record or a `requestDropped` marker ends the
//! pairing of the requests still waiting (their responses are marked incomplete), and response bytes the framer
//! cannot follow no longer hold requests back.

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
    /// The response ended cleanly (false: the connection ended first, or the response was not captured).
    pub complete: bool,
    /// The request's number within its connection (0 for the first request the client sent), counted from
    /// the records' `priorRequestsReceived` when they carry it, so it stays the same when a reader starts in
    /// the middle of a connection.
    pub number: u64,
    /// The request's first bytes were not captured (the capture or the reader started in the middle of it, or
    /// a record is missing): the bytes here are a fragment that must not be replayed.
    pub partial: bool,
    /// Index, among the records pushed to the [`Assembler`], of the record in which the request began: a
    /// replayer holds that record (its commit point) until the exchange is done.
    pub first_record: u64,
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
    /// Response bytes the framer could not follow (the proxy forwarded them opaquely, or they answer a request
    /// that was not captured).
    pub unframed_response: Vec<u8>,
    /// Records missing from the sequence (a jump in record numbers); each ends the pairing in progress.
    pub missing_records: u64,
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
    /// Number of the next request to complete.
    next_number: u64,
    /// The request being read began before the first byte this assembler saw.
    reading_partial: bool,
    /// Sequence number of the last record pushed.
    last_sequence: Option<i32>,
    /// No request has ended since the first record or the last gap in the records.
    after_gap: bool,
    /// Records pushed so far.
    records: u64,
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
            next_number: 0,
            reading_partial: false,
            last_sequence: None,
            after_gap: true,
            records: 0,
        }
    }

    /// Adds one record's observations. Records must come in sequence order; a record whose number does not
    /// follow the previous one's is taken to follow lost records (see [`Connection::missing_records`]).
    pub fn push(&mut self, record: &TrafficStream) {
        self.records = self.records.saturating_add(1);
        self.start_record(record);
        if self.reading_partial && self.reading.request.is_empty() {
            self.reading.first_record = self.current_record();
        }
        for observation in &record.sub_stream {
            let ts = observation.ts;
            match &observation.capture {
                Some(Capture::Read(r)) => self.read(ts, &r.data),
                Some(Capture::ReadSegment(r)) => self.read(ts, &r.data),
                Some(Capture::EndOfMessageIndicator(_)) => {
                    let mut exchange = std::mem::take(&mut self.reading);
                    exchange.request_end = ts;
                    exchange.request_head = head_of(&exchange.request);
                    exchange.number = self.next_number;
                    // A head-less request right after a start or a gap is a fragment; anywhere else it is
                    // what the client really sent (and a replayer should report it, not skip it).
                    let fragment = std::mem::take(&mut self.after_gap) && exchange.request_head.is_none();
                    exchange.partial = std::mem::take(&mut self.reading_partial) || fragment;
                    self.next_number = self.next_number.saturating_add(1);
                    if self.response_error.is_some() {
                        // Responses can no longer be told apart: the request is still worth replaying.
                        self.connection.exchanges.push(exchange);
                    } else {
                        self.waiting.push_back(exchange);
                        if self.waiting.len() == 1 {
                            self.expect_next_response();
                        }
                    }
                }
                Some(Capture::RequestDropped(_)) => {
                    // A suppressed request (its response is not captured either) or requests lost to a full
                    // queue; after a loss the proxy resumes between exchanges, so responses still awaited were
                    // lost with it and must not be paired with later ones.
                    self.reading = Exchange::default();
                    self.reading_partial = false;
                    self.abandon_waiting();
                    self.connection.dropped = self.connection.dropped.saturating_add(1);
                    self.next_number = self.next_number.saturating_add(1);
                }
                Some(Capture::Write(w)) => self.write(ts, &w.data),
                Some(Capture::WriteSegment(w)) => self.write(ts, &w.data),
                Some(Capture::ConnectionException(e)) => self.connection.errors.push(e.message.clone()),
                _ => {}
            }
        }
        self.connection.closed |= record.is_last();
    }

    /// Applies what a record says about where it starts: the request count so far, and whether it continues a
    /// request whose beginning this assembler may not have seen.
    fn start_record(&mut self, record: &TrafficStream) {
        let sequence = record.sequence();
        let first = self.last_sequence.is_none();
        let follows = match (self.last_sequence, sequence) {
            (Some(last), Some(now)) => last.checked_add(1) == Some(now),
            // Without numbers, order is all there is to trust.
            _ => true,
        };
        if !first && !follows {
            self.connection.missing_records = self.connection.missing_records.saturating_add(1);
            self.reading = Exchange::default();
            self.abandon_waiting();
        }
        if first || !follows {
            // Without the flag (older writers), a fragment is still caught later: it has no request head.
            self.reading_partial = record.last_observation_was_unterminated_read == Some(true);
            self.after_gap = true;
        }
        if let Some(prior) = record.prior_requests_received.and_then(|n| u64::try_from(n).ok()) {
            self.next_number = prior;
        }
        if sequence.is_some() {
            self.last_sequence = sequence;
        }
    }

    /// Gives up on the responses of the requests still waiting (they were lost): the requests are kept,
    /// marked incomplete, and the response framer starts afresh.
    fn abandon_waiting(&mut self) {
        if self.waiting.is_empty() && self.responses.at_message_start() && self.response_error.is_none() {
            return;
        }
        let waiting = std::mem::take(&mut self.waiting);
        self.connection.exchanges.extend(waiting);
        self.responses = Framer::new(Side::Response);
        self.response_error = None;
    }

    /// Takes the exchanges completed so far (in request order); later ones are returned by later calls.
    pub fn take_exchanges(&mut self) -> Vec<Exchange> {
        std::mem::take(&mut self.connection.exchanges)
    }

    /// Index of the record being pushed (or last pushed).
    fn current_record(&self) -> u64 {
        self.records.saturating_sub(1)
    }

    /// Index of the record where the oldest unfinished state began (a request awaiting its response, or the one
    /// being read), or `None` when the connection is idle. A replayer's commit point for the connection moves
    /// to that record, so connections kept open for hours do not pin it to their first record.
    pub fn unfinished_since(&self) -> Option<u64> {
        let reading = (!self.reading.request.is_empty() || self.reading_partial).then_some(self.reading.first_record);
        self.waiting.front().map(|e| e.first_record).into_iter().chain(reading).min()
    }

    /// Index of the last record pushed.
    pub fn last_record(&self) -> u64 {
        self.current_record()
    }

    /// Nothing is pending: no request is being read and none awaits its response. Between records of an idle
    /// assembler the connection is at a clean boundary.
    pub fn is_idle(&self) -> bool {
        self.unfinished_since().is_none()
    }

    /// Bytes held for requests being read or awaiting their responses, and unframed response bytes.
    pub fn buffered_bytes(&self) -> usize {
        let waiting: usize = self.waiting.iter().map(|e| e.request.len().saturating_add(e.response.len())).sum();
        waiting.saturating_add(self.reading.request.len()).saturating_add(self.connection.unframed_response.len())
    }

    /// Drops the response bytes the framer could not follow, returning how many there were (a long-running
    /// reader keeps the count, not the bytes).
    pub fn discard_unframed(&mut self) -> usize {
        std::mem::take(&mut self.connection.unframed_response).len()
    }

    /// The connection's counters so far (exchanges already taken are not in it).
    pub fn connection(&self) -> &Connection {
        &self.connection
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
        if self.reading.request.is_empty() && !self.reading_partial {
            self.reading.first_record = self.current_record();
        }
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
                    // The waiting requests will never see their responses: release them now.
                    let waiting = std::mem::take(&mut self.waiting);
                    self.connection.exchanges.extend(waiting);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        EndOfMessage, EndOfSegments, Index, Read, ReadSegment, RequestDropped, TrafficObservation, Write, WriteSegment,
    };

    fn obs(second: i64, capture: Capture) -> TrafficObservation {
        TrafficObservation::new(Timestamp { seconds: second, nanos: 0 }, capture)
    }
    fn read(data: &str) -> Capture {
        Capture::Read(Read { data: data.as_bytes().to_vec() })
    }
    fn write(data: &str) -> Capture {
        Capture::Write(Write { data: data.as_bytes().to_vec() })
    }
    fn eom() -> Capture {
        Capture::EndOfMessageIndicator(EndOfMessage::default())
    }
    fn record(number: i32, observations: Vec<Capture>) -> TrafficStream {
        TrafficStream {
            connection_id: "c".into(),
            index: Some(Index::Number(number)),
            sub_stream: observations.into_iter().map(|c| obs(i64::from(number), c)).collect(),
            ..TrafficStream::default()
        }
    }
    fn targets(exchanges: &[Exchange]) -> Vec<String> {
        exchanges.iter().map(|e| e.request_head.as_ref().map(|h| h.target.clone()).unwrap_or_default()).collect()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    #[test]
    fn an_exchange_spanning_records_is_taken_when_its_response_ends() {
        let mut a = Assembler::new("c");
        a.push(&record(0, vec![read("PUT /i/_doc/1 HTTP/1.1\r\ncontent-length: 4\r\n\r\nab")]));
        assert!(a.take_exchanges().is_empty());
        assert!(!a.is_idle());
        a.push(&record(1, vec![read("cd"), eom(), write("HTTP/1.1 201 Created\r\ncontent-le")]));
        assert!(a.take_exchanges().is_empty(), "the response is not complete yet");
        assert!(a.buffered_bytes() > 0);
        a.push(&record(2, vec![write("ngth: 2\r\n\r\nok"), write(OK)]));
        let taken = a.take_exchanges();
        assert_eq!(targets(&taken), vec!["/i/_doc/1"]);
        assert!(taken[0].complete && !taken[0].partial && taken[0].number == 0);
        assert_eq!(taken[0].request_start, Some(Timestamp { seconds: 0, nanos: 0 }));
        assert_eq!(taken[0].response_end, Some(Timestamp { seconds: 2, nanos: 0 }));
        assert!(a.is_idle(), "the extra response bytes answer nothing and do not hold anything");
        assert_eq!(a.discard_unframed(), OK.len());
    }

    #[test]
    fn unfinished_state_moves_to_the_record_where_it_began() {
        let mut a = Assembler::new("c");
        let get = |path: &str| read(&format!("GET {path} HTTP/1.1\r\n\r\n"));
        a.push(&record(0, vec![get("/a"), eom()]));
        assert_eq!((a.unfinished_since(), a.last_record()), (Some(0), 0));
        // A record that answers /a and starts /b: what is unfinished now began here.
        a.push(&record(1, vec![write(OK), get("/b"), eom()]));
        assert_eq!((a.unfinished_since(), a.last_record()), (Some(1), 1));
        // Pipelined: /c is read while /b still waits, so /b's record stays the oldest.
        a.push(&record(2, vec![get("/c"), eom()]));
        assert_eq!(a.unfinished_since(), Some(1));
        a.push(&record(3, vec![write(OK)]));
        assert_eq!(a.unfinished_since(), Some(2));
        a.push(&record(4, vec![write(OK)]));
        assert_eq!(a.unfinished_since(), None);
        assert_eq!(targets(&a.take_exchanges()), vec!["/a", "/b", "/c"]);
    }

    #[test]
    fn segments_split_across_records_are_joined() {
        let mut a = Assembler::new("c");
        let seg = |d: &str| Capture::ReadSegment(ReadSegment { data: d.as_bytes().to_vec() });
        let wseg = |d: &str| Capture::WriteSegment(WriteSegment { data: d.as_bytes().to_vec() });
        let end = || Capture::SegmentEnd(EndOfSegments {});
        a.push(&record(0, vec![seg("POST /_bulk HTTP/1.1\r\ncontent-length: 3\r\n")]));
        a.push(&record(1, vec![seg("\r\nabc"), end(), eom(), wseg("HTTP/1.1 200 OK\r\n")]));
        a.push(&record(2, vec![wseg("content-length: 2\r\n\r\nok"), end()]));
        let taken = a.take_exchanges();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].request.ends_with(b"\r\n\r\nabc") && taken[0].response.ends_with(b"ok"));
        assert_eq!(taken[0].response_head.as_ref().map(|h| h.status), Some(200));
    }

    #[test]
    fn a_capture_starting_mid_request_marks_the_fragment_partial_and_keeps_numbers() {
        let mut a = Assembler::new("c");
        let mut first = record(7, vec![read("y\"}"), eom(), write(OK), read("GET /next HTTP/1.1\r\n\r\n"), eom()]);
        first.prior_requests_received = Some(12);
        first.last_observation_was_unterminated_read = Some(true);
        a.push(&first);
        a.push(&record(8, vec![write(OK)]));
        let taken = a.take_exchanges();
        assert_eq!(taken.len(), 2);
        assert!(taken[0].partial && taken[0].complete, "the fragment is framed (its response consumed) but partial");
        assert_eq!((taken[0].number, taken[1].number), (12, 13));
        assert!(!taken[1].partial);
        assert_eq!(targets(&taken)[1], "/next");
    }

    #[test]
    fn a_capture_starting_mid_response_skips_the_orphan_bytes() {
        let mut a = Assembler::new("c");
        a.push(&record(4, vec![write("tail of an earlier response"), read("GET /a HTTP/1.1\r\n\r\n"), eom()]));
        a.push(&record(5, vec![write(OK)]));
        let taken = a.take_exchanges();
        assert_eq!(targets(&taken), vec!["/a"]);
        assert!(taken[0].complete && !taken[0].partial);
    }

    #[test]
    fn a_request_without_a_head_is_partial_even_without_the_flag() {
        let mut a = Assembler::new("c");
        a.push(&record(3, vec![read("not http at all"), eom(), write(OK)]));
        let taken = a.take_exchanges();
        assert!(taken.len() == 1 && taken[0].partial);
    }

    #[test]
    fn a_headless_request_mid_connection_is_not_a_fragment() {
        let mut a = Assembler::new("c");
        a.push(&record(0, vec![read("GET /a HTTP/1.1\r\n\r\n"), eom(), write(OK), read("junk"), eom()]));
        let taken = a.take_exchanges();
        assert_eq!(taken.len(), 1);
        a.push(&record(1, vec![write(OK)]));
        let taken = a.take_exchanges();
        assert!(taken.len() == 1 && !taken[0].partial && taken[0].request_head.is_none());
    }

    #[test]
    fn request_dropped_after_a_lost_response_releases_the_waiting_request() {
        let mut a = Assembler::new("c");
        a.push(&record(
            0,
            vec![read("GET /lost HTTP/1.1\r\n\r\n"), eom(), write("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\nab")],
        ));
        // The rest of that response was in a record the queue refused; capture resumes with requestDropped.
        let mut next = record(
            1,
            vec![Capture::RequestDropped(RequestDropped {}), read("GET /b HTTP/1.1\r\n\r\n"), eom(), write(OK)],
        );
        next.prior_requests_received = Some(3);
        a.push(&next);
        let taken = a.take_exchanges();
        assert_eq!(targets(&taken), vec!["/lost", "/b"]);
        assert!(!taken[0].complete && taken[1].complete);
        assert_eq!(taken[1].response, OK.as_bytes());
        assert_eq!(taken[1].number, 4, "numbered from priorRequestsReceived, counting the dropped request");
        assert_eq!(a.connection().dropped, 1);
    }

    #[test]
    fn a_missing_record_ends_the_pairing_instead_of_mispairing() {
        let mut a = Assembler::new("c");
        a.push(&record(0, vec![read("GET /a HTTP/1.1\r\n\r\n"), eom()]));
        // Record 1 (with /a's response and the start of /b) is missing.
        let mut third =
            record(2, vec![read("tail of /b"), eom(), write(OK), read("GET /c HTTP/1.1\r\n\r\n"), eom(), write(OK)]);
        third.last_observation_was_unterminated_read = Some(true);
        a.push(&third);
        let taken = a.take_exchanges();
        assert_eq!(targets(&taken), vec!["/a", "", "/c"]);
        assert!(!taken[0].complete && taken[1].partial && taken[2].complete && !taken[2].partial);
        assert_eq!(a.connection().missing_records, 1);
    }

    #[test]
    fn an_unparseable_response_stops_holding_requests_back() {
        let mut a = Assembler::new("c");
        a.push(&record(0, vec![read("GET /a HTTP/1.1\r\n\r\n"), eom(), write("garbage\r\n\r\n")]));
        assert_eq!(a.take_exchanges().len(), 1, "released as soon as its response is known to be unreadable");
        a.push(&record(1, vec![read("GET /b HTTP/1.1\r\n\r\n"), eom(), write(OK)]));
        let taken = a.take_exchanges();
        assert_eq!(targets(&taken), vec!["/b"]);
        assert!(!taken[0].complete);
        assert!(a.is_idle());
        assert!(a.finish().errors.iter().any(|e| e.contains("malformed")));
    }

    #[test]
    fn finishing_returns_requests_still_waiting_and_the_unterminated_one() {
        let mut a = Assembler::new("c");
        a.push(&record(0, vec![read("GET /a HTTP/1.1\r\n\r\n"), eom(), read("PUT /half")]));
        let c = a.finish();
        assert_eq!(targets(&c.exchanges), vec!["/a"]);
        assert!(!c.exchanges[0].complete);
        assert_eq!(c.unterminated_request, b"PUT /half");
    }
}

//! Turns one connection's events into `TrafficStream` records and offers them to the queue.
//!
//! Observations are recorded in the order readers pair them: the reads of a request up to its end of message,
//! then the writes of its response. Pipelined requests arrive while an earlier response is still being written;
//! their observations are held back (keeping their timestamps) until that response is complete, so they never
//! land between a request and its response. The held bytes are bounded per connection: past the bound, the held
//! requests are left out of the capture (`requestDropped`) rather than recorded out of order.
//!
//! A record is cut when it reaches the size target, when a response completes, and when the connection closes.
//! When the queue refuses a record, the requests it held are lost to the capture, and so is a request whose
//! response it continued (a reader must not compare against a partial response); the recorder then discards
//! observations until the connection is between exchanges and records `requestDropped` there, which tells
//! readers to abandon the requests still awaiting their responses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ferry_traffic::http1::Head;
use ferry_traffic::{
    Capture, Close, Connect, ConnectionException, EndOfMessage, EndOfSegments, Index, Read, ReadSegment,
    RequestDropped, Timestamp, TrafficObservation, TrafficStream, Write, WriteSegment,
};

use crate::metrics::{DropReason, Metrics};
use crate::sink::Queue;
use crate::suppress::Rules;

/// Request bytes of pipelined requests one connection may hold back while an earlier response is written.
/// Clients rarely pipeline, and never megabytes of it; past this the held requests leave the capture.
const MAX_HELD_BYTES: usize = 4 * 1024 * 1024;

/// What the recorder needs that every connection shares.
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) node_id: String,
    pub(crate) record_bytes: usize,
    pub(crate) rules: Rules,
    pub(crate) redact: Vec<String>,
}

/// Per-connection recorder; both directions' pumps call it (a short, uncontended lock).
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    state: Mutex<State>,
}

/// How the request being read is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Captured,
    /// A suppression rule matched.
    Suppressed,
    /// Its held bytes exceeded [`MAX_HELD_BYTES`].
    Overflowed,
}

/// A request-side observation held back until the response before it is complete.
#[derive(Debug)]
enum Held {
    Read(Timestamp, Vec<u8>),
    /// The request is complete; `None` when it is left out of the capture.
    End(Timestamp, Option<EndOfMessage>),
}

struct State {
    record: TrafficStream,
    size: usize,
    number: i32,
    /// End-of-message observations recorded so far (the `priorRequestsReceived` of the next record).
    requests: i32,
    /// Requests in the current record (lost with it if the queue refuses it).
    requests_in_record: u64,
    /// The current record continues the response of a captured request recorded in an earlier record.
    continues_response: bool,
    /// Reads recorded since the last recorded end of message.
    unterminated: bool,
    /// The request being read (in arrival order).
    reading: Reading,
    /// Requests whose end of message is recorded and whose response is not complete, oldest first, with
    /// whether their response is left out of the capture. Holding keeps this to at most one entry while the
    /// connection is open.
    awaiting: VecDeque<bool>,
    /// Request-side observations waiting for `awaiting` to empty, in arrival order.
    held: VecDeque<Held>,
    held_bytes: usize,
    /// A record was refused: observations are discarded until the connection is between exchanges.
    gap: bool,
    /// Requests lost in the current gap.
    gap_requests: u64,
    closed: bool,
}

impl Recorder {
    pub(crate) fn new(shared: Arc<Shared>, connection_id: String) -> Recorder {
        let record = TrafficStream {
            connection_id,
            node_id: shared.node_id.clone(),
            index: Some(Index::Number(0)),
            ..TrafficStream::default()
        };
        let state = State {
            record,
            size: 0,
            number: 0,
            requests: 0,
            requests_in_record: 0,
            continues_response: false,
            unterminated: false,
            reading: Reading::Captured,
            awaiting: VecDeque::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            gap: false,
            gap_requests: 0,
            closed: false,
        };
        let recorder = Recorder { shared, state: Mutex::new(state) };
        recorder.with(|s, _| s.push(Timestamp::now(), Capture::Connect(Connect {}), 0));
        recorder
    }

    fn with<T>(&self, f: impl FnOnce(&mut State, &Shared) -> T) -> T {
        // A poisoned lock only means another pump panicked mid-update; the state is still consistent enough to
        // keep recording (and a panic is a bug reported elsewhere).
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state, &self.shared)
    }

    /// A request head was read; returns whether the request is suppressed. `bytes` is the raw head.
    pub(crate) fn request_head(&self, head: &Head, bytes: &[u8]) -> bool {
        self.with(|s, shared| {
            let suppressed = shared.rules.suppressed(head);
            s.reading = if suppressed { Reading::Suppressed } else { Reading::Captured };
            if !suppressed {
                if shared.redact.is_empty() {
                    s.request_bytes(bytes, shared);
                } else {
                    let mut masked = bytes.to_vec();
                    crate::suppress::redact(&mut masked, &shared.redact);
                    s.request_bytes(&masked, shared);
                }
            }
            suppressed
        })
    }

    /// Request bytes other than a head (a body, or anything once framing is lost).
    pub(crate) fn read(&self, data: &[u8]) {
        self.with(|s, shared| s.request_bytes(data, shared))
    }

    /// The request read so far is complete.
    pub(crate) fn end_of_message(&self, head: &Head) {
        self.with(|s, shared| {
            Metrics::add(&shared.metrics.requests_total, 1);
            let eom = match std::mem::replace(&mut s.reading, Reading::Captured) {
                Reading::Captured => Some(EndOfMessage {
                    first_line_byte_length: i32::try_from(head.first_line_len).ok(),
                    headers_byte_length: i32::try_from(head.head_len).ok(),
                }),
                Reading::Suppressed => {
                    shared.metrics.dropped(DropReason::Suppressed, 1);
                    None
                }
                Reading::Overflowed => {
                    shared.metrics.dropped(DropReason::QueueFull, 1);
                    None
                }
            };
            if s.holding() {
                s.held.push_back(Held::End(Timestamp::now(), eom));
            } else {
                s.end(Timestamp::now(), eom, shared);
            }
        })
    }

    /// Response bytes written to the client.
    pub(crate) fn write(&self, data: &[u8]) {
        self.with(|s, shared| {
            if s.awaiting.front() != Some(&true) {
                s.data(Timestamp::now(), data, shared, false)
            }
        })
    }

    /// The final response to the oldest waiting request has been written.
    pub(crate) fn response_complete(&self) {
        self.with(|s, shared| {
            s.awaiting.pop_front();
            s.release(shared, false);
            if s.awaiting.is_empty() && !s.unterminated {
                s.between_exchanges(shared);
            }
        })
    }

    /// The upstream closed its side of the connection.
    pub(crate) fn disconnect(&self) {
        self.with(|s, _| s.push(Timestamp::now(), Capture::Disconnect(ferry_traffic::Disconnect {}), 0))
    }

    /// An error or notable event on the connection.
    pub(crate) fn exception(&self, message: String) {
        self.with(|s, _| {
            let len = message.len();
            s.push(Timestamp::now(), Capture::ConnectionException(ConnectionException { message }), len)
        })
    }

    /// The connection is over: records `close` and hands over the last record.
    pub(crate) fn close(&self) {
        self.with(|s, shared| {
            if s.closed {
                return;
            }
            s.closed = true;
            // Pipelined requests whose turn never came were still sent upstream: they are recorded, without
            // responses, so a replayer sees every request the source received.
            s.release(shared, true);
            if s.gap {
                // Whatever the gap swallowed ends with the connection.
                s.gap = false;
                s.push(Timestamp::now(), Capture::RequestDropped(RequestDropped {}), 0);
            }
            s.push(Timestamp::now(), Capture::Close(Close {}), 0);
            s.record.index = Some(Index::NumberOfThisLastChunk(s.number));
            s.flush(shared);
        })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.close();
    }
}

impl State {
    /// Request-side observations must wait: a response is pending, or earlier requests are already waiting.
    fn holding(&self) -> bool {
        !self.awaiting.is_empty() || !self.held.is_empty()
    }

    /// Request bytes as they arrive: recorded, held back, or left out.
    fn request_bytes(&mut self, data: &[u8], shared: &Shared) {
        if self.reading != Reading::Captured {
            return;
        }
        if !self.holding() {
            self.read(Timestamp::now(), data, shared);
            return;
        }
        if self.held_bytes.saturating_add(data.len()) > MAX_HELD_BYTES {
            self.overflow(shared);
            return;
        }
        self.held_bytes = self.held_bytes.saturating_add(data.len());
        self.held.push_back(Held::Read(Timestamp::now(), data.to_vec()));
    }

    /// Too much is held: the held requests, and the one being read, leave the capture. Their ends stay queued
    /// (as drops) so responses are still matched to the right requests.
    fn overflow(&mut self, shared: &Shared) {
        let mut lost = 0;
        self.held.retain_mut(|held| match held {
            Held::Read(..) => false,
            Held::End(_, eom) => {
                if eom.take().is_some() {
                    lost += 1;
                }
                true
            }
        });
        self.held_bytes = 0;
        self.reading = Reading::Overflowed;
        shared.metrics.dropped(DropReason::QueueFull, lost);
        tracing::warn!(
            connection = %self.record.connection_id, requests = lost + 1, limit = MAX_HELD_BYTES,
            "pipelined requests exceed the hold buffer: dropping them from the capture (client traffic unaffected)"
        );
    }

    /// Records held observations while no response is pending (all of them when `all`, at the end).
    fn release(&mut self, shared: &Shared, all: bool) {
        while all || self.awaiting.is_empty() {
            let Some(held) = self.held.pop_front() else { break };
            match held {
                Held::Read(ts, data) => {
                    self.held_bytes = self.held_bytes.saturating_sub(data.len());
                    self.read(ts, &data, shared);
                }
                Held::End(ts, eom) => self.end(ts, eom, shared),
            }
        }
    }

    fn read(&mut self, ts: Timestamp, data: &[u8], shared: &Shared) {
        self.unterminated = true;
        self.data(ts, data, shared, true);
    }

    /// Records the end of a request, or its drop when `eom` is `None`.
    fn end(&mut self, ts: Timestamp, eom: Option<EndOfMessage>, shared: &Shared) {
        self.requests = self.requests.saturating_add(1);
        self.unterminated = false;
        self.awaiting.push_back(eom.is_none());
        match eom {
            None => self.push(ts, Capture::RequestDropped(RequestDropped {}), 0),
            Some(eom) => {
                if self.gap {
                    self.gap_requests += 1;
                    shared.metrics.dropped(DropReason::QueueFull, 1);
                } else {
                    self.requests_in_record += 1;
                }
                self.push(ts, Capture::EndOfMessageIndicator(eom), 8);
            }
        }
    }

    fn data(&mut self, ts: Timestamp, data: &[u8], shared: &Shared, read: bool) {
        if self.size.saturating_add(data.len()) > shared.record_bytes {
            self.flush(shared);
        }
        if data.len() <= shared.record_bytes {
            let capture = if read {
                Capture::Read(Read { data: data.to_vec() })
            } else {
                Capture::Write(Write { data: data.to_vec() })
            };
            self.push(ts, capture, data.len());
        } else {
            // Larger than a record (only with a small record_bytes): segments, as the format prescribes.
            for piece in data.chunks(shared.record_bytes / 2) {
                let capture = if read {
                    Capture::ReadSegment(ReadSegment { data: piece.to_vec() })
                } else {
                    Capture::WriteSegment(WriteSegment { data: piece.to_vec() })
                };
                self.push(ts, capture, piece.len());
                if self.size >= shared.record_bytes {
                    self.flush(shared);
                }
            }
            self.push(ts, Capture::SegmentEnd(EndOfSegments {}), 0);
        }
        if self.size >= shared.record_bytes {
            self.flush(shared);
        }
    }

    fn push(&mut self, ts: Timestamp, capture: Capture, size: usize) {
        if self.gap {
            return;
        }
        // Observation overhead (tag, length, timestamp) is ~20 bytes; counted so tiny observations add up.
        self.size = self.size.saturating_add(size).saturating_add(20);
        self.record.sub_stream.push(TrafficObservation::new(ts, capture));
    }

    /// Called when no request is partly read and no response is pending: a gap can end here.
    fn between_exchanges(&mut self, shared: &Shared) {
        if self.gap {
            self.gap = false;
            tracing::warn!(
                connection = %self.record.connection_id, requests = self.gap_requests,
                "capture resumed after dropping requests (queue full)"
            );
            self.gap_requests = 0;
            self.push(Timestamp::now(), Capture::RequestDropped(RequestDropped {}), 0);
        }
        self.flush(shared);
    }

    fn flush(&mut self, shared: &Shared) {
        if self.record.sub_stream.is_empty() || self.gap {
            return;
        }
        let bytes = self.record.encode_to_vec();
        if shared.queue.offer(bytes) {
            self.number = self.number.saturating_add(1);
            self.reset_record();
            return;
        }
        // A response begun in an earlier record loses its end here: its request is lost too.
        let lost = self.requests_in_record + u64::from(self.continues_response);
        shared.metrics.dropped(DropReason::QueueFull, lost);
        tracing::warn!(
            connection = %self.record.connection_id, requests = lost, unterminated = self.unterminated,
            "capture queue full: dropping requests from the capture (client traffic unaffected)"
        );
        // The refused record's number is reused, so sequence numbers stay contiguous for readers.
        self.reset_record();
        if self.unterminated || !self.awaiting.is_empty() {
            self.gap = true;
            self.gap_requests = lost;
        } else {
            self.push(Timestamp::now(), Capture::RequestDropped(RequestDropped {}), 0);
        }
    }

    fn reset_record(&mut self) {
        self.record.sub_stream.clear();
        self.size = 0;
        self.requests_in_record = 0;
        self.continues_response = self.awaiting.front() == Some(&false);
        self.record.index = Some(Index::Number(self.number));
        self.record.prior_requests_received = Some(self.requests);
        self.record.last_observation_was_unterminated_read = Some(self.unterminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_traffic::http1::{Event, Framer, Side};

    fn head(request: &[u8]) -> Head {
        match Framer::new(Side::Request).next(request).ok().and_then(|s| s.event) {
            Some(Event::Head(head)) => head,
            other => panic!("{other:?}"),
        }
    }

    fn exchange(recorder: &Recorder, path: &str) {
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
        let h = head(request.as_bytes());
        assert!(!recorder.request_head(&h, request.as_bytes()));
        recorder.end_of_message(&h);
        recorder.write(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{path}", path.len()).as_bytes());
        recorder.response_complete();
    }

    fn shared(queue: &Queue, metrics: &Arc<Metrics>, record_bytes: usize) -> Arc<Shared> {
        Arc::new(Shared {
            queue: queue.clone(),
            metrics: metrics.clone(),
            node_id: "n".into(),
            record_bytes,
            rules: Rules::default(),
            redact: Vec::new(),
        })
    }

    fn decode_all(queue: &Queue, rx: &std::sync::mpsc::Receiver<crate::sink::Queued>) -> Vec<TrafficStream> {
        queue.take_for_test(rx).iter().map(|b| TrafficStream::decode(b).unwrap()).collect()
    }

    /// One letter per observation: what a reader pairing "reads up to EOM, then writes" sees.
    fn kinds(records: &[TrafficStream]) -> String {
        records
            .iter()
            .flat_map(|r| &r.sub_stream)
            .map(|o| match &o.capture {
                Some(Capture::Connect(_)) => 'C',
                Some(Capture::Read(_)) => 'r',
                Some(Capture::EndOfMessageIndicator(_)) => 'E',
                Some(Capture::Write(_)) => 'w',
                Some(Capture::RequestDropped(_)) => 'D',
                Some(Capture::Close(_)) => 'X',
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn paths(connection: &ferry_traffic::exchange::Connection) -> Vec<(String, bool)> {
        connection
            .exchanges
            .iter()
            .map(|e| (e.request_head.as_ref().map(|h| h.target.clone()).unwrap_or_default(), e.complete))
            .collect()
    }

    #[test]
    fn pipelined_requests_are_recorded_after_the_response_before_them() {
        let metrics = Arc::new(Metrics::default());
        let (queue, rx) = Queue::for_test(64 << 20, metrics.clone());
        let recorder = Recorder::new(shared(&queue, &metrics, 1 << 20), "c".into());
        let a = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
        let b = b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n";
        // The client pipelines /b while /a's response is still being written.
        assert!(!recorder.request_head(&head(a), a));
        recorder.end_of_message(&head(a));
        recorder.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
        assert!(!recorder.request_head(&head(b), b));
        recorder.read(b"xyz");
        recorder.end_of_message(&head(b));
        recorder.write(b"/a");
        recorder.response_complete();
        recorder.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n/b");
        recorder.response_complete();
        recorder.close();
        let records = decode_all(&queue, &rx);
        assert_eq!(kinds(&records), "CrEwwrrEwX", "each request's reads directly precede its response's writes");
        let observations: Vec<&TrafficObservation> = records.iter().flat_map(|r| &r.sub_stream).collect();
        let ts = |i: usize| observations[i].ts.unwrap().as_nanos();
        assert!(ts(5) <= ts(4), "held reads keep the time they arrived");
        let connections = ferry_traffic::exchange::assemble(&records);
        assert_eq!(paths(&connections[0]), vec![("/a".to_string(), true), ("/b".to_string(), true)]);
        assert!(connections[0].exchanges[1].response.ends_with(b"201 Created\r\ncontent-length: 2\r\n\r\n/b"));
    }

    #[test]
    fn pipelined_requests_beyond_the_hold_limit_are_dropped_not_reordered() {
        let metrics = Arc::new(Metrics::default());
        let (queue, rx) = Queue::for_test(64 << 20, metrics.clone());
        let recorder = Recorder::new(shared(&queue, &metrics, 1 << 20), "c".into());
        let a = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
        let big_len = MAX_HELD_BYTES + 1;
        let big = format!("PUT /big HTTP/1.1\r\nhost: x\r\ncontent-length: {big_len}\r\n\r\n");
        let c = b"GET /c HTTP/1.1\r\nhost: x\r\n\r\n";
        recorder.request_head(&head(a), a);
        recorder.end_of_message(&head(a));
        recorder.request_head(&head(big.as_bytes()), big.as_bytes());
        for piece in vec![b'x'; big_len].chunks(64 * 1024) {
            recorder.read(piece);
        }
        recorder.end_of_message(&head(big.as_bytes()));
        recorder.request_head(&head(c), c);
        recorder.end_of_message(&head(c));
        for path in ["/a", "/big", "/c"] {
            recorder.write(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{path}", path.len()).as_bytes());
            recorder.response_complete();
        }
        recorder.close();
        let records = decode_all(&queue, &rx);
        assert_eq!(kinds(&records), "CrEwDrEwX", "/big is dropped whole; its response is not recorded");
        let connections = ferry_traffic::exchange::assemble(&records);
        assert_eq!(paths(&connections[0]), vec![("/a".to_string(), true), ("/c".to_string(), true)]);
        assert!(connections[0].exchanges[1].response.ends_with(b"/c"));
        assert_eq!(metrics.dropped_requests(DropReason::QueueFull), 1);
    }

    #[test]
    fn a_queue_full_in_the_middle_of_a_response_drops_that_request() {
        let metrics = Arc::new(Metrics::default());
        // 4 KiB records and room for about one and a half: the second record of /one's 20 KB response is
        // refused while the first still occupies the budget.
        let (queue, rx) = Queue::for_test(6000, metrics.clone());
        let recorder = Recorder::new(shared(&queue, &metrics, 4096), "c".into());
        let one = b"GET /one HTTP/1.1\r\nhost: x\r\n\r\n";
        recorder.request_head(&head(one), one);
        recorder.end_of_message(&head(one));
        recorder.write(b"HTTP/1.1 200 OK\r\ncontent-length: 20000\r\n\r\n");
        for _ in 0..20 {
            recorder.write(&[b'b'; 1000]);
        }
        recorder.response_complete();
        let mut records = decode_all(&queue, &rx);
        exchange(&recorder, "/two");
        recorder.close();
        records.extend(decode_all(&queue, &rx));

        let connections = ferry_traffic::exchange::assemble(&records);
        let exchanges = &connections[0].exchanges;
        assert!(
            exchanges.iter().all(|e| e.complete == e.request.starts_with(b"GET /two")),
            "only /two is a complete exchange: {:?}",
            paths(&connections[0])
        );
        let two = exchanges.iter().find(|e| e.complete).unwrap();
        assert_eq!(two.response, b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n/two");
        assert_eq!(connections[0].dropped, 1);
        assert_eq!(metrics.dropped_requests(DropReason::QueueFull), 1, "the truncated request counts as dropped");
    }

    #[test]
    fn a_full_queue_drops_whole_requests_and_marks_the_gap() {
        let metrics = Arc::new(Metrics::default());
        // Room for about one record: the second is refused while the first still occupies the budget.
        let (queue, rx) = Queue::for_test(200, metrics.clone());
        let shared = Arc::new(Shared {
            queue: queue.clone(),
            metrics: metrics.clone(),
            node_id: "n".into(),
            record_bytes: 1024 * 1024,
            rules: Rules::default(),
            redact: Vec::new(),
        });
        let recorder = Recorder::new(shared, "c".into());
        let mut records = Vec::new();
        exchange(&recorder, "/one");
        exchange(&recorder, "/two-is-dropped-because-the-queue-is-full");
        records.extend(queue.take_for_test(&rx).iter().map(|b| TrafficStream::decode(b).unwrap()));
        exchange(&recorder, "/three");
        recorder.close();
        records.extend(queue.take_for_test(&rx).iter().map(|b| TrafficStream::decode(b).unwrap()));

        let connections = ferry_traffic::exchange::assemble(&records);
        let paths: Vec<String> = connections[0]
            .exchanges
            .iter()
            .map(|e| e.request_head.as_ref().map(|h| h.target.clone()).unwrap_or_default())
            .collect();
        assert_eq!(paths, vec!["/one", "/three"]);
        assert_eq!(connections[0].dropped, 1);
        assert!(connections[0].closed);
        assert_eq!(metrics.dropped_requests(DropReason::QueueFull), 1);
        let numbers: Vec<Option<i32>> = records.iter().map(TrafficStream::sequence).collect();
        assert_eq!(numbers, vec![Some(0), Some(1), Some(2)], "sequence numbers stay contiguous across the gap");
        assert!(records.last().is_some_and(TrafficStream::is_last));
    }
}

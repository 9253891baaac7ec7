//! Turns one connection's events into `TrafficStream` records and offers them to the queue.
//!
//! Observations are recorded in the order they happen. A record is cut when it reaches the size target, when a
//! response completes, and when the connection closes. When the queue refuses a record, the requests it held are
//! lost to the capture; the recorder then discards observations until the connection is between exchanges, and
//! starts the next record with `requestDropped`, so a reader never pairs a request with a partial response.

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

struct State {
    record: TrafficStream,
    size: usize,
    number: i32,
    /// End-of-message observations so far (the `priorRequestsReceived` of the next record).
    requests: i32,
    /// Requests in the current record (lost with it if the queue refuses it).
    requests_in_record: u64,
    /// Reads since the last end of message.
    unterminated: bool,
    /// The request being read is suppressed.
    reading_suppressed: bool,
    /// For each complete request awaiting its response: whether it is suppressed.
    awaiting: VecDeque<bool>,
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
            unterminated: false,
            reading_suppressed: false,
            awaiting: VecDeque::new(),
            gap: false,
            gap_requests: 0,
            closed: false,
        };
        let recorder = Recorder { shared, state: Mutex::new(state) };
        recorder.with(|s, _| s.push(Capture::Connect(Connect {}), 0));
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
            s.reading_suppressed = suppressed;
            if !suppressed {
                if shared.redact.is_empty() {
                    s.read(bytes, shared);
                } else {
                    let mut masked = bytes.to_vec();
                    crate::suppress::redact(&mut masked, &shared.redact);
                    s.read(&masked, shared);
                }
            }
            suppressed
        })
    }

    /// Request bytes other than a head (a body, or anything once framing is lost).
    pub(crate) fn read(&self, data: &[u8]) {
        self.with(|s, shared| {
            if !s.reading_suppressed {
                s.read(data, shared)
            }
        })
    }

    /// The request read so far is complete.
    pub(crate) fn end_of_message(&self, head: &Head) {
        self.with(|s, shared| {
            Metrics::add(&shared.metrics.requests_total, 1);
            s.requests = s.requests.saturating_add(1);
            s.unterminated = false;
            let suppressed = std::mem::take(&mut s.reading_suppressed);
            s.awaiting.push_back(suppressed);
            if suppressed {
                shared.metrics.dropped(DropReason::Suppressed, 1);
                s.push(Capture::RequestDropped(RequestDropped {}), 0);
            } else {
                let eom = EndOfMessage {
                    first_line_byte_length: i32::try_from(head.first_line_len).ok(),
                    headers_byte_length: i32::try_from(head.head_len).ok(),
                };
                if s.gap {
                    s.gap_requests += 1;
                    shared.metrics.dropped(DropReason::QueueFull, 1);
                } else {
                    s.requests_in_record += 1;
                }
                s.push(Capture::EndOfMessageIndicator(eom), 8);
            }
        })
    }

    /// Response bytes written to the client.
    pub(crate) fn write(&self, data: &[u8]) {
        self.with(|s, shared| {
            if s.awaiting.front() != Some(&true) {
                s.data(data, shared, false)
            }
        })
    }

    /// The final response to the oldest waiting request has been written.
    pub(crate) fn response_complete(&self) {
        self.with(|s, shared| {
            s.awaiting.pop_front();
            if s.awaiting.is_empty() && !s.unterminated {
                s.between_exchanges(shared);
            }
        })
    }

    /// The upstream closed its side of the connection.
    pub(crate) fn disconnect(&self) {
        self.with(|s, _| s.push(Capture::Disconnect(ferry_traffic::Disconnect {}), 0))
    }

    /// An error or notable event on the connection.
    pub(crate) fn exception(&self, message: String) {
        self.with(|s, _| {
            let len = message.len();
            s.push(Capture::ConnectionException(ConnectionException { message }), len)
        })
    }

    /// The connection is over: records `close` and hands over the last record.
    pub(crate) fn close(&self) {
        self.with(|s, shared| {
            if s.closed {
                return;
            }
            s.closed = true;
            if s.gap {
                // Whatever the gap swallowed ends with the connection.
                s.gap = false;
                s.push(Capture::RequestDropped(RequestDropped {}), 0);
            }
            s.push(Capture::Close(Close {}), 0);
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
    fn read(&mut self, data: &[u8], shared: &Shared) {
        self.unterminated = true;
        self.data(data, shared, true);
    }

    fn data(&mut self, data: &[u8], shared: &Shared, read: bool) {
        if self.size.saturating_add(data.len()) > shared.record_bytes {
            self.flush(shared);
        }
        if data.len() <= shared.record_bytes {
            let capture = if read {
                Capture::Read(Read { data: data.to_vec() })
            } else {
                Capture::Write(Write { data: data.to_vec() })
            };
            self.push(capture, data.len());
        } else {
            // Larger than a record (only with a small record_bytes): segments, as the format prescribes.
            for piece in data.chunks(shared.record_bytes / 2) {
                let capture = if read {
                    Capture::ReadSegment(ReadSegment { data: piece.to_vec() })
                } else {
                    Capture::WriteSegment(WriteSegment { data: piece.to_vec() })
                };
                self.push(capture, piece.len());
                if self.size >= shared.record_bytes {
                    self.flush(shared);
                }
            }
            self.push(Capture::SegmentEnd(EndOfSegments {}), 0);
        }
        if self.size >= shared.record_bytes {
            self.flush(shared);
        }
    }

    fn push(&mut self, capture: Capture, size: usize) {
        if self.gap {
            return;
        }
        // Observation overhead (tag, length, timestamp) is ~20 bytes; counted so tiny observations add up.
        self.size = self.size.saturating_add(size).saturating_add(20);
        self.record.sub_stream.push(TrafficObservation::new(Timestamp::now(), capture));
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
            self.push(Capture::RequestDropped(RequestDropped {}), 0);
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
        let lost = self.requests_in_record;
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
            self.push(Capture::RequestDropped(RequestDropped {}), 0);
        }
    }

    fn reset_record(&mut self) {
        self.record.sub_stream.clear();
        self.size = 0;
        self.requests_in_record = 0;
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

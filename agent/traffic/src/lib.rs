//! Captured traffic as records: the `TrafficStream` / `TrafficObservation` protobuf messages that Ferry's capture
//! proxy writes and its replayer reads.
//!
//! The messages are wire-compatible with the OpenSearch Migration Assistant's `TrafficCaptureStream.proto`
//! (same field numbers and types), so a capture made by either proxy can be replayed by either replayer. The
//! structs are written by hand with `prost` derives, so no `protoc` is needed at build time. [`exchange`]
//! rebuilds the request/response byte streams of a connection from its records. Pure and synchronous.
#![deny(missing_docs)]

pub mod exchange;
pub mod http1;
pub mod message;
mod proto;

pub use proto::{
    traffic_observation::Capture, traffic_stream::Index, Bind, Close, Connect, ConnectionException, Disconnect,
    EndOfMessage, EndOfSegments, Read, ReadSegment, RequestDropped, RequestReleased, Timestamp, TrafficObservation,
    TrafficStream, Write, WriteSegment,
};

/// The record size the reference proxy aims for: bigger reads and writes are split across records.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// A record that is not a valid `TrafficStream`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The protobuf bytes do not decode.
    #[error("not a TrafficStream record ({len} bytes): {source}")]
    Decode {
        /// Length of the rejected record.
        len: usize,
        /// What prost found wrong.
        source: prost::DecodeError,
    },
}

impl TrafficStream {
    /// Serialises the record to protobuf bytes (what goes into a Kafka record value or a log frame).
    pub fn encode_to_vec(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Parses protobuf bytes. Unknown fields (from a newer writer) are skipped, as protobuf intends.
    pub fn decode(bytes: &[u8]) -> Result<TrafficStream, Error> {
        <TrafficStream as prost::Message>::decode(bytes).map_err(|source| Error::Decode { len: bytes.len(), source })
    }

    /// The record's sequence number within its connection, whichever of the two `index` fields carries it.
    pub fn sequence(&self) -> Option<i32> {
        match self.index {
            Some(Index::Number(n)) | Some(Index::NumberOfThisLastChunk(n)) => Some(n),
            None => None,
        }
    }

    /// Whether this is the connection's last record.
    pub fn is_last(&self) -> bool {
        matches!(self.index, Some(Index::NumberOfThisLastChunk(_)))
    }

    /// Approximate encoded size, cheap enough to call per observation when deciding where to cut records.
    pub fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(self)
    }
}

impl TrafficObservation {
    /// An observation stamped with `ts`.
    pub fn new(ts: Timestamp, capture: Capture) -> TrafficObservation {
        TrafficObservation { ts: Some(ts), capture: Some(capture), ..TrafficObservation::default() }
    }
}

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp::from(std::time::SystemTime::now())
    }

    /// Nanoseconds since the Unix epoch, saturating (for durations between observations).
    pub fn as_nanos(&self) -> i128 {
        i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanos)
    }
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(time: std::time::SystemTime) -> Timestamp {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp {
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
            },
            // A clock before 1970 is a misconfigured host; the epoch keeps records decodable.
            Err(_) => Timestamp::default(),
        }
    }
}

//! The protobuf messages, field for field as in the Migration Assistant's `TrafficCaptureStream.proto`.
//! Field numbers are the wire contract: never renumber.
#![allow(missing_docs)]

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The listener was bound.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bind {}

/// A client connected.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Connect {}

/// Bytes read from the client (request side).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Read {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// A piece of a read too large for one record (note the field number 2, as upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadSegment {
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// The proxy finished forwarding a request upstream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestReleased {
    #[prost(bool, tag = "1")]
    pub timed_out: bool,
}

/// Bytes written to the client (response side).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Write {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// A piece of a write too large for one record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteSegment {
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// The client connection closed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Close {}

/// The upstream connection closed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Disconnect {}

/// An error on the connection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectionException {
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The preceding segment observations form one read or write.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndOfSegments {}

/// The reads since the previous end of message form one complete HTTP request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndOfMessage {
    #[prost(int32, optional, tag = "1")]
    pub first_line_byte_length: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub headers_byte_length: Option<i32>,
}

/// The reads since the previous end of message were deliberately not captured; they have no response to pair.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestDropped {}

/// One event on a connection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrafficObservation {
    #[prost(message, optional, tag = "1")]
    pub ts: Option<Timestamp>,
    /// Newer Migration Assistant writers stamp these; kept so a decode/encode round trip loses nothing.
    #[prost(uint64, optional, tag = "17")]
    pub manifest_cycle: Option<u64>,
    #[prost(uint64, optional, tag = "18")]
    pub connection_observation_sequence: Option<u64>,
    #[prost(oneof = "traffic_observation::Capture", tags = "2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15, 16")]
    pub capture: Option<traffic_observation::Capture>,
}

/// The `Capture` oneof of [`TrafficObservation`].
pub mod traffic_observation {
    /// What was observed.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Capture {
        #[prost(message, tag = "2")]
        Bind(super::Bind),
        #[prost(message, tag = "3")]
        Connect(super::Connect),
        #[prost(message, tag = "4")]
        Read(super::Read),
        #[prost(message, tag = "5")]
        ReadSegment(super::ReadSegment),
        #[prost(message, tag = "6")]
        RequestReleasedDownstream(super::RequestReleased),
        #[prost(message, tag = "8")]
        Write(super::Write),
        #[prost(message, tag = "9")]
        WriteSegment(super::WriteSegment),
        #[prost(message, tag = "10")]
        Disconnect(super::Disconnect),
        #[prost(message, tag = "11")]
        Close(super::Close),
        #[prost(message, tag = "12")]
        ConnectionException(super::ConnectionException),
        #[prost(message, tag = "14")]
        SegmentEnd(super::EndOfSegments),
        #[prost(message, tag = "15")]
        EndOfMessageIndicator(super::EndOfMessage),
        #[prost(message, tag = "16")]
        RequestDropped(super::RequestDropped),
    }
}

/// One record: a run of observations of one connection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrafficStream {
    #[prost(string, tag = "1")]
    pub connection_id: String,
    #[prost(message, repeated, tag = "2")]
    pub sub_stream: Vec<TrafficObservation>,
    #[prost(string, tag = "5")]
    pub node_id: String,
    #[prost(int32, optional, tag = "6")]
    pub prior_requests_received: Option<i32>,
    #[prost(bool, optional, tag = "7")]
    pub last_observation_was_unterminated_read: Option<bool>,
    /// Set by newer Migration Assistant writers (explicit Kafka partition); Ferry leaves it unset.
    #[prost(int32, optional, tag = "8")]
    pub partition: Option<i32>,
    #[prost(oneof = "traffic_stream::Index", tags = "3, 4")]
    pub index: Option<traffic_stream::Index>,
}

/// The `index` oneof of [`TrafficStream`].
pub mod traffic_stream {
    /// The record's position within its connection.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Oneof)]
    pub enum Index {
        /// Sequence number of a record that is not the connection's last.
        #[prost(int32, tag = "3")]
        Number(i32),
        /// Sequence number of the connection's last record.
        #[prost(int32, tag = "4")]
        NumberOfThisLastChunk(i32),
    }
}

//! Replay verdicts: is the target's response to a replayed request the same as the source's captured one?
//!
//! [`parse_response`] turns captured response bytes into an [`http::Response`] with the transfer and content
//! codings removed. [`Comparer::compare`] compares a source and a target response to the same request: status
//! first, then the bodies, as JSON with Elasticsearch/OpenSearch-aware normalisation (timings, shard counts,
//! sequence numbers, versions, server-generated ids and timestamps are ignored; search hits are matched by
//! index and id, aggregation buckets by key, `_bulk` items one by one), `_cat` text as rows, anything else byte
//! by byte. [`endpoint`] names the API a request calls and the indices it touches. [`ResultLine`] is one line of
//! the replayer's results NDJSON, and [`report`] summarises a results file. Pure and synchronous.
#![deny(missing_docs)]

mod bulk;
mod cat;
mod compare;
mod config;
mod endpoint;
mod pattern;
pub mod report;
mod response;
mod result;

pub use compare::{Comparer, Difference, DifferenceKind, GeneratedIds, Verdict, EXCERPT_BYTES};
pub use config::{CompareConfig, EndpointConfig};
pub use endpoint::{endpoint, Endpoint};
pub use response::parse_response;
pub use result::{RequestSummary, ResultLine, SourceSummary, TargetSummary, VerdictKind};

/// Bodies larger than this once decoded are not compared: a decompression bomb or a response too big to hold
/// twice in memory is reported instead.
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Why captured bytes could not be turned into a response, a configuration was refused, or a results file could
/// not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The captured bytes are not an HTTP/1.1 response.
    #[error(transparent)]
    Http(#[from] ferry_traffic::http1::ParseError),
    /// The capture stopped inside the response, so there is nothing complete to compare with.
    #[error("the captured response is incomplete: {got} body bytes before the capture ended")]
    Incomplete {
        /// Body bytes that were captured.
        got: usize,
    },
    /// The body's `Content-Encoding` could not be removed.
    #[error(transparent)]
    Content(#[from] ferry_traffic::message::ContentError),
    /// The response head holds something `http` refuses (a status outside 100–999).
    #[error("the captured response head is unusable: {0}")]
    Head(String),
    /// A `[compare]` option is invalid; the message names the option and the problem.
    #[error("invalid [compare] configuration: {0}")]
    Config(String),
    /// Reading a results file failed.
    #[error("reading results: {0}")]
    Io(#[from] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

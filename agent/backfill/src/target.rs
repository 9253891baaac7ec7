//! Where bulk bodies go: anything that can POST an NDJSON body to `_bulk` and return the reply.

use std::future::Future;

use bytes::Bytes;

/// A target's reply to one `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkReply {
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

/// A cluster that accepts `_bulk` requests. Implemented over `ferry-client` by the CLI and by in-memory
/// fakes in tests, so the pipeline's decisions are tested without sockets.
pub trait BulkTarget: Send + Sync + 'static {
    /// POSTs `body` (NDJSON, ending in a newline) to `/_bulk`. `Err` is a transport failure (connection
    /// refused or reset, timeout), which the pipeline retries like a 503.
    fn bulk(&self, body: Bytes) -> impl Future<Output = Result<BulkReply, String>> + Send;
}

//! The dead-letter file (`dead-letters.ndjson` in the state directory): one JSON line per request that could
//! not be replayed — unparseable, refused by a transformation, or unsendable after every retry — with the
//! reason and the captured request bytes, so it can be inspected and re-driven by hand.

use std::path::Path;

use base64::Engine as _;
use ferry_ops::fs::SyncedNdjson;
use serde::Serialize;

use crate::error::{io, Result};
use crate::source::Cursor;

/// One dead-lettered request (or record that is not a `TrafficStream` at all).
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// `request`, or `record` for undecodable record bytes.
    pub kind: &'static str,
    /// The connection id (empty for a record).
    pub connection: String,
    /// The request's number within the connection (0 for a record).
    pub sequence: u64,
    /// The record where the request began.
    pub at: Cursor,
    /// When the request was captured (RFC 3339), when known.
    pub captured_at: Option<String>,
    /// Why it was not replayed.
    pub reason: String,
    /// The captured request bytes (or the record bytes), base64.
    pub bytes_base64: String,
}

impl DeadLetter {
    /// A dead letter for a captured request (`request` is its raw bytes).
    pub fn request(
        connection: &str,
        sequence: u64,
        at: Cursor,
        captured_at: Option<String>,
        reason: String,
        request: &[u8],
    ) -> DeadLetter {
        DeadLetter {
            kind: "request",
            connection: connection.to_string(),
            sequence,
            at,
            captured_at,
            reason,
            bytes_base64: base64::engine::general_purpose::STANDARD.encode(request),
        }
    }

    /// A dead letter for a record that cannot be decoded.
    pub fn record(at: Cursor, reason: String, bytes: &[u8]) -> DeadLetter {
        DeadLetter {
            kind: "record",
            connection: String::new(),
            sequence: 0,
            at,
            captured_at: None,
            reason,
            bytes_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// Appends dead letters, each synced to disk before the checkpoint that moves past it can be written.
#[derive(Debug)]
pub struct DeadLetterWriter {
    file: SyncedNdjson,
}

impl DeadLetterWriter {
    /// A writer appending to `path`, created on the first letter.
    pub fn new(path: &Path) -> DeadLetterWriter {
        DeadLetterWriter { file: SyncedNdjson::new(path) }
    }

    /// Appends and syncs one letter.
    pub fn write(&mut self, letter: &DeadLetter) -> Result<()> {
        let path = self.file.path().to_owned();
        self.file.append(std::slice::from_ref(letter)).map_err(io("write", path))
    }
}

//! Backfill: every live document of a shard — read from a snapshot repository or a node's own Lucene
//! directory — goes to a target cluster as `_bulk` requests.
//!
//! A synchronous reader thread turns documents into byte-bounded NDJSON bodies (`_source` passed through
//! untouched where it is JSON) and hands them over a bounded channel to async senders that keep several
//! requests in flight. Each `_bulk` response is classified item by item ([`response::classify`]): retryable
//! failures are re-sent with backoff and jitter, permanent ones go to a dead-letter file with their reason.
//! After every acknowledged batch the shard's checkpoint records the position up to which all documents are
//! acknowledged, so a rerun after a crash resumes there; explicit `_id`s make the overlap idempotent.
#![deny(missing_docs)]

pub mod bulk;
pub mod checkpoint;
mod dead_letter;
mod error;
mod pipeline;
pub mod response;
mod source;
mod target;

pub use dead_letter::DeadLetterWriter;
pub use error::{Error, Result};
pub use pipeline::{run_unit, Options, Totals, TotalsSnapshot, Unit, UnitReport};
pub use source::{ShardSource, TargetIndex};
pub use target::{BulkReply, BulkTarget};

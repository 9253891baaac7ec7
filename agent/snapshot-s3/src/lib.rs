//! Snapshot repositories in S3 or an S3-compatible object store, as a [`ferry_snapshot::BlobStore`].
//!
//! Every blob is downloaded once into a bounded local cache directory — big blobs as parallel ranged GETs —
//! and then memory-mapped, so the repository and Lucene readers above work exactly as on a shared file
//! system, including the checksum verification of every shard file. Downloads are retried with exponential
//! backoff and jitter on throttling, 5xx answers and broken connections; a partial download never looks
//! complete (temporary name, fsync, rename). Credentials come from the standard AWS chain and are never
//! logged. The format crates stay synchronous: this crate owns a small tokio runtime internally.
#![deny(missing_docs)]

mod cache;
mod location;
mod retry;
mod store;

pub use location::{S3Location, S3Options};
pub use store::{S3BlobStore, S3Stats};

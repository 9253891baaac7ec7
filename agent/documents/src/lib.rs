//! Elasticsearch documents out of Lucene segments.
//!
//! Elasticsearch stores each document as Lucene stored fields: `_id` (Uid-encoded bytes) or, for indices
//! created by 5.x, `_uid` (`type#id`), `_routing` when set, and `_source` — the client's bytes, untouched.
//! This crate turns those fields back into what a re-index needs, without re-parsing `_source`, and counts the
//! stored documents it cannot turn into one (nested children and other id-less docs, docs without `_source`).
#![deny(missing_docs)]

mod document;
pub mod source;
mod uid;

pub use document::{identity_scheme, read_commit, read_segment, Document, Error, IdentityScheme, ReadStats, Result};
pub use uid::{decode_id, split_uid};

//! A Lucene segment reader for the files Elasticsearch and OpenSearch write, so Ferry can read every live
//! document of a shard without a JVM.
//!
//! Readers here are pure functions over bytes: a [`Directory`] hands out [`FileBytes`] (a memory map or a
//! buffer), and every decoder takes those bytes and returns typed values or an [`Error`] naming the file, the
//! byte offset, what was expected and what was found. Nothing here does network I/O or depends on an async
//! runtime, so the same code serves snapshots, data directories and fuzzing.
#![deny(missing_docs)]

mod bytes;
pub mod codec;
mod directory;
mod error;
pub mod input;

pub use bytes::FileBytes;
pub use directory::{Directory, FsDirectory, MemoryDirectory};
pub use error::{Error, Result};
pub use input::{DataInput, Endian};

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
pub mod commit;
pub mod compound;
mod directory;
pub mod doc_values;
mod error;
pub mod field_infos;
pub mod input;
pub mod live_docs;
pub mod segment;
pub mod segment_info;
pub mod stored;

pub use bytes::FileBytes;
pub use commit::{Commit, LuceneVersion, SegmentCommitInfo};
pub use directory::{map_file, Directory, FsDirectory, MemoryDirectory};
pub use error::{Error, Result};
pub use field_infos::{DocValuesType, FieldInfo, FieldInfos};
pub use input::{DataInput, Endian};
pub use live_docs::DocBits;
pub use segment::{open_index, SegmentReader};
pub use segment_info::SegmentInfo;

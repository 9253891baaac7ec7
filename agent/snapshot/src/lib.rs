//! Reads Elasticsearch and OpenSearch snapshot repositories (Elasticsearch 5.x–9.x and OpenSearch layouts) without a JVM: the repository
//! catalogue, snapshot, global and index metadata (SMILE `*.dat` blobs), and each shard's Lucene files as a
//! verified [`ferry_lucene::Directory`].
//!
//! Storage is behind [`BlobStore`], so the same code reads a shared file system ([`FsBlobStore`]) or an
//! object store. Every blob is checked (codec header, version, CRC32 footer) before its body is decoded,
//! and every Lucene file is checked against the length and checksum the snapshot recorded.
#![deny(missing_docs)]

mod blob;
mod directory;
mod doc;
mod error;
mod metadata;
mod repository;
mod repository_data;
mod shard;
pub mod smile;
mod store;
mod version;

pub use directory::ShardDirectory;
pub use error::{Error, Result};
pub use metadata::{GlobalMetadata, IndexMetadata, SnapshotInfo, SourceAvailability};
pub use repository::Repository;
pub use repository_data::{IndexEntry, RepositoryData, ShardGeneration, ShardPathType, SnapshotEntry, SnapshotState};
pub use shard::{FileInfo, ShardSnapshot, ShardSnapshots};
pub use store::{BlobHold, BlobStore, FsBlobStore};
pub use version::version_name;

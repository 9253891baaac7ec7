//! The local capture log: where the capture proxy puts records (by default, or as the spill buffer in front of
//! Kafka), and where `ferry capture inspect` and the replayer read them back.
//!
//! A log is a directory of segment files named by a 20-digit sequence number (`00000000000000000007.fcl`).
//! Each segment starts with a 16-byte header and holds frames; a frame holds one record, zstd-compressed, with
//! a checksum over its header and another over its payload (layout in [`frame`]). Segments are append-only and
//! never reopened for writing: a writer starting on an existing log begins a new segment, so a tail torn by a
//! crash stays where it is and readers skip it. Readers can follow a log while it is being written.
//! Synchronous std I/O; no async runtime.
#![deny(missing_docs)]

mod error;
pub mod frame;
mod reader;
mod segment;
mod writer;

pub use error::{Error, Result};
pub use reader::{LogReader, ReadStats, Record};
pub use segment::Position;
pub use writer::{FsyncPolicy, LogConfig, LogWriter, LOCK_FILE};

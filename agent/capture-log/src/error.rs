use std::path::PathBuf;

/// Everything that can go wrong with a capture log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused an operation.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`open`, `write`, `fsync` …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A segment's bytes contradict the format.
    #[error("{}: corrupt at byte {offset}: expected {expected}, found {found}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset within it.
        offset: u64,
        /// What the format requires there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A segment written by a newer format version.
    #[error("{}: unsupported segment format version {found} (this build reads version {supported}; upgrade ferry)", path.display())]
    Unsupported {
        /// The segment file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Another writer (in this or another process) has the log open: a log has exactly one writer.
    #[error(
        "capture log {} is already being written{} (lock held on {}); stop that writer or use another directory",
        dir.display(), holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default(), lock.display()
    )]
    Locked {
        /// The log directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// What the lock file says about the holder (`pid N`), when readable.
        holder: Option<String>,
    },
    /// zstd refused to set up a compression context (an invalid level, or no memory).
    #[error("cannot create a zstd compressor at level {level}: {source}")]
    Zstd {
        /// The configured level.
        level: i32,
        /// zstd's complaint.
        source: std::io::Error,
    },
    /// A record larger than a frame may hold.
    #[error("record of {len} bytes exceeds the frame limit of {limit} bytes")]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// [`crate::frame::MAX_PAYLOAD`].
        limit: usize,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

use std::path::PathBuf;

/// Why a unit of backfill work stopped. Every variant leaves the unit's checkpoint at the last position the
/// target acknowledged, so the same command can be rerun.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The shard's Lucene files could not be read or decoded.
    #[error(transparent)]
    Documents(#[from] ferry_documents::Error),
    /// The snapshot repository could not be read.
    #[error(transparent)]
    Snapshot(#[from] ferry_snapshot::Error),
    /// A local file (checkpoint, dead-letter file) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint file exists but cannot be used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why it cannot be used, and what to do about it.
        reason: String,
    },
    /// The target refused a whole `_bulk` request in a way retrying cannot fix (for example 401, 403, 413).
    #[error("the target rejected a _bulk request: {reason}")]
    Rejected {
        /// The status and the error the target returned.
        reason: String,
    },
    /// Retryable failures (429, 5xx, connection errors) persisted through every attempt.
    #[error("gave up after {attempts} attempts: {reason}")]
    RetriesExhausted {
        /// How many times the request was sent.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// A reader or sender task stopped without saying why (it panicked).
    #[error("the {0} task stopped unexpectedly")]
    TaskLost(&'static str),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The crate's error type.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a metadata migration as a whole (a single item failing on the target is reported in
/// [`crate::ApplyReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The snapshot repository could not be read.
    #[error(transparent)]
    Snapshot(#[from] ferry_snapshot::Error),
    /// A request to the source or target cluster failed.
    #[error(transparent)]
    Client(#[from] ferry_client::Error),
    /// A live source answered with something that is not the metadata shape expected.
    #[error("{request}: unexpected response: {detail}")]
    UnexpectedResponse {
        /// The request, e.g. `GET /_template`.
        request: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The target is a version this migration cannot write to.
    #[error("unsupported target {target}: {hint}")]
    Unsupported {
        /// The target as detected.
        target: String,
        /// What would work instead.
        hint: String,
    },
    /// An allowlist entry is neither a usable name nor a valid regular expression.
    #[error("allowlist entry {entry:?} is not a valid regular expression: {source}")]
    Allowlist {
        /// The entry as given.
        entry: String,
        /// The regex parser's complaint.
        source: regex::Error,
    },
}

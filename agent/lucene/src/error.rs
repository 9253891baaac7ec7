use std::path::PathBuf;

/// Everything that can go wrong reading a Lucene index. Corruption (the bytes are not what the format says)
/// and incompatibility (a valid format this reader does not support) are separate variants so callers can
/// tell a damaged shard from one that needs a newer Ferry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A path that should be a directory is not.
    #[error("{}: not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A file the index refers to does not exist.
    #[error("{name}: missing from {location}")]
    MissingFile {
        /// The file name.
        name: String,
        /// Where it was looked for.
        location: String,
    },
    /// The bytes contradict the format.
    #[error("{file}: corrupt at byte {offset}: expected {expected}, found {found}")]
    Corrupt {
        /// The file (or `compound:subfile`).
        file: String,
        /// Byte offset within that file.
        offset: u64,
        /// What the format requires there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// The stored checksum does not match the bytes.
    #[error("{file}: checksum mismatch: footer says {stored:08x}, bytes hash to {actual:08x}")]
    Checksum {
        /// The file.
        file: String,
        /// The CRC32 recorded in the footer.
        stored: u64,
        /// The CRC32 of the bytes.
        actual: u64,
    },
    /// A valid file in a format or version this reader does not implement.
    #[error("{file}: unsupported {what}: {found} ({hint})")]
    Unsupported {
        /// The file.
        file: String,
        /// What kind of thing is unsupported (codec, format version, compression mode …).
        what: String,
        /// The value found.
        found: String,
        /// What would make it readable.
        hint: String,
    },
    /// A stored-fields visitor asked to stop; the visitor holds the reason.
    #[error("reading stopped by the consumer")]
    Aborted,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

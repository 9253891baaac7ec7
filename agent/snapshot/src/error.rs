use std::path::PathBuf;

/// Everything that can go wrong reading a snapshot repository. Damaged bytes ([`Error::Corrupt`],
/// [`Error::Checksum`]) are distinct from valid repositories this reader does not handle
/// ([`Error::Unsupported`]) and from names that simply are not there ([`Error::NotFound`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The blob store could not read a key.
    #[error("{store}: cannot read {key}")]
    Store {
        /// The store, as [`crate::BlobStore::describe`] prints it.
        store: String,
        /// The key that failed.
        key: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes contradict the format.
    #[error("{file}: corrupt at byte {offset}: expected {expected}, found {found}")]
    Corrupt {
        /// The blob (or file) name, with any context needed to find it.
        file: String,
        /// Byte offset within it.
        offset: u64,
        /// What the format requires there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A checksum recorded in the repository does not match the data.
    #[error("{file}: checksum mismatch: {what} is {recorded:08x}, the data has {actual:08x}")]
    Checksum {
        /// The file, with the snapshot, index, shard and blob it came from.
        file: String,
        /// Which recorded checksum disagrees.
        what: String,
        /// The recorded CRC32.
        recorded: u64,
        /// The CRC32 the data carries or hashes to.
        actual: u64,
    },
    /// A snapshot, index, shard or blob that the caller asked for does not exist.
    #[error("{what} not found; available: [{}]", available.join(", "))]
    NotFound {
        /// What was looked for.
        what: String,
        /// What exists instead (may be empty).
        available: Vec<String>,
    },
    /// A valid repository feature this reader does not implement.
    #[error("unsupported {what} ({hint})")]
    Unsupported {
        /// What is unsupported, including where it was found.
        what: String,
        /// What would make it readable.
        hint: String,
    },
    /// A Lucene-level failure: codec header or footer framing, or a file read.
    #[error(transparent)]
    Lucene(#[from] ferry_lucene::Error),
    /// A blob that should be JSON is not.
    #[error("{file}: invalid JSON: {source}")]
    Json {
        /// The blob.
        file: String,
        /// The parser's complaint, with line and column.
        source: serde_json::Error,
    },
    /// A well-formed document with the wrong structure: a missing field or a field of the wrong type.
    #[error("{file}: at {path}: expected {expected}, found {found}")]
    Schema {
        /// The blob.
        file: String,
        /// Where in the document, e.g. `snapshots[0].state`.
        path: String,
        /// What the reader needs there.
        expected: String,
        /// What the document holds.
        found: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Converts to a [`ferry_lucene::Error`] for the [`ferry_lucene::Directory`] interface, keeping the kind
    /// (I/O, corruption, checksum, unsupported) and the message.
    pub fn into_lucene(self) -> ferry_lucene::Error {
        use ferry_lucene::Error as L;
        match self {
            Error::Lucene(e) => e,
            Error::Store { store, key, source } => L::Io { path: PathBuf::from(format!("{store}/{key}")), source },
            Error::Corrupt { file, offset, expected, found } => L::Corrupt { file, offset, expected, found },
            Error::Checksum { file, what, recorded, actual } => {
                L::Checksum { file: format!("{file} ({what})"), stored: recorded, actual }
            }
            Error::NotFound { what, available } => L::MissingFile { name: what, location: available.join(", ") },
            Error::Unsupported { what, hint } => {
                L::Unsupported { file: String::new(), what, found: String::new(), hint }
            }
            e @ (Error::Json { .. } | Error::Schema { .. }) => L::Corrupt {
                file: String::new(),
                offset: 0,
                expected: "valid metadata".to_owned(),
                found: e.to_string(),
            },
        }
    }
}

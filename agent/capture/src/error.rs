use std::path::PathBuf;

/// Everything that can stop the capture proxy from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every problem found is listed.
    #[error("invalid capture configuration:\n  {}", problems.join("\n  "))]
    Config {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// A file the configuration names cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The capture writer thread could not be started.
    #[error("cannot start the capture writer thread: {0}")]
    Thread(std::io::Error),
    /// The capture log failed.
    #[error(transparent)]
    Log(#[from] ferry_capture_log::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

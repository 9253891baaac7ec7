//! The client's error type. Messages name the URL that failed, never credentials.

use std::time::Duration;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work (bad URL, unreadable CA file, conflicting options).
    #[error("invalid cluster configuration: {0}")]
    InvalidConfig(String),
    /// No connection could be opened (DNS, refused, unreachable).
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL requested.
        url: String,
        /// What the operating system or resolver said.
        message: String,
    },
    /// The exchange did not complete within the configured `request_timeout`.
    #[error("{url}: no complete response within {after:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The TLS handshake failed, typically because the server certificate is not trusted.
    #[error("TLS handshake with {url} failed: {message} (check tls.ca_file, or the server certificate's names)")]
    Tls {
        /// The URL requested.
        url: String,
        /// The TLS library's reason.
        message: String,
    },
    /// The connection broke while sending the request or reading the response.
    #[error("{url}: {message}")]
    Io {
        /// The URL requested.
        url: String,
        /// What broke.
        message: String,
    },
    /// The server answered with a status the caller treats as failure.
    #[error("{url}: HTTP {status}: {excerpt}")]
    Http {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (the server's error message).
        excerpt: String,
    },
    /// A body that should be JSON is not.
    #[error("{what} is not valid JSON: {source}")]
    Json {
        /// Which body (usually the URL it came from).
        what: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// AWS credentials could not be obtained or the request could not be signed.
    #[error("AWS SigV4: {0}")]
    Aws(String),
}

//! The crate's one error type.

use ferry_traffic::http1::ParseError;
use ferry_traffic::message::ContentError;

/// Why a captured request could not be parsed, a rule set could not be built, or a rule could not rewrite a
/// request. Rule errors name the rule by its position in the `[[transform]]` list (`transform[0]` is the first).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The captured bytes are not an HTTP/1.1 request.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The capture stopped inside the request, so its body is not all there.
    #[error("request is incomplete: the capture holds {have} of its body bytes")]
    Incomplete {
        /// Body bytes that were captured.
        have: usize,
    },
    /// The request parsed but cannot be represented as an `http::Request` (bad method, target or header).
    #[error("request cannot be replayed: {0}")]
    Request(String),
    /// A rule's configuration is invalid.
    #[error("transform[{rule}] ({kind}): field `{field}`: {reason}")]
    Config {
        /// Position of the rule in the list.
        rule: usize,
        /// The rule's `type`.
        kind: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A rule needed the body but it is not what the endpoint takes (not JSON, unsupported or corrupt content
    /// coding, a shape the rule cannot rewrite unambiguously).
    #[error("transform[{rule}] ({kind}): {reason}")]
    Body {
        /// Position of the rule in the list.
        rule: usize,
        /// The rule's `type`.
        kind: &'static str,
        /// What was found, and where (line numbers for NDJSON bodies).
        reason: String,
    },
    /// A rule produced a request target that is not a valid URI (e.g. a rename to a name with a space).
    #[error("transform[{rule}] ({kind}): rewritten target {target:?} is not a valid URI: {reason}")]
    Target {
        /// Position of the rule in the list.
        rule: usize,
        /// The rule's `type`.
        kind: &'static str,
        /// The rewritten path and query.
        target: String,
        /// Why `http` refused it.
        reason: String,
    },
    /// The captured body's content coding could not be removed.
    #[error("transform[{rule}] ({kind}): {source}")]
    Content {
        /// Position of the rule in the list.
        rule: usize,
        /// The rule's `type`.
        kind: &'static str,
        /// The decoder's complaint.
        source: ContentError,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! One line of the replayer's results file.

use serde::{Deserialize, Serialize};

use crate::compare::Difference;

/// The record of one replayed transaction, written by the replayer as one NDJSON line and read by
/// [`crate::report`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    /// The captured connection's id.
    pub connection: String,
    /// The request's number within its connection, from 0.
    pub sequence: u64,
    /// When the source saw the request (RFC 3339).
    pub captured_at: String,
    /// What was asked.
    pub request: RequestSummary,
    /// How the source answered (from the capture).
    pub source: SourceSummary,
    /// How the target answered.
    pub target: TargetSummary,
    /// The outcome.
    pub verdict: VerdictKind,
    /// What differs (empty unless `verdict` is `mismatch`).
    #[serde(default)]
    pub differences: Vec<Difference>,
    /// The request had already been sent before a restart (at-least-once delivery sent it again).
    #[serde(default)]
    pub replayed_twice: bool,
}

/// The request, as sent to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// [`crate::Endpoint::name`].
    pub endpoint: String,
    /// [`crate::Endpoint::indices`].
    #[serde(default)]
    pub indices: Vec<String>,
    /// Body size in bytes, as sent.
    pub bytes: u64,
}

/// The source's captured response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSummary {
    /// Status code (absent if the capture holds no usable response).
    #[serde(default)]
    pub status: Option<u16>,
    /// From the end of the request to the end of the response, as captured (absent without timestamps).
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Body size in bytes, as captured.
    pub bytes: u64,
}

/// The target's response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    /// Status code (absent when the request failed without a response).
    #[serde(default)]
    pub status: Option<u16>,
    /// From sending the request to receiving the whole response (or to the failure).
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Body size in bytes, as received.
    #[serde(default)]
    pub bytes: u64,
    /// Why there is no response to compare (connection refused, timeout, retries exhausted).
    #[serde(default)]
    pub error: Option<String>,
}

/// The outcome of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// The responses agree after normalisation.
    Match,
    /// They differ; see `differences`.
    Mismatch,
    /// No comparison was possible (the target did not answer, or the source response is unusable).
    Error,
}

impl VerdictKind {
    /// The name used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Match => "match",
            VerdictKind::Mismatch => "mismatch",
            VerdictKind::Error => "error",
        }
    }
}

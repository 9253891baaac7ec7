//! Decisions about one replayed exchange: whether a send is retried, and the result line it produces (and the
//! server ids its two responses pair up, see [`ServerIds`]).

use std::borrow::Cow;
use std::io::Write;

use bytes::Bytes;
use ferry_replay_compare::{
    Comparer, GeneratedIds, RequestSummary, ResultLine, SourceSummary, TargetSummary, VerdictKind,
};
use ferry_traffic::exchange::Exchange;
use ferry_traffic::message::{decode_content, ContentError};

use crate::server_ids::ServerIds;
use crate::time::{millis_between, rfc3339};

/// What sending a request came to, after retries.
#[derive(Debug)]
pub(crate) enum Sent {
    /// The target answered (any status).
    Response {
        /// The answer.
        response: ferry_client::Response,
        /// Time of the last attempt.
        latency_ms: f64,
    },
    /// No answer after every attempt.
    Failed {
        /// The last error.
        error: String,
        /// Time of the last attempt.
        latency_ms: f64,
        /// Attempts made.
        attempts: u32,
    },
}

/// Whether a send is worth repeating: the target could not be reached or did not answer in time, or it
/// throttled (429, 503) a request the source had accepted. Everything else the target says — a 5xx included
/// — is its answer, to be compared with the source's.
pub(crate) fn should_retry(result: &ferry_client::Result<ferry_client::Response>, source_status: Option<u16>) -> bool {
    match result {
        Ok(response) => matches!(response.status, 429 | 503) && source_status.is_some_and(|s| (200..300).contains(&s)),
        Err(error) => matches!(
            error,
            ferry_client::Error::Connect { .. } | ferry_client::Error::Io { .. } | ferry_client::Error::Timeout { .. }
        ),
    }
}

/// A copy of a request for another attempt (`http::Request` is not `Clone` because of its extensions, which
/// a replayed request does not use).
pub(crate) fn copy_request(request: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The result line of a replayed exchange. The source's response is compared with the target's when both
/// exist; without a captured source response (the capture ended first) or without a target response (not
/// delivered) the verdict is `error`.
pub(crate) fn result_line(
    connection: &str,
    exchange: &Exchange,
    request: &http::Request<Bytes>,
    sent: &Sent,
    replayed_twice: bool,
    comparer: &Comparer,
    server_ids: &ServerIds,
) -> ResultLine {
    let endpoint = ferry_replay_compare::endpoint(request.method(), request.uri().path());
    let head_request = request.method() == http::Method::HEAD;
    let source = if exchange.complete {
        ferry_replay_compare::parse_response(&exchange.response, head_request).map_err(|e| e.to_string())
    } else {
        Err("no complete source response was captured".to_string())
    };
    let source_summary = SourceSummary {
        status: exchange.response_head.as_ref().map(|h| h.status).filter(|_| source.is_ok()),
        latency_ms: millis_between(exchange.request_end.as_ref(), exchange.response_end.as_ref()),
        bytes: exchange.response.len() as u64,
    };
    let (target_summary, verdict, differences) = match (sent, &source) {
        (Sent::Response { response, latency_ms }, Ok(source)) => match to_http(response) {
            Ok(target) => {
                let generated = GeneratedIds::of(request);
                server_ids.learn(request, &generated, source.body(), target.body());
                let verdict = comparer.compare_knowing(request, generated, source, &target);
                let kind = if verdict.matched { VerdictKind::Match } else { VerdictKind::Mismatch };
                (target_summary(response, *latency_ms, None), kind, verdict.differences)
            }
            Err(e) => (target_summary(response, *latency_ms, Some(e.to_string())), VerdictKind::Error, Vec::new()),
        },
        (Sent::Response { response, latency_ms }, Err(reason)) => {
            (target_summary(response, *latency_ms, Some(format!("source: {reason}"))), VerdictKind::Error, Vec::new())
        }
        (Sent::Failed { error, latency_ms, .. }, _) => (
            TargetSummary { status: None, latency_ms: Some(*latency_ms), bytes: 0, error: Some(error.clone()) },
            VerdictKind::Error,
            Vec::new(),
        ),
    };
    ResultLine {
        connection: connection.to_string(),
        sequence: exchange.number,
        captured_at: exchange.request_start.or(exchange.request_end).as_ref().map(rfc3339).unwrap_or_default(),
        request: RequestSummary {
            method: request.method().to_string(),
            path: request.uri().path_and_query().map_or_else(|| "/".to_string(), |p| p.to_string()),
            endpoint: endpoint.name,
            indices: endpoint.indices,
            bytes: request.body().len() as u64,
        },
        source: source_summary,
        target: target_summary,
        verdict,
        differences,
        replayed_twice,
    }
}

fn target_summary(response: &ferry_client::Response, latency_ms: f64, error: Option<String>) -> TargetSummary {
    TargetSummary {
        status: Some(response.status),
        latency_ms: Some(latency_ms),
        bytes: response.body.len() as u64,
        error,
    }
}

/// The target's response with its content coding removed, as the source's captured one is.
fn to_http(response: &ferry_client::Response) -> Result<http::Response<Bytes>, ContentError> {
    let encoding = response.headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let body = match decode_content(&response.body, encoding, ferry_replay_compare::MAX_BODY_BYTES)? {
        Cow::Borrowed(_) => response.body.clone(),
        Cow::Owned(decoded) => Bytes::from(decoded),
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = http::StatusCode::from_u16(response.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *out.headers_mut() = response.headers.clone();
    out.headers_mut().remove(http::header::CONTENT_ENCODING);
    Ok(out)
}

/// Appends `line` and a newline.
pub(crate) fn write_line(out: &mut impl Write, line: &ResultLine) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

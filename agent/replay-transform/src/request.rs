//! Captured request bytes → an `http::Request` the sender can replay.

use bytes::Bytes;
use ferry_traffic::http1::Side;
use ferry_traffic::message;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{Method, Request, Uri, Version};

use crate::error::{Error, Result};

/// Headers that describe one hop of the captured connection, not the request (RFC 9110 §7.6.1), plus `Expect`:
/// the whole body is known up front, so waiting for `100 Continue` would only slow the replay down.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Headers that carry credentials: marked sensitive so `Debug` output of the request never shows them.
const SENSITIVE: &[&str] = &["authorization", "cookie", "x-amz-security-token", "x-api-key"];

/// Parses the first request in `raw` (bytes after it are ignored): the transfer coding is removed,
/// `Transfer-Encoding` dropped and `Content-Length` set to the body length whenever the request declared a body,
/// hop-by-hop headers (and those named by `Connection`) dropped, the content coding (`Content-Encoding`) left as
/// captured. An absolute-form target (`http://host/path`, sent to proxies) becomes origin-form: the sender picks
/// the target. A request whose capture stopped inside the body is [`Error::Incomplete`].
pub fn parse_request(raw: &[u8]) -> Result<Request<Bytes>> {
    let message = message::decode(raw, Side::Request, false)?;
    if !message.complete {
        return Err(Error::Incomplete { have: message.body.len() });
    }
    let head = &message.head;
    // The framer only removes `chunked`; a body under any other transfer coding would be replayed still encoded.
    if let Some(coding) = head
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .find(|coding| !coding.eq_ignore_ascii_case("chunked"))
    {
        return Err(Error::Request(format!("transfer coding {coding:?} is not supported (only chunked)")));
    }
    let method = Method::from_bytes(head.method.as_bytes())
        .map_err(|_| Error::Request(format!("method {:?} is not a valid token", head.method)))?;
    let uri = origin_form(&head.target)?;
    let first_line = raw.get(..head.first_line_len).unwrap_or_default();
    let version = if first_line.ends_with(b"HTTP/1.0\r\n") { Version::HTTP_10 } else { Version::HTTP_11 };

    let named_by_connection: Vec<String> = head
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(',').map(|token| token.trim().to_ascii_lowercase()))
        .collect();
    let declared_body = head.header("content-length").is_some() || head.header("transfer-encoding").is_some();

    let mut builder = Request::builder().method(method).uri(uri).version(version);
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) || named_by_connection.contains(&lower) || lower == "content-length" {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Request(format!("header name {name:?} is not valid")))?;
        let mut value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| Error::Request(format!("header {name} has a value with control characters")))?;
        value.set_sensitive(SENSITIVE.contains(&lower.as_str()));
        builder = builder.header(name, value);
    }
    if declared_body || !message.body.is_empty() {
        builder = builder.header(CONTENT_LENGTH, HeaderValue::from(message.body.len()));
    }
    builder.body(Bytes::from(message.body)).map_err(|e| Error::Request(e.to_string()))
}

/// The path and query of a request target; `*` (server-wide `OPTIONS`) stays as it is.
fn origin_form(target: &str) -> Result<Uri> {
    let uri: Uri = target.parse().map_err(|e| Error::Request(format!("request target {target:?}: {e}")))?;
    if uri.scheme().is_none() && uri.authority().is_none() {
        return Ok(uri);
    }
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    path_and_query.parse().map_err(|e| Error::Request(format!("request target {target:?}: {e}")))
}

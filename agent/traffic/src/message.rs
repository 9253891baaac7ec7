//! Whole captured HTTP/1.1 messages decoded for the replayer: the head, and the body with its transfer coding
//! (chunked) removed, then optionally its content coding (gzip, deflate) removed.
//!
//! The capture keeps bytes exactly as they crossed the wire; replaying a request to another cluster or comparing
//! two responses needs the payload instead. [`crate::http1::Framer`] finds where the message ends; this module
//! only takes the message apart, so both stay consistent on what a message is.

use std::borrow::Cow;
use std::io::Read as _;

use crate::http1::{BodyKind, Event, Framer, Head, ParseError, Side};

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The head (for responses: the final one; interim 1xx responses before it are skipped).
    pub head: Head,
    /// The body with the transfer coding removed; the content coding (`Content-Encoding`) is left as sent.
    pub body: Vec<u8>,
    /// The message ended where its framing says it does (false: the capture stopped inside it, and `body` holds
    /// the complete chunks or bytes that were seen).
    pub complete: bool,
}

/// Decodes the first message in `raw` (bytes after it are ignored). `head_request` says a response answers a
/// `HEAD` request, which has no body whatever its headers say.
pub fn decode(raw: &[u8], side: Side, head_request: bool) -> Result<Message, ParseError> {
    let mut framer = Framer::new(side);
    framer.expect_head_response(head_request);
    let mut at = 0usize;
    let mut head: Option<(Head, usize)> = None;
    while let Some(input) = raw.get(at..).filter(|rest| !rest.is_empty()) {
        let step = framer.next(input)?;
        at = at.saturating_add(step.consumed);
        match step.event {
            Some(Event::Head(h)) if side == Side::Response && h.is_interim() => {
                framer.expect_head_response(head_request);
            }
            Some(Event::Head(h)) => {
                let done = framer.message_done();
                head = Some((h, at));
                if done {
                    break;
                }
            }
            Some(Event::End) if head.is_some() => break,
            Some(Event::End) => {}
            None if step.consumed == 0 => break,
            None => {}
        }
    }
    let Some((head, body_start)) = head else {
        let what = side_name(side);
        return Err(ParseError { what, offset: raw.len() as u64, reason: "no complete head".to_string() });
    };
    let framed = raw.get(body_start..at).unwrap_or_default();
    let (body, complete) = match head.body {
        BodyKind::Empty => (Vec::new(), true),
        BodyKind::Length(n) => (framed.to_vec(), framed.len() as u64 == n),
        // The capture of such a body ends with the connection, which is where the message ends too.
        BodyKind::UntilClose => (framed.to_vec(), true),
        BodyKind::Chunked => dechunk(framed, side, body_start)?,
    };
    Ok(Message { head, body, complete })
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Request => "request",
        Side::Response => "response",
    }
}

/// Concatenates the chunk data of a chunked body the framer has already validated; an incomplete body yields the
/// complete chunks and `false`.
fn dechunk(framed: &[u8], side: Side, base: usize) -> Result<(Vec<u8>, bool), ParseError> {
    let mut body = Vec::with_capacity(framed.len());
    let mut at = 0usize;
    loop {
        let Some(line_len) = framed.get(at..).and_then(|rest| rest.windows(2).position(|w| w == b"\r\n")) else {
            return Ok((body, false));
        };
        let line = framed.get(at..at + line_len).unwrap_or_default();
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let size = std::str::from_utf8(line.get(..digits).unwrap_or_default())
            .ok()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ParseError {
                what: side_name(side),
                offset: (base + at) as u64,
                reason: "bad chunk size line".to_string(),
            })?;
        at += line_len + 2;
        if size == 0 {
            // Trailers follow; they are not part of the payload.
            return Ok((body, true));
        }
        match at.checked_add(size).and_then(|end| framed.get(at..end)) {
            Some(data) => body.extend_from_slice(data),
            None => {
                body.extend_from_slice(framed.get(at..).unwrap_or_default());
                return Ok((body, false));
            }
        }
        at += size + 2;
    }
}

/// Why a body's content coding could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// A coding other than gzip, deflate or identity.
    #[error("unsupported Content-Encoding {0:?} (supported: gzip, x-gzip, deflate, identity)")]
    Unsupported(String),
    /// The compressed bytes are corrupt or truncated.
    #[error("{encoding} body does not decode: {source}")]
    Corrupt {
        /// The coding that failed.
        encoding: String,
        /// The decoder's complaint.
        source: std::io::Error,
    },
    /// The decoded body would exceed the caller's limit (a decompression bomb or simply too big to compare).
    #[error("decoded body exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
}

/// Removes the content coding named by a `Content-Encoding` value, producing at most `limit` bytes.
/// `None`, empty and `identity` borrow the input unchanged.
pub fn decode_content<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, ContentError> {
    let encoding = content_encoding.map(str::trim).unwrap_or_default().to_ascii_lowercase();
    let limited = |reader: &mut dyn std::io::Read| -> Result<Vec<u8>, ContentError> {
        let mut out = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        reader
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|source| ContentError::Corrupt { encoding: encoding.clone(), source })?;
        if out.len() > limit {
            return Err(ContentError::TooLarge { limit });
        }
        Ok(out)
    };
    match encoding.as_str() {
        "" | "identity" => Ok(Cow::Borrowed(body)),
        "gzip" | "x-gzip" => limited(&mut flate2::read::MultiGzDecoder::new(body)).map(Cow::Owned),
        // RFC 9110 says zlib-wrapped, but some servers send raw DEFLATE: the zlib header tells them apart.
        "deflate" if is_zlib_header(body) => limited(&mut flate2::read::ZlibDecoder::new(body)).map(Cow::Owned),
        "deflate" => limited(&mut flate2::read::DeflateDecoder::new(body)).map(Cow::Owned),
        other => Err(ContentError::Unsupported(other.to_string())),
    }
}

/// Whether `body` starts with an RFC 1950 (zlib) header: `deflate` bodies come both zlib-wrapped, as the RFC
/// says, and raw, as some servers send them.
pub fn is_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn a_chunked_request_loses_its_framing_but_not_its_bytes() {
        let raw = b"POST /_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let message = decode(raw, Side::Request, false).unwrap();
        assert_eq!(message.head.method, "POST");
        assert_eq!(message.body, b"hello world");
        assert!(message.complete);
    }

    #[test]
    fn interim_responses_are_skipped_and_lengths_respected() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        let message = decode(raw, Side::Response, false).unwrap();
        assert_eq!(message.head.status, 201);
        assert_eq!(message.body, b"{}");
        assert!(message.complete);
    }

    #[test]
    fn truncated_bodies_are_marked_incomplete() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"";
        let message = decode(raw, Side::Response, false).unwrap();
        assert_eq!((message.body.as_slice(), message.complete), (&b"{\"a\""[..], false));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n9\r\nde";
        let message = decode(raw, Side::Response, false).unwrap();
        assert_eq!((message.body.as_slice(), message.complete), (&b"abcde"[..], false));
    }

    #[test]
    fn head_responses_have_no_body_and_until_close_takes_the_rest() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        assert!(decode(raw, Side::Response, true).unwrap().body.is_empty());
        let raw = b"HTTP/1.1 200 OK\r\n\r\nall of it";
        assert_eq!(decode(raw, Side::Response, false).unwrap().body, b"all of it");
    }

    #[test]
    fn garbage_is_an_error_naming_the_side() {
        let error = decode(b"\x00\x01 nonsense\r\n\r\n", Side::Request, false).unwrap_err();
        assert_eq!(error.what, "request");
        assert!(decode(b"GET / HTTP/1.1\r\n", Side::Request, false).is_err());
        assert!(decode(b"", Side::Response, false).is_err());
    }

    #[test]
    fn content_codings_decode_within_the_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[b'a'; 1000]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode_content(&gz, Some("gzip"), 1000).unwrap().len(), 1000);
        assert!(matches!(decode_content(&gz, Some("GZIP"), 999), Err(ContentError::TooLarge { limit: 999 })));
        assert!(matches!(decode_content(b"plain", None, 0), Ok(Cow::Borrowed(b"plain"))));
        assert!(matches!(decode_content(b"x", Some("br"), 10), Err(ContentError::Unsupported(_))));
        assert!(matches!(decode_content(b"not gzip", Some("gzip"), 10), Err(ContentError::Corrupt { .. })));
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(b"zlib body").unwrap();
        assert_eq!(&*decode_content(&zlib.finish().unwrap(), Some("deflate"), 100).unwrap(), b"zlib body");
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"raw body").unwrap();
        assert_eq!(&*decode_content(&raw.finish().unwrap(), Some("deflate"), 100).unwrap(), b"raw body");
    }
}

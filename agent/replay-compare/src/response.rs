//! Captured response bytes to an [`http::Response`].

use bytes::Bytes;
use ferry_traffic::http1::Side;
use ferry_traffic::message;
use http::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING};

use crate::{Error, Result, MAX_BODY_BYTES};

/// Decodes the captured bytes of a source response: status, headers and the body with the transfer coding
/// (chunked) and the content coding (gzip, deflate) removed, so it compares with a target response whatever
/// either server chose to compress. `Transfer-Encoding` and `Content-Encoding` are dropped and `Content-Length`
/// is set to the decoded length, so the headers describe the body returned. `head_request` says the response
/// answers a `HEAD` request: it has no body and keeps its headers as sent. Interim 1xx responses are skipped.
/// A response the capture cut short is [`Error::Incomplete`].
pub fn parse_response(raw: &[u8], head_request: bool) -> Result<http::Response<Bytes>> {
    let decoded = message::decode(raw, Side::Response, head_request)?;
    if !decoded.complete {
        return Err(Error::Incomplete { got: decoded.body.len() });
    }
    let status = http::StatusCode::from_u16(decoded.head.status).map_err(|e| Error::Head(e.to_string()))?;
    let body = if head_request {
        Bytes::new()
    } else {
        let encoding = decoded.head.header("content-encoding");
        Bytes::from(message::decode_content(&decoded.body, encoding, MAX_BODY_BYTES)?.into_owned())
    };
    let body_len = body.len();
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &decoded.head.headers {
        // Header lines `http` rejects carry nothing a comparison uses; dropping them beats refusing the response.
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        else {
            continue;
        };
        if name == TRANSFER_ENCODING || (!head_request && (name == CONTENT_ENCODING || name == CONTENT_LENGTH)) {
            continue;
        }
        headers.append(name, value);
    }
    if !head_request {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body_len));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_gzip_bodies_come_out_plain_with_a_matching_length() {
        let gz: &[u8] = &[
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xab, 0x56, 0x4a, 0x54, 0xb2, 0x32, 0xac, 0x05,
            0x00, 0xaf, 0xac, 0x1b, 0x56, 0x07, 0x00, 0x00, 0x00,
        ];
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\
             transfer-encoding: chunked\r\n\r\n{:x}\r\n",
            gz.len()
        )
        .into_bytes();
        raw.extend_from_slice(gz);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        let response = parse_response(&raw, false).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body().as_ref(), br#"{"a":1}"#);
        assert_eq!(response.headers()[CONTENT_LENGTH], "7");
        assert!(response.headers().get(CONTENT_ENCODING).is_none());
        assert!(response.headers().get(TRANSFER_ENCODING).is_none());
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn head_responses_keep_their_headers_and_have_no_body() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\ncontent-encoding: gzip\r\n\r\n";
        let response = parse_response(raw, true).unwrap();
        assert!(response.body().is_empty());
        assert_eq!(response.headers()[CONTENT_LENGTH], "1234");
        assert_eq!(response.headers()[CONTENT_ENCODING], "gzip");
    }

    #[test]
    fn cut_and_corrupt_responses_are_errors() {
        let cut = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"", false);
        assert!(matches!(cut, Err(Error::Incomplete { got: 4 })), "{cut:?}");
        let bad_gzip =
            parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-encoding: gzip\r\n\r\nabc", false);
        assert!(matches!(bad_gzip, Err(Error::Content(_))), "{bad_gzip:?}");
        assert!(matches!(parse_response(b"HTTP/1.1 2", false), Err(Error::Http(_))));
        assert!(parse_response(b"", false).is_err());
        assert!(parse_response(b"GET / HTTP/1.1\r\n\r\n", false).is_err());
    }
}

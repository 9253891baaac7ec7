//! A minimal blocking HTTP/1.1 client for end-to-end tests that set up or inspect a server directly: one
//! request per connection (`Connection: close`), chunked bodies decoded.
// Each test binary that includes this module uses a subset of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// Sends `method path` with an optional JSON body to `url` (`http://host:port`) and returns the status and the
/// body parsed as JSON (`Value::Null` for an empty or non-JSON body). Panics on transport errors.
pub fn http(url: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("response without header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// Indexes `docs` (id, source) into `index` with `_bulk` and refreshes it.
pub fn index_docs(url: &str, index: &str, docs: &[(&str, Value)]) {
    let mut body = String::new();
    for (id, source) in docs {
        body.push_str(&serde_json::json!({"index": {"_index": index, "_id": id}}).to_string());
        body.push('\n');
        body.push_str(&source.to_string());
        body.push('\n');
    }
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let request = format!(
        "POST /_bulk?refresh=true HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: \
         application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send bulk");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read bulk response");
    assert!(raw.starts_with("HTTP/1.1 200"), "bulk failed: {raw}");
    assert!(!raw.contains("\"errors\":true"), "bulk item errors: {raw}");
}

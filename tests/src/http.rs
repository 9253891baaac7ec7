//! Raw HTTP/1.1 clients for tests that talk to a server directly: [`HttpConnection`] (keep-alive, one request at
//! a time, so a capture proxy in between records one connection in this order), and [`http`] / [`index_docs`]
//! for one-off set-up and read-back requests.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

/// How long a request may wait for its response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `method path` with an optional JSON body to `server` (`http://host:port` or `host:port`) on a new
/// connection and returns the status and the body as JSON (`Value::Null` when empty or not JSON). Panics on
/// transport errors.
pub fn http(server: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let response = HttpConnection::connect(server.trim_start_matches("http://")).json(method, path, body);
    (response.status, response.json())
}

/// Indexes `docs` (id, source) into `index` on `server` with one `_bulk` request and refreshes it. Panics unless
/// every document was accepted.
pub fn index_docs(server: &str, index: &str, docs: &[(&str, Value)]) {
    let lines: Vec<Value> =
        docs.iter().flat_map(|(id, source)| [json!({"index": {"_index": index, "_id": id}}), source.clone()]).collect();
    let response = HttpConnection::connect(server.trim_start_matches("http://")).ndjson("/_bulk?refresh=true", &lines);
    assert_eq!(response.status, 200, "bulk failed: {}", response.text());
    assert_ne!(response.json()["errors"], true, "bulk item errors: {}", response.text());
}

/// One HTTP response as a client received it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body with the transfer coding removed.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON, `Value::Null` when it is empty or not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 client connection: every request goes over the same socket, one at a time, so a
/// capture proxy in between records them as one connection in this order.
pub struct HttpConnection {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl HttpConnection {
    /// Connects to `addr` (`host:port`). Panics when it cannot.
    pub fn connect(addr: &str) -> HttpConnection {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(RESPONSE_TIMEOUT)).unwrap_or_else(|e| panic!("read timeout: {e}"));
        // Scripted requests are small and answered one at a time: Nagle would add 40 ms to each.
        stream.set_nodelay(true).unwrap_or_else(|e| panic!("nodelay: {e}"));
        let writer = stream.try_clone().unwrap_or_else(|e| panic!("clone the socket: {e}"));
        HttpConnection { addr: addr.to_string(), reader: BufReader::new(stream), writer }
    }

    /// Sends one request and reads its response. Panics on transport errors or a connection the server closed.
    pub fn request(&mut self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
        self.try_request(method, path, content_type, body)
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.addr))
    }

    /// Sends `body` as `application/json` (nothing when `None`).
    pub fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
        match body {
            Some(value) => self.request(method, path, Some("application/json"), value.to_string().as_bytes()),
            None => self.request(method, path, None, b""),
        }
    }

    /// Sends `lines` as an NDJSON `_bulk`-style body (each line followed by a newline).
    pub fn ndjson(&mut self, path: &str, lines: &[Value]) -> HttpResponse {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.request("POST", path, Some("application/x-ndjson"), body.as_bytes())
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request)?;
        loop {
            let response = self.read_response(method == "HEAD")?;
            // Interim responses (100 Continue) precede the real one.
            if !(100..200).contains(&response.status) {
                return Ok(response);
            }
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read_response(&mut self, head_request: bool) -> io::Result<HttpResponse> {
        let status_line = self.read_line()?;
        let status =
            status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}"))
            })?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let mut response = HttpResponse { status, headers, body: Vec::new() };
        if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(response);
        }
        if response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_line = self.read_line()?;
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16).map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("chunk size {size_line:?}: {e}"))
                    })?;
                if size == 0 {
                    while !self.read_line()?.is_empty() {}
                    break;
                }
                let start = response.body.len();
                response.body.resize(start + size, 0);
                self.reader.read_exact(&mut response.body[start..])?;
                self.read_line()?;
            }
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("content-length {length:?}: {e}")))?;
            response.body.resize(length, 0);
            self.reader.read_exact(&mut response.body)?;
        } else {
            self.reader.read_to_end(&mut response.body)?;
        }
        Ok(response)
    }
}

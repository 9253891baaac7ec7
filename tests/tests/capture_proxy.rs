//! The capture proxy end to end: the real `ferry capture` binary between raw-socket clients and a real upstream
//! (a raw TCP test server whose answers are a pure function of the request bytes, and osmem-server). Clients
//! must see byte-identical responses with and without the proxy, and every exchange must be in the capture log
//! exactly once, byte for byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use ferry_tests::capture_log::{b64, inspect};
use ferry_tests::process::CaptureProxy;
use ferry_tests::{run_ferry, Osmem};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A raw HTTP/1.1 upstream: answers each request with a body derived from the request bytes (method, target,
/// body length and CRC), sends `100 Continue` when asked, resets the connection for `/reset` (by closing with the body unread), answers `/chunked`
/// with a chunked response and anything unparseable with a 400 and a close.
struct RawUpstream {
    addr: String,
}

impl RawUpstream {
    fn start() -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                thread::spawn(move || {
                    let _ = raw_connection(stream);
                });
            }
        });
        RawUpstream { addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn read_line(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    Ok(line)
}

fn raw_connection(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let first = read_line(&mut reader)?;
        if first.is_empty() {
            return Ok(());
        }
        let parts: Vec<&str> = first.trim_end().split(' ').collect();
        let mut headers = Vec::new();
        loop {
            let line = read_line(&mut reader)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            headers.push(line.trim_end().to_ascii_lowercase());
        }
        if parts.len() != 3 || !parts[2].starts_with("HTTP/1.") {
            writer.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbad")?;
            return Ok(());
        }
        let (method, target) = (parts[0], parts[1]);
        if target == "/reset" {
            // Closing with the body unread makes the kernel answer with a reset.
            return Ok(());
        }
        if headers.iter().any(|h| h == "expect: 100-continue") {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        if headers.iter().any(|h| h == "transfer-encoding: chunked") {
            loop {
                let line = read_line(&mut reader)?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
                if size == 0 {
                    // Trailer fields, then the empty line.
                    while !matches!(read_line(&mut reader)?.as_str(), "\r\n" | "") {}
                    break;
                }
                let mut chunk = vec![0u8; size + 2];
                reader.read_exact(&mut chunk)?;
                crc.update(&chunk[..size]);
                len += size as u64;
            }
        } else if let Some(cl) = headers.iter().find_map(|h| h.strip_prefix("content-length: ")) {
            let mut left: u64 = cl.parse().unwrap_or(0);
            while left > 0 {
                let n = reader.read(&mut buf[..left.min(65536) as usize])?;
                if n == 0 {
                    return Ok(());
                }
                crc.update(&buf[..n]);
                len += n as u64;
                left -= n as u64;
            }
        }
        let body = format!("{method} {target} len={len} crc={:08x}\n", crc.finalize());
        if target == "/chunked" {
            write!(
                writer,
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            )?;
        } else if method == "HEAD" {
            write!(writer, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len())?;
        } else {
            write!(writer, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())?;
        }
    }
}

/// Sends `request` (then half-closes) and returns everything received until the server closes.
fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let writer = {
        let mut w = stream.try_clone().expect("clone");
        let request = request.to_vec();
        // Written from a thread so responses are read while a large body is still being sent.
        thread::spawn(move || {
            let _ = w.write_all(&request);
            let _ = w.shutdown(Shutdown::Write);
        })
    };
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let _ = writer.join();
    response
}

fn temp_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    (dir, log)
}

fn chunked_request() -> Vec<u8> {
    b"POST /idx/_bulk HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n"
        .to_vec()
}

#[test]
fn responses_are_byte_identical_and_every_exchange_is_logged_once() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
    let gzip_body: Vec<u8> = (0..5000u32).flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes()).collect();
    let mut gzip = format!(
        "PUT /gz/_doc/1 HTTP/1.1\r\nhost: x\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        gzip_body.len()
    )
    .into_bytes();
    gzip.extend_from_slice(&gzip_body);
    let pipelined = [
        &b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"[..],
        b"HEAD /b HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET /chunked HTTP/1.1\r\nhost: x\r\nauthorization: Basic c2VjcmV0\r\n\r\n",
        b"POST /c HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nabcde",
    ]
    .concat();
    let continued = b"POST /cont HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\nbody".to_vec();
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("pipelined keep-alive", pipelined, 4),
        ("chunked request", chunked_request(), 1),
        ("gzip body", gzip, 1),
        ("100-continue", continued, 1),
    ];
    let mut expected_exchanges = 0;
    for (name, request, exchanges) in &cases {
        let direct = exchange(&upstream.addr, request);
        let proxied = exchange(proxy.addr(), request);
        assert!(!direct.is_empty(), "{name}: the upstream answered");
        assert_eq!(String::from_utf8_lossy(&proxied), String::from_utf8_lossy(&direct), "{name}");
        expected_exchanges += exchanges;
    }
    proxy.stop();

    let (lines, summary) = inspect(&log);
    assert_eq!(lines.len(), expected_exchanges, "{summary}");
    assert!(lines.iter().all(|l| l["complete"] == true), "{lines:?}");
    // Requests come back exactly as sent (with the authorization value masked, same length), in order.
    let requests: Vec<Vec<u8>> = lines.iter().map(|l| b64(l, "request_base64")).collect();
    let mut all_sent: Vec<u8> = cases.iter().flat_map(|(_, r, _)| r.clone()).collect();
    let secret = b"Basic c2VjcmV0";
    let at = all_sent.windows(secret.len()).position(|w| w == secret).expect("the secret was sent");
    all_sent[at..at + secret.len()].copy_from_slice(b"***** ********");
    assert!(requests.concat() == all_sent, "the captured requests differ from the bytes sent");
    let statuses: Vec<u64> = lines.iter().map(|l| l["status"].as_u64().unwrap_or(0)).collect();
    assert_eq!(statuses, vec![200; expected_exchanges]);
    let head = lines.iter().find(|l| l["method"] == "HEAD").expect("the HEAD exchange");
    assert!(String::from_utf8_lossy(&b64(head, "response_base64")).ends_with("\r\n\r\n"), "HEAD has no body");
    let cont = lines.iter().find(|l| l["path"] == "/cont").expect("the 100-continue exchange");
    assert!(b64(cont, "response_base64").starts_with(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"));
}

#[test]
fn a_50_mb_body_streams_through_unchanged() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
    let body: Vec<u8> = (0..50 * 1024 * 1024u32).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
    let mut request =
        format!("POST /big/_bulk HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    request.extend_from_slice(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n");
    let direct = exchange(&upstream.addr, &request);
    let proxied = exchange(proxy.addr(), &request);
    assert_eq!(String::from_utf8_lossy(&proxied), String::from_utf8_lossy(&direct));
    assert!(String::from_utf8_lossy(&direct).contains(&format!("len={}", body.len())));
    proxy.stop();
    let (lines, summary) = inspect(&log);
    assert_eq!(lines.len(), 2, "{summary}");
    assert_eq!(b64(&lines[0], "request_base64").len(), request.len() - 32);
    assert_eq!(lines[1]["path"], "/after");
}

#[test]
fn malformed_requests_aborts_and_upstream_resets_are_passed_through() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);

    // Malformed: forwarded unframed, so the upstream's own answer reaches the client unchanged.
    let garbage = b"THIS IS NOT HTTP\r\n\r\n".to_vec();
    let direct = exchange(&upstream.addr, &garbage);
    assert_eq!(exchange(proxy.addr(), &garbage), direct);
    assert!(direct.starts_with(b"HTTP/1.1 400"));

    // CONNECT is refused by the proxy itself, cleanly.
    let refused = exchange(proxy.addr(), b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com\r\n\r\n");
    assert!(refused.starts_with(b"HTTP/1.1 501 Not Implemented\r\n"), "{}", String::from_utf8_lossy(&refused));

    // The client aborts mid-body: nothing comes back, and the proxy keeps serving.
    let aborted = exchange(proxy.addr(), b"POST /abort HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nonly ten b");
    assert!(aborted.is_empty());

    // The upstream resets: the client's connection ends without a response, as without the proxy.
    let mut reset = b"POST /reset HTTP/1.1\r\nhost: x\r\ncontent-length: 262144\r\n\r\n".to_vec();
    reset.resize(reset.len() + 262_144, b'r');
    assert!(exchange(&upstream.addr, &reset).is_empty());
    assert!(exchange(proxy.addr(), &reset).is_empty());

    let ok = b"GET /still-up HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    assert_eq!(exchange(proxy.addr(), &ok), exchange(&upstream.addr, &ok));
    proxy.stop();

    let (lines, summary) = inspect(&log);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap_or("")).collect();
    // The aborted request never completed and the refused one never reached the upstream: neither is an exchange;
    // the garbage is recorded unframed. The reset arrives before or after the proxy forwarded the whole /reset body
    // (socket buffers decide): the request is then either unterminated or an exchange without a response.
    let reset = lines.iter().find(|l| l["path"] == "/reset");
    assert!(reset.is_none_or(|l| l["complete"] == false && l["response_bytes"] == 0), "{reset:?}");
    assert_eq!(paths.last(), Some(&"/still-up"), "{summary}");
    assert_eq!(lines.last().map(|l| l["complete"] == true), Some(true));
}

#[test]
fn a_proxy_killed_with_sigkill_leaves_a_log_that_reopens_and_skips_the_torn_tail() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let request = b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    {
        let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
        exchange(proxy.addr(), &request);
        // The writer flushes each burst to the OS, so the record is in the file before the kill.
        let deadline = Instant::now() + TIMEOUT;
        while inspect(&log).0.is_empty() {
            assert!(Instant::now() < deadline, "the record never reached the log");
            thread::sleep(Duration::from_millis(20));
        }
        drop(proxy); // SIGKILL
    }
    // A crash mid-append leaves half a frame at the end of the segment.
    let segment = std::fs::read_dir(&log)
        .expect("log dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "fcl"))
        .max()
        .expect("a segment");
    let mut file = std::fs::OpenOptions::new().append(true).open(&segment).expect("open segment");
    file.write_all(b"FCF1\x00\x10\x00\x00\x00\x10").expect("append a torn frame");
    drop(file);

    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
    exchange(proxy.addr(), b"GET /second HTTP/1.1\r\nhost: x\r\n\r\n");
    proxy.stop();
    let (lines, summary) = inspect(&log);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap_or("")).collect();
    assert_eq!(paths, vec!["/first", "/second"], "{summary}");
    assert!(summary.contains("1 torn tails"), "{summary}");
}

#[test]
fn osmem_through_the_proxy_matches_the_capture() {
    let osmem = Osmem::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(osmem.url(), &log, &["--suppress-path", "^/_cluster/health"]);
    let bulk = "{\"index\":{\"_index\":\"cap\",\"_id\":\"1\"}}\n{\"f\":1}\n{\"index\":{\"_index\":\"cap\",\"_id\":\"2\"}}\n{\"f\":2}\n";
    let requests = [
        format!("POST /_bulk?refresh=true HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n{bulk}", bulk.len()),
        "GET /_cluster/health HTTP/1.1\r\nhost: x\r\n\r\n".to_string(),
        "GET /cap/_doc/2 HTTP/1.1\r\nhost: x\r\n\r\n".to_string(),
        "HEAD /cap HTTP/1.1\r\nhost: x\r\n\r\n".to_string(),
        "GET /missing/_doc/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_string(),
    ]
    .concat();
    let received = exchange(proxy.addr(), requests.as_bytes());
    proxy.stop();
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("\"_id\":\"2\""), "{text}");
    let (lines, summary) = inspect(&log);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap_or("")).collect();
    // The health check was suppressed: forwarded (its response is in `received`) but not captured.
    assert_eq!(paths, vec!["/_bulk?refresh=true", "/cap/_doc/2", "/cap", "/missing/_doc/1"], "{summary}");
    assert!(summary.contains("1 requests not captured"), "{summary}");
    let statuses: Vec<u64> = lines.iter().map(|l| l["status"].as_u64().unwrap_or(0)).collect();
    assert_eq!(statuses, vec![200, 200, 200, 404]);
    // Each captured response is a contiguous slice of what the client received, in order.
    let mut at = 0;
    for line in &lines {
        let response = b64(line, "response_base64");
        let found = received[at..].windows(response.len()).position(|w| w == response.as_slice());
        let found = found.unwrap_or_else(|| panic!("{} response not received as captured", line["path"]));
        at += found + response.len();
    }
}

#[test]
fn a_client_that_stops_sending_mid_head_still_gets_the_upstream_answer() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
    // The head never ends: the upstream sees the client's end of stream and answers what it got, late.
    let unfinished = b"GET /unfinished HTTP/1.1\r\nhost: x\r\n".to_vec();
    let direct = exchange(&upstream.addr, &unfinished);
    assert!(direct.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&direct));
    let proxied = exchange(proxy.addr(), &unfinished);
    assert_eq!(String::from_utf8_lossy(&proxied), String::from_utf8_lossy(&direct));
    // A complete request before the unfinished one: both answers arrive, in order.
    let both = [&b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n"[..], &unfinished].concat();
    assert_eq!(
        String::from_utf8_lossy(&exchange(proxy.addr(), &both)),
        String::from_utf8_lossy(&exchange(&upstream.addr, &both))
    );
    proxy.stop();
    let (lines, summary) = inspect(&log);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap_or("")).collect();
    assert_eq!(paths, vec!["/first"], "an unfinished request is not an exchange: {summary}");
}

#[test]
fn a_second_proxy_on_the_same_log_fails_clearly() {
    let upstream = RawUpstream::start();
    let (_dir, log) = temp_log();
    let proxy = CaptureProxy::start(&upstream.url(), &log, &[]);
    let log_arg = log.to_str().expect("a UTF-8 path");
    let second = run_ferry(["capture", "--listen", "127.0.0.1:0", "--upstream", &upstream.url(), "--log", log_arg]);
    assert!(!second.success(), "{}", second.stderr);
    assert!(second.stderr.contains("is already being written by pid"), "{}", second.stderr);
    // The first proxy is unaffected, and its log stays readable (readers take no lock).
    let request = b"GET /still-mine HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    assert_eq!(exchange(proxy.addr(), &request), exchange(&upstream.addr, &request));
    let deadline = Instant::now() + TIMEOUT;
    while inspect(&log).0.is_empty() {
        assert!(Instant::now() < deadline, "the record never reached the log");
        thread::sleep(Duration::from_millis(20));
    }
    proxy.stop();
    let started_again = CaptureProxy::start(&upstream.url(), &log, &[]);
    started_again.stop();
}

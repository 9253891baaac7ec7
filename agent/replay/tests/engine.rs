//! The replay engine end to end over real bytes: capture-log records written with `LogWriter`, a real HTTP
//! target on 127.0.0.1 (a raw-socket server that records what arrives), the results, dead-letter and
//! checkpoint files read back.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_capture_log::{LogConfig, LogWriter};
use ferry_client::ClusterConfig;
use ferry_replay::{Config, Summary};
use ferry_traffic::{
    Capture, EndOfMessage, Index, Read as ReadObs, Timestamp, TrafficObservation, TrafficStream, Write as WriteObs,
};
use serde_json::Value;

/// A request as the target received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    body: Vec<u8>,
    at: Instant,
    headers: Vec<(String, String)>,
}

/// A keep-alive HTTP/1.1 target that answers `{"path": …, "n": <body length>}` with 200 (201 for PUT), a 500
/// for `/boom`, a 503 for the first request to `/throttled`, takes 300 ms over paths under `/slow/`, and
/// opens a scroll `TARGET-SCROLL` for a search with `?scroll=`.
struct Target {
    addr: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = received.clone();
        let throttled = Arc::new(Mutex::new(false));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let seen = seen.clone();
                let throttled = throttled.clone();
                std::thread::spawn(move || serve(stream, &seen, &throttled));
            }
        });
        Target { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Received>>, throttled: &Mutex<bool>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        seen.lock().unwrap().push(Received {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
            at: Instant::now(),
            headers,
        });
        let status = match path.as_str() {
            "/boom" => 500,
            "/throttled" if !std::mem::replace(&mut *throttled.lock().unwrap(), true) => 503,
            _ if method == "PUT" => 201,
            _ => 200,
        };
        if path.starts_with("/slow/") {
            std::thread::sleep(Duration::from_millis(300));
        }
        let answer = if path.contains("_search?scroll=") {
            "{\"_scroll_id\":\"TARGET-SCROLL\",\"hits\":{\"hits\":[]}}".to_string()
        } else {
            target_body(&path, body.len())
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        writer.write_all(response.as_bytes()).unwrap();
    }
}

fn target_body(path: &str, n: usize) -> String {
    format!("{{\"path\":\"{path}\",\"n\":{n}}}")
}

fn obs(ms: i64, capture: Capture) -> TrafficObservation {
    TrafficObservation::new(
        Timestamp { seconds: 1_700_000_000 + ms / 1000, nanos: (ms % 1000) as i32 * 1_000_000 },
        capture,
    )
}

/// The observations of one exchange captured at `ms`: the request, its end, and a source response.
fn exchange(ms: i64, method: &str, path: &str, body: &str, status: u16, answer: &str) -> Vec<TrafficObservation> {
    let request = format!("{method} {path} HTTP/1.1\r\nhost: source\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
        answer.len()
    );
    vec![
        obs(ms, Capture::Read(ReadObs { data: request.into_bytes() })),
        obs(ms, Capture::EndOfMessageIndicator(EndOfMessage::default())),
        obs(ms + 2, Capture::Write(WriteObs { data: response.into_bytes() })),
    ]
}

/// An exchange whose source answered exactly what the test target will.
fn same(ms: i64, method: &str, path: &str, body: &str) -> Vec<TrafficObservation> {
    let status = if method == "PUT" { 201 } else { 200 };
    exchange(ms, method, path, body, status, &target_body(path, body.len()))
}

fn record(connection: &str, number: i32, prior: i32, observations: Vec<TrafficObservation>) -> TrafficStream {
    TrafficStream {
        connection_id: connection.into(),
        node_id: "n".into(),
        index: Some(Index::Number(number)),
        prior_requests_received: Some(prior),
        last_observation_was_unterminated_read: Some(false),
        sub_stream: observations,
        ..TrafficStream::default()
    }
}

/// A test's temporary directory, its capture log and results paths, and a fresh target.
struct Case {
    dir: tempfile::TempDir,
    log: PathBuf,
    out: PathBuf,
    target: Target,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let (log, out) = (dir.path().join("log"), dir.path().join("results.ndjson"));
        Case { dir, log, out, target: Target::start() }
    }
}

fn write_log(dir: &Path, records: &[Vec<u8>]) {
    let mut writer = LogWriter::open(dir, LogConfig::default()).unwrap();
    for r in records {
        writer.append(r).unwrap();
    }
    writer.sync().unwrap();
}

fn config(log: &Path, target: &str, out: &Path) -> Config {
    let mut config = Config::new(log, ClusterConfig::new(target), out);
    config.as_fast_as_possible = true;
    config.retry_base_ms = 1;
    config
}

fn replay(config: Config) -> Summary {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), ferry_replay::run(config, std::future::pending()))
            .await
            .expect("the replay ends when the log is drained")
            .expect("the replay succeeds")
    })
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn connections_replay_in_order_and_every_response_is_compared() {
    let Case { dir, log, out, target } = Case::new();
    // Two connections, records interleaved; b's second exchange spans two records.
    let mut b1 = same(30, "GET", "/i/_doc/2", "");
    let b1_response = b1.pop().unwrap();
    let records = [
        record("a", 0, 0, same(0, "PUT", "/i/_doc/1", "{\"x\":1}")),
        record("b", 0, 0, same(10, "PUT", "/i/_doc/2", "{\"x\":2}")),
        record("a", 1, 1, exchange(20, "GET", "/i/_doc/1", "", 200, "{\"path\":\"/i/_doc/1\",\"n\":99}")),
        record("b", 1, 1, b1),
        record("b", 2, 2, vec![b1_response]),
        record("a", 2, 2, same(40, "POST", "/boom", "{}")),
    ];
    write_log(&log, &records.iter().map(TrafficStream::encode_to_vec).collect::<Vec<_>>());

    let summary = replay(config(&log, &target.url(), &out));
    assert_eq!((summary.records, summary.replayed, summary.matched, summary.mismatched), (6, 5, 3, 2), "{summary:?}");
    assert_eq!((summary.dead_lettered, summary.skipped_partial, summary.replayed_twice), (0, 0, 0));

    let received = target.received();
    let of = |connection_paths: &[&str]| -> Vec<String> {
        received
            .iter()
            .filter(|r| connection_paths.contains(&r.path.as_str()))
            .map(|r| r.method.clone() + " " + &r.path)
            .collect()
    };
    assert_eq!(of(&["/i/_doc/1", "/boom"]), vec!["PUT /i/_doc/1", "GET /i/_doc/1", "POST /boom"], "a's order");
    let put = received.iter().find(|r| r.method == "PUT" && r.path == "/i/_doc/1").unwrap();
    assert_eq!(put.body, b"{\"x\":1}");
    let host = put.headers.iter().find(|(n, _)| n == "host").map(|(_, v)| v.clone());
    assert_eq!(host.as_deref(), Some(target.addr.as_str()), "Host is the target's");

    let results = lines(&out);
    assert_eq!(results.len(), 5);
    let by_key: HashMap<(String, u64), &Value> = results
        .iter()
        .map(|r| ((r["connection"].as_str().unwrap().to_string(), r["sequence"].as_u64().unwrap()), r))
        .collect();
    let get_a = by_key[&("a".to_string(), 1)];
    assert_eq!(get_a["verdict"], "mismatch", "{get_a}");
    assert!(get_a["request"]["endpoint"].as_str().is_some());
    let boom = by_key[&("a".to_string(), 2)];
    assert_eq!((boom["source"]["status"].as_u64(), boom["target"]["status"].as_u64()), (Some(200), Some(500)));
    assert_eq!(boom["verdict"], "mismatch", "a 5xx is a result to compare, not a retry");
    let b_get = by_key[&("b".to_string(), 1)];
    assert_eq!(b_get["verdict"], "match", "{b_get}");
    assert_eq!(b_get["captured_at"], "2023-11-14T22:13:20.030000Z");

    // Everything is done: the checkpoint is past the last record, so a rerun sends nothing.
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("log.replay-state/checkpoint.json")).unwrap()).unwrap();
    assert!(checkpoint["next"]["log"]["offset"].as_u64().unwrap() > 16, "{checkpoint}");
    let again = replay(config(&log, &target.url(), &out));
    assert_eq!((again.records, again.replayed), (0, 0));
    assert_eq!(target.received().len(), 5);
}

#[test]
fn poison_goes_to_dead_letters_and_the_rest_continues() {
    let Case { dir, log, out, target } = Case::new();
    let mut bad = vec![obs(5, Capture::Read(ReadObs { data: b"\x00\x01 not http\r\n\r\n".to_vec() }))];
    bad.push(obs(5, Capture::EndOfMessageIndicator(EndOfMessage::default())));
    bad.push(obs(6, Capture::Write(WriteObs { data: b"HTTP/1.1 400 X\r\ncontent-length: 0\r\n\r\n".to_vec() })));
    let bytes = vec![
        record("a", 0, 0, same(0, "PUT", "/i/_doc/1", "{}")).encode_to_vec(),
        b"\xff\xff garbage that is no TrafficStream".to_vec(),
        record("a", 1, 1, bad).encode_to_vec(),
        record("a", 2, 2, same(10, "GET", "/i/_doc/1", "")).encode_to_vec(),
    ];
    write_log(&log, &bytes);

    let summary = replay(config(&log, &target.url(), &out));
    assert_eq!((summary.record_errors, summary.dead_lettered, summary.replayed), (1, 2, 2), "{summary:?}");
    let letters = lines(&dir.path().join("log.replay-state/dead-letters.ndjson"));
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["kind"], "record");
    assert!(letters[0]["reason"].as_str().unwrap().contains("undecodable"), "{}", letters[0]);
    assert_eq!((letters[1]["kind"].as_str(), letters[1]["sequence"].as_u64()), (Some("request"), Some(1)));
    assert!(letters[1]["reason"].as_str().unwrap().contains("unparseable"), "{}", letters[1]);
    let paths: Vec<String> = target.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/i/_doc/1", "/i/_doc/1"]);
}

#[test]
fn a_restart_from_an_older_checkpoint_marks_requests_replayed_twice() {
    let Case { dir, log, out, target } = Case::new();
    let records = [
        record("a", 0, 0, same(0, "PUT", "/i/_doc/1", "{}")),
        record("a", 1, 1, same(10, "PUT", "/i/_doc/2", "{}")),
        record("b", 0, 0, same(20, "PUT", "/i/_doc/3", "{}")),
    ];
    write_log(&log, &records.iter().map(TrafficStream::encode_to_vec).collect::<Vec<_>>());
    let first = replay(config(&log, &target.url(), &out));
    assert_eq!((first.replayed, first.replayed_twice), (3, 0));
    // As if the process had died before committing the second record: resume from it.
    let second_at = ferry_capture_log::LogReader::open(&log).unwrap().nth(1).unwrap().unwrap().position;
    let checkpoint = dir.path().join("log.replay-state/checkpoint.json");
    std::fs::write(
        &checkpoint,
        format!(
            "{{\"version\":1,\"next\":{{\"log\":{{\"segment\":{},\"offset\":{}}}}}}}",
            second_at.segment, second_at.offset
        ),
    )
    .unwrap();
    let second = replay(config(&log, &target.url(), &out));
    assert_eq!((second.records, second.replayed, second.replayed_twice), (2, 2, 2), "{second:?}");
    let results = lines(&out);
    let twice: Vec<(String, u64)> = results
        .iter()
        .filter(|r| r["replayed_twice"] == true)
        .map(|r| (r["connection"].as_str().unwrap().to_string(), r["sequence"].as_u64().unwrap()))
        .collect();
    assert_eq!(twice, vec![("a".to_string(), 1), ("b".to_string(), 0)]);
    assert_eq!(target.received().len(), 5);
}

#[test]
fn the_checkpoint_moves_behind_completed_requests_while_a_paced_replay_drains() {
    let Case { dir, log, out, target } = Case::new();
    // The whole log is read at once, but b's request is due 3 s after a's at the captured pace.
    let records =
        [record("a", 0, 0, same(0, "PUT", "/i/_doc/1", "{}")), record("b", 0, 0, same(3000, "GET", "/late", ""))];
    write_log(&log, &records.iter().map(TrafficStream::encode_to_vec).collect::<Vec<_>>());
    let second_at = ferry_capture_log::LogReader::open(&log).unwrap().nth(1).unwrap().unwrap().position;
    let mut config = config(&log, &target.url(), &out);
    config.as_fast_as_possible = false;
    config.checkpoint_interval_secs = 0.05;
    let replaying = std::thread::spawn(move || replay(config));

    let checkpoint = dir.path().join("log.replay-state/checkpoint.json");
    let offset = || -> Option<u64> {
        let stored: Value = serde_json::from_slice(&std::fs::read(&checkpoint).ok()?).ok()?;
        stored["next"]["log"]["offset"].as_u64()
    };
    let started = Instant::now();
    while offset() != Some(second_at.offset) && started.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(offset(), Some(second_at.offset), "the checkpoint is just behind a's completed request");
    let paths: Vec<String> = target.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/i/_doc/1"], "b's request was not due yet");
    assert_eq!(replaying.join().unwrap().replayed, 2);
}

#[test]
fn a_request_begun_after_another_connections_response_waits_for_it_on_the_target() {
    let Case { dir, log, target, .. } = Case::new();
    // On the source, b's GET began 3 ms after a's PUT was answered; the target takes 300 ms over the PUT.
    let records = [
        record("a", 0, 0, same(0, "PUT", "/slow/_doc/1", "{}")),
        record("b", 0, 0, same(5, "GET", "/slow/_doc/1", "")),
    ];
    write_log(&log, &records.iter().map(TrafficStream::encode_to_vec).collect::<Vec<_>>());
    let order = |causal: bool| {
        let out = dir.path().join(format!("results-{causal}.ndjson"));
        let mut config = config(&log, &target.url(), &out);
        config.state_dir = Some(dir.path().join(format!("state-{causal}")));
        config.causal_order = causal;
        let before = target.received().len();
        replay(config);
        let received = target.received().split_off(before);
        assert_eq!(received.len(), 2);
        (received[0].method.clone(), received[1].at.duration_since(received[0].at))
    };
    let (first, gap) = order(true);
    assert_eq!(first, "PUT");
    assert!(gap >= Duration::from_millis(290), "the GET was sent {gap:?} after the PUT, before its answer");
    let (_, gap) = order(false);
    assert!(gap < Duration::from_millis(290), "without causal order both go at once ({gap:?})");
}

#[test]
fn a_scroll_continues_on_the_target_with_the_targets_scroll_id() {
    let Case { dir: _dir, log, out, target } = Case::new();
    let opened = r#"{"_scroll_id":"SOURCE-SCROLL","hits":{"hits":[]}}"#;
    let mut observations = exchange(0, "POST", "/i/_search?scroll=1m", "{}", 200, opened);
    observations.extend(same(10, "POST", "/_search/scroll", r#"{"scroll":"1m","scroll_id":"SOURCE-SCROLL"}"#));
    observations.extend(same(20, "DELETE", "/_search/scroll/SOURCE-SCROLL", ""));
    write_log(&log, &[record("a", 0, 0, observations).encode_to_vec()]);
    replay(config(&log, &target.url(), &out));
    let received = target.received();
    assert_eq!(received[1].body, br#"{"scroll":"1m","scroll_id":"TARGET-SCROLL"}"#);
    assert_eq!(received[2].path, "/_search/scroll/TARGET-SCROLL");
    assert_eq!(lines(&out)[0]["verdict"], "match", "scroll ids are not compared");
}

#[test]
fn a_capture_cut_mid_request_is_skipped_with_a_count() {
    let Case { dir, log, out, target } = Case::new();
    // The capture starts inside request 7 of connection a: its tail, then request 8.
    let mut tail = vec![obs(0, Capture::Read(ReadObs { data: b"\"x\":1}".to_vec() }))];
    tail.push(obs(0, Capture::EndOfMessageIndicator(EndOfMessage::default())));
    tail.push(obs(1, Capture::Write(WriteObs { data: b"HTTP/1.1 200 X\r\ncontent-length: 0\r\n\r\n".to_vec() })));
    tail.extend(same(5, "GET", "/i/_count", ""));
    let mut first = record("a", 5, 7, tail);
    first.last_observation_was_unterminated_read = Some(true);
    // Connection c never completes its request: at the end of a non-follow run it is counted, not sent.
    let half = vec![obs(
        9,
        Capture::Read(ReadObs { data: b"PUT /i/_doc/9 HTTP/1.1\r\ncontent-length: 50\r\n\r\n{".to_vec() }),
    )];
    write_log(&log, &[first.encode_to_vec(), record("c", 0, 0, half).encode_to_vec()]);
    let summary = replay(config(&log, &target.url(), &out));
    assert_eq!((summary.skipped_partial, summary.replayed), (2, 1), "{summary:?}");
    let results = lines(&out);
    assert_eq!(results[0]["sequence"], 8, "numbers come from priorRequestsReceived");
    // The unfinished request keeps the checkpoint at its record, so a later run sees it whole.
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("log.replay-state/checkpoint.json")).unwrap()).unwrap();
    let second_at = ferry_capture_log::LogReader::open(&log).unwrap().nth(1).unwrap().unwrap().position;
    assert_eq!(checkpoint["next"]["log"]["offset"].as_u64(), Some(second_at.offset));
}

#[test]
fn captured_timing_is_kept_scaled_by_the_speedup() {
    let Case { dir: _dir, log, out, target } = Case::new();
    // 1.2 s apart in the capture, on two connections; speedup 4 → about 300 ms apart.
    let records =
        [record("a", 0, 0, same(0, "GET", "/first", "")), record("b", 0, 0, same(1200, "GET", "/second", ""))];
    write_log(&log, &records.iter().map(TrafficStream::encode_to_vec).collect::<Vec<_>>());
    let mut config = config(&log, &target.url(), &out);
    config.as_fast_as_possible = false;
    config.speedup = 4.0;
    replay(config);
    let received = target.received();
    let gap = received[1].at.duration_since(received[0].at);
    assert_eq!(received[1].path, "/second");
    assert!(gap >= Duration::from_millis(280) && gap < Duration::from_millis(1000), "{gap:?}");
}

#[test]
fn throttling_is_retried_and_an_unreachable_target_dead_letters_after_the_attempts() {
    let Case { dir, log, out, target } = Case::new();
    write_log(&log, &[record("a", 0, 0, same(0, "POST", "/throttled", "{}")).encode_to_vec()]);
    let summary = replay(config(&log, &target.url(), &out));
    assert_eq!((summary.retries, summary.matched), (1, 1), "{summary:?}");
    assert_eq!(target.received().len(), 2);

    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log2 = dir.path().join("log2");
    let out2 = dir.path().join("results2.ndjson");
    write_log(&log2, &[record("a", 0, 0, same(0, "PUT", "/i/_doc/1", "{}")).encode_to_vec()]);
    let mut config = config(&log2, &format!("http://127.0.0.1:{port}"), &out2);
    config.max_attempts = 3;
    let summary = replay(config);
    assert_eq!((summary.errors, summary.dead_lettered, summary.retries), (1, 1, 2), "{summary:?}");
    let result = &lines(&out2)[0];
    assert_eq!(result["verdict"], "error");
    assert!(result["target"]["error"].as_str().unwrap().contains("connect"), "{result}");
    let letters = lines(&dir.path().join("log2.replay-state/dead-letters.ndjson"));
    assert!(letters[0]["reason"].as_str().unwrap().contains("after 3 attempts"), "{}", letters[0]);
}

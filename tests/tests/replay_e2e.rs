//! `ferry replay` end to end on the local-log path (no broker): an osmem-server source behind the real capture
//! proxy, a scripted client workload through it, and `ferry replay` into a second osmem-server seeded with the same
//! starting state (created directly on both, not backfilled). Afterwards the target holds the source's documents,
//! the results file and `ferry replay report` show every exchange matched except the differences the test
//! introduced on purpose, a replay killed with SIGKILL resumes to the same final state and counts what it replayed
//! twice, and a poisoned record goes to the dead-letter file while the rest is replayed.
//!
//! Also holds the benchmark's capture generator (`generate_bench_capture`, ignored unless asked for).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;

use ferry_capture_log::{LogConfig, LogWriter};
use ferry_tests::workload::{
    dump, run_burst, run_script, seed, write_bench_capture, BenchCapture, CaptureProxy, CategoryMapping, FerryProcess,
    HttpConnection, Sent, DELIBERATE_AGGREGATION, DELIBERATE_COUNT, GARDEN_TOOLS_AFTER_SCRIPT,
};
use ferry_tests::{run_ferry, Osmem};
use ferry_traffic::{Capture, Close, Connect, EndOfMessage, Index, Timestamp, TrafficObservation, TrafficStream};
use serde_json::{json, Value};

/// Where a test keeps its capture log, replay state and results.
struct Workspace {
    _dir: tempfile::TempDir,
    log: PathBuf,
    state: PathBuf,
    results: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        Workspace { log: root.join("log"), state: root.join("state"), results: root.join("results.ndjson"), _dir: dir }
    }

    /// `ferry replay --log … --target … --out … --state …` plus `extra`.
    fn replay_args(&self, target: &Osmem, extra: &[&str]) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["replay".into(), "--log".into(), self.log.clone().into()];
        args.extend(["--target".into(), target.url().into(), "--out".into(), self.results.clone().into()]);
        args.extend(["--state".into(), self.state.clone().into()]);
        args.extend(extra.iter().map(OsString::from));
        args
    }

    fn replay(&self, target: &Osmem, extra: &[&str]) -> ferry_tests::Output {
        let out = FerryProcess::spawn("replay", self.replay_args(target, extra)).wait();
        assert!(!out.panicked(), "ferry replay panicked:\n{}", out.stderr);
        out.assert_success("ferry replay");
        out
    }
}

/// The results file's lines as JSON, skipping a last line torn by a crash.
fn results(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| match serde_json::from_str(line) {
            Ok(value) => Some(value),
            Err(_) if i == last && !text.ends_with('\n') => None,
            Err(e) => panic!("results line {} is not JSON ({e}): {line}", i + 1),
        })
        .collect()
}

/// Number of complete lines in a results file that may still be written to.
fn complete_lines(path: &Path) -> usize {
    fs::read(path).map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count()).unwrap_or(0)
}

fn request_key(line: &Value) -> (String, String) {
    (
        line["request"]["method"].as_str().unwrap_or("").to_string(),
        line["request"]["path"].as_str().unwrap_or("").to_string(),
    )
}

/// Asserts the target holds exactly the source's documents: every index, every `_id`, every `_source`. Indices
/// written with server-generated ids (`auto_id`) are compared as multisets of sources, since each cluster picks
/// its own ids.
fn assert_same_documents(source: &Osmem, target: &Osmem, auto_id: &[&str]) {
    let (expected, actual) = (dump(source.addr()), dump(target.addr()));
    let names = |d: &BTreeMap<String, BTreeMap<String, Value>>| d.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&actual), names(&expected), "indices on the target vs the source");
    for (index, docs) in &expected {
        let got = &actual[index];
        if auto_id.contains(&index.as_str()) {
            let sources = |d: &BTreeMap<String, Value>| {
                let mut all: Vec<String> = d.values().map(Value::to_string).collect();
                all.sort();
                all
            };
            assert_eq!(sources(got), sources(docs), "{index}: sources (ids are server-generated)");
            continue;
        }
        for (id, source) in docs {
            assert_eq!(got.get(id), Some(source), "{index}/{id} on the target");
        }
        let extra: Vec<&String> = got.keys().filter(|id| !docs.contains_key(*id)).collect();
        assert!(extra.is_empty(), "{index}: documents only on the target: {extra:?}");
    }
}

/// The difference a results line reports at a JSON path, if any.
fn difference<'a>(line: &'a Value, path: &str) -> Option<&'a Value> {
    line["differences"].as_array()?.iter().find(|d| d["path"] == path)
}

#[test]
fn scripted_workload_replays_to_an_equal_target_and_reports_only_the_mapping_difference() {
    let (source, target) = (Osmem::start(), Osmem::start());
    seed(source.addr(), CategoryMapping::Keyword);
    seed(target.addr(), CategoryMapping::Text);
    let ws = Workspace::new();
    let proxy = CaptureProxy::start(source.url(), &ws.log, &[]);
    let transcript = run_script(proxy.addr());
    proxy.stop();

    // Original timing (speedup 1): the dependent writes on two connections need it.
    let out = ws.replay(&target, &[]);
    let lines = results(&ws.results);
    assert_eq!(lines.len(), transcript.sent.len(), "one results line per scripted request:\n{}", out.stderr);
    assert!(lines.iter().all(|l| l["replayed_twice"] == false), "nothing is replayed twice in one clean run");
    assert!(lines.iter().all(|l| l["target"]["error"].is_null()), "no transport errors");
    // Each captured connection replayed exactly one scripted connection's requests, in its order, and the
    // results carry the statuses the client saw from the source.
    let mut replayed: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for line in &lines {
        replayed.entry(line["connection"].as_str().expect("connection id")).or_default().push(line);
    }
    let mut scripted: BTreeMap<&str, Vec<&Sent>> = BTreeMap::new();
    for sent in &transcript.sent {
        scripted.entry(sent.connection).or_default().push(sent);
    }
    assert_eq!(replayed.len(), scripted.len(), "connections: {:?}", replayed.keys());
    for (connection, mut lines) in replayed {
        lines.sort_by_key(|l| l["sequence"].as_u64());
        let requests: Vec<(String, String)> = lines.iter().map(|l| request_key(l)).collect();
        let (name, sent) = scripted
            .iter()
            .find(|(_, sent)| sent.iter().map(|s| (s.method.clone(), s.path.clone())).eq(requests.iter().cloned()))
            .unwrap_or_else(|| panic!("{connection} replayed {requests:?}, which no scripted connection sent"));
        for (line, sent) in lines.iter().zip(sent) {
            assert_eq!(line["source"]["status"].as_u64(), Some(u64::from(sent.status)), "{name}: {line}");
        }
    }

    // Every exchange matched except the two deliberate differences, which carry the right detail.
    let deliberate = [DELIBERATE_COUNT, DELIBERATE_AGGREGATION].map(|(m, p)| (m.to_string(), p.to_string()));
    let mismatched: Vec<&Value> = lines.iter().filter(|l| l["verdict"] != "match").collect();
    let mismatched_keys: BTreeSet<(String, String)> = mismatched.iter().map(|l| request_key(l)).collect();
    assert_eq!(
        mismatched_keys,
        deliberate.iter().cloned().collect(),
        "only the deliberate differences mismatch:\n{}",
        mismatched.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
    );
    assert_same_documents(&source, &target, &["events"]);
    let shared = HttpConnection::connect(target.addr()).json("GET", "/orders/_doc/shared", None).json();
    assert_eq!(shared["_source"], json!({"step": 3, "by": "b", "checked": true}), "{shared}");

    let count = lines.iter().find(|l| request_key(l) == deliberate[0]).expect("the count line");
    assert_eq!(count["verdict"], "mismatch", "{count}");
    assert_eq!((count["source"]["status"].as_u64(), count["target"]["status"].as_u64()), (Some(200), Some(200)));
    let value = difference(count, "/count").unwrap_or_else(|| panic!("no /count difference: {count}"));
    assert_eq!((&value["source"], &value["target"]), (&json!(GARDEN_TOOLS_AFTER_SCRIPT), &json!(0)), "{value}");
    assert_eq!(count["request"]["indices"], json!(["products"]), "{count}");
    assert_eq!(count["request"]["endpoint"], "_count", "{count}");
    let aggregation = lines.iter().find(|l| request_key(l) == deliberate[1]).expect("the aggregation line");
    assert_eq!(aggregation["verdict"], "mismatch", "{aggregation}");
    assert_eq!(aggregation["request"]["endpoint"], "_search", "{aggregation}");
    assert_eq!(
        (aggregation["source"]["status"].as_u64(), aggregation["target"]["status"].as_u64()),
        (Some(200), Some(400))
    );
    assert!(
        aggregation["differences"].as_array().is_some_and(|d| d.iter().any(|d| d["kind"] == "status")),
        "{aggregation}"
    );

    // The report summarises the same: totals, and the differences with their endpoint, path and values.
    let report = run_ferry([OsString::from("replay"), "report".into(), ws.results.clone().into()]);
    report.assert_success("ferry replay report");
    let text = report.stdout_str();
    let total = transcript.sent.len();
    let expected_text = [
        format!("{total} transactions: {} matched, 2 mismatched, 0 errors (0 replayed twice)", total - 2),
        format!("source {GARDEN_TOOLS_AFTER_SCRIPT} / target 0"),
        "source 200 / target 400".to_string(),
        "Please use a keyword field instead".to_string(),
    ];
    for expected in &expected_text {
        assert!(text.contains(expected.as_str()), "the report does not say {expected:?}:\n{text}");
    }
    let report = run_ferry([OsString::from("replay"), "report".into(), ws.results.clone().into(), "--json".into()]);
    report.assert_success("ferry replay report --json");
    let json: Value = serde_json::from_str(report.stdout_str()).expect("report --json prints JSON");
    assert_eq!(report_number(&json, "matched"), Some(total as u64 - 2), "{json:#}");
    assert_eq!(report_number(&json, "mismatched"), Some(2), "{json:#}");
    assert_eq!(report_number(&json, "replayed_twice"), Some(0), "{json:#}");
    let groups = json["differences"].as_array().cloned().unwrap_or_default();
    let group = |endpoint: &str, path: &str, kind: &str| {
        groups
            .iter()
            .find(|g| g["endpoint"] == endpoint && g["path"] == path && g["kind"] == kind)
            .unwrap_or_else(|| panic!("no {endpoint} {path:?} {kind} difference in the report: {json:#}"))
    };
    let count_group = group("_count", "/count", "value");
    assert_eq!(count_group["count"], 1, "{count_group}");
    let example = &count_group["example"];
    assert_eq!((&example["source"], &example["target"]), (&json!(GARDEN_TOOLS_AFTER_SCRIPT), &json!(0)), "{example}");
    assert_eq!((&example["connection"], &example["sequence"]), (&count["connection"], &count["sequence"]));
    let status_group = group("_search", "", "status");
    assert_eq!((&status_group["example"]["source"], &status_group["example"]["target"]), (&json!(200), &json!(400)));
    // The target's error is shown beside the status (the source had none).
    let error_group = group("_search", "/error", "missing_in_source");
    assert!(error_group["example"]["target"].to_string().contains("illegal_argument_exception"), "{error_group}");
    assert_eq!(groups.len(), 3, "only the two deliberate differences: {json:#}");
}

/// A total from `ferry replay report --json`: `totals.<name>`, or `<name>` at the top level.
fn report_number(report: &Value, name: &str) -> Option<u64> {
    report["totals"][name].as_u64().or_else(|| report[name].as_u64())
}

#[test]
fn a_replay_killed_with_sigkill_resumes_to_the_same_state_and_counts_what_it_replayed_twice() {
    let (source, target) = (Osmem::start(), Osmem::start());
    let ws = Workspace::new();
    let proxy = CaptureProxy::start(source.url(), &ws.log, &[]);
    let sent = run_burst(proxy.addr(), 4, 300, Duration::from_millis(2));
    proxy.stop();

    // Original timing, so the replay lasts about as long as the capture; killed once half is done.
    let mut replay = FerryProcess::spawn("replay", ws.replay_args(&target, &[]));
    let deadline = Instant::now() + Duration::from_secs(60);
    while complete_lines(&ws.results) < sent / 2 {
        assert!(replay.is_running(), "the replay ended before it could be killed:\n{}", replay.stderr());
        assert!(Instant::now() < deadline, "no progress in the results file:\n{}", replay.stderr());
        thread::sleep(Duration::from_millis(5));
    }
    assert!(replay.is_running(), "the replay ended before it could be killed");
    replay.kill();
    let before = complete_lines(&ws.results);
    let checkpoint = fs::read_to_string(ws.state.join("checkpoint.json")).unwrap_or_default();
    eprintln!("killed after {before} of {sent} results lines; checkpoint: {checkpoint}");
    assert!(before < sent, "the kill came after the end ({before} of {sent} lines)");

    let out = ws.replay(&target, &["--as-fast-as-possible"]);
    assert_same_documents(&source, &target, &[]);

    // At least once: every request has a line. A request the first run may have delivered (its journal entry
    // is written before it goes out) is marked `replayed_twice` when sent again, which covers every request
    // with a line from each run; only those may mismatch (a repeated PUT says "updated", a repeated DELETE 404).
    let lines = results(&ws.results);
    let mut seen: BTreeMap<(String, u64), Vec<&Value>> = BTreeMap::new();
    for line in &lines {
        let key = (line["connection"].as_str().unwrap_or("").to_string(), line["sequence"].as_u64().unwrap_or(0));
        seen.entry(key).or_default().push(line);
    }
    assert_eq!(seen.len(), sent, "every captured request has a results line");
    let mut repeated = 0;
    for (key, copies) in &seen {
        assert!(copies.len() <= 2, "{key:?} has {} results lines", copies.len());
        if let [_, again] = copies.as_slice() {
            assert_eq!(again["replayed_twice"], true, "{key:?} was sent by both runs: {again}");
            repeated += 1;
        }
    }
    let twice = lines.iter().filter(|l| l["replayed_twice"] == true).count();
    assert!(twice > 0, "a replay killed mid-way sends some requests again after the restart");
    // The checkpoint moved behind completed requests while the replay ran, so the restart sent again only what
    // was in flight or done since the last commit, not everything done before the kill.
    eprintln!("{twice} requests sent again of {before} done before the kill");
    assert!(checkpoint.contains("\"offset\""), "a checkpoint was written before the kill: {checkpoint:?}");
    assert!(twice < before / 2, "{twice} of {before} requests sent again: the checkpoint lagged far behind");
    for line in lines.iter().filter(|l| l["verdict"] != "match") {
        assert_eq!(line["replayed_twice"], true, "a request sent once mismatches: {line}");
    }
    let report = run_ferry([OsString::from("replay"), "report".into(), ws.results.clone().into(), "--json".into()]);
    report.assert_success("ferry replay report --json");
    let json: Value = serde_json::from_str(report.stdout_str()).expect("report --json prints JSON");
    assert_eq!(report_number(&json, "replayed_twice"), Some(twice as u64), "{json:#}");
    eprintln!("{repeated} requests replayed again, {twice} marked replayed twice");
    eprintln!("restart summary:\n{}", out.stderr);
}

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

/// A captured connection whose second request is not HTTP: record 0 holds a valid `PUT` and its response,
/// record 1 the garbage request (with a plausible response) and the close. Mid-connection, a request without an
/// HTTP head is what the client sent, not a fragment of a capture that began mid-request.
fn poisoned_connection(now: i64) -> [TrafficStream; 2] {
    let observation =
        |capture| TrafficObservation { ts: at(now), capture: Some(capture), ..TrafficObservation::default() };
    let read = |data: &[u8]| observation(Capture::Read(ferry_traffic::Read { data: data.to_vec() }));
    let write = |data: &[u8]| observation(Capture::Write(ferry_traffic::Write { data: data.to_vec() }));
    let eom = || observation(Capture::EndOfMessageIndicator(EndOfMessage::default()));
    let body = r#"{"tag":"poisoned-connection"}"#;
    let put = format!(
        "PUT /poison/_doc/p HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let created = r#"{"_index":"poison","_id":"p","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}"#;
    let response = format!(
        "HTTP/1.1 201 Created\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\n\r\n{created}",
        created.len()
    );
    let record = |number, sub_stream| TrafficStream {
        connection_id: "poisoned-connection".to_string(),
        node_id: "test".to_string(),
        sub_stream,
        prior_requests_received: Some(number),
        index: Some(if number == 1 { Index::NumberOfThisLastChunk(number) } else { Index::Number(number) }),
        ..TrafficStream::default()
    };
    [
        record(
            0,
            vec![observation(Capture::Connect(Connect {})), read(put.as_bytes()), eom(), write(response.as_bytes())],
        ),
        record(
            1,
            vec![
                read(b"\x00\x01NOT HTTP AT ALL\r\n\r\n"),
                eom(),
                write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"),
                observation(Capture::Close(Close {})),
            ],
        ),
    ]
}

/// Bytes that are not a `TrafficStream`: field 1 with a length running past the end.
const GARBAGE_RECORD: &[u8] = b"\x0a\xff\xff\xff\xff\x0fgarbage that is no protobuf";

#[test]
fn a_poisoned_record_goes_to_the_dead_letter_file_and_the_rest_is_replayed() {
    let (source, target) = (Osmem::start(), Osmem::start());
    let ws = Workspace::new();
    let write = |addr: &str, ids: std::ops::Range<u32>| {
        let mut conn = HttpConnection::connect(addr);
        for i in ids {
            let created = conn.json("PUT", &format!("/poison/_doc/{i}"), Some(&json!({"tag": format!("t{i}")})));
            assert_eq!(created.status, 201, "{}", created.text());
        }
    };
    let proxy = CaptureProxy::start(source.url(), &ws.log, &[]);
    write(proxy.addr(), 0..5);
    proxy.stop();
    // Between the two capture sessions: a record whose request is not HTTP, and one that is not a record.
    {
        let mut log = LogWriter::open(&ws.log, LogConfig::default()).expect("open the log");
        let now = Timestamp::now().seconds;
        for record in poisoned_connection(now) {
            log.append(&record.encode_to_vec()).expect("append the poisoned connection");
        }
        log.append(GARBAGE_RECORD).expect("append garbage");
        log.sync().expect("sync");
    }
    // The synthetic connection's valid request did not pass the proxy: the source gets it directly.
    let direct = HttpConnection::connect(source.addr()).json(
        "PUT",
        "/poison/_doc/p",
        Some(&json!({"tag": "poisoned-connection"})),
    );
    assert_eq!(direct.status, 201, "{}", direct.text());
    let proxy = CaptureProxy::start(source.url(), &ws.log, &[]);
    write(proxy.addr(), 5..10);
    proxy.stop();

    let out = ws.replay(&target, &["--as-fast-as-possible"]);
    assert_same_documents(&source, &target, &[]);
    let lines = results(&ws.results);
    assert_eq!(lines.len(), 11, "the eleven good requests are replayed:\n{}", out.stderr);
    assert!(lines.iter().all(|l| l["verdict"] == "match"));

    let dead = ws.state.join("dead-letters.ndjson");
    let text = fs::read_to_string(&dead).unwrap_or_else(|e| panic!("no dead-letter file {}: {e}", dead.display()));
    let letters: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("dead letters are JSON")).collect();
    let poisoned = letters
        .iter()
        .find(|l| l.to_string().contains("poisoned-connection"))
        .unwrap_or_else(|| panic!("the poisoned request is not dead-lettered:\n{text}"));
    assert_eq!(poisoned["kind"], "request", "{poisoned}");
    assert_eq!(poisoned["sequence"], 1, "{poisoned}");
    assert_eq!(letters.len(), 2, "the poisoned request and the undecodable record:\n{text}");
    let garbage = letters.iter().find(|l| l["kind"] == "record").unwrap_or_else(|| panic!("no record letter: {text}"));
    let kept = base64::engine::general_purpose::STANDARD.decode(garbage["bytes_base64"].as_str().unwrap_or(""));
    assert_eq!(kept.ok().as_deref(), Some(GARBAGE_RECORD), "the undecodable record is kept as it was");
    assert!(letters.iter().all(|l| l["reason"].as_str().is_some_and(|r| !r.is_empty())), "{text}");
    assert!(out.stderr.contains("dead-lettered"), "the summary names dead letters:\n{}", out.stderr);
}

/// Writes the replay benchmark's capture (tests/bench/replay.sh runs this): `FERRY_BENCH_CAPTURE=DIR`,
/// `FERRY_BENCH_REQUESTS` (default 200000), `FERRY_BENCH_RATE` (captured requests/s, default 2000). Prints the
/// totals as one JSON line.
#[test]
#[ignore = "benchmark input generator; run by tests/bench/replay.sh"]
fn generate_bench_capture() {
    let Some(dir) = std::env::var_os("FERRY_BENCH_CAPTURE") else {
        panic!("set FERRY_BENCH_CAPTURE to the directory to write the capture log into");
    };
    let number = |name: &str, default: u64| {
        std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")))
    };
    let spec = BenchCapture {
        requests: number("FERRY_BENCH_REQUESTS", 200_000),
        connections: number("FERRY_BENCH_CONNECTIONS", 16),
        captured_rate: number("FERRY_BENCH_RATE", 2_000),
        docs_per_bulk: number("FERRY_BENCH_DOCS_PER_BULK", 5),
        search_every: number("FERRY_BENCH_SEARCH_EVERY", 5),
    };
    let started = Instant::now();
    let totals = write_bench_capture(Path::new(&dir), &spec).expect("write the capture");
    println!(
        "{}",
        json!({"requests": totals.requests, "bulks": totals.bulks, "docs": totals.docs,
            "request_bytes": totals.request_bytes, "response_bytes": totals.response_bytes,
            "span_ms": totals.span_ms, "captured_rate": spec.captured_rate,
            "generate_s": started.elapsed().as_secs_f64()})
    );
}

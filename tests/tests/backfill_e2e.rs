//! `ferry backfill` end to end against a real `osmem-server`: every fixture snapshot lands with exactly its live
//! documents; ES 5.6 types merge or split; kill -9 then rerun gives the exact set; a target answering 429 for a
//! while still gets everything; a document the target rejects goes to the dead-letter file with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_tests::{ferry_bin, fixtures_dir, run_ferry, Lucene, Oracle, Output};
use serde_json::{json, Value};

/// An `osmem-server` on a free loopback port, killed by PID when dropped (also on panic).
struct Osmem {
    child: Child,
    addr: String,
}

impl Osmem {
    fn start() -> Osmem {
        let cache = std::env::var_os("FERRY_CACHE").map(PathBuf::from).unwrap_or_else(|| "/var/tmp/ferry-cache".into());
        let bin = cache.join("venv/lib/python3.11/site-packages/osmem_server/bin/osmem-server");
        assert!(bin.is_file(), "osmem-server is missing at {}: run scripts/setup", bin.display());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["-addr", &addr, "-no-stdin-watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let server = Osmem { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(try_http(&server.addr, "GET", "/", None), Ok((200, _))) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("osmem-server did not answer on {} within 30 s", server.addr);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Osmem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange with `Connection: close`; the body is read to the end (chunked bodies decoded).
fn try_http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader)?;
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw)?;
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    Ok((status, if chunked { dechunk(&raw) } else { raw }))
}

fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let (status, bytes) = try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Reads a status line and headers (names lower-cased).
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Ok((status, headers));
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

/// Every document of `index` in the target, by id: (routing, source).
fn target_docs(addr: &str, index: &str) -> BTreeMap<String, (Option<String>, Value)> {
    assert_eq!(http(addr, "POST", &format!("/{index}/_refresh"), None).0, 200);
    let mut docs = BTreeMap::new();
    let (status, mut page) = http(
        addr,
        "POST",
        &format!("/{index}/_search?scroll=1m"),
        Some(&json!({"size": 5000, "query": {"match_all": {}}})),
    );
    assert_eq!(status, 200, "{page}");
    loop {
        let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
        if hits.is_empty() {
            break;
        }
        for hit in hits {
            let id = hit["_id"].as_str().unwrap().to_owned();
            let routing = hit.get("_routing").and_then(Value::as_str).map(str::to_owned);
            assert!(docs.insert(id.clone(), (routing, hit["_source"].clone())).is_none(), "duplicate hit {id}");
        }
        let scroll_id = page["_scroll_id"].clone();
        page = http(addr, "POST", "/_search/scroll", Some(&json!({"scroll": "1m", "scroll_id": scroll_id}))).1;
    }
    let (_, count) = http(addr, "GET", &format!("/{index}/_count"), None);
    assert_eq!(count["count"].as_u64(), Some(docs.len() as u64), "_count agrees with the scroll");
    docs
}

/// The snapshot's live documents per index, as `ferry snapshot docs` reads them: id → (routing, source).
fn snapshot_docs(repo: &Path, snapshot: &str) -> BTreeMap<String, BTreeMap<String, (Option<String>, Value)>> {
    let out = run_ferry(["snapshot", "docs", "--repo", repo.to_str().unwrap(), "--snapshot", snapshot]);
    out.assert_success("ferry snapshot docs");
    let mut by_index: BTreeMap<String, BTreeMap<_, _>> = BTreeMap::new();
    for line in out.stdout_str().lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        let routing = doc.get("_routing").and_then(Value::as_str).map(str::to_owned);
        let index = doc["_index"].as_str().unwrap().to_owned();
        by_index
            .entry(index)
            .or_default()
            .insert(doc["_id"].as_str().unwrap().to_owned(), (routing, doc["_source"].clone()));
    }
    by_index
}

fn backfill(args: &[&str]) -> Output {
    let mut all = vec!["backfill"];
    all.extend_from_slice(args);
    run_ferry(all)
}

fn totals(out: &Output) -> Value {
    let line = out.stdout_str().lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("totals line {line:?}: {e}; stderr: {}", out.stderr))
}

const FIXTURES: &[(&str, &str)] = &[
    ("ES_5_6_Updates_Deletes", "rfs_snapshot"),
    ("ES_6_8_Single", "global_state_snapshot"),
    ("ES_6_8_Updates_Deletes_Native", "rfs_snapshot"),
    ("ES_7_10_BWC_Check", "rfs-snapshot"),
    ("ES_7_10_Double", "global_state_snapshot_2"),
    ("ES_7_10_Single", "global_state_snapshot"),
    ("ES_7_10_Updates_Deletes_w_Soft", "rfs_snapshot"),
];

#[test]
fn every_fixture_snapshot_lands_with_exactly_its_live_documents_and_a_rerun_sends_nothing() {
    for (fixture, snapshot) in FIXTURES {
        let server = Osmem::start();
        let state = tempfile::tempdir().unwrap();
        let repo = fixtures_dir().join("snapshots").join(fixture);
        let args = [
            "--repo",
            repo.to_str().unwrap(),
            "--snapshot",
            snapshot,
            "--target",
            &server.url(),
            "--state-dir",
            state.path().to_str().unwrap(),
            "--json",
        ];
        let out = backfill(&args);
        out.assert_success(&format!("backfill of {fixture}"));
        let expected = snapshot_docs(&repo, snapshot);
        let total: usize = expected.values().map(BTreeMap::len).sum();
        assert_eq!(totals(&out)["indexed"].as_u64(), Some(total as u64), "{fixture}: {}", out.stderr);
        for (index, docs) in &expected {
            assert_eq!(&target_docs(&server.addr, index), docs, "{fixture}: {index}");
        }
        let again = backfill(&args);
        again.assert_success("rerun");
        let t = totals(&again);
        assert_eq!(
            (t["indexed"].as_u64(), t["requests"].as_u64()),
            (Some(0), Some(0)),
            "{fixture}: rerun sent nothing"
        );
        assert_eq!(t["resumed"].as_u64(), Some(total as u64));
    }
}

#[test]
fn es_5_6_multi_type_index_splits_per_type_or_merges() {
    let server = Osmem::start();
    let state = tempfile::tempdir().unwrap();
    let repo = fixtures_dir().join("snapshots/ES_5_6_Updates_Deletes");
    let url = server.url();
    let base = ["--repo", repo.to_str().unwrap(), "--snapshot", "rfs_snapshot", "--target", &url, "--json"];
    let split_state = state.path().join("split");
    let mut split = base.to_vec();
    split.extend(["--type-rule", "split", "--state-dir", split_state.to_str().unwrap()]);
    backfill(&split).assert_success("split backfill");
    let type1 = target_docs(&server.addr, "test_updates_deletes_type1");
    let type2 = target_docs(&server.addr, "test_updates_deletes_type2");
    assert_eq!(type1.keys().collect::<Vec<_>>(), ["complexdoc"]);
    assert_eq!(type2.keys().collect::<Vec<_>>(), ["unchangeddoc", "updateddoc"]);
    assert_eq!(type1["complexdoc"].1["title"], "This is a doc with complex history. Updated!");

    let merge_state = state.path().join("merge");
    let mut merge = base.to_vec();
    merge.extend(["--state-dir", merge_state.to_str().unwrap()]);
    backfill(&merge).assert_success("merge backfill");
    let merged = target_docs(&server.addr, "test_updates_deletes");
    assert_eq!(merged.keys().collect::<Vec<_>>(), ["complexdoc", "unchangeddoc", "updateddoc"]);
}

#[test]
fn kill_9_during_backfill_then_rerun_gives_exactly_the_live_documents() {
    let oracle = Oracle::get(Lucene::V8_8);
    let (dir, live) = oracle.expected("large");
    let server = Osmem::start();
    let state = tempfile::tempdir().unwrap();
    let checkpoint = state.path().join("lucene/big/0.json");
    let url = server.url();
    let args = [
        "backfill",
        "--lucene",
        dir.to_str().unwrap(),
        "--index",
        "big",
        "--target",
        &url,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--batch-bytes",
        "200000",
        "--in-flight",
        "2",
        "--json",
    ];
    let mut child = Command::new(ferry_bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed_at = None;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&checkpoint) {
            let c: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(c["complete"], false, "the backfill finished before it could be killed; make it slower");
            if c["indexed"].as_u64().unwrap_or(0) > 2000 {
                killed_at = Some(c);
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "ferry exited before the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = killed_at.expect("no checkpoint past 2000 documents within 120 s");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let out = run_ferry(args);
    out.assert_success("rerun after kill -9");
    let t = totals(&out);
    assert!(t["indexed"].as_u64().unwrap() < live.len() as u64, "the rerun resumed ({t}, killed at {killed_at})");
    let docs = target_docs(&server.addr, "big");
    // The oracle writes a few binary (non-JSON, non-SMILE) sources; those go to the dead-letter file instead.
    let is_json =
        |d: &&ferry_tests::LiveDoc| serde_json::from_slice::<Value>(d.source.as_deref().unwrap_or(b"")).is_ok();
    let (sendable, binary): (Vec<_>, Vec<_>) = live.iter().partition(is_json);
    assert!(!binary.is_empty() && sendable.len() > 30_000);
    let expected: BTreeSet<&str> = sendable.iter().map(|d| d.id.as_str()).collect();
    let actual: BTreeSet<&str> = docs.keys().map(String::as_str).collect();
    assert_eq!(expected.len(), sendable.len());
    assert_eq!(actual.len(), expected.len(), "no duplicates, no gaps");
    assert!(actual == expected, "the target holds exactly the live documents");
    let dead = std::fs::read_to_string(state.path().join("dead-letter.ndjson")).unwrap();
    let dead_ids: BTreeSet<String> =
        dead.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect();
    let binary_ids: BTreeSet<String> = binary.iter().map(|d| d.id.clone()).collect();
    assert_eq!(dead_ids, binary_ids, "every binary source is dead-lettered (possibly twice after the kill)");
    for doc in sendable.iter().step_by(997) {
        let source: Value = serde_json::from_slice(doc.source.as_deref().unwrap()).unwrap();
        assert_eq!(docs[&doc.id].1, source, "{}", doc.summary());
    }
}

/// A proxy in front of `upstream` that answers the first `rejections` `_bulk` requests with 429 and forwards
/// everything else; one request per connection.
fn throttling_proxy(upstream: String, rejections: u32) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let rejected = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&rejected);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (upstream, counter) = (upstream.clone(), Arc::clone(&counter));
            std::thread::spawn(move || proxy_one(stream, &upstream, &counter, rejections));
        }
    });
    (addr, rejected)
}

fn proxy_one(client: TcpStream, upstream: &str, rejected: &AtomicU32, rejections: u32) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (_, headers) = read_head(&mut std::io::Cursor::new(format!("HTTP/1.1 0\r\n{}", {
        let mut rest = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            rest.push_str(&line);
            if line.trim_end().is_empty() {
                break rest;
            }
        }
    })))?;
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut client = client;
    if request_line.contains("/_bulk") && rejected.load(Ordering::SeqCst) < rejections {
        rejected.fetch_add(1, Ordering::SeqCst);
        let reply =
            r#"{"error":{"type":"rejected_execution_exception","reason":"injected by the test proxy"},"status":429}"#;
        return write!(
            client,
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(request_line.as_bytes())?;
    for (k, v) in headers.iter().filter(|(k, _)| k != "connection") {
        write!(server, "{k}: {v}\r\n")?;
    }
    server.write_all(b"Connection: close\r\n\r\n")?;
    server.write_all(&body)?;
    std::io::copy(&mut server, &mut client)?;
    Ok(())
}

#[test]
fn a_target_answering_429_for_a_while_still_gets_every_document() {
    let server = Osmem::start();
    let (proxy, rejected) = throttling_proxy(server.addr.clone(), 4);
    let state = tempfile::tempdir().unwrap();
    let repo = fixtures_dir().join("snapshots/ES_7_10_Double");
    let target = format!("http://{proxy}");
    let out = backfill(&[
        "--repo",
        repo.to_str().unwrap(),
        "--snapshot",
        "global_state_snapshot",
        "--target",
        &target,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--retry-base-ms",
        "20",
        "--json",
    ]);
    out.assert_success("backfill through the throttling proxy");
    assert_eq!(rejected.load(Ordering::SeqCst), 4);
    let t = totals(&out);
    assert!(t["retried"].as_u64().unwrap() >= 4, "{t}");
    for (index, docs) in snapshot_docs(&repo, "global_state_snapshot") {
        assert_eq!(target_docs(&server.addr, &index), docs, "{index}");
    }
}

#[test]
fn a_document_the_target_rejects_goes_to_the_dead_letter_file_and_the_rest_lands() {
    let server = Osmem::start();
    // `posts_2023_02_25` only accepts documents with a `title`, which its one document lacks.
    let strict = json!({"mappings": {"dynamic": "strict", "properties": {"title": {"type": "text"}}}});
    assert_eq!(http(&server.addr, "PUT", "/posts_2023_02_25", Some(&strict)).0, 200);
    let state = tempfile::tempdir().unwrap();
    let dead = state.path().join("rejected.ndjson");
    let repo = fixtures_dir().join("snapshots/ES_6_8_Single");
    let url = server.url();
    let out = backfill(&[
        "--repo",
        repo.to_str().unwrap(),
        "--snapshot",
        "global_state_snapshot",
        "--target",
        &url,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--dead-letter",
        dead.to_str().unwrap(),
        "--json",
    ]);
    out.assert_success("backfill with a rejected document");
    let t = totals(&out);
    assert_eq!((t["indexed"].as_u64(), t["dead_lettered"].as_u64()), (Some(3), Some(1)), "{t}");
    let expected = snapshot_docs(&repo, "global_state_snapshot");
    assert_eq!(target_docs(&server.addr, "posts_2024_01_01"), expected["posts_2024_01_01"]);
    assert!(target_docs(&server.addr, "posts_2023_02_25").is_empty());
    let text = std::fs::read_to_string(&dead).unwrap();
    let letters: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 1);
    let (id, (_, source)) = expected["posts_2023_02_25"].iter().next().unwrap();
    assert_eq!(letters[0]["index"], "posts_2023_02_25");
    assert_eq!(&letters[0]["id"], id);
    assert_eq!(letters[0]["status"], 400);
    assert_eq!(letters[0]["error_type"], "strict_dynamic_mapping_exception");
    assert!(letters[0]["reason"].as_str().unwrap().contains("dynamic"), "{}", letters[0]);
    assert_eq!(&letters[0]["source"], source);
}

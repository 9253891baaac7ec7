//! `ferry backfill` end to end against a real `osmem-server`: every fixture snapshot lands with exactly its live
//! documents; ES 5.6 types merge or split; kill -9 then rerun gives the exact set; a target answering 429 for a
//! while still gets everything; a document the target rejects goes to the dead-letter file with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_tests::http::http;
use ferry_tests::{ferry_bin, fixtures_dir, run_ferry, Lucene, Oracle, Osmem, Output, SNAPSHOT_FIXTURES};
use serde_json::{json, Value};

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

/// `ferry backfill --json` of `snapshot` in the repository `repo` to `target`, keeping its state in `state`, with
/// `extra` flags.
fn backfill(repo: &Path, snapshot: &str, target: &str, state: &Path, extra: &[&str]) -> Output {
    let (repo, state) = (repo.to_str().expect("a UTF-8 path"), state.to_str().expect("a UTF-8 path"));
    let mut args =
        vec!["backfill", "--repo", repo, "--snapshot", snapshot, "--target", target, "--state-dir", state, "--json"];
    args.extend_from_slice(extra);
    run_ferry(args)
}

fn totals(out: &Output) -> Value {
    let line = out.stdout_str().lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("totals line {line:?}: {e}; stderr: {}", out.stderr))
}

#[test]
fn every_fixture_snapshot_lands_with_exactly_its_live_documents_and_a_rerun_sends_nothing() {
    for (fixture, snapshot) in SNAPSHOT_FIXTURES {
        let server = Osmem::start();
        let state = tempfile::tempdir().unwrap();
        let repo = fixtures_dir().join("snapshots").join(fixture);
        let out = backfill(&repo, snapshot, server.url(), state.path(), &[]);
        out.assert_success(&format!("backfill of {fixture}"));
        let expected = snapshot_docs(&repo, snapshot);
        let total: usize = expected.values().map(BTreeMap::len).sum();
        assert_eq!(totals(&out)["indexed"].as_u64(), Some(total as u64), "{fixture}: {}", out.stderr);
        for (index, docs) in &expected {
            assert_eq!(&target_docs(server.addr(), index), docs, "{fixture}: {index}");
        }
        let again = backfill(&repo, snapshot, server.url(), state.path(), &[]);
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
    let split_state = state.path().join("split");
    backfill(&repo, "rfs_snapshot", server.url(), &split_state, &["--type-rule", "split"])
        .assert_success("split backfill");
    let type1 = target_docs(server.addr(), "test_updates_deletes_type1");
    let type2 = target_docs(server.addr(), "test_updates_deletes_type2");
    assert_eq!(type1.keys().collect::<Vec<_>>(), ["complexdoc"]);
    assert_eq!(type2.keys().collect::<Vec<_>>(), ["unchangeddoc", "updateddoc"]);
    assert_eq!(type1["complexdoc"].1["title"], "This is a doc with complex history. Updated!");

    let merge_state = state.path().join("merge");
    backfill(&repo, "rfs_snapshot", server.url(), &merge_state, &[]).assert_success("merge backfill");
    let merged = target_docs(server.addr(), "test_updates_deletes");
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
        url,
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
    let docs = target_docs(server.addr(), "big");
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
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
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
    let (proxy, rejected) = throttling_proxy(server.addr().to_string(), 4);
    let state = tempfile::tempdir().unwrap();
    let repo = fixtures_dir().join("snapshots/ES_7_10_Double");
    let target = format!("http://{proxy}");
    let out = backfill(&repo, "global_state_snapshot", &target, state.path(), &["--retry-base-ms", "20"]);
    out.assert_success("backfill through the throttling proxy");
    assert_eq!(rejected.load(Ordering::SeqCst), 4);
    let t = totals(&out);
    assert!(t["retried"].as_u64().unwrap() >= 4, "{t}");
    for (index, docs) in snapshot_docs(&repo, "global_state_snapshot") {
        assert_eq!(target_docs(server.addr(), &index), docs, "{index}");
    }
}

#[test]
fn a_document_the_target_rejects_goes_to_the_dead_letter_file_and_the_rest_lands() {
    let server = Osmem::start();
    // `posts_2023_02_25` only accepts documents with a `title`, which its one document lacks.
    let strict = json!({"mappings": {"dynamic": "strict", "properties": {"title": {"type": "text"}}}});
    assert_eq!(http(server.addr(), "PUT", "/posts_2023_02_25", Some(&strict)).0, 200);
    let state = tempfile::tempdir().unwrap();
    let dead = state.path().join("rejected.ndjson");
    let repo = fixtures_dir().join("snapshots/ES_6_8_Single");
    let dead_arg = dead.to_str().expect("a UTF-8 path");
    let out = backfill(&repo, "global_state_snapshot", server.url(), state.path(), &["--dead-letter", dead_arg]);
    out.assert_success("backfill with a rejected document");
    let t = totals(&out);
    assert_eq!((t["indexed"].as_u64(), t["dead_lettered"].as_u64()), (Some(3), Some(1)), "{t}");
    let expected = snapshot_docs(&repo, "global_state_snapshot");
    assert_eq!(target_docs(server.addr(), "posts_2024_01_01"), expected["posts_2024_01_01"]);
    assert!(target_docs(server.addr(), "posts_2023_02_25").is_empty());
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

//! The reader → sender pipeline on real snapshot shards, against in-memory targets that misbehave on purpose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferry_backfill::checkpoint::{Checkpoint, Position};
use ferry_backfill::{
    run_unit, BulkReply, BulkTarget, DeadLetterWriter, Error, Options, ShardSource, TargetIndex, Totals, Unit,
};
use ferry_ops::RetryPolicy;
use ferry_snapshot::{FsBlobStore, Repository};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/snapshots").join(name)
}

fn shard(repo: &str, snapshot: &str, index: &str) -> ShardSource {
    let repo = Repository::open(Arc::new(FsBlobStore::open(fixture(repo)).unwrap())).unwrap();
    let snapshot = repo.find_snapshot(snapshot).unwrap().clone();
    ShardSource::snapshot(&repo, &snapshot, index, 0).unwrap()
}

/// Indexed documents by (index, id): (routing, source).
type Indexed = BTreeMap<(String, String), (Option<String>, serde_json::Value)>;

/// What the fake target does with the n-th request (from 1) and each item of it.
type Script = dyn Fn(u32, &str) -> Option<u16> + Send + Sync;

/// An in-memory cluster: indexes what the script lets through, keyed by (index, id), with routing and source.
struct FakeTarget {
    requests: AtomicU32,
    whole_request_status: Box<dyn Fn(u32) -> Option<u16> + Send + Sync>,
    item_status: Box<Script>,
    docs: Mutex<Indexed>,
}

impl FakeTarget {
    fn new(
        whole: impl Fn(u32) -> Option<u16> + Send + Sync + 'static,
        item: impl Fn(u32, &str) -> Option<u16> + Send + Sync + 'static,
    ) -> Arc<FakeTarget> {
        Arc::new(FakeTarget {
            requests: AtomicU32::new(0),
            whole_request_status: Box::new(whole),
            item_status: Box::new(item),
            docs: Mutex::new(BTreeMap::new()),
        })
    }

    fn ids(&self) -> Vec<String> {
        self.docs.lock().unwrap().keys().map(|(index, id)| format!("{index}/{id}")).collect()
    }
}

impl BulkTarget for FakeTarget {
    async fn bulk(&self, body: Bytes) -> Result<BulkReply, String> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(status) = (self.whole_request_status)(n) {
            let body = format!(r#"{{"error":{{"type":"test","reason":"injected {status}"}},"status":{status}}}"#);
            return Ok(BulkReply { status, body: body.into_bytes() });
        }
        assert_eq!(body.last(), Some(&b'\n'), "bulk bodies end with a newline");
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let mut items = Vec::new();
        for pair in lines.chunks(2) {
            let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap();
            let meta = &action["index"];
            let (index, id) = (meta["_index"].as_str().unwrap(), meta["_id"].as_str().unwrap());
            let source: serde_json::Value = serde_json::from_slice(pair[1]).expect("source lines are JSON");
            match (self.item_status)(n, id) {
                Some(status) => items.push(serde_json::json!({"index": {"_index": index, "_id": id, "status": status,
                    "error": {"type": if status == 400 { "mapper_parsing_exception" } else { "es_rejected_execution_exception" },
                              "reason": format!("injected {status}")}}})),
                None => {
                    let routing = meta.get("routing").and_then(|r| r.as_str()).map(str::to_owned);
                    self.docs.lock().unwrap().insert((index.to_owned(), id.to_owned()), (routing, source));
                    items.push(serde_json::json!({"index": {"_index": index, "_id": id, "status": 201}}));
                }
            }
        }
        let reply = serde_json::json!({"took": 1, "errors": true, "items": items});
        Ok(BulkReply { status: 200, body: serde_json::to_vec(&reply).unwrap() })
    }
}

fn fast_retries() -> Options {
    Options {
        max_bytes: 1,
        in_flight: 3,
        retry: RetryPolicy { max_attempts: 6, base: Duration::from_millis(1), max: Duration::from_millis(5) },
    }
}

async fn run(
    source: ShardSource,
    target: &Arc<FakeTarget>,
    state: &Path,
    index: TargetIndex,
    options: Options,
) -> ferry_backfill::Result<ferry_backfill::UnitReport> {
    let unit = Unit { source, target: index, checkpoint: state.join("0.json"), range: None };
    let dead = Arc::new(DeadLetterWriter::new(state.join("dead.ndjson")));
    run_unit(unit, Arc::clone(target), dead, options, Arc::new(Totals::default())).await
}

#[tokio::test]
async fn every_live_document_lands_with_routing_despite_429s_and_one_rejection_is_dead_lettered() {
    let state = tempfile::tempdir().unwrap();
    // Requests 1 and 2 get a whole-request 429; "eEO-…" gets item 429s until request 6; "d0O8…" is rejected.
    let target = FakeTarget::new(
        |n| (n <= 2).then_some(429),
        |n, id| match id {
            "d0O8Zo4B5P7rRiUe4VRD" => Some(400),
            "eEO-Zo4B5P7rRiUeCFSo" if n < 6 => Some(429),
            _ => None,
        },
    );
    let source = shard("ES_7_10_Single", "global_state_snapshot", "posts_2024_01_01");
    let report =
        run(source, &target, state.path(), TargetIndex::fixed("posts_2024_01_01"), fast_retries()).await.unwrap();
    assert_eq!((report.indexed, report.dead_lettered), (2, 1));
    let ids = target.ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"posts_2024_01_01/eEO-Zo4B5P7rRiUeCFSo".to_owned()));
    let (routing, source) =
        target.docs.lock().unwrap()[&("posts_2024_01_01".to_owned(), "eEO-Zo4B5P7rRiUeCFSo".to_owned())].clone();
    assert_eq!(routing.as_deref(), Some("user123"));
    assert_eq!(source["contents"], "My Time in the Blue Man Group");

    let dead = std::fs::read_to_string(state.path().join("dead.ndjson")).unwrap();
    let letter: serde_json::Value = serde_json::from_str(dead.trim()).unwrap();
    assert_eq!(letter["id"], "d0O8Zo4B5P7rRiUe4VRD");
    assert_eq!(letter["routing"], "user123");
    assert_eq!(letter["status"], 400);
    assert_eq!(letter["error_type"], "mapper_parsing_exception");
    assert_eq!(letter["source"]["author"], "Tobias Funke");

    let checkpoint = Checkpoint::load(&state.path().join("0.json")).unwrap().unwrap();
    assert!(checkpoint.complete);
    assert_eq!((checkpoint.indexed, checkpoint.dead_lettered), (2, 1));

    // A rerun reads and sends nothing.
    let quiet = FakeTarget::new(|_| None, |_, _| None);
    let source = shard("ES_7_10_Single", "global_state_snapshot", "posts_2024_01_01");
    let again = run(source, &quiet, state.path(), TargetIndex::fixed("x"), fast_retries()).await.unwrap();
    assert!(again.already_complete);
    assert_eq!(quiet.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_target_that_stays_unavailable_fails_the_unit_and_the_rerun_resumes_after_the_acknowledged_prefix() {
    let state = tempfile::tempdir().unwrap();
    // One document per batch, one request in flight: request 1 succeeds, then the target answers 503 for good.
    let options = Options { in_flight: 1, ..fast_retries() };
    let target = FakeTarget::new(|n| (n > 1).then_some(503), |_, _| None);
    let source = shard("ES_6_8_Updates_Deletes_Native", "rfs_snapshot", "test_updates_deletes");
    let err = run(source, &target, state.path(), TargetIndex::fixed("t"), options).await.unwrap_err();
    assert!(matches!(&err, Error::RetriesExhausted { attempts: 6, reason } if reason.contains("HTTP 503")), "{err}");
    let checkpoint = Checkpoint::load(&state.path().join("0.json")).unwrap().unwrap();
    assert!(!checkpoint.complete);
    assert_eq!(checkpoint.indexed, 1);
    assert!(checkpoint.next > Position::default());
    let first = target.ids();

    let healthy = FakeTarget::new(|_| None, |_, _| None);
    let source = shard("ES_6_8_Updates_Deletes_Native", "rfs_snapshot", "test_updates_deletes");
    let report = run(source, &healthy, state.path(), TargetIndex::fixed("t"), options).await.unwrap();
    assert_eq!(report.started_at, checkpoint.next);
    assert_eq!(report.indexed, 2, "only the documents after the checkpoint are sent again");
    let mut all = first;
    all.extend(healthy.ids());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn es_5_multi_type_documents_split_per_type_and_a_checkpoint_of_another_commit_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let target = FakeTarget::new(|_| None, |_, _| None);
    let source = shard("ES_5_6_Updates_Deletes", "rfs_snapshot", "test_updates_deletes");
    let split = TargetIndex::per_type("test_updates_deletes", |ty| format!("test_updates_deletes_{ty}"));
    run(source, &target, state.path(), split, Options::default()).await.unwrap();
    assert_eq!(
        target.ids(),
        [
            "test_updates_deletes_type1/complexdoc",
            "test_updates_deletes_type2/unchangeddoc",
            "test_updates_deletes_type2/updateddoc"
        ]
    );
    let multi_line =
        target.docs.lock().unwrap()[&("test_updates_deletes_type2".to_owned(), "unchangeddoc".to_owned())].1.clone();
    assert!(multi_line["content"].as_str().unwrap().contains("multiple lines of text\nIts source"));

    let other = shard("ES_6_8_Updates_Deletes_Native", "rfs_snapshot", "test_updates_deletes");
    let err = run(other, &target, state.path(), TargetIndex::fixed("t"), Options::default()).await.unwrap_err();
    assert!(err.to_string().contains("remove it to start the unit over"), "{err}");
}

#[tokio::test]
async fn a_request_level_rejection_stops_the_unit_without_retrying() {
    let state = tempfile::tempdir().unwrap();
    let target = FakeTarget::new(|_| Some(403), |_, _| None);
    let source = shard("ES_7_10_Single", "global_state_snapshot", "posts_2023_02_25");
    let err = run(source, &target, state.path(), TargetIndex::fixed("p"), fast_retries()).await.unwrap_err();
    assert!(matches!(&err, Error::Rejected { reason } if reason.contains("HTTP 403")), "{err}");
    assert_eq!(target.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn two_doc_ranges_of_one_shard_together_send_every_document_once() {
    let state = tempfile::tempdir().unwrap();
    let target = FakeTarget::new(|_| None, |_, _| None);
    let middle = Position { segment: 0, doc: 1 };
    for (name, range) in [("a.json", (Position::default(), middle)), ("b.json", (middle, Position::segment_start(99)))]
    {
        let source = shard("ES_7_10_Single", "global_state_snapshot", "posts_2024_01_01");
        let unit =
            Unit { source, target: TargetIndex::fixed("p"), checkpoint: state.path().join(name), range: Some(range) };
        let dead = Arc::new(DeadLetterWriter::new(state.path().join("dead.ndjson")));
        let report = run_unit(unit, Arc::clone(&target), dead, Options::default(), Arc::new(Totals::default()));
        let report = report.await.unwrap();
        assert!(report.indexed >= 1, "{name}: {report:?}");
        assert!(Checkpoint::load(&state.path().join(name)).unwrap().unwrap().complete);
    }
    assert_eq!(target.ids().len(), 3);
    assert_eq!(target.requests.load(Ordering::SeqCst), 2);
}

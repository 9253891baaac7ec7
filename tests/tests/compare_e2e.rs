//! `ferry compare` end to end on real `osmem-server` clusters: equal clusters compare equal; a changed document is
//! named with the path that differs, a missing one by its id, a count mismatch by its index; a snapshot compares
//! against a target filled with its documents.

use ferry_tests::http::{http, index_docs};
use ferry_tests::{fixtures_dir, run_ferry, Osmem, Output};
use serde_json::{json, Value};

fn compare_live(source: &Osmem, target: &Osmem, extra: &[&str]) -> Output {
    let mut args = vec!["compare", "--source", source.url(), "--target", target.url()];
    args.extend_from_slice(extra);
    run_ferry(args)
}

fn docs(count: usize) -> Vec<(String, Value)> {
    (0..count)
        .map(|i| (format!("doc-{i}"), json!({"n": i, "title": format!("title {i}"), "tags": ["a", "b"]})))
        .collect()
}

fn index_all(url: &str, index: &str, docs: &[(String, Value)]) {
    let borrowed: Vec<(&str, Value)> = docs.iter().map(|(id, source)| (id.as_str(), source.clone())).collect();
    for chunk in borrowed.chunks(500) {
        index_docs(url, index, chunk);
    }
}

#[test]
fn equal_clusters_compare_equal_and_differences_are_named() {
    let source = Osmem::start();
    let target = Osmem::start();
    let all = docs(1200);
    for url in [source.url(), target.url()] {
        index_all(url, "books", &all);
        index_all(url, "films", &all[..10]);
    }
    let equal = compare_live(&source, &target, &["--json"]);
    equal.assert_success("compare equal clusters");
    let report: Value = serde_json::from_str(equal.stdout_str()).expect("--json output");
    assert_eq!(report["equal"], true);
    assert_eq!(report["indices"]["books"]["source"], 1200);
    assert_eq!(report["indices"]["books"]["target"], 1200);
    assert_eq!(report["indices"]["books"]["checked"], 1200);

    // A changed document, then a deleted one.
    index_docs(target.url(), "books", &[("doc-700", json!({"n": 700, "title": "edited", "tags": ["a", "b"]}))]);
    let changed = compare_live(&source, &target, &[]);
    assert!(!changed.success() && !changed.panicked(), "{changed:?}");
    let text = changed.stdout_str();
    assert!(
        text.contains(
            "books/doc-700: _source differs at /title: \"title 700\" on the source, \"edited\" on the target"
        ),
        "{text}"
    );
    assert!(changed.stderr.contains("1 differences"), "{changed:?}");

    let (status, _) = http(target.url(), "DELETE", "/films/_doc/doc-3?refresh=true", None);
    assert_eq!(status, 200);
    let missing = compare_live(&source, &target, &["--json"]);
    assert!(!missing.success());
    let report: Value = serde_json::from_str(missing.stdout_str()).expect("--json output");
    let differences = report["differences"].as_array().unwrap();
    assert!(differences.contains(&json!({"kind": "missing", "index": "films", "id": "doc-3"})), "{report:#}");
    assert!(differences.contains(&json!({"kind": "count", "index": "films", "source": 10, "target": 9})), "{report:#}");
    assert_eq!(report["difference_count"], 3);

    // A sample checks fewer documents but the same counts.
    let sampled = compare_live(&source, &target, &["--json", "--sample", "10", "--index", "books"]);
    let report: Value = serde_json::from_str(sampled.stdout_str()).expect("--json output");
    let checked = report["indices"]["books"]["checked"].as_u64().unwrap();
    assert!((60..=200).contains(&checked), "{report:#}");
    assert_eq!(report["indices"]["books"]["source"], 1200);
    assert!(report["indices"].get("films").is_none(), "the allowlist was ignored: {report:#}");
}

#[test]
fn a_snapshot_compares_with_a_target_holding_its_documents() {
    let repo = fixtures_dir().join("snapshots/ES_7_10_Updates_Deletes_w_Soft");
    let repo = repo.to_str().unwrap();
    let listed = run_ferry(["snapshot", "docs", "--repo", repo, "--snapshot", "rfs_snapshot"]);
    listed.assert_success("snapshot docs");
    let live: Vec<(String, Value)> = listed
        .stdout_str()
        .lines()
        .map(|line| {
            let doc: Value = serde_json::from_str(line).expect("document line");
            (doc["_id"].as_str().expect("_id").to_owned(), doc["_source"].clone())
        })
        .collect();
    assert_eq!(live.len(), 3);

    let target = Osmem::start();
    let compare = || run_ferry(["compare", "--repo", repo, "--snapshot", "rfs_snapshot", "--target", target.url()]);
    let empty = compare();
    assert!(!empty.success());
    assert!(empty.stdout_str().contains("test_updates_deletes: index missing on the target"), "{empty:?}");

    index_all(target.url(), "test_updates_deletes", &live);
    compare().assert_success("compare after indexing the live documents");

    index_docs(target.url(), "test_updates_deletes", &[("deleteddoc", json!({"title": "back from the dead"}))]);
    let extra = compare();
    assert!(!extra.success());
    assert!(
        extra.stdout_str().contains("test_updates_deletes: 3 documents on the source, 4 on the target"),
        "{extra:?}"
    );
}

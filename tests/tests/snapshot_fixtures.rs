//! The `ferry snapshot` commands on every real Elasticsearch snapshot repository in `tests/fixtures`: the
//! right snapshots, indices, templates and aliases, and exactly the live documents with byte-exact `_source`
//! (the expectations come from the fixtures README). Then the failure paths on damaged copies.

use std::path::{Path, PathBuf};

use ferry_tests::{fixtures_dir, run_ferry, Output};
use serde_json::Value;

fn repo(name: &str) -> PathBuf {
    fixtures_dir().join("snapshots").join(name)
}

fn ferry(args: &[&str]) -> Output {
    let out = run_ferry(args);
    assert!(!out.panicked(), "ferry {args:?} panicked:\n{}", out.stderr);
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    out.stdout_str().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn docs(repo: &Path, snapshot: &str, extra: &[&str]) -> Vec<Value> {
    let repo = repo.to_str().unwrap();
    let mut args = vec!["snapshot", "docs", "--repo", repo, "--snapshot", snapshot, "--raw-source"];
    args.extend_from_slice(extra);
    let out = ferry(&args);
    out.assert_success("snapshot docs");
    json_lines(&out)
}

/// (index, id, type, routing, exact source) of a document.
type DocSummary = (String, String, Option<String>, Option<String>, String);

/// The summary of each document, sorted.
fn summary(docs: &[Value]) -> Vec<DocSummary> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut out: Vec<_> = docs
        .iter()
        .map(|d| {
            (
                text(d, "_index").unwrap(),
                text(d, "_id").unwrap(),
                text(d, "_type"),
                text(d, "_routing"),
                text(d, "_source").expect("raw _source string"),
            )
        })
        .collect();
    out.sort();
    out
}

const UNCHANGED_56: &str = "\n\n\n{\n  \"content\": \"This doc will not be changed\\nIt has multiple lines of text\\nIts source doc has extra newlines.\"\n}\n\n";
const UNCHANGED_68: &str = "\n\n\n{\n  \"title\": \"This doc will not be changed\\nIt has multiple lines of text\\nIts source doc has extra newlines.\",\n  \"content\": \"bluh bluh\"\n}\n\n";

#[test]
fn es56_multi_type_updates_and_deletes_leave_exactly_three_typed_docs() {
    let got = summary(&docs(&repo("ES_5_6_Updates_Deletes"), "rfs_snapshot", &[]));
    let doc = |id: &str, ty: &str, src: &str| {
        ("test_updates_deletes".to_owned(), id.to_owned(), Some(ty.to_owned()), None, src.to_owned())
    };
    let mut want = vec![
        doc("complexdoc", "type1", r#"{"title":"This is a doc with complex history. Updated!"}"#),
        doc("updateddoc", "type2", r#"{"content":"Updated!"}"#),
        doc("unchangeddoc", "type2", UNCHANGED_56),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn es68_and_es710_updates_and_deletes_leave_exactly_three_docs() {
    for name in ["ES_6_8_Updates_Deletes_Native", "ES_7_10_Updates_Deletes_w_Soft"] {
        let got = summary(&docs(&repo(name), "rfs_snapshot", &[]));
        let doc = |id: &str, src: &str| ("test_updates_deletes".to_owned(), id.to_owned(), None, None, src.to_owned());
        let mut want = vec![
            doc("complexdoc", r#"{"title":"This is a doc with complex history","content":"Updated!"}"#),
            doc("updateddoc", r#"{"title":"This is doc that will be updated","content":"Updated!"}"#),
            doc("unchangeddoc", UNCHANGED_68),
        ];
        want.sort();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn json_source_mode_prints_one_valid_line_per_document() {
    let out = ferry(&[
        "snapshot",
        "docs",
        "--repo",
        repo("ES_6_8_Updates_Deletes_Native").to_str().unwrap(),
        "--snapshot",
        "rfs_snapshot",
    ]);
    out.assert_success("snapshot docs");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    let unchanged = lines.iter().find(|d| d["_id"] == "unchangeddoc").unwrap();
    assert_eq!(unchanged["_source"]["content"], "bluh bluh");
}

#[test]
fn posts_snapshots_have_their_indices_routing_and_second_snapshot() {
    for name in ["ES_6_8_Single", "ES_7_10_Single", "ES_7_10_Double"] {
        let all = docs(&repo(name), "global_state_snapshot", &[]);
        let per_index = |index: &str| all.iter().filter(|d| d["_index"] == index).count();
        assert_eq!(per_index("posts_2023_02_25"), 1, "{name}");
        assert_eq!(per_index("posts_2024_01_01"), 3, "{name}");
        assert!(all.iter().filter(|d| d["_index"] == "posts_2024_01_01").all(|d| d["_routing"] == "user123"), "{name}");
        assert!(all.iter().all(|d| d.get("_type").is_none()), "{name}: _doc is not printed");
        let only = docs(&repo(name), "global_state_snapshot", &["--index", "posts_2023_02_25", "--shard", "0"]);
        assert_eq!(only.len(), 1);
    }
    let second = docs(&repo("ES_7_10_Double"), "global_state_snapshot_2", &[]);
    assert!(!second.is_empty() && second.iter().all(|d| d["_index"] == "posts_2024_01_01"));
}

#[test]
fn bwc_snapshot_has_typed_and_typeless_docs_and_empty_indices() {
    let got = docs(&repo("ES_7_10_BWC_Check"), "rfs-snapshot", &[]);
    assert_eq!(got.len(), 2);
    let bwc = got.iter().find(|d| d["_index"] == "bwc_index_1").unwrap();
    assert_eq!((bwc["_id"].as_str(), bwc["_type"].as_str()), (Some("bwc_doc"), Some("arbitrary_type")));
    let fwc = got.iter().find(|d| d["_index"] == "fwc_index_1").unwrap();
    assert!(fwc.get("_type").is_none());
}

fn list(name: &str) -> Value {
    let out = ferry(&["snapshot", "list", "--repo", repo(name).to_str().unwrap(), "--json"]);
    out.assert_success("snapshot list");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn list_names_every_snapshot_with_state_version_and_indices() {
    let cases = [
        ("ES_5_6_Updates_Deletes", vec![("rfs_snapshot", "5.6.16", vec!["test_updates_deletes"])]),
        ("ES_6_8_Single", vec![("global_state_snapshot", "6.8.24", vec!["posts_2023_02_25", "posts_2024_01_01"])]),
        (
            "ES_7_10_Double",
            vec![
                ("global_state_snapshot", "7.10.2", vec!["posts_2023_02_25", "posts_2024_01_01"]),
                ("global_state_snapshot_2", "7.10.2", vec!["posts_2024_01_01"]),
            ],
        ),
    ];
    for (name, want) in cases {
        let listed = list(name);
        let got: Vec<(String, String, Vec<String>)> = listed["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["state"], "SUCCESS");
                let mut indices: Vec<String> =
                    s["indices"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect();
                indices.sort();
                (s["name"].as_str().unwrap().to_owned(), s["version"].as_str().unwrap().to_owned(), indices)
            })
            .collect();
        let want: Vec<(String, String, Vec<String>)> = want
            .into_iter()
            .map(|(n, v, i)| (n.to_owned(), v.to_owned(), i.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(got, want, "{name}");
    }
    assert_eq!(list("ES_6_8_Single")["generation"], 1);
}

fn show(name: &str, snapshot: &str) -> Value {
    let out = ferry(&["snapshot", "show", "--repo", repo(name).to_str().unwrap(), "--snapshot", snapshot, "--json"]);
    out.assert_success("snapshot show");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_reports_templates_mappings_and_aliases() {
    let bwc = show("ES_7_10_BWC_Check", "rfs-snapshot");
    let text = bwc.to_string();
    for name in ["bwc_template", "fwc_template", "fwc_mappings", "fwc_settings", "bwc_alias"] {
        assert!(text.contains(name), "BWC metadata lacks {name}");
    }
    let index = &bwc["indices"]["bwc_index_1"];
    assert!(index.to_string().contains("arbitrary_type"), "{index}");

    let es56 = show("ES_5_6_Updates_Deletes", "rfs_snapshot");
    let mappings = es56["indices"]["test_updates_deletes"].to_string();
    assert!(mappings.contains("type1") && mappings.contains("type2"), "{mappings}");

    let es68 = show("ES_6_8_Single", "global_state_snapshot");
    assert!(es68.to_string().contains("posts_index_template"));
    let es710 = show("ES_7_10_Single", "global_state_snapshot");
    assert!(es710.to_string().contains("posts_index_template") && es710.to_string().contains("posts_template"));

    let human = ferry(&[
        "snapshot",
        "show",
        "--repo",
        repo("ES_7_10_BWC_Check").to_str().unwrap(),
        "--snapshot",
        "rfs-snapshot",
    ]);
    human.assert_success("snapshot show");
    let human = human.stdout_str();
    assert!(
        human.contains("legacy: bwc_template") && human.contains("component: fwc_mappings, fwc_settings"),
        "{human}"
    );
}

#[test]
fn unknown_snapshot_index_and_shard_are_clear_errors() {
    let r = repo("ES_7_10_Double");
    let r = r.to_str().unwrap();
    let out = ferry(&["snapshot", "docs", "--repo", r, "--snapshot", "nope"]);
    assert!(
        !out.success() && out.stderr.contains("nope") && out.stderr.contains("global_state_snapshot_2"),
        "{}",
        out.stderr
    );
    let out = ferry(&[
        "snapshot",
        "docs",
        "--repo",
        r,
        "--snapshot",
        "global_state_snapshot_2",
        "--index",
        "posts_2023_02_25",
    ]);
    assert!(!out.success() && out.stderr.contains("posts_2023_02_25"), "{}", out.stderr);
    let out = ferry(&["snapshot", "docs", "--repo", r, "--snapshot", "global_state_snapshot", "--shard", "3"]);
    assert!(!out.success() && out.stderr.contains("no shard 3"), "{}", out.stderr);
    let out = ferry(&["snapshot", "list", "--repo", "/nonexistent/repo"]);
    assert!(!out.success() && out.stderr.contains("/nonexistent/repo"), "{}", out.stderr);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A copy of a fixture repository to damage.
fn damaged_copy(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&repo(name), tmp.path());
    tmp
}

fn data_blobs(root: &Path) -> Vec<PathBuf> {
    let mut blobs = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap().to_str().unwrap().starts_with("__") {
                blobs.push(path);
            }
        }
    }
    blobs.sort();
    blobs
}

fn docs_fail(root: &Path, snapshot: &str) -> String {
    let out = ferry(&["snapshot", "docs", "--repo", root.to_str().unwrap(), "--snapshot", snapshot]);
    assert!(!out.success(), "damaged repository read without error");
    out.stderr
}

#[test]
fn damaged_data_blobs_are_named_in_the_error() {
    let tmp = damaged_copy("ES_6_8_Updates_Deletes_Native");
    let blobs = data_blobs(tmp.path());
    let victim = blobs.iter().max_by_key(|b| std::fs::metadata(b).unwrap().len()).unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap().to_owned();

    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(victim, &bytes).unwrap();
    let err = docs_fail(tmp.path(), "rfs_snapshot");
    assert!(err.contains(&name) && err.contains("checksum"), "flipped byte: {err}");

    bytes[mid] ^= 0x20;
    std::fs::write(victim, &bytes[..bytes.len() - 100]).unwrap();
    let err = docs_fail(tmp.path(), "rfs_snapshot");
    assert!(err.contains(&name), "truncated: {err}");

    std::fs::remove_file(victim).unwrap();
    let err = docs_fail(tmp.path(), "rfs_snapshot");
    assert!(err.contains(&name), "missing: {err}");
}

#[test]
fn damaged_metadata_is_an_error_naming_the_blob() {
    let tmp = damaged_copy("ES_7_10_Single");
    let snap = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("snap-"))
        .unwrap();
    let mut bytes = std::fs::read(&snap).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&snap, &bytes).unwrap();
    let out =
        ferry(&["snapshot", "show", "--repo", tmp.path().to_str().unwrap(), "--snapshot", "global_state_snapshot"]);
    let name = snap.file_name().unwrap().to_str().unwrap();
    assert!(!out.success() && out.stderr.contains(name), "{}", out.stderr);

    std::fs::write(tmp.path().join("index.latest"), b"\x00\x00").unwrap();
    let out = ferry(&["snapshot", "list", "--repo", tmp.path().to_str().unwrap()]);
    assert!(!out.success() && out.stderr.contains("index.latest"), "{}", out.stderr);
}

//! Repository variants newer clusters write: compressed metadata (`DFL\0`, and OpenSearch's `ZSTD\0`),
//! integer versions, OpenSearch hashed shard paths and shallow snapshots, and indices without `_source`.
//!
//! No cluster-written repository with these variants exists here, so each test builds its input from a real
//! fixture by re-encoding it the way the cluster would (the same framing and body, compressed or moved), and
//! checks that it reads exactly like the original.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::{body, copy, fixture, frame, open};
use ferry_lucene::Directory;
use ferry_snapshot::{Error, Repository, ShardPathType, SourceAvailability};

const REPO: &str = "ES_7_10_Single";
const SNAPSHOT: &str = "global_state_snapshot";
const SNAP_UUID: &str = "7_1RHMshSc6c0cuzX1NCDg";
const INDEX: &str = "posts_2024_01_01";
const INDEX_ID: &str = "TKzEIy9ASTq-FuWhogYPHw";

/// Everything a reader gets from the repository, as text: snapshot, global and index metadata, and every
/// verified Lucene file of every shard (by name and CRC).
fn everything(repo: &Repository) -> Vec<String> {
    let mut out = Vec::new();
    for entry in repo.snapshots() {
        out.push(format!("{:?}", repo.snapshot_info(entry).unwrap()));
        out.push(format!("{:?}", repo.global_metadata(entry).unwrap()));
        for index in &entry.indices {
            let meta = repo.index_metadata(entry, index).unwrap();
            out.push(format!("{meta:?}"));
            for shard in 0..meta.number_of_shards {
                let dir = repo.shard_directory(entry, index, shard).unwrap();
                for name in dir.list().unwrap() {
                    out.push(format!("{index}/{shard}/{name}: {:08x}", crc32fast::hash(&dir.open(&name).unwrap())));
                }
                out.push(format!("{:?}", repo.shard_snapshots(index, shard).unwrap()));
            }
        }
    }
    out
}

/// Every `ChecksumBlobStoreFormat` blob under `dir` with its codec name: root and shard `snap-*.dat`, root
/// and index `meta-*.dat`, and shard catalogues `indices/<id>/<shard>/index-<gen>` (the root `index-N` is JSON).
fn framed_blobs(dir: &Path, out: &mut Vec<(std::path::PathBuf, &'static str)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ancestor = |n: usize| path.ancestors().nth(n).and_then(Path::file_name).unwrap_or_default().to_owned();
        if path.is_dir() {
            framed_blobs(&path, out);
        } else if name.starts_with("snap-") {
            out.push((path, "snapshot"));
        } else if name.starts_with("meta-") {
            out.push((path.clone(), if ancestor(2) == "indices" { "index-metadata" } else { "metadata" }));
        } else if name.starts_with("index-") && ancestor(3) == "indices" {
            out.push((path, "snapshots"));
        }
    }
}

fn zstd(body: &[u8]) -> Vec<u8> {
    // OpenSearch's ZstdCompressor: the marker, then a zstd stream (level 3 by default).
    let mut out = b"ZSTD\0".to_vec();
    out.extend_from_slice(&zstd::stream::encode_all(body, 3).unwrap());
    out
}

fn deflate(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(b"DFL\0".to_vec(), flate2::Compression::new(3));
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn compressed_metadata_reads_like_the_original() {
    let original = everything(&open(&fixture(REPO)).unwrap());
    for (marker, compress) in [("DFL", deflate as fn(&[u8]) -> Vec<u8>), ("ZSTD", zstd)] {
        let dir = copy(REPO);
        let mut blobs = Vec::new();
        framed_blobs(dir.path(), &mut blobs);
        assert_eq!(blobs.len(), 8, "{blobs:?}");
        for (path, codec) in &blobs {
            let blob = std::fs::read(path).unwrap();
            std::fs::write(path, frame(codec, &compress(body(&blob)))).unwrap();
        }
        assert_eq!(everything(&open(dir.path()).unwrap()), original, "{marker}");
    }

    // A damaged zstd stream inside valid framing is corruption of that blob, not a panic.
    let dir = copy(REPO);
    let path = dir.path().join(format!("snap-{SNAP_UUID}.dat"));
    let blob = std::fs::read(&path).unwrap();
    let mut compressed = zstd(body(&blob));
    let middle = compressed.len() / 2;
    compressed.truncate(middle);
    std::fs::write(&path, frame("snapshot", &compressed)).unwrap();
    let repo = open(dir.path()).unwrap();
    let err = repo.snapshot_info(repo.find_snapshot(SNAPSHOT).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&format!("snap-{SNAP_UUID}.dat")) && err.to_string().contains("zstd"), "{err}");
}

/// Rewrites the root catalogue `index-1` after `edit`.
fn edit_catalogue(root: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = root.join("index-1");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
}

#[test]
fn integer_versions_read_like_strings() {
    // Elasticsearch 8.9+ writes the snapshot `version` as an id and adds `index_version`.
    let original = everything(&open(&fixture(REPO)).unwrap());
    let dir = copy(REPO);
    edit_catalogue(dir.path(), |json| {
        json["snapshots"][0]["version"] = serde_json::json!(8_500_003);
        json["snapshots"][0]["index_version"] = serde_json::json!(8_500_003);
        json["min_version"] = serde_json::json!(7_090_099);
    });
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot(SNAPSHOT).unwrap();
    assert_eq!(entry.version.as_deref(), Some("8500003"));
    assert_eq!(repo.data().min_version.as_deref(), Some("7090099"));
    assert_eq!(ferry_snapshot::version_name(8_500_003), "8.50.0");
    // index_metadata_identifiers still resolve the deduplicated index metadata blobs.
    assert_eq!(repo.data().index_metadata_identifiers.len(), 2);
    assert_eq!(everything(&repo), original);
}

#[test]
fn hashed_shard_paths_are_followed() {
    // OpenSearch 2.17+ with shard_path_type HASHED_PREFIX: the shard directory moves behind a hash and a
    // snapshot_shard_paths/ blob lists where each shard went.
    let original = everything(&open(&fixture(REPO)).unwrap());
    let dir = copy(REPO);
    let hashed = format!("Xa1b2/indices/{INDEX_ID}/0");
    std::fs::create_dir_all(dir.path().join(&hashed).parent().unwrap()).unwrap();
    std::fs::rename(dir.path().join(format!("indices/{INDEX_ID}/0")), dir.path().join(&hashed)).unwrap();
    edit_catalogue(dir.path(), |json| json["indices"][INDEX]["shard_path_type"] = serde_json::json!(1));
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot(SNAPSHOT).unwrap();
    let err = repo.shard_directory(entry, INDEX, 0).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }) && err.to_string().contains("snapshot_shard_paths"), "{err}");

    let paths_dir = dir.path().join("snapshot_shard_paths");
    std::fs::create_dir_all(&paths_dir).unwrap();
    let paths = serde_json::json!({
        "indexId": INDEX_ID, "indexName": INDEX, "number_of_shards": 1, "shard_path_type": 1,
        "shard_path_hash_algorithm": 1, "paths": [format!("{hashed}/")]
    });
    let name = format!("snapshot_path_{INDEX_ID}#{INDEX}#1#1#1");
    std::fs::write(paths_dir.join(&name), serde_json::to_vec(&paths).unwrap()).unwrap();
    let repo = open(dir.path()).unwrap();
    let index = repo.data().indices.iter().find(|i| i.name == INDEX).unwrap();
    assert_eq!(index.shard_path_type, ShardPathType::HashedPrefix);
    assert_eq!(everything(&repo), original);

    // A listed path that does not name the index and shard is refused rather than followed.
    let wrong = serde_json::json!({"paths": ["Xa1b2/indices/other/0/"]});
    std::fs::write(paths_dir.join(&name), serde_json::to_vec(&wrong).unwrap()).unwrap();
    let err = repo.shard_directory(repo.find_snapshot(SNAPSHOT).unwrap(), INDEX, 0).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }) && err.to_string().contains("other/0"), "{err}");
}

#[test]
fn shallow_snapshots_are_reported_as_unsupported() {
    // A remote-store index's shard holds shallow-snap-<uuid>.dat (remote segment references) instead.
    let dir = copy(REPO);
    let shard = dir.path().join(format!("indices/{INDEX_ID}/0"));
    std::fs::rename(shard.join(format!("snap-{SNAP_UUID}.dat")), shard.join(format!("shallow-snap-{SNAP_UUID}.dat")))
        .unwrap();
    let repo = open(dir.path()).unwrap();
    let err = repo.shard_directory(repo.find_snapshot(SNAPSHOT).unwrap(), INDEX, 0).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("shallow snapshot") && text.contains(INDEX) && text.contains("shard 0"), "{text}");

    // Without the shallow blob it is simply a missing blob.
    std::fs::remove_file(shard.join(format!("shallow-snap-{SNAP_UUID}.dat"))).unwrap();
    let err = repo.shard_directory(repo.find_snapshot(SNAPSHOT).unwrap(), INDEX, 0).unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err}");
}

#[test]
fn indices_without_source_are_recognised() {
    let repo = open(&fixture(REPO)).unwrap();
    let meta = repo.index_metadata(repo.find_snapshot(SNAPSHOT).unwrap(), INDEX).unwrap();
    assert_eq!(meta.source_availability(), SourceAvailability::Stored);
    let reason = |edit: &dyn Fn(&mut ferry_snapshot::IndexMetadata)| {
        let mut changed = meta.clone();
        edit(&mut changed);
        match changed.source_availability() {
            SourceAvailability::Unavailable { reason } => reason,
            SourceAvailability::Stored => String::from("stored"),
        }
    };
    let set = |key: &'static str, value: &'static str| {
        move |m: &mut ferry_snapshot::IndexMetadata| {
            m.settings.insert(key.to_owned(), value.to_owned());
        }
    };
    let source = |value: serde_json::Value| {
        move |m: &mut ferry_snapshot::IndexMetadata| {
            m.mappings[0].1["_source"] = value.clone();
        }
    };
    assert!(reason(&source(serde_json::json!({"enabled": false}))).contains("_source.enabled: false"));
    assert!(reason(&source(serde_json::json!({"mode": "synthetic"}))).contains("_source.mode: synthetic"));
    assert!(reason(&set("index.mapping.source.mode", "synthetic")).contains("index.mapping.source.mode is synthetic"));
    assert!(reason(&set("index.mode", "logsdb")).contains("index.mode is logsdb"));
    assert!(reason(&set("index.mode", "time_series")).contains("time_series"));
    assert!(reason(&set("index.derived_source.enabled", "true")).contains("index.derived_source.enabled"));
    assert!(reason(&set("index.knn.derived_source.enabled", "true")).contains("knn"));
    assert_eq!(reason(&set("index.derived_source.enabled", "false")), "stored");
    // An explicitly stored source wins over the index mode's synthetic default.
    let logsdb_stored = |m: &mut ferry_snapshot::IndexMetadata| {
        m.settings.insert("index.mode".to_owned(), "logsdb".to_owned());
        m.settings.insert("index.mapping.source.mode".to_owned(), "stored".to_owned());
    };
    assert_eq!(reason(&logsdb_stored), "stored");
}

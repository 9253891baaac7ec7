//! Damaged and unusual repositories: every failure is an error that says what and where, never a panic.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::{body, copy, fixture, frame, open, with_footer};
use ferry_lucene::Directory;
use ferry_snapshot::{smile, Error};

const SOFT: &str = "ES_5_6_Updates_Deletes";
const SNAP_UUID: &str = "FGgvQ_1CTymrGgoBFrwNTg";
const INDEX_DIR: &str = "indices/-KQKQKwfQ8-nhYQ8JfijxQ";

fn shard_snap_path(root: &Path) -> std::path::PathBuf {
    root.join(INDEX_DIR).join("0").join(format!("snap-{SNAP_UUID}.dat"))
}

/// Rewrites the 5.6 shard snapshot as a JSON body (which readers accept like SMILE), after `edit`.
fn rewrite_shard_snapshot(root: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = shard_snap_path(root);
    let blob = std::fs::read(&path).unwrap();
    let mut json = match smile::has_header(body(&blob)) {
        true => smile::decode("snap", body(&blob), 0).unwrap().to_json(),
        false => serde_json::from_slice(body(&blob)).unwrap(),
    };
    edit(&mut json);
    std::fs::write(&path, frame("snapshot", &serde_json::to_vec(&json).unwrap())).unwrap();
}

fn file_entry<'a>(json: &'a mut serde_json::Value, physical: &str) -> &'a mut serde_json::Value {
    json["files"].as_array_mut().unwrap().iter_mut().find(|f| f["physical_name"] == physical).unwrap()
}

#[test]
fn deflate_compressed_metadata_reads_like_the_original() {
    // ES with `compress: true` writes DFL\0 + raw DEFLATE of the SMILE body inside the same framing. The
    // fixtures were written uncompressed, so re-encode a real blob's body that way with a fresh CRC.
    let dir = copy("ES_7_10_Single");
    let repo = open(&fixture("ES_7_10_Single")).unwrap();
    let entry = repo.find_snapshot("global_state_snapshot").unwrap();
    let original = repo.index_metadata(entry, "posts_2024_01_01").unwrap();

    let path = dir.path().join("indices/TKzEIy9ASTq-FuWhogYPHw/meta-e0O-Zo4B5P7rRiUeQFTe.dat");
    let blob = std::fs::read(&path).unwrap();
    let mut encoder = flate2::write::DeflateEncoder::new(b"DFL\0".to_vec(), flate2::Compression::new(3));
    encoder.write_all(body(&blob)).unwrap();
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < body(&blob).len());
    std::fs::write(&path, frame("index-metadata", &compressed)).unwrap();

    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("global_state_snapshot").unwrap();
    assert_eq!(repo.index_metadata(entry, "posts_2024_01_01").unwrap(), original);

    // A damaged DEFLATE stream (valid framing) is reported as corruption of that blob.
    let mut bad = compressed.clone();
    bad.truncate(bad.len() / 2);
    std::fs::write(&path, frame("index-metadata", &bad)).unwrap();
    let err = repo.index_metadata(entry, "posts_2024_01_01").unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("meta-e0O-Zo4B5P7rRiUeQFTe.dat"), "{err}");
}

#[test]
fn every_truncation_of_a_dat_blob_is_an_error() {
    let dir = copy(SOFT);
    let path = dir.path().join(format!("snap-{SNAP_UUID}.dat"));
    let blob = std::fs::read(&path).unwrap();
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("rfs_snapshot").unwrap().clone();
    for len in 0..blob.len() {
        std::fs::write(&path, &blob[..len]).unwrap();
        let err = repo.snapshot_info(&entry).unwrap_err();
        assert!(err.to_string().contains(&format!("snap-{SNAP_UUID}.dat")), "{len}: {err}");
    }
    std::fs::write(&path, &blob).unwrap();
    assert_eq!(repo.snapshot_info(&entry).unwrap().name, "rfs_snapshot");
}

#[test]
fn a_flipped_byte_fails_the_blob_checksum() {
    let dir = copy(SOFT);
    let path = dir.path().join(format!("meta-{SNAP_UUID}.dat"));
    let mut blob = std::fs::read(&path).unwrap();
    blob[100] ^= 0x01;
    std::fs::write(&path, &blob).unwrap();
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("rfs_snapshot").unwrap();
    let err = repo.global_metadata(entry).unwrap_err();
    assert!(matches!(err, Error::Lucene(ferry_lucene::Error::Checksum { .. })), "{err}");
}

#[test]
fn a_blob_of_the_wrong_kind_fails_its_header_check() {
    let dir = copy(SOFT);
    std::fs::copy(dir.path().join(format!("snap-{SNAP_UUID}.dat")), dir.path().join(format!("meta-{SNAP_UUID}.dat")))
        .unwrap();
    let repo = open(dir.path()).unwrap();
    let err = repo.global_metadata(repo.find_snapshot("rfs_snapshot").unwrap()).unwrap_err().to_string();
    assert!(err.contains("\"metadata\"") && err.contains("\"snapshot\""), "{err}");
}

#[test]
fn a_bad_smile_token_names_the_blob_and_offset() {
    let dir = copy(SOFT);
    let path = dir.path().join(format!("snap-{SNAP_UUID}.dat"));
    std::fs::write(&path, frame("snapshot", b":)\n\x05\xfa\x80a\xfe\xfb")).unwrap();
    let repo = open(dir.path()).unwrap();
    let err = repo.snapshot_info(repo.find_snapshot("rfs_snapshot").unwrap()).unwrap_err();
    // Header: 4 magic + 9 name + 4 version = 17; the bad token is byte 7 of the body.
    assert!(matches!(err, Error::Corrupt { offset: 24, .. }), "{err}");
    assert!(err.to_string().contains(&format!("snap-{SNAP_UUID}.dat")), "{err}");
}

#[test]
fn a_missing_data_blob_names_snapshot_index_shard_and_file() {
    let dir = copy(SOFT);
    std::fs::remove_file(dir.path().join(INDEX_DIR).join("0/__1")).unwrap();
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("rfs_snapshot").unwrap();
    let shard = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap();
    let err = shard.read("_6.cfs").unwrap_err().to_string();
    assert!(err.contains("__1"), "{err}");
    let err = shard.open("_6.cfs").unwrap_err();
    assert!(matches!(err, ferry_lucene::Error::Io { .. }), "{err}");
    let err = shard.read("_99.cfs").unwrap_err().to_string();
    assert!(err.contains("_6.cfs"), "{err}");
    // A shard snapshot without its commit point is refused up front.
    rewrite_shard_snapshot(dir.path(), |json| {
        json["files"].as_array_mut().unwrap().retain(|f| f["physical_name"] != "segments_a");
    });
    let err = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap_err().to_string();
    assert!(err.contains("segments_N") && err.contains("_6.cfs"), "{err}");
    // A missing shard snapshot blob is a store error naming the key.
    std::fs::remove_file(shard_snap_path(dir.path())).unwrap();
    let err = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap_err();
    assert!(matches!(err, Error::Store { ref key, .. } if key.ends_with(".dat")), "{err}");
}

#[test]
fn data_that_disagrees_with_the_recorded_length_or_checksum_is_refused() {
    let dir = copy(SOFT);
    let blob_path = dir.path().join(INDEX_DIR).join("0/__1");
    let original = std::fs::read(&blob_path).unwrap();

    // Recorded length wrong.
    rewrite_shard_snapshot(dir.path(), |json| file_entry(json, "_6.cfs")["length"] = 3298.into());
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("rfs_snapshot").unwrap().clone();
    let shard = repo.shard_directory(&entry, "test_updates_deletes", 0).unwrap();
    let err = shard.read("_6.cfs").unwrap_err().to_string();
    assert!(err.contains("3298") && err.contains("__1"), "{err}");

    // Recorded checksum wrong.
    rewrite_shard_snapshot(dir.path(), |json| {
        file_entry(json, "_6.cfs")["length"] = 3297.into();
        file_entry(json, "_6.cfs")["checksum"] = "zzzz".into();
    });
    let shard = repo.shard_directory(&entry, "test_updates_deletes", 0).unwrap();
    let err = shard.read("_6.cfs").unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(matches!(shard.open("_6.cfs").unwrap_err(), ferry_lucene::Error::Checksum { .. }));

    // Bytes flipped: the footer no longer matches the content.
    rewrite_shard_snapshot(dir.path(), |json| file_entry(json, "_6.cfs")["checksum"] = "1t9f03t".into());
    let mut flipped = original.clone();
    flipped[200] ^= 0x10;
    std::fs::write(&blob_path, &flipped).unwrap();
    let shard = repo.shard_directory(&entry, "test_updates_deletes", 0).unwrap();
    assert!(matches!(shard.read("_6.cfs").unwrap_err(), Error::Checksum { .. }));

    // Self-consistent file (fresh footer) that is not the one recorded.
    std::fs::write(&blob_path, with_footer(flipped[..flipped.len() - 16].to_vec())).unwrap();
    let shard = repo.shard_directory(&entry, "test_updates_deletes", 0).unwrap();
    let err = shard.read("_6.cfs").unwrap_err().to_string();
    assert!(err.contains("recorded checksum"), "{err}");

    std::fs::write(&blob_path, &original).unwrap();
    let shard = repo.shard_directory(&entry, "test_updates_deletes", 0).unwrap();
    assert_eq!(&shard.read("_6.cfs").unwrap()[..], &original[..]);
}

#[test]
fn split_files_are_concatenated_from_their_parts() {
    let dir = copy(SOFT);
    let shard_dir = dir.path().join(INDEX_DIR).join("0");
    let original = std::fs::read(shard_dir.join("__1")).unwrap();
    assert_eq!(original.len(), 3297);
    for (i, part) in original.chunks(1000).enumerate() {
        std::fs::write(shard_dir.join(format!("__1.part{i}")), part).unwrap();
    }
    std::fs::remove_file(shard_dir.join("__1")).unwrap();
    rewrite_shard_snapshot(dir.path(), |json| file_entry(json, "_6.cfs")["part_size"] = 1000.into());
    let repo = open(dir.path()).unwrap();
    let entry = repo.find_snapshot("rfs_snapshot").unwrap();
    let shard = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap();
    let info = shard.files().find(|f| f.physical_name == "_6.cfs").unwrap();
    assert_eq!(info.number_of_parts(), 4);
    assert_eq!(&shard.open("_6.cfs").unwrap()[..], &original[..]);

    std::fs::remove_file(shard_dir.join("__1.part3")).unwrap();
    let shard = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap();
    let err = shard.read("_6.cfs").unwrap_err().to_string();
    assert!(err.contains("__1.part3"), "{err}");
}

#[test]
fn index_latest_is_checked_and_optional() {
    let dir = copy("ES_6_8_Single");
    let latest = dir.path().join("index.latest");
    std::fs::write(&latest, [0u8; 7]).unwrap();
    let err = open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("index.latest") && err.contains("8 bytes"), "{err}");
    std::fs::write(&latest, (-1i64).to_be_bytes()).unwrap();
    assert!(matches!(open(dir.path()).unwrap_err(), Error::Corrupt { .. }));
    std::fs::write(&latest, 5i64.to_be_bytes()).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Store { ref key, .. } if key == "index-5"), "{err}");
    std::fs::remove_file(&latest).unwrap();
    assert_eq!(open(dir.path()).unwrap().generation(), 1);
    std::fs::remove_file(dir.path().join("index-0")).unwrap();
    std::fs::remove_file(dir.path().join("index-1")).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn repository_data_with_wrong_types_names_the_path() {
    let dir = copy(SOFT);
    let index = dir.path().join("index-0");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, text.replace("\"state\":1", "\"state\":\"SUCCESS\"")).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Schema { ref path, .. } if path == "$.snapshots[0].state"), "{err}");
    std::fs::write(&index, &text[..text.len() / 2]).unwrap();
    assert!(matches!(open(dir.path()).unwrap_err(), Error::Json { .. }));
    std::fs::write(&index, text.replace(&format!("[\"{SNAP_UUID}\"]"), "[\"nope\"]")).unwrap();
    let err = open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn older_and_newer_catalogue_shapes_parse() {
    use ferry_snapshot::{RepositoryData, ShardGeneration, SnapshotState};
    // Pre-5.0: snapshots are bare names; pre-5.4.1: index entries are {name, uuid} objects.
    let old = br#"{"snapshots":["s1"],"indices":{"i":{"id":"abc","snapshots":[{"name":"s1","uuid":"s1"}]}}}"#;
    let data = RepositoryData::parse("index-3", old).unwrap();
    assert_eq!(data.snapshots[0].uuid, "s1");
    assert_eq!(data.snapshots[0].state, SnapshotState::NotRecorded);
    assert_eq!(data.snapshots[0].indices, ["i"]);
    // 7.12+/8.x: repository uuid, integer versions, special shard generations, unknown keys.
    let new = br#"{"snapshots":[{"name":"s","uuid":"u","state":3,"version":8500003,"start_time_millis":1}],
        "indices":{"i":{"id":"x","snapshots":["u"],"shard_generations":["g",null,"_new","_deleted"]}},
        "min_version":"7.9.0","uuid":"ru","cluster_id":"c","index_metadata_identifiers":{}}"#;
    let data = RepositoryData::parse("index-9", new).unwrap();
    assert_eq!(data.snapshots[0].state, SnapshotState::Partial);
    assert_eq!(data.snapshots[0].version.as_deref(), Some("8500003"));
    assert_eq!(data.uuid.as_deref(), Some("ru"));
    assert_eq!(
        data.indices[0].shard_generations,
        [
            ShardGeneration::Generation("g".into()),
            ShardGeneration::Unknown,
            ShardGeneration::New,
            ShardGeneration::Deleted
        ]
    );
}

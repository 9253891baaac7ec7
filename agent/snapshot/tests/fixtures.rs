//! Every real repository under tests/fixtures/snapshots reads completely and matches what the clusters
//! that wrote them were asked to store.

mod common;

use common::{fixture, open};
use ferry_lucene::Directory;
use ferry_snapshot::{Repository, SnapshotState};

const ALL: [&str; 7] = [
    "ES_5_6_Updates_Deletes",
    "ES_6_8_Single",
    "ES_6_8_Updates_Deletes_Native",
    "ES_7_10_BWC_Check",
    "ES_7_10_Double",
    "ES_7_10_Single",
    "ES_7_10_Updates_Deletes_w_Soft",
];

/// Reads every snapshot, index and shard; opens and verifies every file. Returns the number of files.
fn read_everything(repo: &Repository) -> usize {
    let mut files = 0;
    for entry in repo.snapshots() {
        let info = repo.snapshot_info(entry).unwrap();
        assert_eq!(info.name, entry.name);
        assert_eq!(info.uuid, entry.uuid);
        assert_eq!(info.state, SnapshotState::Success);
        let mut listed = info.indices.clone();
        listed.sort();
        let mut catalogued = entry.indices.clone();
        catalogued.sort();
        assert_eq!(listed, catalogued, "{}", entry.name);
        repo.global_metadata(entry).unwrap();
        for index in &entry.indices {
            let meta = repo.index_metadata(entry, index).unwrap();
            assert_eq!(&meta.name, index);
            for shard in 0..meta.number_of_shards {
                let dir = repo.shard_directory(entry, index, shard).unwrap();
                let segments = dir.segments_file_name().to_owned();
                assert!(segments.starts_with("segments_"));
                for name in dir.list().unwrap() {
                    let bytes = dir.open(&name).unwrap();
                    let info = dir.files().find(|f| f.physical_name == name).unwrap();
                    assert_eq!(bytes.len() as u64, info.length, "{name}");
                    files += 1;
                }
                let catalogue = repo.shard_snapshots(index, shard).unwrap();
                let blobs = &catalogue.snapshots[&entry.name];
                assert_eq!(blobs.len(), dir.files().count(), "{index}/{shard}");
            }
        }
    }
    files
}

#[test]
fn every_fixture_reads_completely() {
    let mut total = 0;
    for name in ALL {
        let repo = open(&fixture(name)).unwrap();
        let files = read_everything(&repo);
        assert!(files > 0, "{name}");
        total += files;
    }
    assert!(total > 50, "{total}");
}

#[test]
fn es_5_6_two_mapping_types_and_counter_blob_names() {
    let repo = open(&fixture("ES_5_6_Updates_Deletes")).unwrap();
    assert_eq!(repo.generation(), 0);
    let entry = repo.find_snapshot("rfs_snapshot").unwrap();
    assert_eq!(entry.state, SnapshotState::Success);
    assert_eq!(entry.version, None);
    assert_eq!(entry.indices, ["test_updates_deletes"]);
    let info = repo.snapshot_info(entry).unwrap();
    assert_eq!(info.version_id, Some(5061699));
    let meta = repo.index_metadata(entry, "test_updates_deletes").unwrap();
    assert_eq!(meta.number_of_shards, 1);
    assert_eq!(meta.version_created, Some(5061699));
    assert_eq!(meta.uuid.as_deref(), Some("o6EB80-3TeKFKdLzRP-UgQ"));
    let mut types: Vec<&str> = meta.mappings.iter().map(|(t, _)| t.as_str()).collect();
    types.sort();
    assert_eq!(types, ["type1", "type2"]);
    let type1 = &meta.mappings.iter().find(|(t, _)| t == "type1").unwrap().1;
    assert_eq!(type1["properties"]["title"]["type"], "text");
    let dir = repo.shard_directory(entry, "test_updates_deletes", 0).unwrap();
    assert_eq!(dir.segments_file_name(), "segments_a");
    assert_eq!(dir.list().unwrap().len(), 10);
    assert!(dir.files().all(|f| !f.is_virtual() && f.name.starts_with("__")));
}

#[test]
fn es_6_8_generation_one_and_legacy_template() {
    let repo = open(&fixture("ES_6_8_Single")).unwrap();
    assert_eq!(repo.generation(), 1);
    let entry = repo.find_snapshot("global_state_snapshot").unwrap();
    assert_eq!(entry.indices, ["posts_2023_02_25", "posts_2024_01_01"]);
    let global = repo.global_metadata(entry).unwrap();
    assert!(global.legacy_templates.contains_key("posts_index_template"), "{:?}", global.legacy_templates.keys());
    assert!(global.index_templates.is_empty());
    let native = open(&fixture("ES_6_8_Updates_Deletes_Native")).unwrap();
    let entry = native.find_snapshot("rfs_snapshot").unwrap();
    let meta = native.index_metadata(entry, "test_updates_deletes").unwrap();
    assert!(meta.version_created.unwrap() >= 6_00_00_99, "{:?}", meta.version_created);
}

#[test]
fn es_7_10_templates_virtual_files_and_metadata_identifiers() {
    let repo = open(&fixture("ES_7_10_Single")).unwrap();
    let entry = repo.find_snapshot("global_state_snapshot").unwrap();
    assert_eq!(entry.version.as_deref(), Some("7.10.2"));
    assert_eq!(repo.data().min_version.as_deref(), Some("7.9.0"));
    let global = repo.global_metadata(entry).unwrap();
    assert!(global.index_templates.contains_key("posts_index_template"), "{:?}", global.index_templates.keys());
    assert!(global.component_templates.contains_key("posts_template"), "{:?}", global.component_templates.keys());
    let meta = repo.index_metadata(entry, "posts_2024_01_01").unwrap();
    assert_eq!(meta.version_created, Some(7100299));
    let dir = repo.shard_directory(entry, "posts_2024_01_01", 0).unwrap();
    let virtual_files: Vec<_> = dir.files().filter(|f| f.is_virtual()).collect();
    assert!(!virtual_files.is_empty());
    for file in virtual_files {
        let bytes = dir.open(&file.physical_name).unwrap();
        assert_eq!(&bytes[..], file.meta_hash.as_deref().unwrap());
    }
}

#[test]
fn es_7_10_double_has_two_snapshots_and_the_second_lacks_an_index() {
    let repo = open(&fixture("ES_7_10_Double")).unwrap();
    let names: Vec<&str> = repo.snapshots().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["global_state_snapshot", "global_state_snapshot_2"]);
    let second = repo.find_snapshot("global_state_snapshot_2").unwrap();
    assert_eq!(second.indices, ["posts_2024_01_01"]);
    let err = repo.index_metadata(second, "posts_2023_02_25").unwrap_err().to_string();
    assert!(err.contains("posts_2023_02_25") && err.contains("posts_2024_01_01"), "{err}");
    let err = repo.find_snapshot("nope").unwrap_err().to_string();
    assert!(err.contains("global_state_snapshot_2"), "{err}");
    // Both snapshots share the deduplicated index metadata blob.
    let first = repo.find_snapshot("global_state_snapshot").unwrap();
    assert_eq!(
        repo.index_metadata(first, "posts_2024_01_01").unwrap(),
        repo.index_metadata(second, "posts_2024_01_01").unwrap()
    );
}

#[test]
fn es_7_10_bwc_templates_aliases_and_empty_mappings() {
    let repo = open(&fixture("ES_7_10_BWC_Check")).unwrap();
    let entry = repo.find_snapshot("rfs-snapshot").unwrap();
    let global = repo.global_metadata(entry).unwrap();
    let bwc = &global.legacy_templates["bwc_template"];
    assert_eq!(bwc["aliases"], serde_json::json!({"bwc_alias": {}}));
    assert_eq!(bwc["mappings"][0]["arbitrary_type"]["properties"]["title"]["type"], "text");
    assert_eq!(
        global.index_templates["fwc_template"]["composed_of"],
        serde_json::json!(["fwc_mappings", "fwc_settings"])
    );
    let components: Vec<&String> = global.component_templates.keys().collect();
    assert_eq!(components, ["fwc_mappings", "fwc_settings"]);

    let bwc_index = repo.index_metadata(entry, "bwc_index_1").unwrap();
    assert!(bwc_index.aliases.contains_key("bwc_alias"));
    assert_eq!(bwc_index.mappings[0].0, "arbitrary_type");
    assert_eq!(bwc_index.state.as_deref(), Some("open"));
    assert!(repo.index_metadata(entry, "no_mappings_no_docs").unwrap().mappings.is_empty());
    let empty = repo.index_metadata(entry, "empty_mappings_no_docs").unwrap();
    assert_eq!(empty.mappings, [("_doc".to_owned(), serde_json::json!({}))]);
    // An index with no documents still has a commit point, stored inline.
    let dir = repo.shard_directory(entry, "no_mappings_no_docs", 0).unwrap();
    assert_eq!(dir.list().unwrap(), ["segments_2"]);
    dir.open("segments_2").unwrap();
}

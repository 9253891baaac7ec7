//! A whole (mutated) snapshot repository, packed by `agent/lucene/fuzz/pack_corpus.py`, read the way
//! `ferry snapshot show` and `ferry snapshot docs` read it: repository data, snapshot info, global and index
//! metadata, each shard's file list, and every live document of every shard. Any panic is a bug.
#![no_main]

#[path = "../../../lucene/fuzz/fuzz_targets/framing.rs"]
mod framing;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_lucene::{Commit, FileBytes};
use ferry_snapshot::{BlobStore, Repository};
use libfuzzer_sys::fuzz_target;

struct MemoryStore(BTreeMap<String, Vec<u8>>);

impl BlobStore for MemoryStore {
    fn read(&self, key: &str) -> ferry_snapshot::Result<FileBytes> {
        match self.0.get(key) {
            Some(bytes) => Ok(FileBytes::from_vec(key, bytes.clone())),
            None => Err(ferry_snapshot::Error::NotFound { what: key.to_owned(), available: Vec::new() }),
        }
    }

    fn list(&self, prefix: &str) -> ferry_snapshot::Result<Vec<String>> {
        let dir = if prefix.is_empty() { String::new() } else { format!("{}/", prefix.trim_end_matches('/')) };
        let names = self.0.keys().filter_map(|k| k.strip_prefix(dir.as_str())).filter(|name| !name.contains('/'));
        Ok(names.map(str::to_owned).collect())
    }

    fn exists(&self, key: &str) -> ferry_snapshot::Result<bool> {
        Ok(self.0.contains_key(key))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore(framing::unpack(data).into_iter().collect());
    let Ok(repo) = Repository::open(Arc::new(store)) else { return };
    for entry in repo.snapshots() {
        let _ = repo.snapshot_info(entry);
        let _ = repo.global_metadata(entry);
        for index in &entry.indices {
            let Ok(meta) = repo.index_metadata(entry, index) else { continue };
            for shard in 0..meta.number_of_shards.min(4) {
                let Ok(dir) = repo.shard_directory(entry, index, shard) else { continue };
                let Ok(commit) = Commit::read(&dir, dir.segments_file_name()) else { continue };
                let _ = ferry_documents::read_commit(&dir, &commit, |_, _| Ok(()));
            }
        }
    }
});

//! Feeds a whole (mutated) Lucene index through the reader: commit, segment infos, compound files, field
//! infos, live and soft deletes, stored fields and Elasticsearch document decoding. Any panic is a bug.
//!
//! Input framing (see `pack_corpus.py`): repeated `[u8 name length][name][u32 LE length][bytes]`. Checksums
//! are not compared under `cfg(fuzzing)`, so mutations reach the decoders instead of stopping at the CRC.
#![no_main]

use ferry_lucene::{Commit, FileBytes, MemoryDirectory, SegmentReader};
use libfuzzer_sys::fuzz_target;

fn directory(mut data: &[u8]) -> MemoryDirectory {
    let mut dir = MemoryDirectory::new();
    while let Some((&name_len, rest)) = data.split_first() {
        let Some((name, rest)) = rest.split_at_checked(name_len as usize) else { break };
        let Some((len, rest)) = rest.split_at_checked(4) else { break };
        let len = (u32::from_le_bytes(len.try_into().unwrap()) as usize).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        let name = String::from_utf8_lossy(name).into_owned();
        dir.insert(name.clone(), FileBytes::from_vec(name, bytes.to_vec()));
        data = rest;
    }
    dir
}

fuzz_target!(|data: &[u8]| {
    let dir = directory(data);
    let Ok(commit) = Commit::read_latest(&dir) else { return };
    for info in &commit.segments {
        if let Ok(segment) = SegmentReader::open(&dir, info) {
            let _ = ferry_documents::read_segment(&segment, |_| Ok(()));
        }
    }
});

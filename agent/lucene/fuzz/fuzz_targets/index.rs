//! Feeds a whole (mutated) Lucene index through the reader: commit, segment infos, compound files, field
//! infos, live and soft deletes, stored fields and Elasticsearch document decoding. Any panic is a bug.
//! Checksums are not compared under `cfg(fuzzing)`, so mutations reach the decoders instead of stopping at
//! the CRC.
#![no_main]

mod framing;

use ferry_lucene::{Commit, FileBytes, MemoryDirectory, SegmentReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut dir = MemoryDirectory::new();
    for (name, bytes) in framing::unpack(data) {
        dir.insert(name.clone(), FileBytes::from_vec(name, bytes));
    }
    let Ok(commit) = Commit::read_latest(&dir) else { return };
    for info in &commit.segments {
        if let Ok(segment) = SegmentReader::open(&dir, info) {
            let _ = ferry_documents::read_segment(&segment, |_| Ok(()));
        }
    }
});

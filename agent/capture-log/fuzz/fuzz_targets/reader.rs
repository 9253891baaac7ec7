//! The log reader over arbitrary segment files: the input is cut into up to three segments (the first byte
//! says where), each written with a valid segment header unless the input says otherwise. Reading must end
//! without panicking, return only records that are whole frames, and never re-read a position.
#![no_main]

use std::path::PathBuf;

use ferry_capture_log::LogReader;
use libfuzzer_sys::fuzz_target;

/// A directory of this process's own, emptied before each input.
fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-capture-log-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let segments = usize::from(control % 3) + 1;
    let raw_headers = control & 0x80 != 0;
    let dir = dir();
    let piece = rest.len().div_ceil(segments).max(1);
    for (n, bytes) in rest.chunks(piece).enumerate() {
        let mut file = Vec::new();
        if !raw_headers {
            file.extend_from_slice(b"FERRYCAP\x01\x00\x00\x00\x00\x00\x00\x00");
        }
        file.extend_from_slice(bytes);
        std::fs::write(dir.join(format!("{n:020}.fcl")), file).expect("write segment");
    }
    let Ok(mut reader) = LogReader::open(&dir) else { return };
    let mut last = None;
    // Each record consumes at least a frame header, so this bound is never reached by a correct reader.
    for _ in 0..=rest.len() {
        match reader.next_record() {
            Ok(Some(record)) => {
                assert!(Some(record.position) > last, "positions only move forward");
                last = Some(record.position);
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert!(reader.next_record().map_or(true, |r| r.is_none()), "the reader ends");
});

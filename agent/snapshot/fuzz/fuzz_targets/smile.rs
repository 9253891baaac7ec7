//! Arbitrary bytes through the SMILE decoder: every input must decode or return an error, never panic,
//! recurse without bound, or allocate out of proportion to its length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = ferry_snapshot::smile::decode("fuzz", data, 0) {
        let _ = value.to_json();
    }
});

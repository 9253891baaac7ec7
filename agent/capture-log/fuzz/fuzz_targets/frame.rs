//! The frame decoder on arbitrary bytes: never panics, never claims more bytes than it was given, and every
//! frame it accepts re-encodes to a frame that decodes to the same record.
#![no_main]

use ferry_capture_log::frame::{self, Decoded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match frame::decode(data) {
        Ok(Decoded::Frame { record, len }) => {
            assert!(len <= data.len());
            let again = frame::encode(&record, 1).expect("a decoded record fits a frame");
            assert_eq!(frame::decode(&again), Ok(Decoded::Frame { record, len: again.len() }));
        }
        Ok(Decoded::Incomplete { needed }) => assert!(needed > data.len()),
        Err(e) => assert!(e.offset <= data.len().max(frame::HEADER_LEN)),
    }
    if let Some(at) = frame::resync(data, 1) {
        assert!(matches!(frame::decode(&data[at..]), Ok(Decoded::Frame { .. })));
    }
});

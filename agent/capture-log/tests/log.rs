//! The capture log on real files: round trip, rotation and retention, reading while writing, and every kind of
//! damage (torn tail, flipped byte, bad header) handled without panics or lost good records.

use std::io::Write;

use ferry_capture_log::{frame, FsyncPolicy, LogConfig, LogReader, LogWriter};

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("record {i} ").repeat(i % 50 + 1).into_bytes()).collect()
}

fn read_all(dir: &std::path::Path) -> (Vec<Vec<u8>>, ferry_capture_log::ReadStats) {
    let mut reader = LogReader::open(dir).unwrap();
    let got = reader.by_ref().map(|r| r.unwrap().bytes).collect();
    (got, reader.stats())
}

#[test]
fn records_round_trip_across_rotated_segments_and_retention_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 1024, fsync: FsyncPolicy::Always, ..LogConfig::default() };
    let mut writer = LogWriter::open(dir.path(), config).unwrap();
    let want = records(300);
    for r in &want {
        writer.append(r).unwrap();
    }
    writer.flush().unwrap();
    assert!(writer.current_segment() > 1, "rotated");
    let (got, stats) = read_all(dir.path());
    assert_eq!(got, want);
    assert_eq!(stats.skipped_bytes, 0);
    drop(writer);

    let config = LogConfig { segment_bytes: 1024, retention_bytes: Some(3_000), ..LogConfig::default() };
    let mut writer = LogWriter::open(dir.path(), config).unwrap();
    for r in &want {
        writer.append(r).unwrap();
    }
    writer.flush().unwrap();
    assert!(writer.total_bytes().unwrap() <= 3_000 + 1024);
    let (got, _) = read_all(dir.path());
    assert!(!got.is_empty() && got.len() < want.len());
    assert_eq!(got.last(), want.last());
}

#[test]
fn a_reader_follows_a_log_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogConfig { segment_bytes: 2048, ..LogConfig::default() }).unwrap();
    let mut reader = LogReader::open(dir.path()).unwrap();
    let want = records(40);
    for (i, r) in want.iter().enumerate() {
        writer.append(r).unwrap();
        writer.flush().unwrap();
        assert_eq!(reader.next_record().unwrap().map(|r| r.bytes), Some(r.clone()), "record {i}");
        assert_eq!(reader.next_record().unwrap(), None);
    }
}

#[test]
fn a_torn_tail_and_a_flipped_byte_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let want = records(10);
    {
        let mut writer = LogWriter::open(dir.path(), LogConfig::default()).unwrap();
        for r in &want {
            writer.append(r).unwrap();
        }
    }
    let segment = dir.path().join("00000000000000000000.fcl");
    let mut bytes = std::fs::read(&segment).unwrap();
    // Flip a byte inside the third frame's payload.
    let third = (0..bytes.len()).filter(|&i| bytes[i..].starts_with(&frame::MAGIC)).nth(2).unwrap();
    bytes[third + frame::HEADER_LEN + 1] ^= 0x40;
    // And tear the end: half of a new frame.
    let torn = frame::encode(b"never completed", 1).unwrap();
    bytes.extend_from_slice(&torn[..torn.len() / 2]);
    std::fs::write(&segment, &bytes).unwrap();

    // While no newer segment exists, the half frame may still be being written: it is pending, not skipped.
    let mut reader = LogReader::open(dir.path()).unwrap();
    let got: Vec<Vec<u8>> = reader.by_ref().map(|r| r.unwrap().bytes).collect();
    let mut expected = want.clone();
    expected.remove(2);
    assert_eq!(got, expected);
    assert_eq!(reader.stats().corrupt_regions, 1);
    assert_eq!(reader.pending_bytes(), torn.len() / 2);

    // A writer restarting after the crash starts a new segment; the torn tail is then skipped for good.
    let mut writer = LogWriter::open(dir.path(), LogConfig::default()).unwrap();
    writer.append(b"after restart").unwrap();
    writer.flush().unwrap();
    assert_eq!(reader.next_record().unwrap().map(|r| r.bytes), Some(b"after restart".to_vec()));
    assert_eq!(reader.stats().torn_tails, 1);
}

#[test]
fn a_segment_from_a_newer_format_is_unsupported_and_garbage_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("00000000000000000000.fcl")).unwrap();
    f.write_all(b"FERRYCAP\x02\x00\x00\x00\x00\x00\x00\x00").unwrap();
    let err = LogReader::open(dir.path()).unwrap().next_record().unwrap_err();
    assert!(matches!(err, ferry_capture_log::Error::Unsupported { found: 2, .. }), "{err}");
    std::fs::write(dir.path().join("00000000000000000000.fcl"), b"NOTALOG!\x01\x00\x00\x00\x00\x00\x00\x00").unwrap();
    let err = LogReader::open(dir.path()).unwrap().next_record().unwrap_err();
    assert!(matches!(err, ferry_capture_log::Error::Corrupt { offset: 0, .. }), "{err}");
}

#[test]
fn the_frame_decoder_survives_every_truncation_and_single_byte_flip() {
    let frame_bytes = frame::encode(&b"some record bytes ".repeat(20), 3).unwrap();
    for cut in 0..frame_bytes.len() {
        assert!(matches!(frame::decode(&frame_bytes[..cut]), Ok(frame::Decoded::Incomplete { .. })), "cut {cut}");
    }
    for i in 0..frame_bytes.len() {
        let mut bad = frame_bytes.clone();
        bad[i] ^= 0x01;
        assert!(frame::decode(&bad).is_err(), "flip at {i} went unnoticed");
    }
}

#[test]
fn a_second_writer_on_a_log_fails_clearly_while_readers_need_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = LogWriter::open(dir.path(), LogConfig::default()).unwrap();
    first.append(b"one").unwrap();
    first.flush().unwrap();
    let segments_before = std::fs::read_dir(dir.path()).unwrap().count();

    let error = LogWriter::open(dir.path(), LogConfig::default()).unwrap_err();
    assert!(matches!(error, ferry_capture_log::Error::Locked { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("already being written"), "{message}");
    assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
    assert!(message.contains(ferry_capture_log::LOCK_FILE), "{message}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), segments_before, "the refused writer made no segment");
    assert_eq!(read_all(dir.path()).0, vec![b"one".to_vec()], "a reader opens the log while it is locked");

    drop(first);
    let mut second = LogWriter::open(dir.path(), LogConfig::default()).expect("the lock ends with the writer");
    second.append(b"two").unwrap();
    second.flush().unwrap();
    assert_eq!(read_all(dir.path()).0, vec![b"one".to_vec(), b"two".to_vec()]);
}

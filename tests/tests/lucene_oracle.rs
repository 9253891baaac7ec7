//! Ferry's Lucene reader against real Lucene 8.8: indices written by `tests/oracle/LuceneOracle.java` the way an
//! Elasticsearch 7.x shard is written, read by `ferry lucene docs --raw-source` and by Lucene itself, must yield the
//! same live documents (id, routing, exact `_source` bytes) at the same segment/doc positions. Broken copies must
//! make `ferry` fail cleanly, naming the file, without panicking.

use std::ffi::OsStr;
use std::fs;

use ferry_tests::{
    assert_clean_failure, assert_coverage, assert_matches_lucene, broken_copy, file_name, first_difference,
    largest_with_extension, run_ferry, LiveDoc, Lucene, Oracle,
};

macro_rules! oracle_config_tests {
    ($($test:ident => $config:literal, $min_big:literal;)*) => {$(
        #[test]
        fn $test() {
            let docs = assert_matches_lucene(Lucene::V8_8, $config);
            assert_coverage($config, &docs, $min_big);
        }
    )*};
}

oracle_config_tests! {
    speed_cfs_hard => "speed-cfs-hard", 1;
    speed_cfs_soft => "speed-cfs-soft", 1;
    speed_nocfs_hard => "speed-nocfs-hard", 1;
    speed_nocfs_soft => "speed-nocfs-soft", 1;
    compression_cfs_hard => "compression-cfs-hard", 1;
    compression_cfs_soft => "compression-cfs-soft", 1;
    compression_nocfs_hard => "compression-nocfs-hard", 1;
    compression_nocfs_soft => "compression-nocfs-soft", 1;
    plain_lz4_tiny_chunks => "lz4-tiny", 0;
    plain_deflate_tiny_chunks => "deflate-tiny", 0;
}

#[test]
fn large_index_with_tens_of_thousands_of_docs() {
    let docs = assert_matches_lucene(Lucene::V8_8, "large");
    assert!(docs.len() >= 30_000, "large: only {} live docs", docs.len());
}

/// Rewrites the CodecUtil footer checksum so a deliberate edit is the only thing wrong with a file.
fn fix_footer_checksum(bytes: &mut [u8]) {
    let body = bytes.len() - 8;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&u64::from(crc).to_be_bytes());
}

#[test]
fn truncated_fdt_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "speed-nocfs-hard");
    let fdt = largest_with_extension(&dir, "fdt");
    let bytes = fs::read(&fdt).expect("read .fdt");
    fs::write(&fdt, &bytes[..bytes.len() / 2]).expect("truncate .fdt");
    assert_clean_failure(&dir, &[&file_name(&fdt)]);
}

#[test]
fn flipped_checksum_in_fdt_footer_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "compression-nocfs-soft");
    let fdt = largest_with_extension(&dir, "fdt");
    let mut bytes = fs::read(&fdt).expect("read .fdt");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&fdt, &bytes).expect("write .fdt");
    assert_clean_failure(&dir, &[&file_name(&fdt)]);
}

/// Parses a Lucene 5–8 `.cfe` (IndexHeader, VInt count, count × (String name, BE i64 offset, BE i64 length)).
fn compound_entries(cfe: &[u8]) -> Vec<(String, u64, u64)> {
    fn vint(bytes: &[u8], pos: &mut usize) -> u64 {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let b = bytes[*pos];
            *pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        value
    }
    fn be64(bytes: &[u8], pos: &mut usize) -> u64 {
        let v = u64::from_be_bytes(bytes[*pos..*pos + 8].try_into().expect("8 bytes"));
        *pos += 8;
        v
    }
    let mut pos = 4;
    let codec_len = vint(cfe, &mut pos) as usize;
    pos += codec_len + 4 + 16;
    let suffix_len = cfe[pos] as usize;
    pos += 1 + suffix_len;
    let count = vint(cfe, &mut pos);
    (0..count)
        .map(|_| {
            let len = vint(cfe, &mut pos) as usize;
            let name = String::from_utf8_lossy(&cfe[pos..pos + len]).into_owned();
            pos += len;
            let offset = be64(cfe, &mut pos);
            (name, offset, be64(cfe, &mut pos))
        })
        .collect()
}

#[test]
fn flipped_byte_in_cfs_stored_fields_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "speed-cfs-hard");
    let cfs = largest_with_extension(&dir, "cfs");
    let entries = compound_entries(&fs::read(cfs.with_extension("cfe")).expect("read .cfe"));
    let (_, offset, length) =
        entries.iter().find(|(name, _, _)| name == ".fdt").cloned().expect("the compound file holds a .fdt");
    let mut bytes = fs::read(&cfs).expect("read .cfs");
    // Inside the stored-fields data, away from its header and footer: only a checksum can catch this.
    let at = usize::try_from(offset + length / 2).expect("offset fits usize");
    bytes[at] ^= 0x10;
    fs::write(&cfs, &bytes).expect("write .cfs");
    let segment = file_name(&cfs).trim_end_matches(".cfs").to_owned();
    assert_clean_failure(&dir, &[&file_name(&cfs), &format!("{segment}.fdt")]);
}

#[test]
fn deleted_si_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "compression-cfs-hard");
    let si = largest_with_extension(&dir, "si");
    fs::remove_file(&si).expect("delete .si");
    assert_clean_failure(&dir, &[&file_name(&si)]);
}

#[test]
fn unknown_stored_fields_codec_name_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "speed-nocfs-soft");
    let fdt = largest_with_extension(&dir, "fdt");
    let mut bytes = fs::read(&fdt).expect("read .fdt");
    let name = b"Lucene87StoredFieldsFastData";
    let at = bytes.windows(name.len()).position(|w| w == name).expect("the .fdt header names its format");
    bytes[at + name.len() - 1] = b'X';
    fix_footer_checksum(&mut bytes);
    fs::write(&fdt, &bytes).expect("write .fdt");
    assert_clean_failure(&dir, &[&file_name(&fdt)]);
}

/// `segments_N` names each segment's codec, but every file also names its own format in its header, which is what
/// a reader that only needs stored fields and deletes must check. So a codec name the reader does not know (ES and
/// OpenSearch wrap Lucene's codecs under their own names) may be refused, naming it, or read through the headers:
/// either way, never a panic and never different documents.
#[test]
fn unknown_segment_codec_name_is_refused_or_read_through_file_headers() {
    let (_tmp, dir) = broken_copy(Lucene::V8_8, "compression-nocfs-hard");
    let segments = fs::read_dir(&dir)
        .expect("list the index")
        .flatten()
        .map(|e| e.path())
        .find(|p| file_name(p).starts_with("segments_"))
        .expect("a segments_N file");
    let mut bytes = fs::read(&segments).expect("read segments_N");
    let name = b"Lucene87";
    let at = bytes.windows(name.len()).position(|w| w == name).expect("segments_N names the codec");
    bytes[at..at + name.len()].copy_from_slice(b"Lucene0X");
    fix_footer_checksum(&mut bytes);
    fs::write(&segments, &bytes).expect("write segments_N");

    let out = run_ferry([OsStr::new("lucene"), OsStr::new("docs"), dir.as_os_str(), OsStr::new("--raw-source")]);
    assert!(!out.panicked(), "ferry panicked (exit {:?}):\n{}", out.code, out.stderr);
    if out.success() {
        let (_, expected) = Oracle::get(Lucene::V8_8).expected("compression-nocfs-hard");
        let actual = LiveDoc::parse_lines(out.stdout_str()).unwrap_or_else(|e| panic!("ferry output: {e}"));
        if let Some(difference) = first_difference(&expected, &actual) {
            panic!("ferry read a segment of unknown codec `Lucene0X` differently: {difference}");
        }
    } else {
        assert!(out.stderr.contains("Lucene0X"), "the error does not name the codec:\n{}", out.stderr);
    }
}

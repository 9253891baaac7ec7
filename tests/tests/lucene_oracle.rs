//! Ferry's Lucene reader against real Lucene 8.8: indices written by `tests/oracle/LuceneOracle.java` the way an
//! Elasticsearch 7.x shard is written, read by `ferry lucene docs --raw-source` and by Lucene itself, must yield the
//! same live documents (id, routing, exact `_source` bytes) at the same segment/doc positions. Broken copies must
//! make `ferry` fail cleanly, naming the file, without panicking.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use ferry_tests::{copy_dir, first_difference, run_ferry, scan_totals, LiveDoc, Oracle, Output};

/// Reads `dir` with Lucene and with `ferry` and asserts both see exactly the same live documents.
fn assert_matches_lucene(config: &str) -> Vec<LiveDoc> {
    let oracle = Oracle::get();
    let dir = oracle.index(config);
    let expected = oracle.list(&dir);
    assert!(!expected.is_empty(), "{config}: the oracle lists no documents");

    let out = run_ferry([OsStr::new("lucene"), OsStr::new("docs"), dir.as_os_str(), OsStr::new("--raw-source")]);
    assert!(!out.panicked(), "{config}: ferry panicked:\n{}", out.stderr);
    out.assert_success(&format!("{config}: ferry lucene docs --raw-source"));
    let actual = LiveDoc::parse_lines(out.stdout_str()).unwrap_or_else(|e| panic!("{config}: ferry output: {e}"));
    if let Some(difference) = first_difference(&expected, &actual) {
        panic!("{config}: ferry ({} docs) disagrees with Lucene ({} docs): {difference}", actual.len(), expected.len());
    }

    let totals = scan_totals(&dir);
    let source_bytes: usize = expected.iter().filter_map(|d| d.source.as_ref()).map(Vec::len).sum();
    assert_eq!(totals.get("docs").copied(), Some(expected.len() as u64), "{config}: scan docs, totals {totals:?}");
    assert_eq!(totals.get("source_bytes").copied(), Some(source_bytes as u64), "{config}: scan source_bytes");
    expected
}

/// Asserts that the generated data exercises what it is meant to: routing, non-UTF-8 and whitespace-padded
/// sources, documents larger than a chunk, and several segments.
fn assert_coverage(config: &str, docs: &[LiveDoc], min_big: usize) {
    let segments: std::collections::BTreeSet<&str> = docs.iter().map(|d| d.segment.as_str()).collect();
    assert!(segments.len() >= 3, "{config}: only {} segments with live docs", segments.len());
    assert!(docs.iter().any(|d| d.routing.is_some()), "{config}: no doc with _routing");
    let sources: Vec<&Vec<u8>> = docs.iter().filter_map(|d| d.source.as_ref()).collect();
    assert!(sources.iter().any(|s| std::str::from_utf8(s).is_err()), "{config}: no non-UTF-8 _source");
    assert!(sources.iter().any(|s| s.first() == Some(&b'\n')), "{config}: no _source with leading whitespace");
    assert!(sources.iter().any(|s| s.ends_with(b"\n\n")), "{config}: no _source with trailing newlines");
    let big = sources.iter().filter(|s| s.len() > 1_200_000).count();
    assert!(big >= min_big, "{config}: {big} sources over 1.2 MB, wanted {min_big}");
    assert!(docs.iter().any(|d| !d.id.is_ascii()), "{config}: no non-ASCII _id");
}

macro_rules! oracle_config_tests {
    ($($test:ident => $config:literal, $min_big:literal;)*) => {$(
        #[test]
        fn $test() {
            let docs = assert_matches_lucene($config);
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
    let docs = assert_matches_lucene("large");
    assert!(docs.len() >= 30_000, "large: only {} live docs", docs.len());
}

/// A private, writable copy of a generated index.
fn broken_copy(config: &str) -> (tempfile::TempDir, PathBuf) {
    let source = Oracle::get().index(config);
    let tmp = tempfile::tempdir().expect("create a temp dir");
    let dir = tmp.path().join("index");
    copy_dir(&source, &dir).expect("copy the generated index");
    (tmp, dir)
}

/// The largest file in `dir` with the given extension (the one most likely to hold live documents).
fn largest_with_extension(dir: &Path, extension: &str) -> PathBuf {
    fs::read_dir(dir)
        .expect("list the index")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension() == Some(OsStr::new(extension)))
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .unwrap_or_else(|| panic!("no .{extension} file in {}", dir.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Runs `ferry lucene docs` on a broken index and asserts a clean failure whose message names one of `names`.
fn assert_clean_failure(dir: &Path, names: &[&str]) -> Output {
    let out = run_ferry([OsStr::new("lucene"), OsStr::new("docs"), dir.as_os_str(), OsStr::new("--raw-source")]);
    assert!(!out.panicked(), "ferry panicked (exit {:?}):\n{}", out.code, out.stderr);
    assert!(!out.success(), "ferry accepted a broken index; stdout has {} bytes", out.stdout.len());
    assert!(names.iter().any(|name| out.stderr.contains(name)), "the error names none of {names:?}:\n{}", out.stderr);
    out
}

/// Rewrites the CodecUtil footer checksum so a deliberate edit is the only thing wrong with a file.
fn fix_footer_checksum(bytes: &mut [u8]) {
    let body = bytes.len() - 8;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&u64::from(crc).to_be_bytes());
}

#[test]
fn truncated_fdt_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy("speed-nocfs-hard");
    let fdt = largest_with_extension(&dir, "fdt");
    let bytes = fs::read(&fdt).expect("read .fdt");
    fs::write(&fdt, &bytes[..bytes.len() / 2]).expect("truncate .fdt");
    assert_clean_failure(&dir, &[&file_name(&fdt)]);
}

#[test]
fn flipped_checksum_in_fdt_footer_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy("compression-nocfs-soft");
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
    let (_tmp, dir) = broken_copy("speed-cfs-hard");
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
    let (_tmp, dir) = broken_copy("compression-cfs-hard");
    let si = largest_with_extension(&dir, "si");
    fs::remove_file(&si).expect("delete .si");
    assert_clean_failure(&dir, &[&file_name(&si)]);
}

#[test]
fn unknown_stored_fields_codec_name_fails_naming_the_file() {
    let (_tmp, dir) = broken_copy("speed-nocfs-soft");
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
    let (_tmp, dir) = broken_copy("compression-nocfs-hard");
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
        let expected = Oracle::get().list(&Oracle::get().index("compression-nocfs-hard"));
        let actual = LiveDoc::parse_lines(out.stdout_str()).unwrap_or_else(|e| panic!("ferry output: {e}"));
        if let Some(difference) = first_difference(&expected, &actual) {
            panic!("ferry read a segment of unknown codec `Lucene0X` differently: {difference}");
        }
    } else {
        assert!(out.stderr.contains("Lucene0X"), "the error does not name the codec:\n{}", out.stderr);
    }
}

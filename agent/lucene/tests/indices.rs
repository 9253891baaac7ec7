//! Liveness and stored-field visits on real Lucene 6–10 indices, checked against what Lucene itself
//! reported when it wrote them (`expected.txt`, and for Lucene 9+ `docs.txt`, beside each index; see
//! `tests/data/README.md`).

use std::path::{Path, PathBuf};

use ferry_lucene::stored::{StoredFieldVisitor, StoredValue};
use ferry_lucene::{open_index, Commit, Directory, FieldInfos, FsDirectory, MemoryDirectory, Result, SegmentReader};

/// One segment line of `expected.txt`.
struct ExpectedSegment {
    name: String,
    max_doc: u32,
    del_count: u32,
    soft_del_count: u32,
    compound: bool,
    live: Vec<bool>,
}

struct Expected {
    commit: String,
    segments: Vec<ExpectedSegment>,
    num_docs: u32,
}

fn parse_expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expected = Expected { commit: String::new(), segments: Vec::new(), num_docs: 0 };
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let value = |key: &str| words.iter().find_map(|w| w.strip_prefix(key)).unwrap();
        match words[0] {
            "commit" => expected.commit = words[1].to_owned(),
            "numDocs" => expected.num_docs = words[1].parse().unwrap(),
            "seg" => expected.segments.push(ExpectedSegment {
                name: words[1].to_owned(),
                max_doc: words[2].parse().unwrap(),
                del_count: value("del=").parse().unwrap(),
                soft_del_count: value("soft=").parse().unwrap(),
                compound: value("cfs=") == "true",
                live: value("live=").bytes().map(|b| b == b'1').collect(),
            }),
            other => panic!("unexpected line {other}"),
        }
    }
    expected
}

/// Records, for each visited document, the names of its stored fields.
struct Collect<'a> {
    fields: &'a FieldInfos,
    docs: Vec<(u32, Vec<String>)>,
}

impl StoredFieldVisitor for Collect<'_> {
    fn start_document(&mut self, doc: u32) -> Result<()> {
        self.docs.push((doc, Vec::new()));
        Ok(())
    }

    fn field(&mut self, field_number: u32, _value: StoredValue<'_>) -> Result<()> {
        let name = self.fields.by_number(field_number).map_or_else(|| format!("#{field_number}"), |f| f.name.clone());
        if let Some((_, names)) = self.docs.last_mut() {
            names.push(name);
        }
        Ok(())
    }

    fn end_document(&mut self, doc: u32) -> Result<()> {
        assert_eq!(self.docs.last().map(|(d, _)| *d), Some(doc));
        Ok(())
    }
}

/// Opens the index in `dir` and checks every segment against `expected.txt`, and that every live document
/// (and only those) is visited with each of `required` stored fields (`a|b` accepts either name).
fn check_index(dir: &Path, required: &[&str]) {
    let expected = parse_expected(&dir.join("expected.txt"));
    let directory = FsDirectory::open(dir).unwrap();
    let (commit, segments) = open_index(&directory).unwrap();
    assert_eq!(commit.file_name, expected.commit);
    assert_eq!(segments.len(), expected.segments.len());
    let mut total_live = 0;
    for (segment, want) in segments.iter().zip(&expected.segments) {
        let ctx = format!("{} {}", dir.display(), want.name);
        assert_eq!(segment.name(), want.name, "{ctx}");
        assert_eq!(segment.max_doc(), want.max_doc, "{ctx}");
        assert_eq!(segment.commit_info().del_count, want.del_count, "{ctx}");
        assert_eq!(segment.commit_info().soft_del_count, want.soft_del_count, "{ctx}");
        assert_eq!(segment.segment_info().is_compound, want.compound, "{ctx}");
        let live: Vec<bool> = (0..segment.max_doc()).map(|d| segment.is_live(d)).collect();
        assert_eq!(live, want.live, "{ctx}");
        let want_live: Vec<u32> = (0..want.max_doc).filter(|&d| want.live[d as usize]).collect();
        assert_eq!(segment.num_live_docs() as usize, want_live.len(), "{ctx}");

        let mut visited = Collect { fields: segment.field_infos(), docs: Vec::new() };
        segment.visit_live_documents(&mut visited).unwrap();
        let docs: Vec<u32> = visited.docs.iter().map(|(doc, _)| *doc).collect();
        assert_eq!(docs, want_live, "{ctx}");
        for (doc, names) in &visited.docs {
            for field in required {
                assert!(
                    field.split('|').any(|f| names.iter().any(|n| n == f)),
                    "{ctx} doc {doc}: no {field} in {names:?}"
                );
            }
        }
        total_live += want_live.len() as u32;
    }
    assert_eq!(total_live, expected.num_docs);
}

/// The stored fields of every document the Lucene 8.8.1 generator writes.
const GENERATED_FIELDS: &[&str] = &["id", "body", "num"];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

#[test]
fn compound_segments_with_hard_deletes_match_lucene() {
    check_index(&data("lucene881-cfs-hard-80"), GENERATED_FIELDS);
}

#[test]
fn compound_segments_with_soft_delete_generations_match_lucene() {
    check_index(&data("lucene881-cfs-soft-80"), GENERATED_FIELDS);
}

#[test]
fn plain_segments_with_soft_delete_generations_match_lucene() {
    check_index(&data("lucene881-nocfs-soft-80"), GENERATED_FIELDS);
}

#[test]
fn merged_segments_that_retain_soft_deleted_docs_match_lucene() {
    check_index(&data("lucene881-nocfs-soft-400"), GENERATED_FIELDS);
}

#[test]
fn lucene70_doc_values_soft_deletes_match_lucene() {
    check_index(&data("lucene881-dv70-nocfs-soft-400"), GENERATED_FIELDS);
}

#[test]
fn elasticsearch_5_6_lucene_6_snapshot_reads_every_live_document() {
    check_index(&data("es56-updates-deletes"), &["_uid", "_source"]);
}

#[test]
fn elasticsearch_6_8_lucene_7_snapshot_matches_lucene() {
    check_index(&data("es68-updates-deletes"), &["_id", "_source"]);
}

#[test]
fn elasticsearch_7_10_soft_deletes_match_lucene() {
    check_index(&data("es710-soft-deletes"), &["_id", "_source"]);
}

#[test]
fn fully_deleted_segment_is_skipped_without_opening_its_files() {
    let dir = FsDirectory::open(data("es710-soft-deletes")).unwrap();
    let commit = Commit::read_latest(&dir).unwrap();
    let mut only_si = MemoryDirectory::new();
    only_si.insert("_0.si", dir.open("_0.si").unwrap());
    let segment = SegmentReader::open(&only_si, &commit.segments[0]).unwrap();
    assert_eq!((segment.max_doc(), segment.num_live_docs()), (3, 0));
    assert!(!segment.is_live(0));
    let mut visited = Collect { fields: segment.field_infos(), docs: Vec::new() };
    segment.visit_live_documents(&mut visited).unwrap();
    assert!(visited.docs.is_empty());
}

#[test]
fn commit_records_the_soft_deletes_field_generations() {
    let dir = FsDirectory::open(data("lucene881-cfs-soft-80")).unwrap();
    let commit = Commit::read_latest(&dir).unwrap();
    assert_eq!(commit.format, 10);
    assert_eq!(commit.lucene_version.to_string(), "8.8.1");
    assert_eq!(commit.index_created_major, Some(8));
    let first = &commit.segments[0];
    assert_eq!(first.codec, "Lucene87");
    assert!(first.field_infos_gen > 0);
    assert!(first.doc_values_updates_files.iter().any(|(_, files)| files.iter().any(|f| f.ends_with(".dvm"))));
}

/// Larger generated indices (IndexedDISI DENSE blocks, thousands of soft deletes) that are too big to
/// commit: set `FERRY_LUCENE_ORACLE_DIRS` to a colon-separated list of index directories, each with an
/// `expected.txt` written by the oracle generator.
#[test]
#[ignore = "needs FERRY_LUCENE_ORACLE_DIRS"]
fn generated_oracle_indices_match_lucene() {
    let dirs = std::env::var("FERRY_LUCENE_ORACLE_DIRS").expect("FERRY_LUCENE_ORACLE_DIRS");
    for dir in dirs.split(':') {
        check_index(Path::new(dir), GENERATED_FIELDS);
    }
}

/// Renders a document's stored fields the way the Lucene 9/10 generator writes a `docs.txt` line:
/// `<segment> <doc> <id> <source length> <source crc32> <field count> <routing> <n_int> <n_long> <n_double
/// bits> <n_float bits>`, with `-` for an absent field.
struct DocLines<'a> {
    segment: &'a str,
    fields: &'a FieldInfos,
    current: Vec<(String, String)>,
    count: usize,
    lines: Vec<String>,
}

impl StoredFieldVisitor for DocLines<'_> {
    fn start_document(&mut self, _doc: u32) -> Result<()> {
        self.current.clear();
        self.count = 0;
        Ok(())
    }

    fn field(&mut self, field_number: u32, value: StoredValue<'_>) -> Result<()> {
        let name = self.fields.by_number(field_number).map_or_else(String::new, |f| f.name.clone());
        let text = match (name.as_str(), value) {
            ("_id", StoredValue::Bytes(b)) => String::from_utf8_lossy(b.get(1..).unwrap_or_default()).into_owned(),
            ("_source", StoredValue::Bytes(b)) => format!("{} {:x}", b.len(), crc32fast::hash(b)),
            (_, StoredValue::Str(s)) => s.to_owned(),
            (_, StoredValue::Int(i)) => i.to_string(),
            (_, StoredValue::Long(l)) => l.to_string(),
            (_, StoredValue::Double(d)) => format!("{:x}", d.to_bits()),
            (_, StoredValue::Float(f)) => format!("{:x}", f.to_bits()),
            (_, StoredValue::Bytes(b)) => format!("{} bytes", b.len()),
        };
        self.current.push((name, text));
        self.count += 1;
        Ok(())
    }

    fn end_document(&mut self, doc: u32) -> Result<()> {
        let get = |key: &str| self.current.iter().find(|(k, _)| k == key).map_or("-", |(_, v)| v.as_str());
        self.lines.push(format!(
            "{} {doc} {} {} {} {} {} {} {} {}",
            self.segment,
            get("_id"),
            get("_source"),
            self.count,
            get("_routing"),
            get("n_int"),
            get("n_long"),
            get("n_double"),
            get("n_float"),
        ));
        Ok(())
    }
}

/// Checks every live document's stored values against `docs.txt`, which Lucene read back when it wrote the
/// index.
fn check_documents(dir: &Path) {
    let expected = std::fs::read_to_string(dir.join("docs.txt")).unwrap();
    let (_, segments) = open_index(&FsDirectory::open(dir).unwrap()).unwrap();
    let mut lines = Vec::new();
    for segment in &segments {
        let mut visitor =
            DocLines { segment: segment.name(), fields: segment.field_infos(), current: Vec::new(), count: 0, lines };
        segment.visit_live_documents(&mut visitor).unwrap();
        lines = visitor.lines;
    }
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{}", dir.display());
    for (got, want) in lines.iter().zip(&expected) {
        assert_eq!(got, want, "{}", dir.display());
    }
}

/// The stored fields every document of the Lucene 9/10 generator has.
const LUCENE9_FIELDS: &[&str] = &["_id", "_source"];

fn check_lucene9(name: &str) {
    check_index(&data(name), LUCENE9_FIELDS);
    check_documents(&data(name));
}

#[test]
fn lucene_9_9_best_speed_compound_soft_deletes_match_lucene() {
    check_lucene9("lucene99-speed-cfs-soft");
}

#[test]
fn lucene_9_9_best_compression_plain_hard_deletes_match_lucene() {
    check_lucene9("lucene99-compression-nocfs-hard");
}

#[test]
fn lucene_9_9_elasticsearch_zstd_best_speed_matches_lucene() {
    check_lucene9("lucene99-es814speed-nocfs-soft");
}

#[test]
fn lucene_9_9_elasticsearch_zstd_best_compression_matches_lucene() {
    check_lucene9("lucene99-es814comp-cfs-hard");
}

#[test]
fn lucene_9_9_opensearch_zstd_with_dictionary_matches_lucene() {
    check_lucene9("lucene99-oszstd-nocfs-soft");
}

#[test]
fn lucene_9_9_opensearch_zstd_without_dictionary_matches_lucene() {
    check_lucene9("lucene99-osnodict-cfs-hard");
}

#[test]
fn lucene_10_5_best_speed_plain_hard_deletes_match_lucene() {
    check_lucene9("lucene105-speed-nocfs-hard");
}

#[test]
fn lucene_10_5_best_compression_compound_soft_deletes_match_lucene() {
    check_lucene9("lucene105-compression-cfs-soft");
}

#[test]
fn lucene_10_5_elasticsearch_zstd_compound_soft_deletes_match_lucene() {
    check_lucene9("lucene105-es814speed-cfs-soft");
}

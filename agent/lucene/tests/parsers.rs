//! Each index-structure parser on real bytes from Lucene 6.6 (Elasticsearch 5.6), 7.7 (6.8) and 8.7/8.8
//! (7.10 and the local oracle), and on damaged copies of those bytes: truncated, flipped, re-checksummed,
//! or relabelled with a codec this reader does not support. Damage must give an error, never a panic.

use std::path::Path;

use ferry_lucene::commit::to_base36;
use ferry_lucene::compound::CompoundFile;
use ferry_lucene::doc_values::docs_with_value;
use ferry_lucene::live_docs::read_live_docs;
use ferry_lucene::stored::{StoredFieldVisitor, StoredFieldsReader, StoredValue};
use ferry_lucene::{
    open_index, Commit, Directory, DocValuesType, Error, FieldInfos, FileBytes, FsDirectory, MemoryDirectory, Result,
    SegmentInfo,
};

fn dir(name: &str) -> FsDirectory {
    FsDirectory::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

/// All Lucene files of a test index, in memory, so tests can damage them.
fn memory_copy(source: &FsDirectory) -> MemoryDirectory {
    let mut copy = MemoryDirectory::new();
    for name in source.list().unwrap() {
        if name != "expected.txt" && name != "docs.txt" {
            let bytes = source.open(&name).unwrap();
            copy.insert(name.clone(), FileBytes::from_vec(name, bytes.to_vec()));
        }
    }
    copy
}

/// Rewrites the footer checksum so damage reaches the body decoders instead of stopping at the CRC.
fn fix_checksum(bytes: &mut [u8]) {
    let at = bytes.len() - 8;
    let crc = crc32fast::hash(&bytes[..at]);
    bytes[at..].copy_from_slice(&u64::from(crc).to_be_bytes());
}

/// A file with a codec header naming `codec` (version 0, `id`, empty suffix), `body`, and a valid footer.
fn file_with_header(name: &str, codec: &str, id: &[u8; 16], body: &[u8]) -> FileBytes {
    file_with_versioned_header(name, codec, 0, id, body)
}

/// Like [`file_with_header`] with header version `version`.
fn file_with_versioned_header(name: &str, codec: &str, version: i32, id: &[u8; 16], body: &[u8]) -> FileBytes {
    let mut bytes = 0x3fd7_6c17u32.to_be_bytes().to_vec();
    bytes.push(codec.len() as u8);
    bytes.extend_from_slice(codec.as_bytes());
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(id);
    bytes.push(0);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(&0xc028_93e8u32.to_be_bytes());
    bytes.extend_from_slice(&[0; 12]);
    fix_checksum(&mut bytes);
    FileBytes::from_vec(name, bytes)
}

/// A directory that remembers which files were opened.
struct Recorder {
    inner: MemoryDirectory,
    opened: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Directory for Recorder {
    fn list(&self) -> Result<Vec<String>> {
        self.inner.list()
    }

    fn open(&self, name: &str) -> Result<FileBytes> {
        self.opened.lock().unwrap().insert(name.to_owned());
        self.inner.open(name)
    }
}

struct CountDocs(u32);

impl StoredFieldVisitor for CountDocs {
    fn start_document(&mut self, _doc: u32) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn field(&mut self, _field_number: u32, _value: StoredValue<'_>) -> Result<()> {
        Ok(())
    }
    fn end_document(&mut self, _doc: u32) -> Result<()> {
        Ok(())
    }
}

/// Opens every segment of `dir` and visits its live documents, returning the first error.
fn read_everything(dir: &dyn Directory) -> Result<u32> {
    let (_, segments) = open_index(dir)?;
    let mut docs = CountDocs(0);
    for segment in &segments {
        segment.visit_live_documents(&mut docs)?;
    }
    Ok(docs.0)
}

#[test]
fn commits_of_formats_6_9_and_10_parse() {
    let es56 = Commit::read_latest(&dir("es56-updates-deletes")).unwrap();
    assert_eq!((es56.format, es56.lucene_version.to_string()), (6, "6.6.1".to_owned()));
    assert_eq!(es56.index_created_major, None);
    assert_eq!(es56.segments.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["_2", "_5", "_6"]);
    assert!(es56.user_data("translog_uuid").is_some());

    let es68 = Commit::read_latest(&dir("es68-updates-deletes")).unwrap();
    assert_eq!((es68.format, es68.lucene_version.to_string()), (9, "7.7.3".to_owned()));
    assert_eq!(es68.index_created_major, Some(7));

    let es710 = Commit::read(&dir("es710-soft-deletes"), "segments_3").unwrap();
    assert_eq!((es710.format, es710.generation), (10, 3));
    assert_eq!(es710.segments[0].soft_del_count, 3);
    assert_eq!(es710.segments[1].codec, "Lucene87");
    assert!(es710.user_data("max_seq_no").is_some());
}

#[test]
fn segment_infos_of_lucene_6_7_and_8_parse() {
    let cases = [
        ("es56-updates-deletes", "Lucene62SegmentInfo", "6.6.1"),
        ("es68-updates-deletes", "Lucene70SegmentInfo", "7.7.3"),
        ("es710-soft-deletes", "Lucene86SegmentInfo", "8.7.0"),
    ];
    for (name, format, version) in cases {
        let d = dir(name);
        let commit = Commit::read_latest(&d).unwrap();
        let seg = commit.segments.last().unwrap();
        let si = SegmentInfo::read(&d, &seg.name, &seg.id).unwrap();
        assert_eq!(si.format, format);
        assert_eq!(si.version.to_string(), version);
        assert!(si.is_compound);
        assert!(si.files.contains(&format!("{}.cfs", seg.name)), "{:?}", si.files);
        assert!(si.attributes.iter().any(|(k, _)| k.ends_with("StoredFieldsFormat.mode")), "{:?}", si.attributes);
        let mut wrong_id = seg.id;
        wrong_id[0] ^= 1;
        let err = SegmentInfo::read(&d, &seg.name, &wrong_id).unwrap_err();
        assert!(err.to_string().contains("segment id"), "{err}");
    }
}

#[test]
fn compound_sub_files_are_named_slices_with_their_own_checksums() {
    let d = dir("es710-soft-deletes");
    let commit = Commit::read_latest(&d).unwrap();
    let seg = &commit.segments[1];
    let cfs = CompoundFile::open(&d, &seg.name, &seg.id).unwrap();
    let names: Vec<String> = cfs.file_names().collect();
    assert!(names.contains(&"_1.fdt".to_owned()) && names.contains(&"_1.fnm".to_owned()), "{names:?}");
    let fdt = cfs.open_file("_1.fdt").unwrap();
    assert_eq!(fdt.name(), "_1.cfs:_1.fdt");
    assert!(matches!(cfs.open_file("_1.nope"), Err(Error::MissingFile { .. })));

    // A flipped byte anywhere in the .cfs is caught by the whole-file checksum.
    let mut damaged = memory_copy(&d);
    let mut bytes = d.open("_1.cfs").unwrap().to_vec();
    bytes[100] ^= 0x20;
    damaged.insert("_1.cfs", FileBytes::from_vec("_1.cfs", bytes.clone()));
    let err = CompoundFile::open(&damaged, &seg.name, &seg.id).unwrap_err();
    assert!(matches!(&err, Error::Checksum { file, .. } if file == "_1.cfs"), "{err}");

    // With the outer checksum repaired, the sub-file's own footer still names the damaged sub-file.
    fix_checksum(&mut bytes);
    damaged.insert("_1.cfs", FileBytes::from_vec("_1.cfs", bytes));
    let cfs = CompoundFile::open(&damaged, &seg.name, &seg.id).unwrap();
    let broken: Vec<String> =
        cfs.file_names().filter(|name| matches!(cfs.open_file(name), Err(Error::Checksum { .. }))).collect();
    assert_eq!(broken.len(), 1, "{broken:?}");
}

#[test]
fn field_infos_of_every_version_parse_and_soft_deletes_generation_is_found() {
    let d = dir("es710-soft-deletes");
    let commit = Commit::read_latest(&d).unwrap();
    let seg = &commit.segments[1];
    let gen = to_base36(seg.field_infos_gen as u64);
    let infos = FieldInfos::read(&d.open(&format!("_1_{gen}.fnm")).unwrap(), &seg.id, &gen).unwrap();
    let soft = infos.soft_deletes_field().unwrap();
    assert_eq!(soft.name, "__soft_deletes");
    assert_eq!(soft.doc_values_type, DocValuesType::Numeric);
    assert_eq!(soft.dv_gen, seg.doc_values_gen);
    assert_eq!(soft.attribute("PerFieldDocValuesFormat.format"), Some("Lucene80"));
    assert_eq!(infos.by_number(soft.number).map(|f| f.name.as_str()), Some("__soft_deletes"));
    assert!(infos.by_name("_source").is_some() && infos.by_name("_id").is_some());

    // A wrong generation suffix is rejected.
    let err = FieldInfos::read(&d.open(&format!("_1_{gen}.fnm")).unwrap(), &seg.id, "").unwrap_err();
    assert!(err.to_string().contains("segment suffix"), "{err}");

    for name in ["es56-updates-deletes", "es68-updates-deletes"] {
        let d = dir(name);
        let commit = Commit::read_latest(&d).unwrap();
        let seg = &commit.segments[0];
        let cfs = CompoundFile::open(&d, &seg.name, &seg.id).unwrap();
        let infos = FieldInfos::read(&cfs.open_file(&format!("{}.fnm", seg.name)).unwrap(), &seg.id, "").unwrap();
        assert!(infos.by_name("_source").is_some(), "{name}");
        assert!(infos.soft_deletes_field().is_none(), "{name}");
    }
}

#[test]
fn live_docs_count_must_match_the_commit() {
    let d = dir("lucene881-cfs-hard-80");
    let commit = Commit::read_latest(&d).unwrap();
    let seg = &commit.segments[0];
    let gen = seg.del_gen as u64;
    let name = format!("{}_{}.liv", seg.name, to_base36(gen));
    let file = d.open(&name).unwrap();
    let live = read_live_docs(&file, &seg.id, gen, 16, seg.del_count).unwrap();
    assert_eq!(16 - live.count(), seg.del_count);

    let err = read_live_docs(&file, &seg.id, gen, 16, seg.del_count + 1).unwrap_err();
    assert!(err.to_string().contains("delCount"), "{err}");
    let err = read_live_docs(&file, &seg.id, gen + 1, 16, seg.del_count).unwrap_err();
    assert!(err.to_string().contains("segment suffix"), "{err}");

    // A flipped live bit with a repaired checksum is caught by the count cross-check.
    let mut bytes = file.to_vec();
    let body_end = bytes.len() - 16;
    bytes[body_end - 1] ^= 0x01;
    fix_checksum(&mut bytes);
    let err = read_live_docs(&FileBytes::from_vec(name.as_str(), bytes), &seg.id, gen, 16, seg.del_count).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn soft_deletes_generation_lists_exactly_the_soft_deleted_docs() {
    let d = dir("es710-soft-deletes");
    let commit = Commit::read_latest(&d).unwrap();
    let seg = &commit.segments[1];
    let gen = to_base36(seg.field_infos_gen as u64);
    let infos = FieldInfos::read(&d.open(&format!("_1_{gen}.fnm")).unwrap(), &seg.id, &gen).unwrap();
    let soft = infos.soft_deletes_field().unwrap();
    let suffix = format!("{}_Lucene80_0", to_base36(soft.dv_gen as u64));
    let meta = d.open(&format!("_1_{suffix}.dvm")).unwrap();
    let data = d.open(&format!("_1_{suffix}.dvd")).unwrap();
    let docs = docs_with_value(&meta, &data, &seg.id, &suffix, &infos, soft.number, 6).unwrap();
    assert_eq!((0..6).filter(|&doc| docs.get(doc)).collect::<Vec<_>>(), [1, 2, 3]);

    let err = docs_with_value(&meta, &data, &seg.id, "Lucene80_0", &infos, soft.number, 6).unwrap_err();
    assert!(err.to_string().contains("segment suffix"), "{err}");
    // The field's documents must fit the segment.
    let err = docs_with_value(&meta, &data, &seg.id, &suffix, &infos, soft.number, 2).unwrap_err();
    assert!(err.to_string().contains("maxDoc"), "{err}");
}

#[test]
fn base_doc_values_entries_of_every_type_are_skipped_to_the_footer() {
    // The merged segments keep soft-deleted docs in the base .dvm, after NUMERIC, BINARY, SORTED, SORTED_SET
    // and SORTED_NUMERIC entries of other fields; Lucene's counts only add up if every entry was skipped right.
    let d = dir("lucene881-nocfs-soft-400");
    let (commit, segments) = open_index(&d).unwrap();
    assert!(commit.segments.iter().all(|s| s.field_infos_gen == -1 || s.soft_del_count > 0));
    assert_eq!(segments.iter().map(|s| s.num_live_docs()).sum::<u32>(), 309);
    let infos = segments[0].field_infos();
    for (field, kind) in [
        ("ndv", DocValuesType::Numeric),
        ("bdv", DocValuesType::Binary),
        ("sdv", DocValuesType::Sorted),
        ("ssdv", DocValuesType::SortedSet),
        ("sndv", DocValuesType::SortedNumeric),
    ] {
        assert_eq!(infos.by_name(field).map(|f| f.doc_values_type), Some(kind), "{field}");
    }
}

#[test]
fn unknown_formats_and_versions_are_unsupported_not_corrupt() {
    let id = [7u8; 16];
    for codec in ["Lucene99SegmentInfo", "MysterySegmentInfo"] {
        let mut d = MemoryDirectory::new();
        d.insert("_0.si", file_with_header("_0.si", codec, &id, &[]));
        let err = SegmentInfo::read(&d, "_0", &id).unwrap_err();
        assert!(matches!(&err, Error::Unsupported { found, .. } if found == codec), "{err}");
    }
    // A Lucene90SegmentInfo header is recognised; an empty body is then corrupt, not unsupported.
    let mut d = MemoryDirectory::new();
    d.insert("_0.si", file_with_header("_0.si", "Lucene90SegmentInfo", &id, &[]));
    assert!(matches!(SegmentInfo::read(&d, "_0", &id), Err(Error::Corrupt { .. })));
    // Versions newer than the ones this reader knows (Lucene94FieldInfos 3, Lucene90DocValues 3).
    let fnm = file_with_versioned_header("_0.fnm", "Lucene94FieldInfos", 3, &id, &[]);
    assert!(matches!(FieldInfos::read(&fnm, &id, ""), Err(Error::Unsupported { .. })));
    let dvm = file_with_versioned_header("_0_Lucene90_0.dvm", "Lucene90DocValuesMetadata", 3, &id, &[]);
    let dvd = file_with_versioned_header("_0_Lucene90_0.dvd", "Lucene90DocValuesData", 3, &id, &[]);
    let err = docs_with_value(&dvm, &dvd, &id, "", &FieldInfos::default(), 0, 1).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let liv = file_with_header("_0_1.liv", "Lucene90LiveDocs", &id, &[]);
    assert!(matches!(read_live_docs(&liv, &id, 1, 10, 0), Err(Error::Corrupt { .. })));
    // Stored fields of a codec whose compression has no reader here name the codec and the fix.
    let fdt = file_with_versioned_header("_0.fdt", "QatStoredFieldsLz4", 1, &id, &[]);
    let err = StoredFieldsReader::open(fdt, None, None, &id, "", 1).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { found, hint, .. } if found == "QatStoredFieldsLz4" && hint.contains("ZstdStoredFields814")),
        "{err}"
    );
}

#[test]
fn segment_with_unknown_stored_fields_names_both_codecs() {
    let mut d = memory_copy(&dir("lucene99-oszstd-nocfs-soft"));
    let mut fdt = d.open("_3.fdt").unwrap().to_vec();
    let (old, new) = (b"CustomStoredFieldsZstd", b"QatStoredFieldsZstd912");
    let at = fdt.windows(old.len()).position(|w| w == old).unwrap();
    fdt[at..at + new.len()].copy_from_slice(new);
    fix_checksum(&mut fdt);
    d.insert("_3.fdt", FileBytes::from_vec("_3.fdt", fdt));
    let err = read_everything(&d).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { found, .. }
            if found.contains("QatStoredFieldsZstd912") && found.contains("segment codec ZSTD99")),
        "{err}"
    );
}

#[test]
fn damaged_lucene_9_stored_fields_fail_their_checksum() {
    let baseline = memory_copy(&dir("lucene99-oszstd-nocfs-soft"));
    for file in ["_3.fdt", "_3.fdm", "_3.fdx", "_3_1.fnm", "_3.si", "_3_1_Lucene90_0.dvd", "_4.fdt"] {
        let mut bytes = baseline.open(file).unwrap().to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x20;
        let mut damaged = baseline.clone();
        damaged.insert(file, FileBytes::from_vec(file, bytes));
        let err = read_everything(&damaged).unwrap_err();
        assert!(matches!(&err, Error::Checksum { file: f, .. } if f == file), "{file}: {err}");
    }
}

#[test]
fn commit_format_outside_6_to_10_is_unsupported() {
    let d = dir("es710-soft-deletes");
    let good = d.open("segments_3").unwrap().to_vec();
    for (version, unsupported) in [(5, true), (11, true), (10, false)] {
        let mut bytes = good.clone();
        // Magic (4), name length (1) + "segments" (8), then the Int32 version.
        bytes[13..17].copy_from_slice(&i32::to_be_bytes(version));
        fix_checksum(&mut bytes);
        let mut mem = MemoryDirectory::new();
        mem.insert("segments_3", FileBytes::from_vec("segments_3", bytes));
        let result = Commit::read(&mem, "segments_3");
        assert_eq!(matches!(result, Err(Error::Unsupported { .. })), unsupported, "version {version}: {result:?}");
    }
}

#[test]
fn checksum_mismatch_is_reported_before_decoding() {
    let d = dir("es56-updates-deletes");
    let mut bytes = d.open("segments_a").unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let mut mem = MemoryDirectory::new();
    mem.insert("segments_a", FileBytes::from_vec("segments_a", bytes));
    let err = Commit::read(&mem, "segments_a").unwrap_err();
    assert!(matches!(&err, Error::Checksum { file, .. } if file == "segments_a"), "{err}");
}

#[test]
fn every_truncation_of_every_file_is_an_error() {
    for name in [
        "es56-updates-deletes",
        "es68-updates-deletes",
        "es710-soft-deletes",
        "lucene881-nocfs-soft-80",
        "lucene99-oszstd-nocfs-soft",
        "lucene99-es814comp-cfs-hard",
        "lucene105-compression-cfs-soft",
    ] {
        let source = dir(name);
        let baseline = memory_copy(&source);
        let expected = read_everything(&baseline).unwrap();
        assert!(expected > 0);
        // Only the files a read opens can be damaged in a way it must notice: superseded generations,
        // postings, and every file of a fully deleted segment are never opened.
        let recorder = Recorder { inner: baseline.clone(), opened: Default::default() };
        read_everything(&recorder).unwrap();
        let opened = recorder.opened.into_inner().unwrap();
        assert!(opened.iter().any(|f| f.starts_with("segments_")));
        for file in opened {
            let bytes = baseline.open(&file).unwrap().to_vec();
            for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
                let mut damaged = baseline.clone();
                damaged.insert(file.clone(), FileBytes::from_vec(file.as_str(), bytes[..len].to_vec()));
                assert!(read_everything(&damaged).is_err(), "{name}/{file} truncated to {len} bytes was accepted");
            }
        }
    }
}

#[test]
fn flipped_bytes_with_repaired_checksums_never_panic() {
    // Lucene 9/10 indices are larger, so their bytes are flipped more sparsely.
    for (name, step) in [
        ("es56-updates-deletes", 3),
        ("es68-updates-deletes", 3),
        ("es710-soft-deletes", 3),
        ("lucene881-cfs-soft-80", 3),
        ("lucene99-speed-cfs-soft", 29),
        ("lucene99-osnodict-cfs-hard", 29),
        ("lucene99-es814speed-nocfs-soft", 29),
        ("lucene105-speed-nocfs-hard", 29),
    ] {
        let baseline = memory_copy(&dir(name));
        read_everything(&baseline).unwrap();
        for file in baseline.list().unwrap() {
            let bytes = baseline.open(&file).unwrap().to_vec();
            // Headers and footers are covered by the truncation and checksum tests; flip body bytes densely.
            for at in (0..bytes.len().saturating_sub(16)).step_by(step) {
                for mask in [0x01u8, 0x80] {
                    let mut flipped = bytes.clone();
                    flipped[at] ^= mask;
                    fix_checksum(&mut flipped);
                    let mut damaged = baseline.clone();
                    damaged.insert(file.clone(), FileBytes::from_vec(file.as_str(), flipped));
                    // Some bytes (diagnostics, document values of other fields) can change without
                    // contradicting anything, so either outcome is fine; a panic fails the test.
                    let _ = read_everything(&damaged);
                }
            }
        }
    }
}

//! Stored fields over real bytes: indices Lucene 8.8.1 wrote with every chunk compression (checked value by
//! value against what Lucene read back, see `tests/data/stored/README.md`), the Lucene 6.6 / 7.7 / 8.7
//! stored fields inside the Elasticsearch snapshot fixtures, and damaged copies of both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferry_lucene::stored::{Compression, StoredFieldVisitor, StoredFieldsReader, StoredValue};
use ferry_lucene::{Error, FileBytes, Result};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stored");
const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/snapshots");

/// Renders visited documents in the `expected.txt` line format.
#[derive(Default)]
struct Dump {
    lines: Vec<String>,
}

impl StoredFieldVisitor for Dump {
    fn start_document(&mut self, doc: u32) -> Result<()> {
        self.lines.push(format!("D {doc}"));
        Ok(())
    }
    fn field(&mut self, field_number: u32, value: StoredValue<'_>) -> Result<()> {
        let mut line = format!("F {field_number} ");
        match value {
            StoredValue::Str(s) => write!(line, "S {} {:x}", s.len(), crc32fast::hash(s.as_bytes())),
            StoredValue::Bytes(b) => write!(line, "B {} {:x}", b.len(), crc32fast::hash(b)),
            StoredValue::Int(v) => write!(line, "I {v}"),
            StoredValue::Long(v) => write!(line, "L {v}"),
            StoredValue::Float(v) => write!(line, "f {:x}", v.to_bits()),
            StoredValue::Double(v) => write!(line, "d {:x}", v.to_bits()),
        }
        .unwrap();
        self.lines.push(line);
        Ok(())
    }
    fn end_document(&mut self, _doc: u32) -> Result<()> {
        Ok(())
    }
}

struct Generated {
    fdt: Vec<u8>,
    fdx: Vec<u8>,
    fdm: Vec<u8>,
    id: [u8; 16],
    max_doc: u32,
    /// Expected lines per document.
    docs: Vec<Vec<String>>,
}

fn load(name: &str) -> Generated {
    let dir = Path::new(DATA).join(name);
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let text = String::from_utf8(read("expected.txt")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&header[2][2 * i..2 * i + 2], 16).unwrap();
    }
    let mut docs: Vec<Vec<String>> = Vec::new();
    for line in lines {
        if line.starts_with("D ") {
            docs.push(Vec::new());
        }
        docs.last_mut().unwrap().push(line.to_owned());
    }
    Generated {
        fdt: read("_0.fdt"),
        fdx: read("_0.fdx"),
        fdm: read("_0.fdm"),
        id,
        max_doc: header[3].parse().unwrap(),
        docs,
    }
}

fn open(g: &Generated, fdt: Vec<u8>) -> Result<StoredFieldsReader> {
    StoredFieldsReader::open(
        FileBytes::from_vec("_0.fdt", fdt),
        Some(FileBytes::from_vec("_0.fdx", g.fdx.clone())),
        Some(FileBytes::from_vec("_0.fdm", g.fdm.clone())),
        &g.id,
        "",
        g.max_doc,
    )
}

fn visit_all(reader: &StoredFieldsReader) -> Result<Vec<String>> {
    let mut dump = Dump::default();
    reader.visit_live(&|_| true, &mut dump)?;
    Ok(dump.lines)
}

const GENERATED: [(&str, Compression); 6] = [
    ("l87_speed", Compression::Lz4WithPresetDict),
    ("l87_compression", Compression::DeflateWithPresetDict),
    ("fast_small", Compression::Lz4),
    ("high_small", Compression::Deflate),
    ("lz4dict_small", Compression::Lz4WithPresetDict),
    ("deflatedict_small", Compression::DeflateWithPresetDict),
];

#[test]
fn every_compression_matches_what_lucene_read_back() {
    for (name, compression) in GENERATED {
        let g = load(name);
        let reader = open(&g, g.fdt.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reader.compression(), compression, "{name}");
        assert_eq!(reader.version(), 3, "{name}");
        assert_eq!(reader.max_doc(), g.max_doc);
        let got = visit_all(&reader).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Vec<String> = g.docs.concat();
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a, b, "{name}: line {i}");
        }
    }
}

#[test]
fn only_live_documents_are_visited() {
    for (name, _) in GENERATED {
        let g = load(name);
        let reader = open(&g, g.fdt.clone()).unwrap();
        let live = |d: u32| d % 3 == 1 || d == 40;
        let mut dump = Dump::default();
        reader.visit_live(&live, &mut dump).unwrap();
        let want: Vec<String> =
            g.docs.iter().enumerate().filter(|(d, _)| live(*d as u32)).flat_map(|(_, l)| l.clone()).collect();
        assert_eq!(dump.lines, want, "{name}");

        let mut none = Dump::default();
        reader.visit_live(&|_| false, &mut none).unwrap();
        assert!(none.lines.is_empty());
    }
}

struct FailAt(u32);

impl StoredFieldVisitor for FailAt {
    fn start_document(&mut self, doc: u32) -> Result<()> {
        if doc == self.0 {
            return Err(Error::Unsupported {
                file: "visitor".into(),
                what: "doc".into(),
                found: doc.to_string(),
                hint: "test".into(),
            });
        }
        Ok(())
    }
    fn field(&mut self, _: u32, _: StoredValue<'_>) -> Result<()> {
        Ok(())
    }
    fn end_document(&mut self, _: u32) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_visitor_error_aborts_the_pass() {
    let g = load("fast_small");
    let reader = open(&g, g.fdt.clone()).unwrap();
    let err = reader.visit_live(&|_| true, &mut FailAt(33)).unwrap_err();
    assert!(err.to_string().contains("visitor"), "{err}");
}

fn fix_crc(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc32fast::hash(&bytes[..n - 8]);
    bytes[n - 8..].copy_from_slice(&u64::from(crc).to_be_bytes());
}

#[test]
fn damaged_files_are_errors_not_panics() {
    for (name, _) in GENERATED {
        let g = load(name);
        // A flipped byte is a checksum error on open.
        let mut flipped = g.fdt.clone();
        flipped[g.fdt.len() / 2] ^= 0x10;
        assert!(matches!(open(&g, flipped), Err(Error::Checksum { .. })), "{name}");
        // Truncation breaks the footer.
        assert!(open(&g, g.fdt[..g.fdt.len() - 5].to_vec()).is_err(), "{name}");
        // Damage behind a recomputed checksum is caught by the decoders, at every position.
        let step = (g.fdt.len() / 400).max(1);
        for pos in (0..g.fdt.len() - 16).step_by(step) {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = g.fdt.clone();
                bad[pos] ^= mask;
                fix_crc(&mut bad);
                if let Ok(reader) = open(&g, bad) {
                    let _ = visit_all(&reader);
                }
            }
        }
        // The same for every byte of the index files.
        for pos in 0..g.fdm.len() - 16 {
            let mut fdm = g.fdm.clone();
            fdm[pos] ^= 0xff;
            fix_crc(&mut fdm);
            let damaged = Generated { fdm, fdt: Vec::new(), ..load(name) };
            if let Ok(reader) = open(&damaged, g.fdt.clone()) {
                let _ = visit_all(&reader);
            }
        }
        // A scan does not use the .fdx body (random-access pointers), only its header and checksum.
        let fdx_header = 4 + 1 + "Lucene85FieldsIndexIdx".len() + 4 + 16 + 1;
        for pos in 0..fdx_header {
            let mut fdx = g.fdx.clone();
            fdx[pos] ^= 0xff;
            fix_crc(&mut fdx);
            let damaged = Generated { fdx, fdt: Vec::new(), ..load(name) };
            assert!(open(&damaged, g.fdt.clone()).is_err(), "{name}: .fdx byte {pos}");
        }
    }
}

#[test]
fn header_damage_is_reported_precisely() {
    let g = load("l87_speed");
    let mut wrong_id = g.id;
    wrong_id[3] ^= 1;
    let err = StoredFieldsReader::open(
        FileBytes::from_vec("_0.fdt", g.fdt.clone()),
        Some(FileBytes::from_vec("_0.fdx", g.fdx.clone())),
        Some(FileBytes::from_vec("_0.fdm", g.fdm.clone())),
        &wrong_id,
        "",
        g.max_doc,
    )
    .unwrap_err();
    assert!(err.to_string().contains("segment id"), "{err}");

    // A Lucene 9 codec name (same length) is unsupported, not corrupt.
    let mut l90 = g.fdt.clone();
    let at = l90.windows(6).position(|w| w == b"Lucene").unwrap();
    l90[at + 6..at + 8].copy_from_slice(b"90");
    fix_crc(&mut l90);
    let err = open(&g, l90).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("Lucene90StoredFieldsFastData"), "{err}");

    // The wrong maxDoc disagrees with the index.
    let mut short = load("l87_speed");
    short.max_doc -= 1;
    assert!(open(&short, short.fdt.clone()).is_err());

    // Another segment's index files are rejected by id.
    let other = load("l87_compression");
    let mixed = Generated { fdx: other.fdx, fdm: other.fdm, ..load("l87_speed") };
    assert!(open(&mixed, mixed.fdt.clone()).is_err());

    // Version 3 needs its .fdm.
    let err = StoredFieldsReader::open(
        FileBytes::from_vec("_0.fdt", g.fdt.clone()),
        Some(FileBytes::from_vec("_0.fdx", g.fdx.clone())),
        None,
        &g.id,
        "",
        g.max_doc,
    )
    .unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
}

/// Rewrites the single-chunk `l87_speed` files into container version 4 (later Lucene 8.x) as the Lucene 9
/// backward-codecs reader describes it: header version 4, chunk token `docs << 2 | dirty << 1 | sliced`, and
/// the chunk count recorded in `.fdm` before the dirty counts.
#[test]
fn version_4_tokens_and_meta_are_understood() {
    let g = load("l87_speed");
    let codec_len = usize::from(g.fdt[4]);
    let version_at = 5 + codec_len;
    let mut fdt = g.fdt.clone();
    fdt[version_at..version_at + 4].copy_from_slice(&4i32.to_be_bytes());
    let chunk_at = version_at + 4 + 16 + 1;
    assert_eq!(fdt[chunk_at], 0, "doc base 0");
    // 120 docs: token 240 (v3) becomes 480 (v4) plus the dirty bit; both are two-byte VInts.
    assert_eq!(&fdt[chunk_at + 1..chunk_at + 3], &[0xf0, 0x01]);
    let token = (120u32 << 2) | 2;
    fdt[chunk_at + 1..chunk_at + 3].copy_from_slice(&[(token as u8) | 0x80, (token >> 7) as u8]);
    fix_crc(&mut fdt);

    let mut fdm = g.fdm.clone();
    let meta_version_at = 5 + usize::from(fdm[4]);
    fdm[meta_version_at..meta_version_at + 4].copy_from_slice(&4i32.to_be_bytes());
    // The counts follow the Int64 maxPointer, which is where the .fdt footer starts.
    let max_pointer = ((fdt.len() - 16) as i64).to_be_bytes();
    let counts_at = fdm.windows(8).rposition(|w| w == max_pointer).unwrap() + 8;
    fdm.insert(counts_at, 1);
    fix_crc(&mut fdm);

    let v4 = Generated { fdt: Vec::new(), fdm, ..load("l87_speed") };
    let reader = open(&v4, fdt.clone()).unwrap();
    assert_eq!(reader.version(), 4);
    assert_eq!(visit_all(&reader).unwrap(), g.docs.concat());

    // A chunk count that disagrees with the index is caught.
    let mut wrong = v4.fdm.clone();
    wrong[counts_at] = 2;
    fix_crc(&mut wrong);
    let err = open(&Generated { fdm: wrong, ..load("l87_speed") }, fdt).unwrap_err();
    assert!(err.to_string().contains("chunks"), "{err}");
}

// ---- Elasticsearch snapshot fixtures: Lucene 6.6 (ES 5.6), 7.7 (ES 6.8), 8.7 (ES 7.10) ----

const MAGIC: [u8; 4] = 0x3fd7_6c17u32.to_be_bytes();
const FOOTER_MAGIC: [u8; 4] = (!0x3fd7_6c17u32).to_be_bytes();

/// A Lucene file embedded in a blob (a compound `.cfs` or a plain file): its codec, id and bytes, found by
/// its header and the footer whose CRC covers it.
struct Embedded {
    codec: String,
    id: [u8; 16],
    bytes: Vec<u8>,
}

fn embedded_files(blob: &[u8]) -> Vec<Embedded> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(rel) = blob[start..].windows(4).position(|w| w == MAGIC) {
        let at = start + rel;
        start = at + 1;
        let Some(&len) = blob.get(at + 4) else { break };
        let name_end = at + 5 + len as usize;
        let Some(name) = blob.get(at + 5..name_end).and_then(|n| std::str::from_utf8(n).ok()) else { continue };
        let Some(id) = blob.get(name_end + 4..name_end + 20) else { continue };
        // The sub-file ends at the first footer whose checksum covers it.
        let mut p = name_end;
        while let Some(rel) = blob[p..].windows(4).position(|w| w == FOOTER_MAGIC) {
            let f = p + rel;
            p = f + 1;
            let Some(stored) = blob.get(f + 8..f + 16) else { break };
            if u64::from_be_bytes(stored.try_into().unwrap()) == u64::from(crc32fast::hash(&blob[at..f + 8])) {
                out.push(Embedded {
                    codec: name.to_owned(),
                    id: id.try_into().unwrap(),
                    bytes: blob[at..f + 16].to_vec(),
                });
                break;
            }
        }
    }
    out
}

/// maxDoc of the segment with `id`, from its `.si` (Lucene62/Lucene70 layouts) or, for version 3 stored
/// fields, from the `.fdm`.
fn max_doc(files: &[Embedded], id: &[u8; 16]) -> Option<u32> {
    let i32_at = |b: &[u8], p: usize| b.get(p..p + 4).map(|x| i32::from_be_bytes(x.try_into().unwrap()));
    for f in files.iter().filter(|f| &f.id == id) {
        let body = 4 + 1 + f.codec.len() + 4 + 16 + 1;
        match f.codec.as_str() {
            "Lucene62SegmentInfo" => return i32_at(&f.bytes, body + 12).map(|v| v as u32),
            "Lucene70SegmentInfo" => {
                let has_min = *f.bytes.get(body + 12)? == 1;
                return i32_at(&f.bytes, body + 13 + if has_min { 12 } else { 0 }).map(|v| v as u32);
            }
            "Lucene85FieldsIndexMeta" => {
                // VInt chunkSize and packedIntsVersion precede maxDoc.
                let mut p = body;
                for _ in 0..2 {
                    while f.bytes.get(p)? & 0x80 != 0 {
                        p += 1;
                    }
                    p += 1;
                }
                return i32_at(&f.bytes, p).map(|v| v as u32);
            }
            _ => {}
        }
    }
    None
}

struct Counter {
    docs: u32,
    docs_with_fields: u32,
    sources: u32,
    fields_in_doc: u32,
    in_doc: bool,
}

impl StoredFieldVisitor for Counter {
    fn start_document(&mut self, _: u32) -> Result<()> {
        assert!(!self.in_doc);
        self.in_doc = true;
        self.docs += 1;
        self.fields_in_doc = 0;
        Ok(())
    }
    fn field(&mut self, _: u32, value: StoredValue<'_>) -> Result<()> {
        assert!(self.in_doc);
        self.fields_in_doc += 1;
        if let StoredValue::Bytes(b) = value {
            if b.trim_ascii_start().first() == Some(&b'{') && b.trim_ascii_end().last() == Some(&b'}') {
                self.sources += 1;
            }
        }
        Ok(())
    }
    fn end_document(&mut self, _: u32) -> Result<()> {
        self.in_doc = false;
        if self.fields_in_doc > 0 {
            self.docs_with_fields += 1;
        }
        Ok(())
    }
}

fn shard_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for repo in std::fs::read_dir(SNAPSHOTS).unwrap() {
        let indices = repo.unwrap().path().join("indices");
        for index in std::fs::read_dir(indices).into_iter().flatten() {
            for shard in std::fs::read_dir(index.unwrap().path()).into_iter().flatten() {
                let path = shard.unwrap().path();
                if path.is_dir() {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn snapshot_fixture_segments_read_completely() {
    let mut seen_versions = std::collections::BTreeMap::new();
    for dir in shard_dirs() {
        let mut files = Vec::new();
        for blob in std::fs::read_dir(&dir).unwrap() {
            let path = blob.unwrap().path();
            if path.file_name().unwrap().to_str().unwrap().starts_with("__") {
                files.extend(embedded_files(&std::fs::read(&path).unwrap()));
            }
        }
        for fdt in files.iter().filter(|f| f.codec.contains("StoredFields") && f.codec.ends_with("Data")) {
            let find = |codec: &str| files.iter().find(|f| f.id == fdt.id && f.codec == codec);
            let index_name = fdt.codec.replace("Data", "Index");
            let fdx = find(&index_name).or_else(|| find("Lucene85FieldsIndexIdx"));
            let fdm = find("Lucene85FieldsIndexMeta");
            let max_doc = max_doc(&files, &fdt.id).unwrap_or_else(|| panic!("{}: no maxDoc", dir.display()));
            let reader = StoredFieldsReader::open(
                FileBytes::from_vec("fdt", fdt.bytes.clone()),
                fdx.map(|f| FileBytes::from_vec("fdx", f.bytes.clone())),
                fdm.map(|f| FileBytes::from_vec("fdm", f.bytes.clone())),
                &fdt.id,
                "",
                max_doc,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let mut counter = Counter { docs: 0, docs_with_fields: 0, sources: 0, fields_in_doc: 0, in_doc: false };
            reader.visit_live(&|_| true, &mut counter).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert_eq!(counter.docs, max_doc, "{}", dir.display());
            assert_eq!(counter.docs_with_fields, max_doc, "every doc has an _id or _uid: {}", dir.display());
            assert!(counter.sources > 0, "{}", dir.display());
            *seen_versions.entry(reader.version()).or_insert(0) += 1;
        }
    }
    // 5.6 and 6.8 (Lucene 6.6 / 7.7) write version 1, 7.10 (Lucene 8.7) version 3: ten segments each.
    assert_eq!(seen_versions, [(1, 10), (3, 10)].into_iter().collect());
}

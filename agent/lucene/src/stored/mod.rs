//! Stored fields (`.fdt`, `.fdx`, `.fdm`) as Lucene 6–10 write them for Elasticsearch 5–9 and OpenSearch 1–3:
//! the `_source`, `_id`/`_uid` and `_routing` of every document. Two chunk containers exist — Lucene 5–8's
//! (`Lucene50CompressingStoredFields*`, big-endian, `PackedInts` per-document counts) and Lucene 9+'s
//! (`Lucene90CompressingStoredFields*`, little-endian, `StoredFieldsInts`) — each with several chunk
//! compressions, including the zstd ones of Elasticsearch 8.14+ and OpenSearch's custom codecs. The `.fdt`
//! header codec name selects both, so wrapper codecs (`Elasticsearch8xx`, `KNN…Codec`) need no special case.
//!
//! The reader is built for one job: a sequential pass over every live document of a segment. It walks the
//! chunks of `.fdt` in order, decompresses each chunk once into a reused buffer, and hands borrowed field values
//! to a [`StoredFieldVisitor`]; chunks without a live document are stepped over without decompressing.

mod compression;
mod index;
mod value;

use crate::codec::{verify_footer, FOOTER_LEN};
use crate::input::DataInput;
use crate::{Endian, Error, FileBytes, Result};

pub use compression::Compression;
use compression::Decoder;
use index::{IndexSummary, MetaIndex, VERSION_META, VERSION_NUM_CHUNKS, VERSION_OFFHEAP_INDEX};

/// One stored field value, borrowed from the reader's decompression buffer for the duration of the callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoredValue<'a> {
    /// A string field (e.g. `_uid`, `_routing`).
    Str(&'a str),
    /// A binary field (e.g. `_source`, `_id`).
    Bytes(&'a [u8]),
    /// A 32-bit integer field.
    Int(i32),
    /// A 64-bit integer field.
    Long(i64),
    /// A 32-bit float field.
    Float(f32),
    /// A 64-bit float field.
    Double(f64),
}

/// Receives the documents of a [`StoredFieldsReader::visit_live`] pass. Returning an error from any method
/// aborts the pass and that error is returned.
pub trait StoredFieldVisitor {
    /// Called once per visited document before its fields.
    fn start_document(&mut self, doc: u32) -> Result<()>;
    /// Each stored field of the current document, in stored order.
    fn field(&mut self, field_number: u32, value: StoredValue<'_>) -> Result<()>;
    /// After the document's last field.
    fn end_document(&mut self, doc: u32) -> Result<()>;
}

const VERSION_START: i32 = 1;
/// The only version of the Lucene 9+ container (`Lucene90CompressingStoredFieldsWriter.VERSION_CURRENT`).
const L90_VERSION: i32 = 1;
/// Largest decompressed chunk accepted. Lucene's own limit is the `int` range; a header claiming more is
/// corrupt, and capping it keeps buffer growth bounded by what a real writer can produce.
const MAX_CHUNK_BYTES: u32 = i32::MAX as u32;

/// The chunk container of a stored-fields file set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Lucene 5–8 (`CompressingStoredFieldsReader`): big-endian, `PackedInts` per-document counts.
    Lucene50,
    /// Lucene 9–10 (`Lucene90CompressingStoredFieldsReader`): little-endian, `StoredFieldsInts` counts.
    Lucene90,
}

/// The container and compression a `.fdt` codec name stands for: the production formats (Lucene's own,
/// Elasticsearch 8.14+'s `Zstd814StoredFieldsFormat`, OpenSearch's custom-codecs zstd modes), and the names
/// Lucene's test-framework `CompressingCodec` variants write (format name = codec name).
fn format_for(codec: &str) -> Option<(Container, Compression)> {
    Some(match codec {
        "Lucene50StoredFieldsFastData"
        | "FastCompressingStoredFieldsData"
        | "FastDecompressionCompressingStoredFieldsData" => (Container::Lucene50, Compression::Lz4),
        "Lucene50StoredFieldsHighData" | "HighCompressionCompressingStoredFieldsData" => {
            (Container::Lucene50, Compression::Deflate)
        }
        "Lucene87StoredFieldsFastData" | "LZ4WithPresetCompressingStoredFieldsData" => {
            (Container::Lucene50, Compression::Lz4WithPresetDict)
        }
        "Lucene87StoredFieldsHighData" | "DeflateWithPresetCompressingStoredFieldsData" => {
            (Container::Lucene50, Compression::DeflateWithPresetDict)
        }
        "Lucene90StoredFieldsFastData" => (Container::Lucene90, Compression::Lz4WithPresetDict),
        "Lucene90StoredFieldsHighData" => (Container::Lucene90, Compression::DeflateWithPresetDict),
        "ZstdStoredFields814" => (Container::Lucene90, Compression::Zstd),
        "CustomStoredFieldsZstd" => (Container::Lucene90, Compression::ZstdWithPresetDict),
        "CustomStoredFieldsZstdNoDict" => (Container::Lucene90, Compression::ZstdBlocks),
        _ => return None,
    })
}

/// A verified stored-fields file set for one segment, ready for sequential passes.
#[derive(Debug)]
pub struct StoredFieldsReader {
    fdt: FileBytes,
    container: Container,
    version: i32,
    compression: Compression,
    chunk_size: u32,
    /// `.fdt` offset of the first chunk.
    chunks_start: usize,
    /// `.fdt` offset where the chunks end.
    chunks_end: usize,
    /// Number of chunks, as the index (and, where present, the meta or trailer) records it.
    num_chunks: u64,
    max_doc: u32,
}

impl StoredFieldsReader {
    /// Checks the files of one segment's stored fields and reads what a scan needs. `fdx`/`fdm` are None when
    /// the version does not have them (`.fdm` exists from container version 2); `segment_suffix` is usually
    /// "". Verifies every file's header (codec, version, segment id, suffix) and footer checksum.
    pub fn open(
        fdt: FileBytes,
        fdx: Option<FileBytes>,
        fdm: Option<FileBytes>,
        segment_id: &[u8; 16],
        segment_suffix: &str,
        max_doc: u32,
    ) -> Result<Self> {
        let _span = tracing::debug_span!("open_stored_fields", file = fdt.name(), max_doc).entered();
        let mut input = DataInput::new(fdt.name(), &fdt);
        let codec = input.read_header_name()?;
        let (container, compression) = format_for(&codec).ok_or_else(|| {
            input.unsupported(
                "stored fields codec",
                codec.clone(),
                "supported are Lucene50/87/90StoredFields{Fast,High}Data (Lucene 6-10), Elasticsearch's \
                 ZstdStoredFields814 and OpenSearch's CustomStoredFieldsZstd[NoDict]; other codecs need a reader \
                 for their stored fields format",
            )
        })?;
        let version = match container {
            Container::Lucene50 => input.check_version(&codec, VERSION_START, VERSION_NUM_CHUNKS)?,
            Container::Lucene90 => input.check_version(&codec, L90_VERSION, L90_VERSION)?,
        };
        input.check_id_and_suffix(segment_id, segment_suffix)?;
        verify_footer(&fdt)?;

        let missing = |ext: &str| Error::MissingFile {
            name: format!("{} (.{ext})", fdt.name()),
            location: format!("stored fields version {version}"),
        };
        let fdx = fdx.ok_or_else(|| missing("fdx"))?;
        let summary = match container {
            Container::Lucene50 if version < VERSION_OFFHEAP_INDEX => {
                index::read_legacy_index(&fdx, &codec, version, segment_id, segment_suffix)?
            }
            Container::Lucene50 => {
                let fdm = fdm.ok_or_else(|| missing("fdm"))?;
                let kind = MetaIndex::Lucene85 { version };
                index::read_meta_index(&fdm, &fdx, kind, segment_id, segment_suffix, max_doc)?
            }
            Container::Lucene90 => {
                let fdm = fdm.ok_or_else(|| missing("fdm"))?;
                let kind = MetaIndex::Lucene90 { version };
                index::read_meta_index(&fdm, &fdx, kind, segment_id, segment_suffix, max_doc)?
            }
        };
        let IndexSummary { max_pointer, index_chunks, chunk_size, meta_chunks } = summary;

        let params_at = input.offset();
        let chunk_size = match chunk_size {
            Some(chunk_size) => chunk_size,
            None => {
                let chunk_size = input.read_vint()?;
                let packed_ints_version = input.read_vint()?;
                index::check_packed_ints_version(&input, packed_ints_version)?;
                chunk_size
            }
        };
        if chunk_size == 0 || chunk_size > MAX_CHUNK_BYTES {
            return Err(input.corrupt_at(params_at, "a chunk size in 1..2^31", chunk_size.to_string()));
        }
        let chunks_start = input.position();
        let body_end = fdt.len().saturating_sub(FOOTER_LEN);
        let chunks_end = usize::try_from(max_pointer)
            .ok()
            .filter(|&end| end >= chunks_start && end <= body_end)
            .ok_or_else(|| {
                input.corrupt_at(
                    0,
                    format!("chunks ending between bytes {chunks_start} and {body_end}"),
                    format!("maxPointer {max_pointer}"),
                )
            })?;

        let trailer_chunks = if container == Container::Lucene50 && version < VERSION_META {
            // Versions 1 and 2 keep the chunk counts right after the chunks.
            let mut trailer = DataInput::new(fdt.name(), &fdt);
            trailer.seek(chunks_end)?;
            let n = trailer.read_vlong()?;
            let dirty = trailer.read_vlong()?;
            if dirty > n {
                return Err(trailer.corrupt_at(
                    max_pointer,
                    "at most as many dirty chunks as chunks",
                    format!("{dirty} > {n}"),
                ));
            }
            trailer.expect_footer_next()?;
            Some(n)
        } else {
            if chunks_end != body_end {
                return Err(input.corrupt_at(
                    max_pointer,
                    "the footer right after the last chunk",
                    format!("{} more bytes", body_end - chunks_end),
                ));
            }
            meta_chunks
        };
        if let Some(n) = trailer_chunks.filter(|&n| n != index_chunks) {
            return Err(input.corrupt_at(
                max_pointer,
                format!("{index_chunks} chunks as the index lists"),
                format!("a recorded count of {n}"),
            ));
        }
        tracing::debug!(codec, version, chunk_size, chunks = index_chunks, "opened stored fields");
        Ok(StoredFieldsReader {
            fdt,
            container,
            version,
            compression,
            chunk_size,
            chunks_start,
            chunks_end,
            num_chunks: index_chunks,
            max_doc,
        })
    }

    /// Every document d in 0..max_doc for which live(d) is true, in doc order, decompressing each chunk once and
    /// skipping the decode of chunks with no live doc. Buffers are reused: nothing is allocated per document,
    /// and only growth allocates per chunk.
    pub fn visit_live<L, V>(&self, live: &L, visitor: &mut V) -> Result<()>
    where
        L: Fn(u32) -> bool + ?Sized,
        V: StoredFieldVisitor + ?Sized,
    {
        let _span =
            tracing::debug_span!("visit_stored_fields", file = self.fdt.name(), max_doc = self.max_doc).entered();
        let bytes = self.fdt.get(..self.chunks_end).unwrap_or_default();
        let mut input = DataInput::new(self.fdt.name(), bytes);
        input.set_endian(self.endian());
        input.seek(self.chunks_start)?;
        let mut decoder = Decoder::new(self.compression);
        let mut chunk = ChunkHeader::default();
        let mut data: Vec<u8> = Vec::new();
        let (mut chunks, mut decoded, mut visited) = (0u64, 0u64, 0u64);
        let mut next_doc = 0u32;
        while next_doc < self.max_doc {
            let chunk_at = input.offset();
            self.read_chunk_header(&mut input, next_doc, &mut chunk)?;
            chunks += 1;
            let total = chunk.total_len();
            let end_doc = chunk.doc_base + chunk.docs;
            if !(chunk.doc_base..end_doc).any(live) {
                for len in self.piece_lengths(total, chunk.sliced) {
                    decoder.skip(&mut input, len)?;
                }
                next_doc = end_doc;
                continue;
            }
            decoded += 1;
            if data.len() < total {
                data.resize(total, 0);
            }
            let mut start = 0;
            for len in self.piece_lengths(total, chunk.sliced) {
                let piece = data.get_mut(start..start + len).unwrap_or_default();
                decoder.decompress(&mut input, piece)?;
                start += len;
            }
            let out = data.get(..total).unwrap_or_default();
            for (i, (&num_fields, bounds)) in chunk.num_fields.iter().zip(chunk.offsets.windows(2)).enumerate() {
                let doc = chunk.doc_base + i as u32;
                if !live(doc) {
                    continue;
                }
                let (start, end) = match *bounds {
                    [start, end] => (start as usize, end as usize),
                    _ => continue,
                };
                let doc_bytes = out.get(start..end).unwrap_or_default();
                let mut doc_input = DataInput::new(self.fdt.name(), doc_bytes);
                doc_input.set_endian(self.endian());
                visitor.start_document(doc)?;
                let source = value::DocumentSource { file: self.fdt.name(), chunk_offset: chunk_at, doc };
                value::visit_fields(&mut doc_input, num_fields, &source, visitor)?;
                visitor.end_document(doc)?;
                visited += 1;
            }
            next_doc = end_doc;
        }
        if input.position() != self.chunks_end {
            return Err(input.corrupt(
                format!("the chunks to end at maxPointer {}", self.chunks_end),
                format!("the last document's chunk ending at byte {}", input.offset()),
            ));
        }
        if chunks != self.num_chunks {
            return Err(
                input.corrupt(format!("{} chunks as the index lists", self.num_chunks), format!("{chunks} chunks"))
            );
        }
        tracing::debug!(chunks, decoded, visited, "visited stored fields");
        Ok(())
    }

    /// Number of documents in the segment, live or not.
    pub fn max_doc(&self) -> u32 {
        self.max_doc
    }

    /// How chunks are compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The chunk container.
    pub fn container(&self) -> Container {
        self.container
    }

    /// The container version (Lucene 5–8: 1 = Lucene 5.5–8.4, 2 = 8.5, 3 = 8.6–8.9, 4 = later 8.x; Lucene 9+:
    /// always 1).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// Byte order of fixed-width values in chunk headers and documents.
    fn endian(&self) -> Endian {
        match self.container {
            Container::Lucene50 => Endian::Big,
            Container::Lucene90 => Endian::Little,
        }
    }

    /// The decompressed length of each independently compressed piece of a chunk of `total` bytes: the whole
    /// chunk (even when empty, since an empty piece is still written), or `chunkSize` slices for a sliced
    /// chunk (documents larger than a chunk).
    fn piece_lengths(&self, total: usize, sliced: bool) -> impl Iterator<Item = usize> {
        let size = if sliced { self.chunk_size as usize } else { total.max(1) };
        let count = if sliced { total.div_ceil(size) } else { 1 };
        (0..count).map(move |i| size.min(total - i * size))
    }

    /// Reads a chunk header: doc base (must be `expected_base`), token, per-document field counts and lengths.
    fn read_chunk_header(&self, input: &mut DataInput<'_>, expected_base: u32, chunk: &mut ChunkHeader) -> Result<()> {
        let at = input.offset();
        let doc_base = input.read_vint()?;
        if doc_base != expected_base {
            return Err(input.corrupt_at(
                at,
                format!("a chunk starting at doc {expected_base}"),
                format!("doc base {doc_base}"),
            ));
        }
        let token = input.read_vint()?;
        // Lucene 8.10+ and 9+ keep a "dirty chunk" bit beside the sliced bit.
        let docs = if self.container == Container::Lucene90 || self.version >= VERSION_NUM_CHUNKS {
            token >> 2
        } else {
            token >> 1
        };
        if docs == 0 || docs > self.max_doc - doc_base {
            return Err(input.corrupt_at(
                at,
                format!("between 1 and {} documents in the chunk", self.max_doc - doc_base),
                docs.to_string(),
            ));
        }
        chunk.doc_base = doc_base;
        chunk.docs = docs;
        chunk.sliced = token & 1 != 0;
        let n = docs as usize;
        chunk.num_fields.clear();
        chunk.offsets.clear();
        chunk.offsets.push(0);
        if docs == 1 {
            chunk.num_fields.push(input.read_vint()?);
            chunk.offsets.push(input.read_vint()?);
        } else {
            let read_counts = match self.container {
                Container::Lucene50 => read_packed_or_constant,
                Container::Lucene90 => read_stored_fields_ints,
            };
            read_counts(input, n, &mut chunk.num_fields)?;
            read_counts(input, n, &mut chunk.offsets)?;
            // Lengths to running offsets; sums beyond 2^31 cannot come from a Lucene writer.
            let mut sum: u32 = 0;
            for slot in chunk.offsets.iter_mut().skip(1) {
                sum = sum
                    .checked_add(*slot)
                    .filter(|&s| s <= MAX_CHUNK_BYTES)
                    .ok_or_else(|| input.corrupt_at(at, "document lengths that sum below 2^31", "a larger sum"))?;
                *slot = sum;
            }
        }
        for (i, (&fields, w)) in chunk.num_fields.iter().zip(chunk.offsets.windows(2)).enumerate() {
            let empty = w.first() == w.get(1);
            if empty != (fields == 0) {
                return Err(input.corrupt_at(
                    at,
                    "an empty document exactly when it has no fields",
                    format!("doc {}: {fields} fields", doc_base + i as u32),
                ));
            }
        }
        let total = chunk.total_len();
        // A claim beyond what the compression can expand the rest of the file to is corrupt; checking it
        // before allocating keeps a damaged header from reserving gigabytes.
        let possible = input.remaining().saturating_mul(self.compression.max_expansion()).min(MAX_CHUNK_BYTES as usize);
        if total > possible {
            return Err(input.corrupt_at(
                at,
                format!("a chunk of at most {possible} bytes given the data left"),
                format!("{total} bytes"),
            ));
        }
        Ok(())
    }
}

/// The decoded header of the chunk being visited; vectors are reused across chunks.
#[derive(Default)]
struct ChunkHeader {
    doc_base: u32,
    docs: u32,
    sliced: bool,
    num_fields: Vec<u32>,
    /// `docs + 1` running offsets into the decompressed chunk.
    offsets: Vec<u32>,
}

impl ChunkHeader {
    fn total_len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) as usize
    }
}

/// Reads `count` values as Lucene writes per-document counts in a chunk: VInt bits per value, then either one
/// VInt shared by all (0 bits) or `PackedInts` PACKED, most significant bit first. Appends to `out`.
fn read_packed_or_constant(input: &mut DataInput<'_>, count: usize, out: &mut Vec<u32>) -> Result<()> {
    let at = input.offset();
    let bits = input.read_vint()?;
    if bits == 0 {
        let v = input.read_vint()?;
        out.extend(std::iter::repeat_n(v, count));
        return Ok(());
    }
    if bits > 31 {
        return Err(input.corrupt_at(at, "at most 31 bits per value", bits.to_string()));
    }
    let total_bits = (count as u64) * u64::from(bits);
    let packed = input.read_bytes(usize::try_from(total_bits.div_ceil(8)).unwrap_or(usize::MAX))?;
    let mask = (1u64 << bits) - 1;
    let mut bytes = packed.iter();
    let (mut acc, mut have) = (0u64, 0u32);
    for _ in 0..count {
        while have < bits {
            acc = (acc << 8) | u64::from(bytes.next().copied().unwrap_or(0));
            have += 8;
        }
        have -= bits;
        out.push(((acc >> have) & mask) as u32);
    }
    Ok(())
}

/// Values per block of `StoredFieldsInts`.
const INTS_BLOCK: usize = 128;

/// Reads `count` values as Lucene 9+ writes per-document counts in a chunk (`StoredFieldsInts`): a byte of
/// bits per value, then one VInt shared by all (0 bits), or for 8/16/32 bits, blocks of 128 values packed into
/// 16/32/64 longs (value `j` of a block in the `j / n`-th most significant slot of long `j % n`), and the
/// remaining values as plain bytes, shorts or ints. Appends to `out`.
fn read_stored_fields_ints(input: &mut DataInput<'_>, count: usize, out: &mut Vec<u32>) -> Result<()> {
    let at = input.offset();
    let bits = u32::from(input.read_u8()?);
    if bits == 0 {
        let v = input.read_vint()?;
        out.extend(std::iter::repeat_n(v, count));
        return Ok(());
    }
    if !matches!(bits, 8 | 16 | 32) {
        return Err(input.corrupt_at(at, "8, 16 or 32 bits per value", bits.to_string()));
    }
    let longs = INTS_BLOCK * bits as usize / 64;
    let per_long = 64 / bits;
    let mask = u64::MAX >> (64 - bits);
    let start = out.len();
    for _ in 0..count / INTS_BLOCK {
        let block = input.read_bytes(longs * 8)?;
        let base = out.len();
        out.resize(base + INTS_BLOCK, 0);
        for (i, word) in block.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            for slot in 0..per_long {
                let value = (word >> (64 - bits * (slot + 1))) & mask;
                if let Some(v) = out.get_mut(base + slot as usize * longs + i) {
                    *v = value as u32;
                }
            }
        }
    }
    for _ in out.len() - start..count {
        let value = match bits {
            8 => u32::from(input.read_u8()?),
            16 => u32::from(input.read_i16()? as u16),
            _ => input.read_i32()? as u32,
        };
        out.push(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_are_msb_first_and_byte_aligned() {
        // bpv 5: values 1, 31, 0, 17 -> 00001 11111 00000 10001 (+ 4 padding bits).
        let mut out = Vec::new();
        let mut input = DataInput::new("t", &[5, 0b0000_1111, 0b1100_0001, 0b0001_0000, 0xaa]);
        read_packed_or_constant(&mut input, 4, &mut out).unwrap();
        assert_eq!(out, [1, 31, 0, 17]);
        assert_eq!(input.remaining(), 1);

        let mut constant = Vec::new();
        read_packed_or_constant(&mut DataInput::new("t", &[0, 7]), 3, &mut constant).unwrap();
        assert_eq!(constant, [7, 7, 7]);

        assert!(read_packed_or_constant(&mut DataInput::new("t", &[32]), 3, &mut Vec::new()).is_err());
        assert!(read_packed_or_constant(&mut DataInput::new("t", &[9, 0xff]), 3, &mut Vec::new()).is_err());
    }

    #[test]
    fn codec_names_map_to_compressions() {
        let l50 = |c| Some((Container::Lucene50, c));
        let l90 = |c| Some((Container::Lucene90, c));
        assert_eq!(format_for("Lucene50StoredFieldsFastData"), l50(Compression::Lz4));
        assert_eq!(format_for("Lucene50StoredFieldsHighData"), l50(Compression::Deflate));
        assert_eq!(format_for("Lucene87StoredFieldsFastData"), l50(Compression::Lz4WithPresetDict));
        assert_eq!(format_for("Lucene87StoredFieldsHighData"), l50(Compression::DeflateWithPresetDict));
        assert_eq!(format_for("Lucene90StoredFieldsFastData"), l90(Compression::Lz4WithPresetDict));
        assert_eq!(format_for("Lucene90StoredFieldsHighData"), l90(Compression::DeflateWithPresetDict));
        assert_eq!(format_for("ZstdStoredFields814"), l90(Compression::Zstd));
        assert_eq!(format_for("CustomStoredFieldsZstd"), l90(Compression::ZstdWithPresetDict));
        assert_eq!(format_for("CustomStoredFieldsZstdNoDict"), l90(Compression::ZstdBlocks));
        assert_eq!(format_for("DummyCompressingStoredFieldsData"), None);
        assert_eq!(format_for("QatStoredFieldsLz4"), None);
    }

    /// Writes `values` the way `StoredFieldsInts.writeInts` does for `bits` bits per value.
    fn write_stored_fields_ints(values: &[u32], bits: u32) -> Vec<u8> {
        let mut out = vec![bits as u8];
        let longs = INTS_BLOCK * bits as usize / 64;
        let mut blocks = values.chunks_exact(INTS_BLOCK);
        for block in &mut blocks {
            for i in 0..longs {
                let word =
                    (0..64 / bits as usize).fold(0u64, |acc, slot| acc << bits | u64::from(block[slot * longs + i]));
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        for &v in blocks.remainder() {
            match bits {
                8 => out.push(v as u8),
                16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
                _ => out.extend_from_slice(&v.to_le_bytes()),
            }
        }
        out
    }

    #[test]
    fn stored_fields_ints_unpack_blocks_and_tails_of_every_width() {
        for (bits, max) in [(8, 0xffu32), (16, 0xffff), (32, u32::MAX)] {
            for count in [1usize, 127, 128, 130, 300] {
                let values: Vec<u32> = (0..count as u32).map(|i| i.wrapping_mul(2_654_435_761) & max).collect();
                let mut bytes = write_stored_fields_ints(&values, bits);
                bytes.push(0xaa);
                let mut input = DataInput::new("t", &bytes);
                input.set_endian(Endian::Little);
                let mut out = vec![9];
                read_stored_fields_ints(&mut input, count, &mut out).unwrap();
                assert_eq!(out.get(1..), Some(values.as_slice()), "{bits} bits, {count} values");
                assert_eq!(input.remaining(), 1);
            }
        }
        let mut constant = Vec::new();
        read_stored_fields_ints(&mut DataInput::new("t", &[0, 7]), 3, &mut constant).unwrap();
        assert_eq!(constant, [7, 7, 7]);
        assert!(read_stored_fields_ints(&mut DataInput::new("t", &[12, 0]), 3, &mut Vec::new()).is_err());
        assert!(read_stored_fields_ints(&mut DataInput::new("t", &[8; 100]), 128, &mut Vec::new()).is_err());
    }
}

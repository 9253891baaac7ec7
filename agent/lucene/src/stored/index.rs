//! The stored-fields index files, read only for what a sequential scan needs: where the chunks end
//! (`maxPointer`), how many chunks there are, and, from container version 3 on (and in every Lucene 9+
//! `Lucene90FieldsIndex`), the chunk size. Their headers
//! and checksums are verified so a scan never runs against a mismatched or damaged index.

use crate::codec::{verify_footer, FOOTER_LEN};
use crate::input::DataInput;
use crate::{Endian, FileBytes, Result};

/// Container version 2 moved the index to `.fdx`/`.fdm` (Lucene 8.5).
pub(super) const VERSION_OFFHEAP_INDEX: i32 = 2;
/// Container version 3 moved chunk size and chunk counts into `.fdm` (Lucene 8.6).
pub(super) const VERSION_META: i32 = 3;
/// Container version 4 records the number of dirty documents and a dirty bit in each chunk token.
pub(super) const VERSION_NUM_CHUNKS: i32 = 4;

/// Which `.fdm`/`.fdx` pair describes the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MetaIndex {
    /// `Lucene85FieldsIndex*` (big-endian) for a Lucene 8.5+ container of this version.
    Lucene85 { version: i32 },
    /// `Lucene90FieldsIndex*` (little-endian) for a Lucene 9+ container of this version.
    Lucene90 { version: i32 },
}

/// What the index files say about the chunks in `.fdt`.
#[derive(Debug)]
pub(super) struct IndexSummary {
    /// `.fdt` offset where the last chunk ends.
    pub max_pointer: u64,
    /// Number of chunks the index lists.
    pub index_chunks: u64,
    /// `chunkSize` when the meta file holds it (Lucene85 version ≥ 3, Lucene90).
    pub chunk_size: Option<u32>,
    /// Chunk count recorded in the meta file (Lucene85 version ≥ 4, Lucene90).
    pub meta_chunks: Option<u64>,
}

/// Checks the `PackedInts` version the Lucene 5–8 container records: chunk headers are only understood in the
/// byte-aligned versions.
pub(super) fn check_packed_ints_version(input: &DataInput<'_>, version: u32) -> Result<()> {
    if !(1..=2).contains(&version) {
        return Err(input.unsupported(
            "PackedInts version",
            version.to_string(),
            "Lucene 5+ writes versions 1 and 2 (byte-aligned)",
        ));
    }
    Ok(())
}

/// Reads the legacy `.fdx` of container version 1 (`<format>Index`, blocks of packed chunk doc bases and
/// start pointers ending with a zero chunk count, then `maxPointer`).
pub(super) fn read_legacy_index(
    fdx: &FileBytes,
    codec: &str,
    version: i32,
    segment_id: &[u8; 16],
    suffix: &str,
) -> Result<IndexSummary> {
    verify_footer(fdx)?;
    let mut input = DataInput::new(fdx.name(), fdx);
    let index_codec = format!("{}Index", codec.strip_suffix("Data").unwrap_or(codec));
    input.check_index_header(&index_codec, version, version, segment_id, suffix)?;
    let packed_ints_version = input.read_vint()?;
    let mut index_chunks: u64 = 0;
    loop {
        let at = input.offset();
        let chunks = input.read_vint()?;
        if chunks == 0 {
            break;
        }
        index_chunks = index_chunks.saturating_add(u64::from(chunks));
        input.read_vint()?; // doc base of the block
        input.read_vint()?; // average docs per chunk
        let bits_per_doc_base = input.read_vint()?;
        skip_packed(&mut input, packed_ints_version, chunks, bits_per_doc_base, 32, at)?;
        input.read_vlong()?; // start pointer of the block
        input.read_vlong()?; // average chunk size
        let bits_per_start_pointer = input.read_vint()?;
        skip_packed(&mut input, packed_ints_version, chunks, bits_per_start_pointer, 64, at)?;
    }
    let max_pointer = input.read_vlong()?;
    input.expect_footer_next()?;
    Ok(IndexSummary { max_pointer, index_chunks, chunk_size: None, meta_chunks: None })
}

fn skip_packed(
    input: &mut DataInput<'_>,
    packed_version: u32,
    count: u32,
    bits: u32,
    max_bits: u32,
    at: u64,
) -> Result<()> {
    if bits > max_bits {
        return Err(input.corrupt_at(at, format!("at most {max_bits} bits per value"), bits.to_string()));
    }
    let total_bits = u64::from(count) * u64::from(bits);
    // Version 0 of PackedInts padded to whole longs; later versions to whole bytes.
    let bytes = if packed_version == 0 { total_bits.div_ceil(64) * 8 } else { total_bits.div_ceil(8) };
    input.skip(usize::try_from(bytes).unwrap_or(usize::MAX))
}

/// Reads `.fdm` (`Lucene85FieldsIndexMeta` or `Lucene90FieldsIndexMeta`) and checks the `.fdx` it describes
/// (`…FieldsIndexIdx`) for Lucene 8.5+ containers.
pub(super) fn read_meta_index(
    fdm: &FileBytes,
    fdx: &FileBytes,
    kind: MetaIndex,
    segment_id: &[u8; 16],
    suffix: &str,
    max_doc: u32,
) -> Result<IndexSummary> {
    verify_footer(fdm)?;
    verify_footer(fdx)?;
    let (codec, version, endian) = match kind {
        MetaIndex::Lucene85 { version } => ("Lucene85FieldsIndex", version, Endian::Big),
        MetaIndex::Lucene90 { version } => ("Lucene90FieldsIndex", version, Endian::Little),
    };
    let mut idx = DataInput::new(fdx.name(), fdx);
    idx.check_index_header(&format!("{codec}Idx"), 0, 0, segment_id, suffix)?;

    let mut meta = DataInput::new(fdm.name(), fdm);
    meta.check_index_header(&format!("{codec}Meta"), 0, version, segment_id, suffix)?;
    meta.set_endian(endian);
    let chunk_size = match kind {
        MetaIndex::Lucene85 { version } if version >= VERSION_META => {
            let chunk_size = meta.read_vint()?;
            let packed_ints_version = meta.read_vint()?;
            check_packed_ints_version(&meta, packed_ints_version)?;
            Some(chunk_size)
        }
        MetaIndex::Lucene85 { .. } => None,
        MetaIndex::Lucene90 { .. } => Some(meta.read_vint()?),
    };

    let at = meta.offset();
    let index_max_doc = meta.read_i32()?;
    if i64::from(index_max_doc) != i64::from(max_doc) {
        return Err(meta.corrupt_at(at, format!("maxDoc {max_doc}"), index_max_doc.to_string()));
    }
    let at = meta.offset();
    let block_shift = meta.read_i32()?;
    if !(2..=22).contains(&block_shift) {
        return Err(meta.corrupt_at(at, "a block shift in 2..=22", block_shift.to_string()));
    }
    let at = meta.offset();
    let values = u64::try_from(meta.read_i32()?)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| meta.corrupt_at(at, "a positive chunk count + 1", "a value below 1"))?;
    meta.read_i64()?; // docs start pointer
    skip_monotonic_meta(&mut meta, values, block_shift)?;
    meta.read_i64()?; // start pointers start
    skip_monotonic_meta(&mut meta, values, block_shift)?;
    let at = meta.offset();
    let index_end = meta.read_i64()?;
    let idx_body = fdx.len().saturating_sub(FOOTER_LEN) as u64;
    if u64::try_from(index_end).map_or(true, |end| end > idx_body) {
        return Err(meta.corrupt_at(at, format!("an .fdx end pointer within {idx_body} bytes"), index_end.to_string()));
    }
    let at = meta.offset();
    let max_pointer = u64::try_from(meta.read_i64()?)
        .map_err(|_| meta.corrupt_at(at, "a non-negative maxPointer", "a negative one"))?;
    let index_chunks = values - 1;
    // Version 3 (Lucene 8.6-8.9) records only dirty chunk and document counts; version 4 and Lucene90 put
    // the chunk count before them.
    let counted = matches!(kind, MetaIndex::Lucene90 { .. } | MetaIndex::Lucene85 { version: VERSION_NUM_CHUNKS.. });
    let meta_chunks = if counted { Some(meta.read_vlong()?) } else { None };
    if chunk_size.is_some() {
        let at = meta.offset();
        let dirty_chunks = meta.read_vlong()?;
        if dirty_chunks > index_chunks {
            return Err(meta.corrupt_at(at, format!("at most {index_chunks} dirty chunks"), dirty_chunks.to_string()));
        }
        meta.read_vlong()?; // dirty docs
    }
    meta.expect_footer_next()?;
    Ok(IndexSummary { max_pointer, index_chunks, chunk_size, meta_chunks })
}

/// Skips a `DirectMonotonicReader` meta block list: per block of `1 << block_shift` values an Int64 min, an
/// Int32 average (float bits), an Int64 offset and a bits-per-value byte.
fn skip_monotonic_meta(meta: &mut DataInput<'_>, values: u64, block_shift: i32) -> Result<()> {
    let blocks = values.div_ceil(1u64 << block_shift);
    let bytes = blocks.saturating_mul(8 + 4 + 8 + 1);
    meta.skip(usize::try_from(bytes).unwrap_or(usize::MAX))
}

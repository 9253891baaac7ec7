//! Just enough of the doc-values formats (`Lucene70DocValues*`, `Lucene80DocValues*` and the little-endian
//! `Lucene90DocValues*` of Lucene 9–10) to find which documents have a value for one NUMERIC field:
//! Elasticsearch's soft-deletes field, whose presence marks a document deleted. Every other field's `.dvm`
//! entry is parsed only to be skipped, following upstream `Lucene70DocValuesProducer`,
//! `Lucene80DocValuesProducer` and `Lucene90DocValuesProducer`; the documents with a value come from the
//! field's `IndexedDISI` set in the `.dvd`.

use crate::codec::{verify_footer, FOOTER_LEN};
use crate::field_infos::FieldInfos;
use crate::live_docs::DocBits;
use crate::{DataInput, Endian, FileBytes, Result};

/// The type bytes of `.dvm` entries (both formats).
const NUMERIC: u8 = 0;
const BINARY: u8 = 1;
const SORTED: u8 = 2;
const SORTED_SET: u8 = 3;
const SORTED_NUMERIC: u8 = 4;
/// Lucene80: binary values are block-compressed from this version unless the field says otherwise.
const L80_VERSION_BIN_COMPRESSED: i32 = 1;
/// Lucene80: compression is chosen per field through the `Lucene80DocValuesFormat.mode` attribute.
const L80_VERSION_CONFIGURABLE_COMPRESSION: i32 = 2;
/// Lucene80 (8.9+): marker block code of an LZ4-compressed terms dictionary (shift 6, compressor 1).
const TERMS_DICT_BLOCK_LZ4_CODE: i32 = (6 << 16) | 1;
/// Lucene90: version 2 (Lucene 10.0) moved skip indexes to a `.dvs` file; 3 would add a value count to
/// every skipper entry, which this reader has not seen written.
const L90_VERSION_SKIPPER_SEPARATE_FILE: i32 = 2;
/// Lucene90: bytes of a skipper entry (offset, length, max, min, doc count, max doc).
const L90_SKIPPER_ENTRY_BYTES: usize = 8 * 4 + 4 * 2;
/// Lucene90: terms-dictionary address blocks hold `2^6` terms.
const L90_TERMS_DICT_BLOCK_LZ4_SHIFT: i32 = 6;
/// Cardinality up to which an `IndexedDISI` block stores its documents as a list of 16-bit values.
const MAX_SPARSE_CARDINALITY: u32 = 4095;
/// Block number of the sentinel block that holds `NO_MORE_DOCS`.
const SENTINEL_BLOCK: u16 = 0x7fff;

/// Which of the two supported doc-values generations a file pair belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Lucene70,
    Lucene80 { version: i32 },
    Lucene90,
}

/// Where a NUMERIC field's `docsWithField` set lives in the `.dvd`.
#[derive(Debug, Clone, Copy)]
struct NumericEntry {
    /// `.dvm` offset of the entry, for errors about its values.
    at: u64,
    docs_with_field_offset: i64,
    docs_with_field_length: i64,
    dense_rank_power: Option<i8>,
    num_values: i64,
}

/// Returns the documents that have a value for NUMERIC field `field` in the doc-values files `meta`
/// (`.dvm`) and `data` (`.dvd`) of a segment with `max_doc` documents. `suffix` is the files' segment
/// suffix (`Lucene80_0`, or `1_Lucene80_0` for an update generation). Both checksums and headers are checked.
pub fn docs_with_value(
    meta: &FileBytes,
    data: &FileBytes,
    id: &[u8; 16],
    suffix: &str,
    fields: &FieldInfos,
    field: u32,
    max_doc: u32,
) -> Result<DocBits> {
    verify_footer(meta)?;
    verify_footer(data)?;
    let mut input = DataInput::new(meta.name(), meta);
    let (format, version) = read_header(&mut input, "Metadata", id, suffix)?;
    let entry = find_numeric(&mut input, format, fields, field)?;
    let mut data_input = DataInput::new(data.name(), data);
    let (data_format, data_version) = read_header(&mut data_input, "Data", id, suffix)?;
    if (data_format, data_version) != (format, version) {
        return Err(
            data_input.corrupt(format!("the format version of {} ({version})", meta.name()), data_version.to_string())
        );
    }
    let Some(entry) = entry else {
        return Err(input.corrupt(format!("an entry for field number {field}"), "none before the end marker"));
    };
    let docs = match entry.docs_with_field_offset {
        -2 => DocBits::new(max_doc, false),
        -1 => DocBits::new(max_doc, true),
        offset => {
            let body_end = data.len().saturating_sub(FOOTER_LEN);
            let range = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(entry.docs_with_field_length).ok())
                .and_then(|(start, len)| Some(start..start.checked_add(len)?))
                .filter(|r| r.end <= body_end)
                .ok_or_else(|| {
                    input.corrupt_at(
                        entry.at,
                        format!("a docsWithField range within the {body_end} body bytes of {}", data.name()),
                        format!("offset {offset}, length {}", entry.docs_with_field_length),
                    )
                })?;
            let bytes = data.get(range.clone()).unwrap_or_default();
            let mut disi = DataInput::with_base(data.name(), bytes, range.start as u64);
            disi.set_endian(data_input.endian());
            read_indexed_disi(&mut disi, entry.dense_rank_power, max_doc)?
        }
    };
    if i64::from(docs.count()) != entry.num_values {
        return Err(input.corrupt_at(
            entry.at,
            format!("{} documents with a value for field {field} (the entry's numValues)", entry.num_values),
            format!("{} in the docsWithField set", docs.count()),
        ));
    }
    Ok(docs)
}

fn read_header(input: &mut DataInput<'_>, kind: &str, id: &[u8; 16], suffix: &str) -> Result<(Format, i32)> {
    let at = input.offset();
    let codec = input.read_header_name()?;
    let format = if codec == format!("Lucene70DocValues{kind}") {
        (Format::Lucene70, input.check_version(&codec, 0, 0)?)
    } else if codec == format!("Lucene80DocValues{kind}") {
        let version = input.check_version(&codec, 0, L80_VERSION_CONFIGURABLE_COMPRESSION)?;
        (Format::Lucene80 { version }, version)
    } else if codec == format!("Lucene90DocValues{kind}") {
        let version = input.check_version(&codec, 0, L90_VERSION_SKIPPER_SEPARATE_FILE)?;
        input.set_endian(Endian::Little);
        (Format::Lucene90, version)
    } else if codec.starts_with("Lucene") || codec.starts_with("ES") {
        return Err(input.unsupported(
            "doc values format",
            codec,
            "soft deletes are read from Lucene70/80/90 doc values; other formats (such as Elasticsearch's \
             TSDB doc values) need a reader for that format",
        ));
    } else {
        return Err(input.corrupt_at(at, format!("a Lucene70/80DocValues{kind} header"), format!("{codec:?}")));
    };
    input.check_id_and_suffix(id, suffix)?;
    Ok(format)
}

/// Walks every entry of a `.dvm` to its end marker, returning the NUMERIC entry of `field` if present.
fn find_numeric(
    input: &mut DataInput<'_>,
    format: Format,
    fields: &FieldInfos,
    field: u32,
) -> Result<Option<NumericEntry>> {
    let mut found = None;
    loop {
        let at = input.offset();
        let number = input.read_i32()?;
        if number == -1 {
            break;
        }
        let info = u32::try_from(number).ok().and_then(|n| fields.by_number(n)).ok_or_else(|| {
            input.corrupt_at(at, "the number of a field in the segment's field infos", number.to_string())
        })?;
        let type_at = input.offset();
        let kind = input.read_u8()?;
        if format == Format::Lucene90 && info.doc_values_skip_index {
            input.skip(L90_SKIPPER_ENTRY_BYTES)?;
        }
        match kind {
            NUMERIC => {
                let entry = read_numeric(input, format)?;
                if info.number == field {
                    found = Some(entry);
                }
            }
            BINARY => {
                let compressed = match format {
                    Format::Lucene70 | Format::Lucene90 => false,
                    Format::Lucene80 { version } if version >= L80_VERSION_CONFIGURABLE_COMPRESSION => {
                        match info.attribute("Lucene80DocValuesFormat.mode") {
                            Some("BEST_COMPRESSION") => true,
                            Some("BEST_SPEED") => false,
                            other => {
                                return Err(input.corrupt_at(
                                    type_at,
                                    format!("a Lucene80DocValuesFormat.mode attribute on field {:?}", info.name),
                                    format!("{other:?}"),
                                ))
                            }
                        }
                    }
                    Format::Lucene80 { version } => version >= L80_VERSION_BIN_COMPRESSED,
                };
                skip_binary(input, format, compressed)?;
            }
            SORTED => skip_sorted(input, format)?,
            SORTED_SET => skip_sorted_set(input, format)?,
            SORTED_NUMERIC => skip_sorted_numeric(input, format)?,
            other => return Err(input.corrupt_at(type_at, "a doc values type 0..=4", other.to_string())),
        }
        if info.number == field && kind != NUMERIC {
            return Err(input.corrupt_at(
                type_at,
                format!("a NUMERIC entry for field {:?}", info.name),
                kind.to_string(),
            ));
        }
    }
    input.expect_footer_next()?;
    Ok(found)
}

fn read_jump_table_meta(input: &mut DataInput<'_>, format: Format) -> Result<Option<i8>> {
    match format {
        Format::Lucene70 => Ok(None),
        Format::Lucene80 { .. } | Format::Lucene90 => {
            input.read_i16()?;
            let at = input.offset();
            let power = input.read_u8()? as i8;
            if power != -1 && !(7..=15).contains(&power) {
                return Err(input.corrupt_at(at, "denseRankPower -1 or 7..=15", power.to_string()));
            }
            Ok(Some(power))
        }
    }
}

fn read_numeric(input: &mut DataInput<'_>, format: Format) -> Result<NumericEntry> {
    let at = input.offset();
    let docs_with_field_offset = input.read_i64()?;
    let docs_with_field_length = input.read_i64()?;
    let dense_rank_power = read_jump_table_meta(input, format)?;
    let num_values = input.read_i64()?;
    let table_at = input.offset();
    let table_size = input.read_i32()?;
    if table_size > 256 {
        return Err(input.corrupt_at(table_at, "a value table of at most 256 entries", table_size.to_string()));
    }
    if let Ok(n) = usize::try_from(table_size) {
        input.skip(n * 8)?;
    }
    // bitsPerValue, min, gcd, valuesOffset, valuesLength, and Lucene80's valueJumpTableOffset
    input.skip(1 + 8 * 4)?;
    if format != Format::Lucene70 {
        input.read_i64()?;
    }
    Ok(NumericEntry { at, docs_with_field_offset, docs_with_field_length, dense_rank_power, num_values })
}

fn skip_binary(input: &mut DataInput<'_>, format: Format, compressed: bool) -> Result<()> {
    // dataOffset, dataLength, docsWithFieldOffset, docsWithFieldLength
    input.skip(8 * 4)?;
    read_jump_table_meta(input, format)?;
    let num_docs = input.read_i32()?;
    let min_length = input.read_i32()?;
    let max_length = input.read_i32()?;
    if (compressed && num_docs > 0) || min_length < max_length {
        input.read_i64()?;
        let mut addresses = i64::from(num_docs) + 1;
        if compressed {
            addresses = i64::from(input.read_vint()?);
            input.read_vint()?;
            input.read_vint()?;
        }
        let shift = input.read_vint()?;
        skip_monotonic_meta(input, addresses, shift)?;
        input.read_i64()?;
    }
    Ok(())
}

/// A SORTED_NUMERIC entry: a NUMERIC entry for the values, then the per-document value addresses when some
/// document has more than one value.
fn skip_sorted_numeric(input: &mut DataInput<'_>, format: Format) -> Result<()> {
    let entry = read_numeric(input, format)?;
    let num_docs = input.read_i32()?;
    if i64::from(num_docs) != entry.num_values {
        input.read_i64()?;
        let shift = input.read_vint()?;
        skip_monotonic_meta(input, i64::from(num_docs) + 1, shift)?;
        input.read_i64()?;
    }
    Ok(())
}

fn skip_sorted(input: &mut DataInput<'_>, format: Format) -> Result<()> {
    if format == Format::Lucene90 {
        // Lucene90 stores the ordinals as a full NUMERIC entry.
        read_numeric(input, format)?;
        return skip_terms_dict(input, format);
    }
    input.skip(8 * 2)?;
    read_jump_table_meta(input, format)?;
    // numDocsWithField, bitsPerValue, ordsOffset, ordsLength
    input.skip(4 + 1 + 8 * 2)?;
    skip_terms_dict(input, format)
}

fn skip_sorted_set(input: &mut DataInput<'_>, format: Format) -> Result<()> {
    let at = input.offset();
    match input.read_u8()? {
        0 => return skip_sorted(input, format),
        1 => {}
        other => return Err(input.corrupt_at(at, "multiValued flag 0 or 1", other.to_string())),
    }
    if format == Format::Lucene90 {
        skip_sorted_numeric(input, format)?;
        return skip_terms_dict(input, format);
    }
    input.skip(8 * 2)?;
    read_jump_table_meta(input, format)?;
    // bitsPerValue, ordsOffset, ordsLength
    input.skip(1 + 8 * 2)?;
    let num_docs = input.read_i32()?;
    input.read_i64()?;
    let shift = input.read_vint()?;
    skip_monotonic_meta(input, i64::from(num_docs) + 1, shift)?;
    input.read_i64()?;
    skip_terms_dict(input, format)
}

fn skip_terms_dict(input: &mut DataInput<'_>, format: Format) -> Result<()> {
    let size_at = input.offset();
    let size = i64::try_from(input.read_vlong()?)
        .map_err(|_| input.corrupt_at(size_at, "a terms dictionary size below 2^63", "a larger VLong"))?;
    if format == Format::Lucene90 {
        return skip_terms_dict_l90(input, size, size_at);
    }
    let code_at = input.offset();
    let code = input.read_i32()?;
    let lz4 = matches!(format, Format::Lucene80 { .. }) && code == TERMS_DICT_BLOCK_LZ4_CODE;
    let block_shift = if lz4 { 6 } else { code };
    let shift = input.read_i32()?;
    let addresses = blocks(input, size, block_shift, code_at)?;
    skip_monotonic_meta(input, addresses, shift_u32(input, shift)?)?;
    input.read_i32()?;
    if lz4 {
        input.read_i32()?;
    }
    input.skip(8 * 4)?;
    let index_at = input.offset();
    let index_shift = input.read_i32()?;
    let index_size = blocks(input, size, index_shift, index_at)?;
    skip_monotonic_meta(input, index_size.saturating_add(1), shift_u32(input, shift)?)?;
    input.skip(8 * 4)
}

/// The Lucene90 terms dictionary: one monotonic block shift for both address lists, LZ4 blocks of `2^6`
/// terms, lengths, data/address/index pointers (`Lucene90DocValuesProducer.readTermDict`).
fn skip_terms_dict_l90(input: &mut DataInput<'_>, size: i64, size_at: u64) -> Result<()> {
    let shift = input.read_i32()?;
    let shift = shift_u32(input, shift)?;
    let addresses = blocks(input, size, L90_TERMS_DICT_BLOCK_LZ4_SHIFT, size_at)?;
    skip_monotonic_meta(input, addresses, shift)?;
    // maxTermLength, maxBlockLength, then data and address offsets and lengths
    input.skip(4 * 2 + 8 * 4)?;
    let index_at = input.offset();
    let index_shift = input.read_i32()?;
    let index_size = blocks(input, size, index_shift, index_at)?;
    skip_monotonic_meta(input, index_size.saturating_add(1), shift)?;
    input.skip(8 * 4)
}

/// `ceil(size / 2^shift)`, rejecting shifts that upstream would never write.
fn blocks(input: &DataInput<'_>, size: i64, shift: i32, at: u64) -> Result<i64> {
    if !(0..=62).contains(&shift) {
        return Err(input.corrupt_at(at, "a block shift 0..=62", shift.to_string()));
    }
    Ok((size >> shift) + i64::from(size & ((1i64 << shift) - 1) != 0))
}

fn shift_u32(input: &DataInput<'_>, shift: i32) -> Result<u32> {
    u32::try_from(shift).map_err(|_| input.corrupt("a non-negative block shift", shift.to_string()))
}

/// Skips a `DirectMonotonicReader` meta block list: one (Int64 min, Int32 average, Int64 offset, byte bpv)
/// per block of `2^shift` values.
fn skip_monotonic_meta(input: &mut DataInput<'_>, values: i64, shift: u32) -> Result<()> {
    let at = input.offset();
    if !(2..=30).contains(&shift) || values < 0 {
        return Err(input.corrupt_at(
            at,
            "a monotonic block shift 2..=30 and a value count ≥ 0",
            format!("{shift}, {values}"),
        ));
    }
    let blocks = (values >> shift) + i64::from(values & ((1i64 << shift) - 1) != 0);
    let bytes = usize::try_from(blocks)
        .ok()
        .and_then(|b| b.checked_mul(21))
        .ok_or_else(|| input.corrupt_at(at, "a monotonic block count that fits the file", blocks.to_string()))?;
    input.skip(bytes)
}

/// Decodes an `IndexedDISI` document set (blocks of 65536 documents stored SPARSE, DENSE or ALL, ending with
/// the `NO_MORE_DOCS` sentinel block).
fn read_indexed_disi(input: &mut DataInput<'_>, dense_rank_power: Option<i8>, max_doc: u32) -> Result<DocBits> {
    let mut docs = DocBits::new(max_doc, false);
    let mut previous: Option<u16> = None;
    loop {
        let at = input.offset();
        let block = input.read_i16()? as u16;
        let cardinality = u32::from(input.read_i16()? as u16) + 1;
        if previous.is_some_and(|p| block <= p) {
            return Err(input.corrupt_at(at, "increasing IndexedDISI block numbers", block.to_string()));
        }
        previous = Some(block);
        if block == SENTINEL_BLOCK {
            let low = input.read_i16()? as u16;
            if cardinality != 1 || low != 0xffff {
                return Err(input.corrupt_at(at, "the NO_MORE_DOCS sentinel block", format!("{cardinality} docs")));
            }
            break;
        }
        let base = u32::from(block) << 16;
        if base.saturating_add(if cardinality == 65536 { 65535 } else { 0 }) >= max_doc {
            return Err(input.corrupt_at(at, format!("documents below maxDoc {max_doc}"), format!("block {block}")));
        }
        if cardinality <= MAX_SPARSE_CARDINALITY {
            for _ in 0..cardinality {
                let doc = base | u32::from(input.read_i16()? as u16);
                if doc >= max_doc {
                    return Err(input.corrupt(format!("a document below maxDoc {max_doc}"), doc.to_string()));
                }
                docs.set(doc);
            }
        } else if cardinality == 65536 {
            for doc in base..base + 65536 {
                docs.set(doc);
            }
        } else {
            if let Some(power) = dense_rank_power.filter(|&p| p != -1) {
                input.skip((1usize << (16 - power as u32)) * 2)?;
            }
            let words_at = input.offset();
            let mut seen = 0;
            for word_index in 0..1024u32 {
                let mut word = input.read_i64()? as u64;
                seen += word.count_ones();
                while word != 0 {
                    let doc = base + word_index * 64 + word.trailing_zeros();
                    if doc >= max_doc {
                        return Err(input.corrupt(format!("documents below maxDoc {max_doc}"), doc.to_string()));
                    }
                    docs.set(doc);
                    word &= word - 1;
                }
            }
            if seen != cardinality {
                return Err(input.corrupt_at(
                    words_at,
                    format!("{cardinality} bits in a DENSE block"),
                    seen.to_string(),
                ));
            }
        }
    }
    Ok(docs)
}

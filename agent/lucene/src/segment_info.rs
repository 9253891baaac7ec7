//! Segment info `.si`: a segment's document count, whether it lives in a compound file, its file list and
//! the codec attributes (stored-fields compression mode) that the per-format readers need.
//!
//! Dispatch is on the header codec name, not the segment codec: `Lucene50SegmentInfo` (Lucene 5.3–6.1),
//! `Lucene62SegmentInfo` (6.2–6.6), `Lucene70SegmentInfo` (7.0–8.5), `Lucene86SegmentInfo` (8.6–8.11) and
//! `Lucene90SegmentInfo` (9.x–10.x, little-endian). Lucene 9.9 kept that header name and version for
//! `Lucene99SegmentInfoFormat` but added a `hasBlocks` byte, so the segment's own version decides whether the
//! byte is there.

/// The first Lucene release whose segment infos carry the `hasBlocks` byte (`Lucene99SegmentInfoFormat`).
const HAS_BLOCKS_SINCE: LuceneVersion = LuceneVersion { major: 9, minor: 9, bugfix: 0 };

use crate::codec::verify_footer;
use crate::commit::LuceneVersion;
use crate::{DataInput, Directory, Endian, Error, Result};

/// A parsed `.si` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Header codec name, e.g. `Lucene86SegmentInfo`.
    pub format: String,
    /// The Lucene version that wrote the segment.
    pub version: LuceneVersion,
    /// The oldest Lucene version that contributed documents (Lucene 7+, when recorded).
    pub min_version: Option<LuceneVersion>,
    /// Number of documents, deleted ones included (`maxDoc`).
    pub max_doc: u32,
    /// Whether the segment's files live in `.cfs`/`.cfe`.
    pub is_compound: bool,
    /// Whether the segment was written with document blocks (Lucene 9.9+; always false before).
    pub has_blocks: bool,
    /// Writer diagnostics (source, OS, Java version), in file order.
    pub diagnostics: Vec<(String, String)>,
    /// The files the segment was written with (generation files are listed in the commit instead).
    pub files: Vec<String>,
    /// Codec attributes, e.g. `Lucene87StoredFieldsFormat.mode`.
    pub attributes: Vec<(String, String)>,
    /// Number of index-sort fields; the sort itself is not decoded because reading documents ignores it.
    pub index_sort_fields: u32,
}

impl SegmentInfo {
    /// Reads `<segment>.si` from `dir`, checking its checksum and that it belongs to segment `id`.
    pub fn read(dir: &dyn Directory, segment: &str, id: &[u8; 16]) -> Result<SegmentInfo> {
        let file = dir.open(&format!("{segment}.si"))?;
        verify_footer(&file)?;
        let mut input = DataInput::new(file.name(), &file);
        let format = input.read_header_name()?;
        let version = match format.as_str() {
            "Lucene50SegmentInfo" => input.check_version(&format, 1, 1)?,
            "Lucene62SegmentInfo" => input.check_version(&format, 0, 1)?,
            "Lucene70SegmentInfo" | "Lucene86SegmentInfo" => input.check_version(&format, 0, 0)?,
            "Lucene90SegmentInfo" => {
                let version = input.check_version(&format, 0, 0)?;
                input.set_endian(Endian::Little);
                version
            }
            _ => {
                return Err(input.unsupported(
                    "segment info format",
                    format,
                    "this reader supports Lucene50/62/70/86/90SegmentInfo (Lucene 5.3 to 10.x)",
                ))
            }
        };
        input.check_id_and_suffix(id, "")?;
        let seg_version = read_version(&mut input)?;
        let min_version = match format.as_str() {
            "Lucene70SegmentInfo" | "Lucene86SegmentInfo" | "Lucene90SegmentInfo" => {
                let at = input.offset();
                match input.read_u8()? {
                    0 => None,
                    1 => Some(read_version(&mut input)?),
                    other => return Err(input.corrupt_at(at, "hasMinVersion byte 0 or 1", other.to_string())),
                }
            }
            _ => None,
        };
        let at = input.offset();
        let doc_count = input.read_i32()?;
        let max_doc = u32::try_from(doc_count)
            .map_err(|_| input.corrupt_at(at, "a non-negative docCount", doc_count.to_string()))?;
        let is_compound = read_flag(&mut input, "isCompoundFile")?;
        let has_blocks = if format == "Lucene90SegmentInfo" && seg_version >= HAS_BLOCKS_SINCE {
            read_flag(&mut input, "hasBlocks")?
        } else {
            false
        };
        let diagnostics = input.read_string_map()?;
        let files = input.read_string_set()?;
        let attributes = input.read_string_map()?;
        let index_sort_fields = if format == "Lucene50SegmentInfo" { 0 } else { input.read_vint()? };
        if index_sort_fields == 0 {
            input.expect_footer_next()?;
        }
        tracing::debug!(segment, %format, version, max_doc, is_compound, "read segment info");
        Ok(SegmentInfo {
            format,
            version: seg_version,
            min_version,
            max_doc,
            is_compound,
            has_blocks,
            diagnostics,
            files,
            attributes,
            index_sort_fields,
        })
    }

    /// The value of a codec attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A `SegmentInfo.YES` (1) / `SegmentInfo.NO` (-1) byte.
fn read_flag(input: &mut DataInput<'_>, what: &str) -> Result<bool> {
    let at = input.offset();
    match input.read_u8()? {
        1 => Ok(true),
        0xff => Ok(false),
        other => Err(input.corrupt_at(at, format!("{what} 1 or -1"), other.to_string())),
    }
}

fn read_version(input: &mut DataInput<'_>) -> Result<LuceneVersion> {
    let mut parts = [0u32; 3];
    for part in &mut parts {
        let at = input.offset();
        let value = input.read_i32()?;
        *part = u32::try_from(value).map_err(|_| Error::Corrupt {
            file: input.file().to_owned(),
            offset: at,
            expected: "a non-negative version number".to_owned(),
            found: value.to_string(),
        })?;
    }
    Ok(LuceneVersion { major: parts[0], minor: parts[1], bugfix: parts[2] })
}

//! `segments_N`: the commit point that lists a shard's segments, their deletion generations and the
//! user data Elasticsearch records (translog and history uuids, checkpoints). Formats 6 (`VERSION_53`,
//! Lucene 5.3–6.x) to 10 (`VERSION_86`, Lucene 8.6–10.x) are read; the body is big-endian in all of them.

use std::fmt;

use crate::codec::verify_footer;
use crate::{DataInput, Directory, Error, Result};

/// Codec name of the `segments_N` header.
const CODEC: &str = "segments";
/// Lucene 5.3–6.x: a `hasID` byte per segment, Int32 counter, no index-created major.
const VERSION_53: i32 = 6;
/// Lucene 7.0: index-created major version, no `hasID` byte.
const VERSION_70: i32 = 7;
/// Lucene 7.2: the counter becomes a VLong.
const VERSION_72: i32 = 8;
/// Lucene 7.4: per-segment soft-delete count.
const VERSION_74: i32 = 9;
/// Lucene 8.6: optional per-segment commit id.
const VERSION_86: i32 = 10;

/// A Lucene release number, as recorded in commits and segment infos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LuceneVersion {
    /// Major release (6 for Lucene 6.6.1).
    pub major: u32,
    /// Minor release.
    pub minor: u32,
    /// Bug-fix release.
    pub bugfix: u32,
}

impl fmt::Display for LuceneVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.bugfix)
    }
}

/// One segment as the commit describes it: identity, codec and the generations of the files that changed
/// after the segment was written (live docs, field infos, doc-values updates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCommitInfo {
    /// Segment name, e.g. `_0`; every per-segment file name starts with it.
    pub name: String,
    /// Segment id; every per-segment file's index header must carry it.
    pub id: [u8; 16],
    /// Codec the segment was written with, e.g. `Lucene87`. Informational: files are decoded by their
    /// own header codec names.
    pub codec: String,
    /// Generation of the `.liv` file, or -1 when the segment has no hard deletes.
    pub del_gen: i64,
    /// Number of hard-deleted documents.
    pub del_count: u32,
    /// Generation of the newest `.fnm`, or -1 for the one written with the segment.
    pub field_infos_gen: i64,
    /// Generation of the newest doc-values update, or -1.
    pub doc_values_gen: i64,
    /// Number of soft-deleted documents that are not also hard-deleted (0 before format 9).
    pub soft_del_count: u32,
    /// Id of this commit's view of the segment (format 10 and later), when recorded.
    pub commit_id: Option<[u8; 16]>,
    /// Field-infos generation files.
    pub field_infos_files: Vec<String>,
    /// Doc-values update files per field number.
    pub doc_values_updates_files: Vec<(i32, Vec<String>)>,
}

impl SegmentCommitInfo {
    /// Number of deleted documents of either kind; a segment whose count equals its `maxDoc` holds no live
    /// documents.
    pub fn total_deletes(&self) -> u64 {
        u64::from(self.del_count) + u64::from(self.soft_del_count)
    }
}

/// A parsed `segments_N` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The file name, e.g. `segments_a`.
    pub file_name: String,
    /// The generation encoded in the file name.
    pub generation: u64,
    /// Header format version (6–10).
    pub format: i32,
    /// Commit id from the index header.
    pub id: [u8; 16],
    /// The Lucene version that wrote the commit.
    pub lucene_version: LuceneVersion,
    /// Major version of the Lucene that created the index (format 7 and later).
    pub index_created_major: Option<u32>,
    /// Index version, incremented on every change.
    pub version: i64,
    /// Counter used to name new segments.
    pub counter: u64,
    /// Oldest Lucene version among the segments, when there are segments.
    pub min_segment_version: Option<LuceneVersion>,
    /// The segments, in commit order.
    pub segments: Vec<SegmentCommitInfo>,
    /// Commit user data, in file order (Elasticsearch: `translog_uuid`, `history_uuid`, `max_seq_no`, …).
    pub user_data: Vec<(String, String)>,
}

impl Commit {
    /// Reads the commit with the highest generation in `dir` (a live data directory may hold several).
    pub fn read_latest(dir: &dyn Directory) -> Result<Commit> {
        let newest = dir
            .list()?
            .into_iter()
            .filter_map(|name| generation_of(&name).map(|generation| (generation, name)))
            .max_by_key(|(generation, _)| *generation);
        match newest {
            Some((_, name)) => Commit::read(dir, &name),
            None => Err(Error::MissingFile { name: "segments_N".to_owned(), location: "the directory".to_owned() }),
        }
    }

    /// Reads the commit file `name` (e.g. the single `segments_N` a snapshot lists).
    pub fn read(dir: &dyn Directory, name: &str) -> Result<Commit> {
        let file = dir.open(name)?;
        verify_footer(&file)?;
        let generation = generation_of(name).ok_or_else(|| Error::Corrupt {
            file: name.to_owned(),
            offset: 0,
            expected: "a file name of the form segments_<base36 generation>".to_owned(),
            found: name.to_owned(),
        })?;
        let _span = tracing::debug_span!("read_commit", file = name, generation).entered();
        let mut input = DataInput::new(file.name(), &file);
        let header_at = input.offset();
        let codec = input.read_header_name()?;
        if codec != CODEC {
            return Err(input.corrupt_at(header_at, format!("codec {CODEC:?}"), format!("{codec:?}")));
        }
        let format = input.check_version(CODEC, VERSION_53, VERSION_86)?;
        let id = read_id(&mut input)?;
        let suffix_at = input.offset();
        let suffix_len = usize::from(input.read_u8()?);
        let suffix = input.read_bytes(suffix_len)?;
        let expected_suffix = to_base36(generation);
        if suffix != expected_suffix.as_bytes() {
            return Err(input.corrupt_at(
                suffix_at,
                format!("generation suffix {expected_suffix:?}"),
                format!("{:?}", String::from_utf8_lossy(suffix)),
            ));
        }
        let lucene_version = read_vint_version(&mut input)?;
        let index_created_major = if format >= VERSION_70 { Some(input.read_vint()?) } else { None };
        let version = input.read_be_i64()?;
        let counter = if format >= VERSION_72 {
            input.read_vlong()?
        } else {
            u64::from(read_count(&mut input, "segment counter")?)
        };
        let count_at = input.offset();
        let seg_count = input.read_be_i32()?;
        let seg_count = u32::try_from(seg_count)
            .map_err(|_| input.corrupt_at(count_at, "a non-negative segment count", seg_count.to_string()))?;
        let min_segment_version = if seg_count > 0 { Some(read_vint_version(&mut input)?) } else { None };
        let mut segments = Vec::with_capacity((seg_count as usize).min(input.remaining()));
        for _ in 0..seg_count {
            segments.push(read_segment(&mut input, format)?);
        }
        let user_data = input.read_string_map()?;
        input.expect_footer_next()?;
        tracing::debug!(format, segments = segments.len(), %lucene_version, "read commit");
        Ok(Commit {
            file_name: name.to_owned(),
            generation,
            format,
            id,
            lucene_version,
            index_created_major,
            version,
            counter,
            min_segment_version,
            segments,
            user_data,
        })
    }

    /// The value of a user-data key.
    pub fn user_data(&self, key: &str) -> Option<&str> {
        self.user_data.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn read_segment(input: &mut DataInput<'_>, format: i32) -> Result<SegmentCommitInfo> {
    let name = input.read_string()?;
    if format < VERSION_70 {
        let at = input.offset();
        match input.read_u8()? {
            1 => {}
            0 => {
                return Err(input.unsupported(
                    "segment without an id",
                    name,
                    "segments from Lucene 4.x must be upgraded by Lucene 5 or 6 before they can be read",
                ))
            }
            other => return Err(input.corrupt_at(at, "hasID byte 0 or 1", other.to_string())),
        }
    }
    let id = read_id(input)?;
    let codec = input.read_string()?;
    let del_gen = input.read_be_i64()?;
    let del_count = read_count(input, "delete count")?;
    let field_infos_gen = input.read_be_i64()?;
    let doc_values_gen = input.read_be_i64()?;
    let soft_del_count = if format >= VERSION_74 { read_count(input, "soft-delete count")? } else { 0 };
    let commit_id = if format >= VERSION_86 {
        let at = input.offset();
        match input.read_u8()? {
            0 => None,
            1 => Some(read_id(input)?),
            other => return Err(input.corrupt_at(at, "segment commit id marker 0 or 1", other.to_string())),
        }
    } else {
        None
    };
    let field_infos_files = input.read_string_set()?;
    let count_at = input.offset();
    let dv_fields = input.read_be_i32()?;
    let dv_fields = u32::try_from(dv_fields).map_err(|_| {
        input.corrupt_at(count_at, "a non-negative doc-values update field count", dv_fields.to_string())
    })?;
    let mut doc_values_updates_files = Vec::with_capacity((dv_fields as usize).min(input.remaining()));
    for _ in 0..dv_fields {
        let field = input.read_be_i32()?;
        doc_values_updates_files.push((field, input.read_string_set()?));
    }
    Ok(SegmentCommitInfo {
        name,
        id,
        codec,
        del_gen,
        del_count,
        field_infos_gen,
        doc_values_gen,
        soft_del_count,
        commit_id,
        field_infos_files,
        doc_values_updates_files,
    })
}

fn read_id(input: &mut DataInput<'_>) -> Result<[u8; 16]> {
    let mut id = [0u8; 16];
    id.copy_from_slice(input.read_bytes(16)?);
    Ok(id)
}

fn read_count(input: &mut DataInput<'_>, what: &str) -> Result<u32> {
    let at = input.offset();
    let value = input.read_be_i32()?;
    u32::try_from(value).map_err(|_| input.corrupt_at(at, format!("a non-negative {what}"), value.to_string()))
}

fn read_vint_version(input: &mut DataInput<'_>) -> Result<LuceneVersion> {
    Ok(LuceneVersion { major: input.read_vint()?, minor: input.read_vint()?, bugfix: input.read_vint()? })
}

/// The generation of a commit file name: `segments` is 0, `segments_<base36>` its number; `None` for any
/// other name (including the legacy `segments.gen`).
pub fn generation_of(name: &str) -> Option<u64> {
    if name == "segments" {
        return Some(0);
    }
    parse_base36(name.strip_prefix("segments_")?)
}

/// Lucene's `Long.toString(gen, Character.MAX_RADIX)` for non-negative generations.
pub fn to_base36(mut value: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    out.into_iter().map(char::from).collect()
}

/// Parses a lower-case base-36 number; `None` for an empty, malformed or overflowing string.
pub fn parse_base36(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.chars().try_fold(0u64, |acc, c| acc.checked_mul(36)?.checked_add(u64::from(c.to_digit(36)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_round_trips_lucene_generations() {
        assert_eq!(to_base36(0), "0");
        assert_eq!(to_base36(10), "a");
        assert_eq!(to_base36(36), "10");
        assert_eq!(parse_base36("a"), Some(10));
        assert_eq!(parse_base36(""), None);
        assert_eq!(parse_base36("zzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(generation_of("segments_4"), Some(4));
        assert_eq!(generation_of("segments.gen"), None);
        assert_eq!(generation_of("_0.si"), None);
    }
}

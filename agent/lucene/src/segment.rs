//! The segment reader: wires a commit's [`SegmentCommitInfo`] to the segment's files (`.si`, compound file,
//! the newest `.fnm`, `.liv`, the soft-deletes doc values) and its stored fields, and answers the one
//! question a migration asks: which documents are live, and what did they store.

use crate::commit::{to_base36, Commit, SegmentCommitInfo};
use crate::compound::CompoundFile;
use crate::doc_values::docs_with_value;
use crate::field_infos::{DocValuesType, FieldInfos};
use crate::live_docs::{read_live_docs, DocBits};
use crate::segment_info::SegmentInfo;
use crate::stored::{StoredFieldVisitor, StoredFieldsReader};
use crate::{Directory, Error, FileBytes, Result};

/// Field attribute naming the doc-values format of a field (`Lucene80`).
const DV_FORMAT_KEY: &str = "PerFieldDocValuesFormat.format";
/// Field attribute naming the per-format suffix of a field's doc-values files (`0`).
const DV_SUFFIX_KEY: &str = "PerFieldDocValuesFormat.suffix";

/// One opened segment: its metadata, the combined hard- and soft-delete state, and its stored fields.
#[derive(Debug)]
pub struct SegmentReader {
    commit_info: SegmentCommitInfo,
    info: SegmentInfo,
    field_infos: FieldInfos,
    /// `None` when every document is live.
    live: Option<DocBits>,
    num_live: u32,
    /// `None` when no document is live, so nothing was opened.
    stored: Option<StoredFieldsReader>,
}

impl SegmentReader {
    /// Opens the segment `info` of a commit read from `dir`, verifying the checksum and header of every
    /// file it touches and that the deletions it finds add up to the commit's counts. A segment whose
    /// documents are all deleted is not opened beyond its `.si`.
    pub fn open(dir: &dyn Directory, info: &SegmentCommitInfo) -> Result<SegmentReader> {
        let _span = tracing::debug_span!("open_segment", segment = %info.name, codec = %info.codec).entered();
        let si = SegmentInfo::read(dir, &info.name, &info.id)?;
        let max_doc = si.max_doc;
        let si_name = format!("{}.si", info.name);
        if info.total_deletes() > u64::from(max_doc) {
            return Err(Error::Corrupt {
                file: si_name,
                offset: 0,
                expected: format!("at most maxDoc {max_doc} deletes"),
                found: format!("delCount {} + softDelCount {} in the commit", info.del_count, info.soft_del_count),
            });
        }
        if info.total_deletes() == u64::from(max_doc) {
            tracing::debug!(max_doc, "every document deleted; segment skipped");
            return Ok(SegmentReader {
                commit_info: info.clone(),
                info: si,
                field_infos: FieldInfos::default(),
                live: Some(DocBits::new(max_doc, false)),
                num_live: 0,
                stored: None,
            });
        }

        let files = SegmentFiles {
            dir,
            compound: if si.is_compound { Some(CompoundFile::open(dir, &info.name, &info.id)?) } else { None },
        };
        let field_infos = match generation(info.field_infos_gen) {
            None => FieldInfos::read(&files.open(&format!("{}.fnm", info.name))?, &info.id, "")?,
            Some(gen) => {
                let suffix = to_base36(gen);
                FieldInfos::read(&dir.open(&format!("{}_{suffix}.fnm", info.name))?, &info.id, &suffix)?
            }
        };

        let mut live = match generation(info.del_gen) {
            Some(gen) => {
                let liv = dir.open(&format!("{}_{}.liv", info.name, to_base36(gen)))?;
                Some(read_live_docs(&liv, &info.id, gen, max_doc, info.del_count)?)
            }
            None if info.del_count > 0 => {
                return Err(Error::Corrupt {
                    file: si_name,
                    offset: 0,
                    expected: "a live-docs generation for a segment with hard deletes".to_owned(),
                    found: format!("delGen -1 with delCount {}", info.del_count),
                })
            }
            None => None,
        };
        if let Some(soft) = soft_deleted_docs(&files, info, &field_infos, max_doc)? {
            live.get_or_insert_with(|| DocBits::new(max_doc, true)).and_not(&soft);
        }
        let num_live = live.as_ref().map_or(max_doc, DocBits::count);
        let deleted = u64::from(max_doc.saturating_sub(num_live));
        if deleted != info.total_deletes() {
            return Err(Error::Corrupt {
                file: si_name,
                offset: 0,
                expected: format!(
                    "{} deleted documents (delCount {} + softDelCount {} in the commit)",
                    info.total_deletes(),
                    info.del_count,
                    info.soft_del_count
                ),
                found: format!("{deleted} in the live docs and soft-deletes doc values"),
            });
        }

        let stored = open_stored_fields(&files, info, &si)?;
        tracing::debug!(max_doc, num_live, "opened segment");
        Ok(SegmentReader { commit_info: info.clone(), info: si, field_infos, live, num_live, stored: Some(stored) })
    }

    /// The segment name, e.g. `_0`.
    pub fn name(&self) -> &str {
        &self.commit_info.name
    }

    /// Number of documents including deleted ones; document numbers run `0..max_doc`.
    pub fn max_doc(&self) -> u32 {
        self.info.max_doc
    }

    /// Number of documents neither hard- nor soft-deleted.
    pub fn num_live_docs(&self) -> u32 {
        self.num_live
    }

    /// The segment's fields (empty for a segment skipped because every document is deleted).
    pub fn field_infos(&self) -> &FieldInfos {
        &self.field_infos
    }

    /// The parsed `.si`.
    pub fn segment_info(&self) -> &SegmentInfo {
        &self.info
    }

    /// The commit's entry for this segment.
    pub fn commit_info(&self) -> &SegmentCommitInfo {
        &self.commit_info
    }

    /// Whether document `doc` is live; false beyond `max_doc`.
    pub fn is_live(&self, doc: u32) -> bool {
        match &self.live {
            Some(live) => live.get(doc),
            None => doc < self.info.max_doc,
        }
    }

    /// Hands every live document's stored fields to `visitor`, in document order.
    pub fn visit_live_documents(&self, visitor: &mut dyn StoredFieldVisitor) -> Result<()> {
        let _span = tracing::debug_span!("visit_segment", segment = %self.name(), live = self.num_live).entered();
        match &self.stored {
            Some(stored) => stored.visit_live(&|doc| self.is_live(doc), visitor),
            None => Ok(()),
        }
    }
}

/// Reads the newest commit in `dir` and opens each of its segments.
pub fn open_index(dir: &dyn Directory) -> Result<(Commit, Vec<SegmentReader>)> {
    let commit = Commit::read_latest(dir)?;
    let _span = tracing::debug_span!("open_index", commit = %commit.file_name).entered();
    let segments = commit.segments.iter().map(|info| SegmentReader::open(dir, info)).collect::<Result<Vec<_>>>()?;
    Ok((commit, segments))
}

/// The files of one segment: those written with it, possibly inside its compound file, and generation
/// files, which always sit beside it in the directory.
struct SegmentFiles<'a> {
    dir: &'a dyn Directory,
    compound: Option<CompoundFile>,
}

impl SegmentFiles<'_> {
    /// A file written with the segment, from the compound file when the segment has one.
    fn open(&self, name: &str) -> Result<FileBytes> {
        match &self.compound {
            Some(cfs) => cfs.open_file(name),
            None => self.dir.open(name),
        }
    }

    /// Like [`SegmentFiles::open`], but `None` when the segment was written without the file.
    fn open_optional(&self, name: &str, si: &SegmentInfo) -> Result<Option<FileBytes>> {
        let present = match &self.compound {
            Some(cfs) => cfs.contains(name),
            None => si.files.iter().any(|f| f == name),
        };
        if present {
            self.open(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A generation number, or `None` for Lucene's "no generation" (-1).
fn generation(gen: i64) -> Option<u64> {
    u64::try_from(gen).ok()
}

/// The documents that have a value in the segment's soft-deletes field, or `None` when the segment has no
/// such field or no values for it.
fn soft_deleted_docs(
    files: &SegmentFiles<'_>,
    info: &SegmentCommitInfo,
    field_infos: &FieldInfos,
    max_doc: u32,
) -> Result<Option<DocBits>> {
    let Some(field) = field_infos.soft_deletes_field() else {
        return Ok(None);
    };
    let fnm = format!("{}.fnm", info.name);
    match field.doc_values_type {
        DocValuesType::None => return Ok(None),
        DocValuesType::Numeric => {}
        other => {
            return Err(Error::Corrupt {
                file: fnm,
                offset: 0,
                expected: format!("NUMERIC doc values for soft-deletes field {:?}", field.name),
                found: format!("{other:?}"),
            })
        }
    }
    let (Some(format), Some(format_suffix)) = (field.attribute(DV_FORMAT_KEY), field.attribute(DV_SUFFIX_KEY)) else {
        return Err(Error::Corrupt {
            file: fnm,
            offset: 0,
            expected: format!("{DV_FORMAT_KEY} and {DV_SUFFIX_KEY} attributes on field {:?}", field.name),
            found: "none".to_owned(),
        });
    };
    let (suffix, meta, data) = match generation(field.dv_gen) {
        None => {
            let suffix = format!("{format}_{format_suffix}");
            let meta = files.open(&format!("{}_{suffix}.dvm", info.name))?;
            let data = files.open(&format!("{}_{suffix}.dvd", info.name))?;
            (suffix, meta, data)
        }
        Some(gen) => {
            let suffix = format!("{}_{format}_{format_suffix}", to_base36(gen));
            let meta = files.dir.open(&format!("{}_{suffix}.dvm", info.name))?;
            let data = files.dir.open(&format!("{}_{suffix}.dvd", info.name))?;
            (suffix, meta, data)
        }
    };
    let docs = docs_with_value(&meta, &data, &info.id, &suffix, field_infos, field.number, max_doc)?;
    tracing::debug!(field = %field.name, file = meta.name(), soft_deleted = docs.count(), "read soft deletes");
    Ok(Some(docs))
}

fn open_stored_fields(
    files: &SegmentFiles<'_>,
    info: &SegmentCommitInfo,
    si: &SegmentInfo,
) -> Result<StoredFieldsReader> {
    let fdt = files.open(&format!("{}.fdt", info.name))?;
    let fdx = files.open_optional(&format!("{}.fdx", info.name), si)?;
    let fdm = files.open_optional(&format!("{}.fdm", info.name), si)?;
    StoredFieldsReader::open(fdt, fdx, fdm, &info.id, "", si.max_doc).map_err(|err| match err {
        // Name the segment codec too: that is what a user recognises (e.g. a custom OpenSearch codec).
        Error::Unsupported { file, what, found, hint } => {
            Error::Unsupported { file, what, found: format!("{found} (segment codec {})", info.codec), hint }
        }
        other => other,
    })
}

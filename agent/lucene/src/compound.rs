//! Compound files (`Lucene50CompoundEntries`/`Lucene50CompoundData`, Lucene 5–8, and the little-endian
//! `Lucene90Compound*`, Lucene 9–10, which aligns sub-files to 8 bytes): a segment's files packed into one
//! `.cfs` with a `.cfe` table of contents. Sub-files are served as slices of the `.cfs` bytes, so
//! nothing is copied, and each keeps its own header and footer.

use crate::codec::{verify_footer, FOOTER_LEN};
use crate::{DataInput, Directory, Endian, Error, FileBytes, Result};

/// An opened compound file: the `.cfs` bytes and where each sub-file lies in them.
#[derive(Debug, Clone)]
pub struct CompoundFile {
    segment: String,
    data: FileBytes,
    entries: Vec<(String, std::ops::Range<usize>)>,
}

impl CompoundFile {
    /// Opens `<segment>.cfe` and `<segment>.cfs` from `dir`, checking both headers against segment `id`,
    /// the `.cfe` checksum, and the checksum of the whole `.cfs` (once, so sub-files can be trusted to be
    /// the bytes that were written).
    pub fn open(dir: &dyn Directory, segment: &str, id: &[u8; 16]) -> Result<CompoundFile> {
        let _span = tracing::debug_span!("open_compound", segment).entered();
        let entries_file = dir.open(&format!("{segment}.cfe"))?;
        verify_footer(&entries_file)?;
        let data = dir.open(&format!("{segment}.cfs"))?;
        verify_footer(&data)?;

        let mut input = DataInput::new(data.name(), &data);
        let at = input.offset();
        let (entries_codec, endian) = match input.read_header_name()?.as_str() {
            "Lucene50CompoundData" => ("Lucene50CompoundEntries", Endian::Big),
            "Lucene90CompoundData" => ("Lucene90CompoundEntries", Endian::Little),
            other => {
                return Err(input.corrupt_at(
                    at,
                    "codec Lucene50CompoundData or Lucene90CompoundData",
                    format!("{other:?}"),
                ))
            }
        };
        input.check_version("compound data", 0, 0)?;
        input.check_id_and_suffix(id, "")?;
        let body_start = input.position();
        let body_end = data.len().saturating_sub(FOOTER_LEN);

        let mut input = DataInput::new(entries_file.name(), &entries_file);
        input.check_index_header(entries_codec, 0, 0, id, "")?;
        input.set_endian(endian);
        let count = input.read_vint_len("compound entry count")?;
        let mut entries: Vec<(String, std::ops::Range<usize>)> = Vec::with_capacity(count.min(input.remaining()));
        for _ in 0..count {
            let at = input.offset();
            let name = input.read_string()?;
            let offset = input.read_i64()?;
            let length = input.read_i64()?;
            let range = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(length).ok())
                .and_then(|(start, len)| Some(start..start.checked_add(len)?))
                .filter(|r| r.start >= body_start && r.end <= body_end)
                .ok_or_else(|| {
                    input.corrupt_at(
                        at,
                        format!("an entry within bytes {body_start}..{body_end} of {}", data.name()),
                        format!("{name:?} at offset {offset}, length {length}"),
                    )
                })?;
            if entries.iter().any(|(existing, _)| *existing == name) {
                return Err(input.corrupt_at(at, "unique compound entry names", format!("{name:?} twice")));
            }
            entries.push((name, range));
        }
        input.expect_footer_next()?;
        tracing::debug!(entries = entries.len(), bytes = data.len(), "opened compound file");
        Ok(CompoundFile { segment: segment.to_owned(), data, entries })
    }

    /// Whether the compound file holds `file_name` (a full name such as `_0.fdt`).
    pub fn contains(&self, file_name: &str) -> bool {
        self.range(file_name).is_some()
    }

    /// The sub-file `file_name` (e.g. `_0.fdt`), named `_0.cfs:_0.fdt` in errors, after checking its own
    /// footer checksum.
    pub fn open_file(&self, file_name: &str) -> Result<FileBytes> {
        let missing = || Error::MissingFile { name: file_name.to_owned(), location: self.data.name().to_owned() };
        let range = self.range(file_name).ok_or_else(missing)?;
        let bytes = self.data.slice(format!("{}:{file_name}", self.data.name()), range).ok_or_else(missing)?;
        verify_footer(&bytes)?;
        Ok(bytes)
    }

    /// The names of the sub-files, as full file names.
    pub fn file_names(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().map(|(suffix, _)| format!("{}{suffix}", self.segment))
    }

    fn range(&self, file_name: &str) -> Option<std::ops::Range<usize>> {
        let suffix = file_name.strip_prefix(self.segment.as_str())?;
        self.entries.iter().find(|(name, _)| name == suffix).map(|(_, range)| range.clone())
    }
}

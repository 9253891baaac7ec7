use std::ops::{Deref, Range};
use std::sync::Arc;

use memmap2::Mmap;

/// The bytes of one Lucene file (or a slice of it, such as a sub-file of a compound file), shared cheaply.
///
/// Backed by a read-only memory map for files on disk, so a multi-gigabyte `.fdt` is never copied into
/// memory, or by an owned buffer for data that only exists in memory (snapshot `v__` files, tests).
#[derive(Clone)]
pub struct FileBytes {
    name: Arc<str>,
    backing: Backing,
    range: Range<usize>,
}

#[derive(Clone)]
enum Backing {
    Mmap(Arc<Mmap>),
    Owned(Arc<[u8]>),
}

impl FileBytes {
    /// Wraps an owned buffer; `name` is the file name used in error messages.
    pub fn from_vec(name: impl Into<Arc<str>>, data: Vec<u8>) -> Self {
        let len = data.len();
        FileBytes { name: name.into(), backing: Backing::Owned(data.into()), range: 0..len }
    }

    /// Wraps a memory map; `name` is the file name used in error messages.
    pub fn from_mmap(name: impl Into<Arc<str>>, map: Mmap) -> Self {
        let len = map.len();
        FileBytes { name: name.into(), backing: Backing::Mmap(Arc::new(map)), range: 0..len }
    }

    /// The name errors use for these bytes: a file name, or `container:subfile` for compound sub-files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A sub-range of these bytes under a new name, sharing the same backing storage; `None` when the range
    /// does not fit.
    pub fn slice(&self, name: impl Into<Arc<str>>, range: Range<usize>) -> Option<FileBytes> {
        if range.start > range.end || range.end > self.range.len() {
            return None;
        }
        Some(FileBytes {
            name: name.into(),
            backing: self.backing.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
        })
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.backing {
            Backing::Mmap(map) => map,
            Backing::Owned(buf) => buf,
        };
        &all[self.range.clone()]
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBytes").field("name", &self.name).field("len", &self.range.len()).finish()
    }
}

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::{Error, FileBytes, Result};

/// A flat set of named Lucene files: a shard's index directory on disk, or the files a snapshot records for a
/// shard. Readers only ever ask for whole files by name.
pub trait Directory: Send + Sync {
    /// Every file name in the directory, in no particular order.
    fn list(&self) -> Result<Vec<String>>;

    /// The bytes of the file called `name`.
    fn open(&self, name: &str) -> Result<FileBytes>;
}

/// A directory on the local file system; files are memory-mapped read-only.
#[derive(Debug, Clone)]
pub struct FsDirectory {
    root: PathBuf,
}

impl FsDirectory {
    /// Opens `root`, failing early when it is not a readable directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let meta = std::fs::metadata(&root).map_err(|source| Error::Io { path: root.clone(), source })?;
        if !meta.is_dir() {
            return Err(Error::NotADirectory { path: root });
        }
        Ok(FsDirectory { root })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.root
    }
}

/// Maps a whole file read-only; shared by every reader that serves files from local disk.
pub fn map_file(path: &Path, name: &str) -> Result<FileBytes> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let len = file.metadata().map_err(|source| Error::Io { path: path.to_owned(), source })?.len();
    if len == 0 {
        return Ok(FileBytes::from_vec(name, Vec::new()));
    }
    // SAFETY: the map is read-only; Lucene files are write-once, and a reader of a live data directory
    // only opens files named by a commit point, which Lucene never modifies after writing.
    let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::Io { path: path.to_owned(), source })?;
    Ok(FileBytes::from_mmap(name, map))
}

impl Directory for FsDirectory {
    fn list(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.root).map_err(|source| Error::Io { path: self.root.clone(), source })?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io { path: self.root.clone(), source })?;
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    fn open(&self, name: &str) -> Result<FileBytes> {
        let path = self.root.join(name);
        if !path.is_file() {
            return Err(Error::MissingFile { name: name.to_owned(), location: self.root.display().to_string() });
        }
        map_file(&path, name)
    }
}

/// A directory held in memory: files restored from somewhere else, and tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryDirectory {
    files: BTreeMap<String, FileBytes>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, name: impl Into<String>, bytes: FileBytes) {
        self.files.insert(name.into(), bytes);
    }
}

impl Directory for MemoryDirectory {
    fn list(&self) -> Result<Vec<String>> {
        Ok(self.files.keys().cloned().collect())
    }

    fn open(&self, name: &str) -> Result<FileBytes> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| Error::MissingFile { name: name.to_owned(), location: "memory".to_owned() })
    }
}

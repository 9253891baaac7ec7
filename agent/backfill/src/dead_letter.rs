//! The dead-letter file: one JSON line per document the target rejected for good, or that could not be sent.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ferry_ops::fs::SyncedNdjson;

use crate::bulk::DeadLetter;
use crate::error::{Error, Result};

/// Appends dead letters to an NDJSON file, created on the first one. Records reach the disk before the
/// checkpoint that counts them as acknowledged, so a crash never loses a rejected document.
#[derive(Debug)]
pub struct DeadLetterWriter {
    path: PathBuf,
    file: Mutex<SyncedNdjson>,
}

impl DeadLetterWriter {
    /// A writer appending to `path` (so reruns add to, not replace, what earlier runs wrote).
    pub fn new(path: impl Into<PathBuf>) -> DeadLetterWriter {
        let path = path.into();
        DeadLetterWriter { file: Mutex::new(SyncedNdjson::new(&path)), path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `letters` and syncs them to disk.
    pub fn write(&self, letters: &[DeadLetter]) -> Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.append(letters).map_err(|source| Error::Io { path: self.path.clone(), source })
    }
}

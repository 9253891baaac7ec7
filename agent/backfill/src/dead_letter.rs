//! The dead-letter file: one JSON line per document the target rejected for good, or that could not be sent.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::bulk::DeadLetter;
use crate::error::{Error, Result};

/// Appends dead letters to an NDJSON file, created on the first one. Records reach the disk before the
/// checkpoint that counts them as acknowledged, so a crash never loses a rejected document.
#[derive(Debug)]
pub struct DeadLetterWriter {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
}

impl DeadLetterWriter {
    /// A writer appending to `path` (so reruns add to, not replace, what earlier runs wrote).
    pub fn new(path: impl Into<PathBuf>) -> DeadLetterWriter {
        DeadLetterWriter { path: path.into(), file: Mutex::new(None) }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `letters` and syncs them to disk.
    pub fn write(&self, letters: &[DeadLetter]) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let io = |source| Error::Io { path: self.path.clone(), source };
        let mut guard = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(dir).map_err(io)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
            *guard = Some(BufWriter::new(file));
        }
        let Some(out) = guard.as_mut() else { return Ok(()) };
        for letter in letters {
            serde_json::to_writer(&mut *out, letter).map_err(|e| io(std::io::Error::other(e)))?;
            out.write_all(b"\n").map_err(io)?;
        }
        out.flush().map_err(io)?;
        out.get_ref().sync_data().map_err(io)
    }
}

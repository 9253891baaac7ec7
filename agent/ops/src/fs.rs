//! State files that must survive a crash at any instant: checkpoints replaced atomically, and append-only NDJSON
//! logs (dead letters) whose lines are on disk before the checkpoint that moves past them.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content: a temporary file
/// beside it (`<name>.tmp`) is written and fsynced, renamed over `path`, and the directory fsynced. Creates the
/// directory if needed. Errors are the operating system's; callers add which file they were storing.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// An append-only NDJSON file, created (with its directory) on the first line, so reruns add to what earlier
/// runs wrote. Every [`append`](SyncedNdjson::append) reaches the disk before it returns.
#[derive(Debug)]
pub struct SyncedNdjson {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl SyncedNdjson {
    /// A file at `path`, not opened until the first line.
    pub fn new(path: impl Into<PathBuf>) -> SyncedNdjson {
        SyncedNdjson { path: path.into(), out: None }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one JSON line per item and syncs them to disk.
    pub fn append<T: Serialize>(&mut self, items: &[T]) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let file = OpenOptions::new().create(true).append(true).open(&self.path)?;
                self.out.insert(BufWriter::new(file))
            }
        };
        for item in items {
            serde_json::to_writer(&mut *out, item).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        out.get_ref().sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/checkpoint.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join("state/checkpoint.json.tmp").exists());
    }

    #[test]
    fn ndjson_lines_are_appended_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/dead-letters.ndjson");
        let mut first = SyncedNdjson::new(&path);
        first.append::<u32>(&[]).unwrap();
        assert!(!path.exists(), "nothing to write creates nothing");
        first.append(&[1, 2]).unwrap();
        SyncedNdjson::new(&path).append(&["three"]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n\"three\"\n");
    }
}

//! The sent journal (`sent.ndjson` in the state directory): one line per request about to be sent, so that a
//! run resuming from a checkpoint knows which requests an earlier run may already have delivered and marks
//! their results `replayed_twice`.
//!
//! A line is written (and handed to the OS) before its request goes out, so it survives a killed process; only
//! a machine crash can lose the last lines. Lines of requests that began before the checkpoint can never be
//! replayed again: they are dropped when the journal is opened, and every [`PRUNE_EVERY`] lines after a commit,
//! so a long-running replay (Kafka keeps its resume points in the broker, not here) does not grow it forever.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io, Result};
use crate::source::{write_atomically, Cursor};

/// Lines appended between two prunings.
pub const PRUNE_EVERY: u64 = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// The connection id.
    c: String,
    /// The request's number within the connection.
    n: u64,
    /// The record where the request began.
    at: Cursor,
}

/// The journal, open for appending, with what earlier runs sent after the resume points.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    earlier: HashSet<(String, u64)>,
    /// Lines appended since the file was last rewritten.
    appended: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, keeping the entries at or after `resume` (per lane; all
    /// entries of lanes without a resume point).
    pub fn open(path: &Path, resume: &[Cursor]) -> Result<Journal> {
        let (kept, out) = rewrite(path, resume)?;
        let earlier = kept.into_iter().map(|e| (e.c, e.n)).collect();
        Ok(Journal { path: path.to_owned(), out, earlier, appended: 0 })
    }

    /// After a commit at `resume`: drops the lines before it once [`PRUNE_EVERY`] lines were appended since the
    /// last rewrite.
    pub fn prune(&mut self, resume: &[Cursor]) -> Result<()> {
        if self.appended < PRUNE_EVERY {
            return Ok(());
        }
        self.out.flush().map_err(io("write", &self.path))?;
        let (_, out) = rewrite(&self.path, resume)?;
        self.out = out;
        self.appended = 0;
        Ok(())
    }

    /// Records that request `number` of `connection`, begun in the record at `at`, is being sent; returns
    /// whether an earlier run already sent it.
    pub fn sending(&mut self, connection: &str, number: u64, at: Cursor) -> Result<bool> {
        let entry = Entry { c: connection.to_string(), n: number, at };
        serde_json::to_writer(&mut self.out, &entry).map_err(|e| io("write", &self.path)(std::io::Error::other(e)))?;
        self.out.write_all(b"\n").map_err(io("write", &self.path))?;
        self.out.flush().map_err(io("write", &self.path))?;
        self.appended += 1;
        Ok(self.earlier.contains(&(entry.c, number)))
    }

    /// How many requests earlier runs sent after the resume points.
    pub fn earlier_sends(&self) -> usize {
        self.earlier.len()
    }
}

/// Rewrites the journal atomically with only the entries at or after `resume`, and opens it for appending.
fn rewrite(path: &Path, resume: &[Cursor]) -> Result<(Vec<Entry>, BufWriter<File>)> {
    let mut kept = Vec::new();
    match File::open(path) {
        Ok(file) => {
            for line in BufReader::new(file).lines() {
                let line = line.map_err(io("read", path))?;
                // A torn last line (killed mid-write) is simply not an entry.
                let Ok(entry) = serde_json::from_str::<Entry>(&line) else { continue };
                let keep = match resume.iter().find(|r| r.lane() == entry.at.lane()) {
                    Some(point) => entry.at >= *point,
                    None => true,
                };
                if keep {
                    kept.push(entry);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("open", path)(e)),
    }
    let mut compacted = Vec::new();
    for entry in &kept {
        serde_json::to_writer(&mut compacted, entry).map_err(|e| io("encode", path)(std::io::Error::other(e)))?;
        compacted.push(b'\n');
    }
    write_atomically(path, &compacted)?;
    let file = OpenOptions::new().append(true).open(path).map_err(io("open", path))?;
    Ok((kept, BufWriter::new(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Cursor {
        Cursor::Log { segment: 2, offset }
    }

    #[test]
    fn requests_sent_after_the_checkpoint_are_recognised_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sent.ndjson");
        let mut journal = Journal::open(&path, &[]).unwrap();
        assert!(!journal.sending("a", 0, at(16)).unwrap());
        assert!(!journal.sending("a", 1, at(80)).unwrap());
        assert!(!journal.sending("b", 0, at(120)).unwrap());
        drop(journal);
        // A torn line from a killed writer is ignored.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"c\":\"b\",\"n\":1,\"at\":{\"lo").unwrap();
        drop(file);

        let mut journal = Journal::open(&path, &[at(80)]).unwrap();
        assert_eq!(journal.earlier_sends(), 2, "a/0 began before the checkpoint and is forgotten");
        assert!(journal.sending("a", 1, at(80)).unwrap());
        assert!(journal.sending("b", 0, at(120)).unwrap());
        assert!(!journal.sending("b", 1, at(200)).unwrap());
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    #[test]
    fn a_commit_after_many_sends_drops_the_lines_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sent.ndjson");
        let mut journal = Journal::open(&path, &[]).unwrap();
        for n in 0..PRUNE_EVERY - 1 {
            journal.sending("a", n, at(n)).unwrap();
        }
        journal.prune(&[at(PRUNE_EVERY - 3)]).unwrap();
        let lines = || std::fs::read_to_string(&path).unwrap().lines().count() as u64;
        assert_eq!(lines(), PRUNE_EVERY - 1, "not yet");
        journal.sending("a", PRUNE_EVERY - 1, at(PRUNE_EVERY - 1)).unwrap();
        journal.prune(&[at(PRUNE_EVERY - 3)]).unwrap();
        assert_eq!(lines(), 3);
        journal.sending("a", PRUNE_EVERY, at(PRUNE_EVERY)).unwrap();
        drop(journal);
        assert_eq!(lines(), 4, "appending goes on in the rewritten file");
    }
}

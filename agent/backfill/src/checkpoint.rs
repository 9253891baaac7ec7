//! Per-shard checkpoints: the position up to which every document of a unit of work is acknowledged by the
//! target (indexed or dead-lettered), kept in a small JSON file that is replaced atomically.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A document's place in a shard's commit: the segment's ordinal in `segments_N` and the Lucene doc id within
/// it. Documents are read in this order, so a position splits a shard into "before" and "from here on".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The segment's ordinal in the commit.
    pub segment: u32,
    /// The Lucene doc id within the segment.
    pub doc: u32,
}

impl Position {
    /// The start of segment `segment`.
    pub fn segment_start(segment: u32) -> Position {
        Position { segment, doc: 0 }
    }

    /// The position right after this one (doc ids are below `i32::MAX`, so this never wraps in practice;
    /// it saturates rather than wrap if it did).
    pub fn successor(self) -> Position {
        Position { segment: self.segment, doc: self.doc.saturating_add(1) }
    }
}

/// What a checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version of this file.
    pub version: u32,
    /// The commit the positions refer to (`segments_N` name and commit id); positions mean nothing in another.
    pub commit: String,
    /// Every document before this position is acknowledged.
    pub next: Position,
    /// The whole unit is acknowledged; a rerun skips it.
    pub complete: bool,
    /// Documents acknowledged as indexed, summed over runs (re-sent overlap after a crash counts again).
    pub indexed: u64,
    /// Documents written to the dead-letter file, summed over runs.
    pub dead_lettered: u64,
}

impl Checkpoint {
    /// The current file format version.
    pub const VERSION: u32 = 1;

    /// A checkpoint for a unit that has not started.
    pub fn new(commit: String, start: Position) -> Checkpoint {
        Checkpoint { version: Self::VERSION, commit, next: start, complete: false, indexed: 0, dead_lettered: 0 }
    }

    /// Reads the checkpoint at `path`; `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: path.to_owned(), source }),
        };
        let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Checkpoint { path: path.to_owned(), reason: format!("not a checkpoint: {e}") })?;
        if checkpoint.version != Self::VERSION {
            return Err(Error::Checkpoint {
                path: path.to_owned(),
                reason: format!(
                    "format version {} (this build writes {}); remove the file to start the unit over",
                    checkpoint.version,
                    Self::VERSION
                ),
            });
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint to `path` atomically: a temporary file beside it is written and fsynced, then
    /// renamed over `path`, and the directory fsynced, so a crash leaves either the old or the new checkpoint.
    pub fn store(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io { path: path.to_owned(), source };
        let bytes = serde_json::to_vec(self).map_err(|e| io(std::io::Error::other(e)))?;
        ferry_ops::fs::write_atomically(path, &bytes).map_err(io)
    }
}

/// Tracks which batches the target acknowledged, which may happen out of order, and yields the position up
/// to which everything is acknowledged (the end of the longest acknowledged prefix of batches).
#[derive(Debug)]
pub struct AckTracker {
    next_seq: u64,
    committed: Position,
    done: BTreeMap<u64, Position>,
}

impl AckTracker {
    /// A tracker whose prefix so far ends at `start`; batches are numbered from 0.
    pub fn new(start: Position) -> AckTracker {
        AckTracker { next_seq: 0, committed: start, done: BTreeMap::new() }
    }

    /// Records that batch `seq`, ending (exclusive) at `end`, is acknowledged. Returns the new end of the
    /// acknowledged prefix when it moved.
    pub fn ack(&mut self, seq: u64, end: Position) -> Option<Position> {
        self.done.insert(seq, end);
        let before = self.committed;
        while let Some(end) = self.done.remove(&self.next_seq) {
            self.committed = end;
            self.next_seq += 1;
        }
        (self.committed != before).then_some(self.committed)
    }

    /// The end of the acknowledged prefix.
    pub fn committed(&self) -> Position {
        self.committed
    }

    /// Batches acknowledged but waiting for an earlier one.
    pub fn waiting(&self) -> usize {
        self.done.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(segment: u32, doc: u32) -> Position {
        Position { segment, doc }
    }

    #[test]
    fn out_of_order_acks_advance_only_the_contiguous_prefix() {
        let mut t = AckTracker::new(pos(0, 0));
        assert_eq!(t.ack(1, pos(0, 20)), None);
        assert_eq!(t.ack(3, pos(1, 5)), None);
        assert_eq!(t.committed(), pos(0, 0));
        assert_eq!(t.ack(0, pos(0, 10)), Some(pos(0, 20)));
        assert_eq!(t.waiting(), 1);
        assert_eq!(t.ack(2, pos(1, 0)), Some(pos(1, 5)));
        assert_eq!(t.waiting(), 0);
    }

    #[test]
    fn positions_order_by_segment_then_doc() {
        assert!(pos(0, 99) < pos(1, 0));
        assert_eq!(pos(2, 7).successor(), pos(2, 8));
        assert_eq!(pos(0, u32::MAX).successor(), pos(0, u32::MAX));
    }

    #[test]
    fn store_then_load_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap/idx/0.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut c = Checkpoint::new("segments_3:00ff".into(), pos(0, 0));
        c.store(&path).unwrap();
        c.next = pos(1, 42);
        c.indexed = 9;
        c.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn damaged_or_future_checkpoints_are_errors_not_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.json");
        fs::write(&path, b"{\"version\":1,\"commit\":\"x\"").unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a checkpoint"), "{err}");
        let future =
            r#"{"version":9,"commit":"x","next":{"segment":0,"doc":0},"complete":false,"indexed":0,"dead_lettered":0}"#;
        fs::write(&path, future).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("format version 9"), "{err}");
    }
}

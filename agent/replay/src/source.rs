//! Where captured records come from, and where progress is committed: the local capture log with a checkpoint
//! file, or a Kafka topic with consumer-group offsets ([`crate::kafka_source`]). Sources are synchronous; the
//! engine reads them on a thread of their own.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_capture_log::{LogReader, Position};
use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};

/// A record's place in its source, totally ordered within a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cursor {
    /// A frame of a local capture log.
    Log {
        /// The segment's sequence number.
        segment: u64,
        /// The frame's byte offset in the segment.
        offset: u64,
    },
    /// A record of a Kafka topic.
    Kafka {
        /// The partition (the cursor's lane).
        partition: i32,
        /// The record's offset in the partition.
        offset: i64,
    },
}

impl Cursor {
    /// The lane the cursor orders within (one per Kafka partition; a log is a single lane).
    pub fn lane(&self) -> u32 {
        match self {
            Cursor::Log { .. } => 0,
            // Brokers number partitions from 0; a negative one cannot be fetched from, so its lane is moot.
            Cursor::Kafka { partition, .. } => u32::try_from(*partition).unwrap_or(u32::MAX),
        }
    }
}

impl From<Position> for Cursor {
    fn from(p: Position) -> Cursor {
        Cursor::Log { segment: p.segment, offset: p.offset }
    }
}

/// One record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// Where it is.
    pub at: Cursor,
    /// Where the record after it starts (what to resume from once this one is done).
    pub after: Cursor,
    /// The `TrafficStream` bytes.
    pub bytes: Vec<u8>,
}

/// A stream of records in source order (per lane).
pub trait Source: Send {
    /// The next record, or `None` at the current end (a later call may find more).
    fn next_record(&mut self) -> Result<Option<SourceRecord>>;
    /// Where this run started, per lane: records before these points were done by an earlier run.
    fn resumed_from(&self) -> Vec<Cursor>;
    /// The handle that stores progress.
    fn committer(&self) -> Arc<dyn Committer>;
    /// Lanes taken away since the last call (Kafka partitions revoked in a rebalance): their unfinished work
    /// must be dropped and never committed, as another reader resumes them. Asked after every `next_record`.
    fn revoked(&mut self) -> Vec<u32> {
        Vec::new()
    }
    /// Asked when `next_record` returned `None` and the replay is not following: whether the source is drained
    /// (`true`: the replay finishes) or nothing arrived in time yet (`false`: the reader asks again).
    fn drained(&mut self) -> Result<bool> {
        Ok(true)
    }
    /// Called over and over once the source is drained, until the last requests are done: a source that must
    /// stay in touch with its server meanwhile (a Kafka group member that would otherwise be dropped from the
    /// group, and could not commit) does so here, waiting a little, and returns `true`. The default needs
    /// nothing and returns `false`, which ends the calls.
    fn keep_alive(&mut self) -> Result<bool> {
        Ok(false)
    }
}

/// Stores resume points. Called with, for each lane, the cursor of the first record not completely replayed.
pub trait Committer: Send + Sync {
    /// Makes `points` durable: a restart resumes there.
    fn commit(&self, points: &[Cursor]) -> Result<()>;
}

/// What `checkpoint.json` holds for a local log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogCheckpoint {
    version: u32,
    /// The first record not completely replayed.
    next: Cursor,
}

impl LogCheckpoint {
    const VERSION: u32 = 1;
}

/// The local capture log, resumed from the checkpoint in the state directory.
#[derive(Debug)]
pub struct LogSource {
    reader: LogReader,
    resumed: Option<Cursor>,
    committer: Arc<LogCommitter>,
}

impl LogSource {
    /// Opens `dir` at the checkpoint `<state_dir>/checkpoint.json` (or at the oldest record without one).
    pub fn open(dir: &Path, state_dir: &Path) -> Result<LogSource> {
        let path = state_dir.join("checkpoint.json");
        let resumed = load_checkpoint(&path)?.map(|c| c.next);
        let position = match resumed {
            None => None,
            Some(Cursor::Log { segment, offset }) => Some(Position { segment, offset }),
            Some(Cursor::Kafka { .. }) => {
                return Err(Error::Checkpoint {
                    path,
                    reason: "it holds a Kafka offset, not a capture log position: use another state directory \
                             for this log"
                        .to_string(),
                })
            }
        };
        let reader = LogReader::open_at(dir, position)?;
        Ok(LogSource { reader, resumed, committer: Arc::new(LogCommitter { path }) })
    }

    /// What the log reader skipped (torn tails, corrupt regions).
    pub fn stats(&self) -> ferry_capture_log::ReadStats {
        self.reader.stats()
    }
}

impl Source for LogSource {
    fn next_record(&mut self) -> Result<Option<SourceRecord>> {
        let Some(record) = self.reader.next_record()? else { return Ok(None) };
        let after = self.reader.position().unwrap_or(record.position);
        Ok(Some(SourceRecord { at: record.position.into(), after: after.into(), bytes: record.bytes }))
    }

    fn resumed_from(&self) -> Vec<Cursor> {
        self.resumed.into_iter().collect()
    }

    fn committer(&self) -> Arc<dyn Committer> {
        self.committer.clone()
    }
}

#[derive(Debug)]
struct LogCommitter {
    path: PathBuf,
}

impl Committer for LogCommitter {
    fn commit(&self, points: &[Cursor]) -> Result<()> {
        let Some(&next) = points.first() else { return Ok(()) };
        let bytes = serde_json::to_vec(&LogCheckpoint { version: LogCheckpoint::VERSION, next })
            .map_err(|e| io("encode", &self.path)(std::io::Error::other(e)))?;
        write_atomically(&self.path, &bytes)
    }
}

fn load_checkpoint(path: &Path) -> Result<Option<LogCheckpoint>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", path)(e)),
    };
    let checkpoint: LogCheckpoint = serde_json::from_slice(&bytes).map_err(|e| Error::Checkpoint {
        path: path.to_owned(),
        reason: format!("not a replay checkpoint ({e}); remove it to replay the log from its start"),
    })?;
    if checkpoint.version != LogCheckpoint::VERSION {
        return Err(Error::Checkpoint {
            path: path.to_owned(),
            reason: format!(
                "format version {} (this build reads {}); remove it to replay the log from its start",
                checkpoint.version,
                LogCheckpoint::VERSION
            ),
        });
    }
    Ok(Some(checkpoint))
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content: a temporary file beside it
/// is written and synced, renamed over it, and the directory synced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    ferry_ops::fs::write_atomically(path, bytes).map_err(io("replace", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_bad_ones_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/checkpoint.json");
        assert_eq!(load_checkpoint(&path).unwrap(), None);
        let committer = LogCommitter { path: path.clone() };
        committer.commit(&[Cursor::Log { segment: 3, offset: 99 }]).unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().map(|c| c.next), Some(Cursor::Log { segment: 3, offset: 99 }));
        fs::write(&path, b"{\"version\":7,\"next\":{\"log\":{\"segment\":1,\"offset\":16}}}").unwrap();
        let err = load_checkpoint(&path).unwrap_err().to_string();
        assert!(err.contains("format version 7"), "{err}");
        fs::write(&path, b"{\"vers").unwrap();
        assert!(load_checkpoint(&path).unwrap_err().to_string().contains("not a replay checkpoint"));
    }
}

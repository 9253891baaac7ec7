//! Where a unit's documents come from: one shard's Lucene commit, in a snapshot repository or on local disk,
//! and the reader that turns it into batches on a blocking thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferry_documents::{read_segment, ReadStats};
use ferry_lucene::{Commit, Directory, FsDirectory, SegmentReader};
use ferry_snapshot::{Repository, SnapshotEntry};
use tokio::sync::mpsc;

use crate::bulk::{Batch, BatchBuilder};
use crate::checkpoint::Position;
use crate::error::Result;

/// One shard's Lucene files and the commit to read.
pub struct ShardSource {
    label: String,
    directory: Box<dyn Directory>,
    commit: Commit,
}

impl std::fmt::Debug for ShardSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardSource").field("label", &self.label).field("commit", &self.commit.file_name).finish()
    }
}

impl ShardSource {
    /// Shard `shard` of `index` in `snapshot`: the files the snapshot recorded, verified as they are read.
    pub fn snapshot(repo: &Repository, snapshot: &SnapshotEntry, index: &str, shard: u32) -> Result<ShardSource> {
        let directory = repo.shard_directory(snapshot, index, shard)?;
        let commit = Commit::read_latest(&directory).map_err(ferry_documents::Error::from)?;
        let label = format!("{}/{index}/{shard}", snapshot.name);
        Ok(ShardSource { label, directory: Box::new(directory), commit })
    }

    /// The newest commit of a local Lucene directory, such as a node's `indices/<uuid>/<shard>/index`.
    pub fn lucene(dir: &Path) -> Result<ShardSource> {
        let directory = FsDirectory::open(dir).map_err(ferry_documents::Error::from)?;
        let commit = Commit::read_latest(&directory).map_err(ferry_documents::Error::from)?;
        Ok(ShardSource { label: dir.display().to_string(), directory: Box::new(directory), commit })
    }

    /// A name for logs and errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Identifies the commit, so a checkpoint is never applied to different segments.
    pub fn commit_id(&self) -> String {
        let id: String = self.commit.id.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{id}", self.commit.file_name)
    }

    /// The position just past the commit's last document.
    pub fn end(&self) -> Position {
        Position::segment_start(u32::try_from(self.commit.segments.len()).unwrap_or(u32::MAX))
    }
}

type TypeNamer = dyn Fn(&str) -> String + Send + Sync;

/// The target index of each document: one name, or one per mapping type (the metadata type rule's split).
#[derive(Clone)]
pub struct TargetIndex {
    name: String,
    per_type: Option<Arc<TypeNamer>>,
}

impl std::fmt::Debug for TargetIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetIndex").field("name", &self.name).field("per_type", &self.per_type.is_some()).finish()
    }
}

impl TargetIndex {
    /// Every document goes to `name`.
    pub fn fixed(name: impl Into<String>) -> TargetIndex {
        TargetIndex { name: name.into(), per_type: None }
    }

    /// Documents with a type go to `per_type(type)`, typeless ones to `name`.
    pub fn per_type(name: impl Into<String>, per_type: impl Fn(&str) -> String + Send + Sync + 'static) -> TargetIndex {
        TargetIndex { name: name.into(), per_type: Some(Arc::new(per_type)) }
    }

    /// The index for typeless documents (and, unless split, for all).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Remembers per-type names so the naming rule runs once per type, not per document.
struct Names<'t> {
    target: &'t TargetIndex,
    by_type: HashMap<String, String>,
}

impl Names<'_> {
    fn resolve(&mut self, doc_type: Option<&str>) -> &str {
        match (doc_type, &self.target.per_type) {
            (Some(ty), Some(namer)) => {
                if !self.by_type.contains_key(ty) {
                    self.by_type.insert(ty.to_owned(), namer(ty));
                }
                self.by_type.get(ty).map_or(self.target.name.as_str(), String::as_str)
            }
            _ => &self.target.name,
        }
    }
}

/// Reads the documents of `source` in `[from, to)` into batches of at most `max_bytes` and sends them on
/// `batches`; the last batch (possibly empty) has `last` set and ends at `to`. Every segment is opened, and so
/// verified, before the first batch; the live documents of the segments to read are then added to `expected`.
/// Stops early, with an error, when the receiver is gone.
pub(crate) fn read_batches(
    source: &ShardSource,
    target: &TargetIndex,
    from: Position,
    to: Position,
    max_bytes: usize,
    batches: &mpsc::Sender<Batch>,
    expected: &AtomicU64,
) -> Result<ReadStats> {
    let segments = source
        .commit
        .segments
        .iter()
        .map(|info| SegmentReader::open(source.directory.as_ref(), info))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ferry_documents::Error::from)?;
    let in_range = |ordinal: u32| ordinal >= from.segment && Position::segment_start(ordinal) < to;
    let live: u64 =
        (0u32..).zip(&segments).filter(|(o, _)| in_range(*o)).map(|(_, s)| u64::from(s.num_live_docs())).sum();
    expected.fetch_add(live, Ordering::Relaxed);
    let send = |batch: Batch| {
        batches.blocking_send(batch).map_err(|_| ferry_documents::Error::Consumer("the senders stopped".into()))
    };
    let mut builder = BatchBuilder::new(max_bytes, from);
    let mut names = Names { target, by_type: HashMap::new() };
    let mut total = ReadStats::default();
    for (ordinal, segment) in (0u32..).zip(&segments) {
        if !in_range(ordinal) {
            continue;
        }
        let _span = tracing::debug_span!("segment", name = %segment.name(), ordinal).entered();
        let stats = read_segment(segment, |doc| {
            let position = Position { segment: ordinal, doc: doc.doc };
            if position < from || position >= to {
                return Ok(());
            }
            match builder.push(position, names.resolve(doc.doc_type), doc) {
                Some(batch) => send(batch),
                None => Ok(()),
            }
        })?;
        tracing::debug!(documents = stats.documents, without_id = stats.without_id, "segment read");
        total += stats;
    }
    send(builder.take(to, true))?;
    Ok(total)
}

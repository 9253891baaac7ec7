//! Shard-level snapshot metadata: the file list of one shard in one snapshot (`snap-<uuid>.dat`) and the
//! shard's catalogue across snapshots (`index-<gen>`).

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::doc::{with_opt, with_req, Node};
use crate::smile::Value;
use crate::{Error, Result};

/// Prefix of files whose content is their `meta_hash` and that have no blob (Elasticsearch 7.7+).
const VIRTUAL_PREFIX: &str = "v__";

/// One Lucene file of a shard snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The blob name (`__<id>`, or `v__<id>` for files stored inline as `meta_hash`).
    pub name: String,
    /// The Lucene file name (`_0.cfs`, `segments_3`).
    pub physical_name: String,
    /// The file length in bytes.
    pub length: u64,
    /// The Lucene footer CRC32 in base 36, as Elasticsearch records it.
    pub checksum: String,
    /// The chunk size when the file was split into `.partN` blobs; `None` when never split.
    pub part_size: Option<u64>,
    /// The Lucene version that wrote the file.
    pub written_by: Option<String>,
    /// The file content for small files (`segments_N`, `.si`); the whole file for `v__` entries.
    pub meta_hash: Option<Vec<u8>>,
}

impl FileInfo {
    /// True for `v__` entries: the file has no blob and its bytes are [`FileInfo::meta_hash`].
    pub fn is_virtual(&self) -> bool {
        self.name.starts_with(VIRTUAL_PREFIX)
    }

    /// How many blobs hold the file: 1 unless it was split into parts.
    pub fn number_of_parts(&self) -> u64 {
        match self.part_size {
            Some(part) if part > 0 && self.length > part => 1 + (self.length - 1) / part,
            _ => 1,
        }
    }

    /// The blob name of part `index` (the name itself when there is only one part).
    pub fn part_name(&self, index: u64) -> String {
        if self.number_of_parts() == 1 {
            self.name.clone()
        } else {
            format!("{}.part{index}", self.name)
        }
    }

    /// The recorded checksum as a number, or `None` when it is not base 36 (never seen from 5.x on).
    pub fn footer_crc(&self) -> Option<u64> {
        u64::from_str_radix(&self.checksum, 36).ok()
    }

    fn parse(node: Node<'_>) -> Result<FileInfo> {
        let string = |key: &str| with_req(&node, key, |n| n.str().map(str::to_owned));
        let length = with_req(&node, "length", |n| n.unsigned::<u64>())?;
        // Long.MAX_VALUE (or absence) means the file was never split.
        let part_size = with_opt(&node, "part_size", |n| n.unsigned::<u64>())?.filter(|&p| p != i64::MAX as u64);
        let meta_hash = with_opt(&node, "meta_hash", |n| match n.value {
            Value::Binary(bytes) => Ok(bytes.clone()),
            // A JSON body carries binary as base64.
            Value::String(text) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| n.schema("binary or a base64 string")),
            _ => Err(n.schema("binary")),
        })?;
        let checksum =
            with_opt(&node, "checksum", |n| n.str().map(str::to_owned))?.ok_or_else(|| Error::Unsupported {
                what: format!("{}: file {} without a checksum", node.file, string("physical_name").unwrap_or_default()),
                hint: "files written before Lucene 4.8 (Elasticsearch 1.x) are not supported; reindex in a newer \
                       cluster and take a new snapshot"
                    .to_owned(),
            })?;
        Ok(FileInfo {
            name: string("name")?,
            physical_name: string("physical_name")?,
            length,
            checksum,
            part_size,
            written_by: with_opt(&node, "written_by", |n| n.str().map(str::to_owned))?,
            meta_hash,
        })
    }
}

fn parse_files(node: &Node<'_>) -> Result<Vec<FileInfo>> {
    with_opt(node, "files", |n| {
        let items = n.items()?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = n.index_path(i);
            out.push(FileInfo::parse(n.at(item, &path))?);
        }
        Ok(out)
    })
    .map(Option::unwrap_or_default)
}

/// The files of one shard in one snapshot (`indices/<id>/<shard>/snap-<uuid>.dat`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSnapshot {
    /// The snapshot name.
    pub name: String,
    /// Start time, epoch milliseconds.
    pub start_time: Option<i64>,
    /// Every file of the shard's Lucene commit.
    pub files: Vec<FileInfo>,
}

impl ShardSnapshot {
    pub(crate) fn parse(file: &str, value: &Value) -> Result<ShardSnapshot> {
        let node = Node::root(file, value);
        Ok(ShardSnapshot {
            name: with_req(&node, "name", |n| n.str().map(str::to_owned))?,
            start_time: with_opt(&node, "start_time", |n| n.i64())?,
            files: parse_files(&node)?,
        })
    }
}

/// A shard's catalogue across snapshots (`indices/<id>/<shard>/index-<gen>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSnapshots {
    /// Every file any snapshot of the shard references.
    pub files: Vec<FileInfo>,
    /// Snapshot name → blob names of its files.
    pub snapshots: BTreeMap<String, Vec<String>>,
}

impl ShardSnapshots {
    pub(crate) fn parse(file: &str, value: &Value) -> Result<ShardSnapshots> {
        let node = Node::root(file, value);
        let snapshots = with_opt(&node, "snapshots", |n| {
            let mut out = BTreeMap::new();
            for (name, item) in n.entries()? {
                let path = n.child_path(name);
                let files = with_opt(&n.at(item, &path), "files", |f| f.strings())?.unwrap_or_default();
                out.insert(name.clone(), files);
            }
            Ok(out)
        })?
        .unwrap_or_default();
        Ok(ShardSnapshots { files: parse_files(&node)?, snapshots })
    }
}

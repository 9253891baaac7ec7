//! `index-N`, the repository's catalogue: which snapshots exist, which indices each holds, and where their
//! metadata and shard generations live. Plain JSON in every version; the shape grew over the releases and
//! this parser accepts every variant from Elasticsearch 5.0 to 7.x (and the integer versions of 8.x).

use std::collections::BTreeMap;

use crate::doc::{with_opt, with_req, Node};
use crate::smile::Value;
use crate::{Error, Result};

/// The outcome of a snapshot, as recorded in the repository (`SnapshotState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotState {
    /// Still running when the catalogue was written.
    InProgress,
    /// Every shard was copied.
    Success,
    /// The snapshot failed as a whole.
    Failed,
    /// Some shards failed.
    Partial,
    /// Written by a version this cluster could not read.
    Incompatible,
    /// The catalogue carries no state (Elasticsearch before 5.2).
    NotRecorded,
    /// A code this reader does not know.
    Unknown(u8),
}

impl SnapshotState {
    /// The state for the byte code in `index-N`.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => SnapshotState::InProgress,
            1 => SnapshotState::Success,
            2 => SnapshotState::Failed,
            3 => SnapshotState::Partial,
            4 => SnapshotState::Incompatible,
            other => SnapshotState::Unknown(other),
        }
    }

    /// The state for the name SnapshotInfo uses (`"SUCCESS"`, …); an unknown name maps to `Unknown(255)`.
    pub fn from_name(name: &str) -> Self {
        match name {
            "IN_PROGRESS" => SnapshotState::InProgress,
            "SUCCESS" => SnapshotState::Success,
            "FAILED" => SnapshotState::Failed,
            "PARTIAL" => SnapshotState::Partial,
            "INCOMPATIBLE" => SnapshotState::Incompatible,
            _ => SnapshotState::Unknown(u8::MAX),
        }
    }
}

impl std::fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotState::InProgress => f.write_str("IN_PROGRESS"),
            SnapshotState::Success => f.write_str("SUCCESS"),
            SnapshotState::Failed => f.write_str("FAILED"),
            SnapshotState::Partial => f.write_str("PARTIAL"),
            SnapshotState::Incompatible => f.write_str("INCOMPATIBLE"),
            SnapshotState::NotRecorded => f.write_str("NOT_RECORDED"),
            SnapshotState::Unknown(code) => write!(f, "UNKNOWN({code})"),
        }
    }
}

/// One snapshot as the catalogue lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEntry {
    /// The snapshot name users chose.
    pub name: String,
    /// The snapshot UUID that names its blobs (`snap-<uuid>.dat`); equal to the name before 5.0.
    pub uuid: String,
    /// The recorded outcome.
    pub state: SnapshotState,
    /// The Elasticsearch version that took it (7.9+; an id number in 8.9+).
    pub version: Option<String>,
    /// Names of the indices it holds, in catalogue order.
    pub indices: Vec<String>,
    /// Index id → metadata key (7.9+), resolved through the repository's metadata identifiers.
    pub index_metadata_lookup: BTreeMap<String, String>,
}

/// A shard's generation: which `index-<gen>` blob lists its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardGeneration {
    /// A concrete generation (a UUID-like string from 7.6, a number before).
    Generation(String),
    /// `_new`: the shard has no snapshot yet.
    New,
    /// `_deleted`: the shard's index was deleted from the repository.
    Deleted,
    /// `null` or absent (before 7.6): find the largest numeric `index-N` in the shard directory.
    Unknown,
}

/// One index as the catalogue lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The index name.
    pub name: String,
    /// The repository-assigned id that names its directory (`indices/<id>`).
    pub id: String,
    /// UUIDs of the snapshots that hold it.
    pub snapshots: Vec<String>,
    /// Per-shard generations (7.6+; empty before).
    pub shard_generations: Vec<ShardGeneration>,
    /// Where the shards' blobs live (OpenSearch 2.17+ `shard_path_type`; fixed before).
    pub shard_path_type: ShardPathType,
}

/// OpenSearch's `RemoteStoreEnums.PathType` for snapshot shards: fixed `indices/<id>/<shard>` directories, or
/// directories behind a hash so object stores spread the load (the exact paths are then listed in
/// `snapshot_shard_paths/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardPathType {
    /// Code 0: `indices/<id>/<shard>` (every Elasticsearch version, OpenSearch by default).
    Fixed,
    /// Code 1: `<hash>/<base path>/indices/<id>/<shard>`.
    HashedPrefix,
    /// Code 2: `<base path>/indices/<hash>/<id>/<shard>` style layouts with the hash inside the path.
    HashedInfix,
    /// A code this reader does not know.
    Unknown(u8),
}

impl ShardPathType {
    /// The type for the code stored in `index-N`.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => ShardPathType::Fixed,
            1 => ShardPathType::HashedPrefix,
            2 => ShardPathType::HashedInfix,
            other => ShardPathType::Unknown(other),
        }
    }
}

/// The decoded `index-N`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryData {
    /// Every snapshot, in catalogue order.
    pub snapshots: Vec<SnapshotEntry>,
    /// Every index, in catalogue order.
    pub indices: Vec<IndexEntry>,
    /// Oldest version that may read the repository (7.6+).
    pub min_version: Option<String>,
    /// The repository UUID (7.12+).
    pub uuid: Option<String>,
    /// The UUID of the cluster that wrote it (7.12+).
    pub cluster_id: Option<String>,
    /// Metadata key → index metadata blob id (7.9+).
    pub index_metadata_identifiers: BTreeMap<String, String>,
}

impl RepositoryData {
    /// Parses the JSON of `index-N`; `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<RepositoryData> {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|source| Error::Json { file: file.to_owned(), source })?;
        let value = Value::from_json(&json);
        let root = Node::root(file, &value);
        root.entries()?;

        let mut snapshots = with_opt(&root, "snapshots", |node| {
            let items = node.items()?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = node.index_path(i);
                out.push(parse_snapshot(node.at(item, &path))?);
            }
            Ok(out)
        })?
        .unwrap_or_default();

        let indices = with_opt(&root, "indices", |node| {
            let entries = node.entries()?;
            let mut out = Vec::with_capacity(entries.len());
            for (name, item) in entries {
                let path = node.child_path(name);
                out.push(parse_index(name, node.at(item, &path), &snapshots)?);
            }
            Ok(out)
        })?
        .unwrap_or_default();

        for snapshot in &mut snapshots {
            snapshot.indices =
                indices.iter().filter(|i| i.snapshots.contains(&snapshot.uuid)).map(|i| i.name.clone()).collect();
        }

        let text = |key: &str| with_opt(&root, key, |n| n.version_text());
        let index_metadata_identifiers = with_opt(&root, "index_metadata_identifiers", |node| {
            let mut out = BTreeMap::new();
            for (key, item) in node.entries()? {
                let path = node.child_path(key);
                out.insert(key.clone(), node.at(item, &path).str()?.to_owned());
            }
            Ok(out)
        })?
        .unwrap_or_default();
        Ok(RepositoryData {
            snapshots,
            indices,
            min_version: text("min_version")?,
            uuid: text("uuid")?,
            cluster_id: text("cluster_id")?,
            index_metadata_identifiers,
        })
    }
}

fn parse_snapshot(node: Node<'_>) -> Result<SnapshotEntry> {
    // Before 5.0 a snapshot was just its name, which doubled as its UUID.
    if let Value::String(name) = node.value {
        return Ok(SnapshotEntry {
            name: name.clone(),
            uuid: name.clone(),
            state: SnapshotState::NotRecorded,
            version: None,
            indices: Vec::new(),
            index_metadata_lookup: BTreeMap::new(),
        });
    }
    let name = with_req(&node, "name", |n| n.str().map(str::to_owned))?;
    let uuid = with_req(&node, "uuid", |n| n.str().map(str::to_owned))?;
    let state = with_opt(&node, "state", |n| n.unsigned::<u8>().map(SnapshotState::from_code))?
        .unwrap_or(SnapshotState::NotRecorded);
    let version = with_opt(&node, "version", |n| n.version_text())?;
    let index_metadata_lookup = with_opt(&node, "index_metadata_lookup", |n| {
        let mut out = BTreeMap::new();
        for (key, item) in n.entries()? {
            let path = n.child_path(key);
            out.insert(key.clone(), n.at(item, &path).str()?.to_owned());
        }
        Ok(out)
    })?
    .unwrap_or_default();
    Ok(SnapshotEntry { name, uuid, state, version, indices: Vec::new(), index_metadata_lookup })
}

fn parse_index(name: &str, node: Node<'_>, snapshots: &[SnapshotEntry]) -> Result<IndexEntry> {
    let id = with_req(&node, "id", |n| n.str().map(str::to_owned))?;
    let uuids = with_opt(&node, "snapshots", |n| {
        let items = n.items()?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = n.index_path(i);
            let item = n.at(item, &path);
            // Before 5.4.1 each entry was a {name, uuid} object rather than the UUID alone.
            let uuid = match item.value {
                Value::Object(_) => with_req(&item, "uuid", |u| u.str().map(str::to_owned))?,
                _ => item.str()?.to_owned(),
            };
            if !snapshots.iter().any(|s| s.uuid == uuid) {
                return Err(Error::Schema {
                    file: n.file.to_owned(),
                    path: n.index_path(i).text().to_owned(),
                    expected: "the UUID of a snapshot listed under `snapshots`".to_owned(),
                    found: uuid,
                });
            }
            out.push(uuid);
        }
        Ok(out)
    })?
    .unwrap_or_default();
    let shard_generations = with_opt(&node, "shard_generations", |n| {
        let items = n.items()?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = n.index_path(i);
            out.push(match item {
                Value::Null => ShardGeneration::Unknown,
                _ => match n.at(item, &path).str()? {
                    "_new" => ShardGeneration::New,
                    "_deleted" => ShardGeneration::Deleted,
                    generation => ShardGeneration::Generation(generation.to_owned()),
                },
            });
        }
        Ok(out)
    })?
    .unwrap_or_default();
    let shard_path_type = with_opt(&node, "shard_path_type", |n| n.unsigned::<u8>())?
        .map_or(ShardPathType::Fixed, ShardPathType::from_code);
    Ok(IndexEntry { name: name.to_owned(), id, snapshots: uuids, shard_generations, shard_path_type })
}

//! The entry point: a repository opened over a [`BlobStore`], resolving snapshot, index and shard names to
//! the blobs that hold them.

use std::sync::Arc;

use crate::blob::{self, BlobKind};
use crate::directory::ShardDirectory;
use crate::doc::{with_req, Node};
use crate::metadata::{GlobalMetadata, IndexMetadata, SnapshotInfo};
use crate::repository_data::{IndexEntry, RepositoryData, ShardGeneration, ShardPathType, SnapshotEntry};
use crate::shard::{ShardSnapshot, ShardSnapshots};
use crate::smile::Value;
use crate::{BlobStore, Error, Result};

const INDEX_LATEST: &str = "index.latest";
const INDEX_PREFIX: &str = "index-";
/// OpenSearch 2.17+: one JSON blob per index with hashed shard paths, named
/// `[snapshot_path_]<indexId>#<indexName>#<shards>#<pathType>#<hashAlgorithm>`.
const SHARD_PATHS_DIR: &str = "snapshot_shard_paths";
const SHARD_PATHS_FILE_PREFIX: &str = "snapshot_path_";

/// An opened snapshot repository: its catalogue (`index-N`) is read once, everything else on demand.
pub struct Repository {
    store: Arc<dyn BlobStore>,
    generation: u64,
    data: RepositoryData,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("store", &self.store.describe())
            .field("generation", &self.generation)
            .field("snapshots", &self.data.snapshots.len())
            .finish()
    }
}

impl Repository {
    /// Opens the repository: finds the current generation (`index.latest`, else the largest `index-N`) and
    /// parses its catalogue.
    pub fn open(store: Arc<dyn BlobStore>) -> Result<Repository> {
        let _span = tracing::debug_span!("open_repository", store = store.describe()).entered();
        let generation = current_generation(store.as_ref())?;
        let key = format!("{INDEX_PREFIX}{generation}");
        let bytes = store.read(&key)?;
        let data = RepositoryData::parse(&key, &bytes)?;
        tracing::debug!(
            generation,
            snapshots = data.snapshots.len(),
            indices = data.indices.len(),
            "repository opened"
        );
        Ok(Repository { store, generation, data })
    }

    /// The generation N of the `index-N` catalogue in use.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every snapshot, in catalogue order.
    pub fn snapshots(&self) -> &[SnapshotEntry] {
        &self.data.snapshots
    }

    /// The whole catalogue (indices, shard generations, version and UUID fields).
    pub fn data(&self) -> &RepositoryData {
        &self.data
    }

    /// The blob store underneath.
    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// The snapshot called `name`; the error lists the names that exist.
    pub fn find_snapshot(&self, name: &str) -> Result<&SnapshotEntry> {
        self.data.snapshots.iter().find(|s| s.name == name).ok_or_else(|| Error::NotFound {
            what: format!("snapshot {name:?} in {}", self.store.describe()),
            available: self.data.snapshots.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// What the snapshot recorded about itself (`snap-<uuid>.dat`).
    pub fn snapshot_info(&self, snapshot: &SnapshotEntry) -> Result<SnapshotInfo> {
        let _span = tracing::debug_span!("snapshot_info", snapshot = snapshot.name.as_str()).entered();
        let key = format!("snap-{}.dat", snapshot.uuid);
        SnapshotInfo::parse(&key, &blob::read(self.store.as_ref(), &key, BlobKind::Snapshot)?)
    }

    /// The cluster metadata the snapshot carries (`meta-<uuid>.dat`): templates.
    pub fn global_metadata(&self, snapshot: &SnapshotEntry) -> Result<GlobalMetadata> {
        let _span = tracing::debug_span!("global_metadata", snapshot = snapshot.name.as_str()).entered();
        let key = format!("meta-{}.dat", snapshot.uuid);
        GlobalMetadata::parse(&key, &blob::read(self.store.as_ref(), &key, BlobKind::Metadata)?)
    }

    /// The metadata of `index_name` as `snapshot` recorded it.
    pub fn index_metadata(&self, snapshot: &SnapshotEntry, index_name: &str) -> Result<IndexMetadata> {
        let _span =
            tracing::debug_span!("index_metadata", snapshot = snapshot.name.as_str(), index = index_name).entered();
        let index = self.index_in(snapshot, index_name)?;
        // 7.9+ deduplicates index metadata across snapshots: the snapshot maps the index id to a metadata
        // key, and the catalogue maps that key to the blob id.
        let blob_id = match snapshot.index_metadata_lookup.get(&index.id) {
            Some(meta_key) => self.data.index_metadata_identifiers.get(meta_key).ok_or_else(|| Error::Schema {
                file: format!("{INDEX_PREFIX}{}", self.generation),
                path: format!("$.index_metadata_identifiers.{meta_key}"),
                expected: format!("the blob id of index {index_name:?} in snapshot {:?}", snapshot.name),
                found: "nothing".to_owned(),
            })?,
            None => &snapshot.uuid,
        };
        let key = format!("indices/{}/meta-{blob_id}.dat", index.id);
        IndexMetadata::parse(&key, &blob::read(self.store.as_ref(), &key, BlobKind::IndexMetadata)?, index_name)
    }

    /// The file list of shard `shard` of `index_name` in `snapshot`. A shallow snapshot of an OpenSearch
    /// remote-store index holds no files here and is reported as unsupported.
    pub fn shard_snapshot(&self, snapshot: &SnapshotEntry, index_name: &str, shard: u32) -> Result<ShardSnapshot> {
        let index = self.index_in(snapshot, index_name)?;
        let prefix = self.shard_prefix(index, shard)?;
        let key = format!("{prefix}/snap-{}.dat", snapshot.uuid);
        match blob::read(self.store.as_ref(), &key, BlobKind::Snapshot) {
            Ok(value) => ShardSnapshot::parse(&key, &value),
            Err(Error::Store { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
                    && self.store.exists(&format!("{prefix}/shallow-snap-{}.dat", snapshot.uuid))? =>
            {
                Err(Error::Unsupported {
                    what: format!(
                        "snapshot {}, index {index_name}, shard {shard}: an OpenSearch shallow snapshot \
                         (shallow-snap-{}.dat): the segments of remote-store indices live in the cluster's remote \
                         segment store, not in the snapshot repository",
                        snapshot.name, snapshot.uuid
                    ),
                    hint: "take a full snapshot into a repository with remote_store_index_shallow_copy: false"
                        .to_owned(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The shard's catalogue across snapshots (`index-<gen>`): the generation the repository catalogue
    /// records (7.6+), else the largest numeric `index-N` in the shard directory.
    pub fn shard_snapshots(&self, index_name: &str, shard: u32) -> Result<ShardSnapshots> {
        let index = self.index(index_name)?;
        let prefix = self.shard_prefix(index, shard)?;
        let generation = match index.shard_generations.get(shard as usize) {
            Some(ShardGeneration::Generation(generation)) => generation.clone(),
            Some(ShardGeneration::Deleted) => {
                return Err(Error::NotFound {
                    what: format!("shard {shard} of index {index_name:?} (marked deleted in the repository)"),
                    available: Vec::new(),
                })
            }
            _ => {
                let names = self.store.list(&prefix)?;
                let largest =
                    names.iter().filter_map(|n| n.strip_prefix(INDEX_PREFIX)?.parse::<u64>().ok()).max().ok_or_else(
                        || Error::NotFound { what: format!("{prefix}/index-N"), available: names.clone() },
                    )?;
                largest.to_string()
            }
        };
        let key = format!("{prefix}/{INDEX_PREFIX}{generation}");
        ShardSnapshots::parse(&key, &blob::read(self.store.as_ref(), &key, BlobKind::ShardSnapshots)?)
    }

    /// The Lucene files of shard `shard` of `index_name` in `snapshot`, as a [`ferry_lucene::Directory`].
    pub fn shard_directory(&self, snapshot: &SnapshotEntry, index_name: &str, shard: u32) -> Result<ShardDirectory> {
        let _span =
            tracing::debug_span!("shard", snapshot = snapshot.name.as_str(), index = index_name, shard).entered();
        let files = self.shard_snapshot(snapshot, index_name, shard)?.files;
        let index = self.index_in(snapshot, index_name)?;
        tracing::debug!(files = files.len(), "shard snapshot read");
        ShardDirectory::new(
            Arc::clone(&self.store),
            self.shard_prefix(index, shard)?,
            format!("snapshot {}, index {index_name}, shard {shard}", snapshot.name),
            files,
        )
    }

    /// The key of the directory holding shard `shard` of `index`: `indices/<id>/<shard>`, or for OpenSearch's
    /// hashed layouts the path its `snapshot_shard_paths/` blob lists for the shard.
    fn shard_prefix(&self, index: &IndexEntry, shard: u32) -> Result<String> {
        match index.shard_path_type {
            ShardPathType::Fixed => Ok(format!("indices/{}/{shard}", index.id)),
            ShardPathType::HashedPrefix | ShardPathType::HashedInfix => self.hashed_shard_prefix(index, shard),
            ShardPathType::Unknown(code) => Err(Error::Unsupported {
                what: format!("index {}: shard_path_type {code}", index.name),
                hint: "only the fixed (0), hashed prefix (1) and hashed infix (2) layouts are known".to_owned(),
            }),
        }
    }

    fn hashed_shard_prefix(&self, index: &IndexEntry, shard: u32) -> Result<String> {
        let names = self.store.list(SHARD_PATHS_DIR)?;
        let wanted = format!("{}#", index.id);
        let name = names
            .iter()
            .find(|n| n.strip_prefix(SHARD_PATHS_FILE_PREFIX).unwrap_or(n).starts_with(&wanted))
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "{SHARD_PATHS_DIR}/{}{wanted}… (the hashed shard paths of index {})",
                    SHARD_PATHS_FILE_PREFIX, index.name
                ),
                available: names.clone(),
            })?;
        let key = format!("{SHARD_PATHS_DIR}/{name}");
        let bytes = self.store.read(&key)?;
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|source| Error::Json { file: key.clone(), source })?;
        let value = Value::from_json(&json);
        let root = Node::root(&key, &value);
        let paths = with_req(&root, "paths", |n| n.strings())?;
        let path = paths.get(shard as usize).ok_or_else(|| Error::Schema {
            file: key.clone(),
            path: format!("$.paths[{shard}]"),
            expected: format!("the path of shard {shard}"),
            found: format!("{} paths", paths.len()),
        })?;
        let path = path.trim_matches('/');
        // The listed path must still name this index and shard; anything else is not a layout we understand.
        let tail = format!("{}/{shard}", index.id);
        if path != tail && !path.ends_with(&format!("/{tail}")) {
            return Err(Error::Schema {
                file: key,
                path: format!("$.paths[{shard}]"),
                expected: format!("a path ending in {tail}"),
                found: path.to_owned(),
            });
        }
        tracing::debug!(index = index.name.as_str(), shard, path, "hashed shard path");
        self.store.container_key(path)
    }

    fn index(&self, index_name: &str) -> Result<&IndexEntry> {
        self.data.indices.iter().find(|i| i.name == index_name).ok_or_else(|| Error::NotFound {
            what: format!("index {index_name:?} in {}", self.store.describe()),
            available: self.data.indices.iter().map(|i| i.name.clone()).collect(),
        })
    }

    fn index_in(&self, snapshot: &SnapshotEntry, index_name: &str) -> Result<&IndexEntry> {
        if !snapshot.indices.iter().any(|i| i == index_name) {
            return Err(Error::NotFound {
                what: format!("index {index_name:?} in snapshot {:?}", snapshot.name),
                available: snapshot.indices.clone(),
            });
        }
        self.index(index_name)
    }
}

/// `index.latest` when present (exactly 8 bytes, big-endian), else the largest `index-N` at the root.
fn current_generation(store: &dyn BlobStore) -> Result<u64> {
    if store.exists(INDEX_LATEST)? {
        let bytes = store.read(INDEX_LATEST)?;
        let word: [u8; 8] = bytes[..].try_into().map_err(|_| Error::Corrupt {
            file: INDEX_LATEST.to_owned(),
            offset: 0,
            expected: "exactly 8 bytes (a big-endian generation)".to_owned(),
            found: format!("{} bytes", bytes.len()),
        })?;
        let generation = i64::from_be_bytes(word);
        return u64::try_from(generation).map_err(|_| Error::Corrupt {
            file: INDEX_LATEST.to_owned(),
            offset: 0,
            expected: "a non-negative generation".to_owned(),
            found: generation.to_string(),
        });
    }
    let names = store.list("")?;
    names.iter().filter_map(|n| n.strip_prefix(INDEX_PREFIX)?.parse::<u64>().ok()).max().ok_or_else(|| {
        Error::NotFound {
            what: format!("repository data (index.latest or index-N) in {}", store.describe()),
            available: names.clone(),
        }
    })
}

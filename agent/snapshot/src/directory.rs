//! A [`Directory`] over one shard of one snapshot, so the Lucene reader opens snapshot files exactly as it
//! opens a data directory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ferry_lucene::codec::{footer_checksum, verify_footer};
use ferry_lucene::{Directory, FileBytes};

use crate::shard::FileInfo;
use crate::{BlobHold, BlobStore, Error, Result};

/// The Lucene files of one shard in one snapshot, materialised on demand from the repository's blobs.
///
/// Single-part blobs are served as the blob's own bytes (a memory map for a file-system repository, no copy);
/// split files are concatenated; `v__` files are their recorded `meta_hash`. Each file is verified the first
/// time it is opened — length equals the recorded length, the footer CRC equals the recorded checksum, and the
/// bytes hash to it — and cached, so every later `open` is free.
pub struct ShardDirectory {
    store: Arc<dyn BlobStore>,
    /// `indices/<id>/<shard>`: where the shard's blobs live.
    prefix: String,
    /// "snapshot S, index I, shard N": prefixed to every error.
    context: String,
    /// The single `segments_N` among the files.
    segments: String,
    files: BTreeMap<String, FileInfo>,
    verified: Mutex<HashMap<String, FileBytes>>,
    /// Keeps the shard's blobs in the store's local cache, if it has one, while the directory is open.
    _hold: BlobHold,
}

impl std::fmt::Debug for ShardDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardDirectory").field("context", &self.context).field("files", &self.files.len()).finish()
    }
}

impl ShardDirectory {
    pub(crate) fn new(
        store: Arc<dyn BlobStore>,
        prefix: String,
        context: String,
        files: Vec<FileInfo>,
    ) -> Result<Self> {
        let mut by_name = BTreeMap::new();
        for file in files {
            if let Some(previous) = by_name.insert(file.physical_name.clone(), file) {
                return Err(Error::Corrupt {
                    file: format!("{context}: {}", previous.physical_name),
                    offset: 0,
                    expected: "each Lucene file listed once in the shard snapshot".to_owned(),
                    found: "a duplicate entry".to_owned(),
                });
            }
        }
        let segments = single_segments_file(&context, &by_name)?;
        let hold = store.hold(&prefix)?;
        Ok(ShardDirectory {
            store,
            prefix,
            context,
            segments,
            files: by_name,
            verified: Mutex::new(HashMap::new()),
            _hold: hold,
        })
    }

    /// The recorded file entries, by Lucene file name.
    pub fn files(&self) -> impl Iterator<Item = &FileInfo> {
        self.files.values()
    }

    /// The commit point's file name: the single `segments_N` the snapshot holds (checked when the directory
    /// was built).
    pub fn segments_file_name(&self) -> &str {
        &self.segments
    }

    /// The verified bytes of Lucene file `name`.
    pub fn read(&self, name: &str) -> Result<FileBytes> {
        if let Some(bytes) = self.lock().get(name) {
            return Ok(bytes.clone());
        }
        let info = self.files.get(name).ok_or_else(|| Error::NotFound {
            what: format!("Lucene file {name}"),
            available: self.files.keys().cloned().collect(),
        })?;
        let _span = tracing::debug_span!("materialise", file = name, blob = info.name.as_str()).entered();
        let bytes = self.materialise(info)?;
        self.verify(info, &bytes)?;
        self.lock().insert(name.to_owned(), bytes.clone());
        Ok(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FileBytes>> {
        // The map only ever holds verified entries, so a panic elsewhere cannot leave it inconsistent.
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How errors name a file; the caller, which knows the snapshot, index and shard, adds those.
    fn describe(&self, info: &FileInfo) -> String {
        format!("{} (blob {})", info.physical_name, info.name)
    }

    fn materialise(&self, info: &FileInfo) -> Result<FileBytes> {
        if info.is_virtual() {
            let content = info.meta_hash.clone().ok_or_else(|| Error::Corrupt {
                file: self.describe(info),
                offset: 0,
                expected: "a meta_hash holding the content of a v__ file".to_owned(),
                found: "none".to_owned(),
            })?;
            return Ok(FileBytes::from_vec(info.physical_name.as_str(), content));
        }
        let parts = info.number_of_parts();
        if parts == 1 {
            let blob = self.store.read(&format!("{}/{}", self.prefix, info.name))?;
            // Serve the blob itself, renamed to the Lucene file name readers report in errors.
            return blob.slice(info.physical_name.as_str(), 0..blob.len()).ok_or_else(|| Error::Corrupt {
                file: self.describe(info),
                offset: 0,
                expected: "a view of the whole blob".to_owned(),
                found: "none".to_owned(),
            });
        }
        // No preallocation from the recorded length: it is untrusted, and the parts bound the real size.
        let mut content = Vec::new();
        for index in 0..parts {
            let part = self.store.read(&format!("{}/{}", self.prefix, info.part_name(index)))?;
            content.extend_from_slice(&part);
            if content.len() as u64 > info.length {
                break;
            }
        }
        Ok(FileBytes::from_vec(info.physical_name.as_str(), content))
    }

    fn verify(&self, info: &FileInfo, bytes: &FileBytes) -> Result<()> {
        let file = self.describe(info);
        if bytes.len() as u64 != info.length {
            return Err(Error::Corrupt {
                file,
                offset: 0,
                expected: format!("{} bytes as recorded", info.length),
                found: format!("{} bytes", bytes.len()),
            });
        }
        let recorded = info.footer_crc().ok_or_else(|| Error::Corrupt {
            file: file.clone(),
            offset: 0,
            expected: "a base-36 checksum in the shard snapshot".to_owned(),
            found: format!("{:?}", info.checksum),
        })?;
        let footer = footer_checksum(bytes).map_err(|e| context_lucene(&file, e))?;
        if footer != recorded {
            return Err(Error::Checksum {
                file,
                what: "recorded checksum vs footer".to_owned(),
                recorded,
                actual: footer,
            });
        }
        verify_footer(bytes).map_err(|e| context_lucene(&file, e))?;
        Ok(())
    }
}

/// A shard snapshot is one Lucene commit, so it holds exactly one `segments_N`.
fn single_segments_file(context: &str, files: &BTreeMap<String, FileInfo>) -> Result<String> {
    let mut names = files.keys().filter(|name| name.starts_with("segments_"));
    match (names.next(), names.next()) {
        (Some(name), None) => Ok(name.clone()),
        (None, _) => Err(Error::NotFound {
            what: format!("{context}: a segments_N file"),
            available: files.keys().cloned().collect(),
        }),
        (Some(first), Some(second)) => Err(Error::Corrupt {
            file: context.to_owned(),
            offset: 0,
            expected: "exactly one segments_N file".to_owned(),
            found: format!("{first}, {second}, …"),
        }),
    }
}

/// Re-labels a Lucene framing error with the snapshot context.
fn context_lucene(file: &str, error: ferry_lucene::Error) -> Error {
    match error {
        ferry_lucene::Error::Checksum { stored, actual, .. } => Error::Checksum {
            file: file.to_owned(),
            what: "footer checksum vs bytes".to_owned(),
            recorded: stored,
            actual,
        },
        ferry_lucene::Error::Corrupt { offset, expected, found, .. } => {
            Error::Corrupt { file: file.to_owned(), offset, expected, found }
        }
        other => Error::Lucene(other),
    }
}

impl Directory for ShardDirectory {
    fn list(&self) -> ferry_lucene::Result<Vec<String>> {
        Ok(self.files.keys().cloned().collect())
    }

    fn open(&self, name: &str) -> ferry_lucene::Result<FileBytes> {
        self.read(name).map_err(Error::into_lucene)
    }
}

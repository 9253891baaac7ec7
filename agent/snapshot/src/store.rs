//! Where repository blobs come from. Readers above this layer only ever ask for whole blobs by key, so an
//! object store (S3, GCS, Azure) slots in beside the file system without touching the format code.

use std::io;
use std::path::{Path, PathBuf};

use ferry_lucene::FileBytes;

use crate::{Error, Result};

/// A flat key/value view of a snapshot repository. Keys are `/`-separated paths relative to the repository
/// root, such as `indices/<indexId>/0/snap-<uuid>.dat`.
pub trait BlobStore: Send + Sync {
    /// The whole blob stored under `key`.
    fn read(&self, key: &str) -> Result<FileBytes>;

    /// The names (not full keys) of the blobs directly under `prefix` (a "directory" key such as
    /// `indices/<indexId>/0`; empty for the root), in no particular order. A missing prefix lists nothing.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Whether a blob exists under `key`.
    fn exists(&self, key: &str) -> Result<bool>;

    /// A human-readable location for messages, such as the repository path or bucket URL.
    fn describe(&self) -> String;

    /// Asks the store to keep the blobs under `prefix` (one shard's directory) available locally until the
    /// returned hold is dropped. Stores that copy blobs into a bounded local cache evict only groups nobody
    /// holds; stores that read in place need nothing and return an empty hold.
    fn hold(&self, _prefix: &str) -> Result<BlobHold> {
        Ok(BlobHold::none())
    }

    /// The key of a blob directory that OpenSearch recorded as a path from the root of the store's
    /// container (a bucket, or the `fs` location) rather than from the repository root, as in
    /// `snapshot_shard_paths/`. For a file-system repository both roots are the same directory.
    fn container_key(&self, path: &str) -> Result<String> {
        Ok(path.to_owned())
    }
}

/// Keeps a group of blobs in a store's local cache while alive; see [`BlobStore::hold`].
pub struct BlobHold(Option<Box<dyn Send + Sync>>);

impl BlobHold {
    /// A hold that keeps nothing, for stores without local state.
    pub fn none() -> Self {
        BlobHold(None)
    }

    /// A hold that releases its blobs when `guard` is dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        BlobHold(Some(Box::new(guard)))
    }
}

impl std::fmt::Debug for BlobHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "BlobHold(held)" } else { "BlobHold(none)" })
    }
}

/// A shared-file-system (`fs` type) repository; blobs are memory-mapped read-only.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens the repository rooted at `root`, failing early when it is not a readable directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let store = FsBlobStore { root };
        let meta = std::fs::metadata(&store.root).map_err(|source| store.error("", source))?;
        if !meta.is_dir() {
            return Err(store.error("", io::Error::new(io::ErrorKind::InvalidInput, "not a directory")));
        }
        Ok(store)
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn error(&self, key: &str, source: io::Error) -> Error {
        Error::Store { store: self.describe(), key: key.to_owned(), source }
    }

    /// Maps a key to a path below the root. Keys come from repository metadata, which is untrusted, so
    /// anything that could step outside the root is refused.
    fn path(&self, key: &str) -> Result<PathBuf> {
        let safe = !key.starts_with('/')
            && !key.contains('\\')
            && !key.contains('\0')
            && key.split('/').all(|part| part != ".." && part != ".");
        if !safe {
            return Err(self.error(key, io::Error::new(io::ErrorKind::InvalidInput, "key escapes the repository root")));
        }
        Ok(key.split('/').filter(|part| !part.is_empty()).fold(self.root.clone(), |path, part| path.join(part)))
    }
}

impl BlobStore for FsBlobStore {
    fn read(&self, key: &str) -> Result<FileBytes> {
        let path = self.path(key)?;
        let meta = std::fs::metadata(&path).map_err(|source| self.error(key, source))?;
        if !meta.is_file() {
            return Err(self.error(key, io::Error::new(io::ErrorKind::InvalidInput, "not a file")));
        }
        Ok(ferry_lucene::map_file(&path, key)?)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let path = self.path(prefix)?;
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.error(prefix, source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.error(prefix, source))?;
            let is_file = entry.file_type().map_err(|source| self.error(prefix, source))?.is_file();
            if let (true, Some(name)) = (is_file, entry.file_name().to_str()) {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(self.error(key, source)),
        }
    }

    fn describe(&self) -> String {
        format!("fs repository {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_escape_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index-0"), b"{}").unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        assert_eq!(&*store.read("index-0").unwrap(), b"{}");
        for key in ["../etc/passwd", "indices/../../x", "/etc/passwd", "a/./b"] {
            let err = store.read(key).unwrap_err();
            let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
            assert!(cause.contains("escapes the repository root"), "{key}: {err}: {cause}");
        }
        assert!(!store.exists("missing").unwrap());
        assert!(store.list("indices").unwrap().is_empty());
        let err = store.read("missing").unwrap_err();
        assert!(matches!(err, Error::Store { ref key, .. } if key == "missing"), "{err}");
    }
}

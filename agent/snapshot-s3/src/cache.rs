//! The bounded local cache: blobs stored under `<root>/<object key>`, accounted per group (the directory
//! holding a blob, i.e. one shard's blobs), and evicted a whole group at a time, least recently used first,
//! skipping groups a reader holds.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Downloads in progress are written under this suffix and renamed when complete; leftovers from a killed
/// process are deleted when the cache opens.
const PARTIAL_SUFFIX: &str = ".ferry-partial";

#[derive(Debug, Default)]
struct Group {
    bytes: u64,
    last_used: u64,
    holds: usize,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, Group>,
    total: u64,
    tick: u64,
}

/// The cache index; shared with the holds it hands out.
#[derive(Debug)]
pub(crate) struct Cache {
    root: PathBuf,
    capacity: u64,
    state: Mutex<State>,
    partial_counter: AtomicU64,
}

/// Releases a group for eviction when dropped.
pub(crate) struct GroupHold {
    cache: Arc<Cache>,
    group: String,
}

impl Drop for GroupHold {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        if let Some(group) = state.groups.get_mut(&self.group) {
            group.holds = group.holds.saturating_sub(1);
        }
    }
}

impl Cache {
    /// Opens (creating) the cache at `root`, indexing what earlier runs left there; the order of last use
    /// survives restarts through file modification times.
    pub(crate) fn open(root: PathBuf, capacity: u64) -> io::Result<Cache> {
        fs::create_dir_all(&root)?;
        let mut files = Vec::new();
        scan(&root, &root, &mut files)?;
        files.sort_by_key(|(_, _, modified)| *modified);
        let mut state = State::default();
        for (group, bytes, _) in files {
            state.tick += 1;
            let tick = state.tick;
            let entry = state.groups.entry(group).or_default();
            entry.bytes = entry.bytes.saturating_add(bytes);
            entry.last_used = tick;
            state.total = state.total.saturating_add(bytes);
        }
        tracing::debug!(root = %root.display(), bytes = state.total, groups = state.groups.len(), "cache opened");
        Ok(Cache { root, capacity, state: Mutex::new(state), partial_counter: AtomicU64::new(0) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the counters consistent, so a panic elsewhere cannot corrupt them.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The local path of object `key` (already checked to contain no `.`/`..` components).
    pub(crate) fn path(&self, key: &str) -> PathBuf {
        key.split('/').filter(|part| !part.is_empty()).fold(self.root.clone(), |path, part| path.join(part))
    }

    /// A fresh temporary path beside `path` for a download in progress.
    pub(crate) fn partial_path(&self, path: &Path) -> PathBuf {
        let n = self.partial_counter.fetch_add(1, Ordering::Relaxed);
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".{}-{n}{PARTIAL_SUFFIX}", std::process::id()));
        path.with_file_name(name)
    }

    /// Marks `group` as just used (a cache hit or a completed download).
    pub(crate) fn touch(&self, group: &str) {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        state.groups.entry(group.to_owned()).or_default().last_used = tick;
    }

    /// Keeps `group` from eviction until the returned hold is dropped.
    pub(crate) fn hold(self: &Arc<Self>, group: &str) -> GroupHold {
        self.lock().groups.entry(group.to_owned()).or_default().holds += 1;
        GroupHold { cache: Arc::clone(self), group: group.to_owned() }
    }

    /// Makes room for `bytes` more in `group`, evicting other unheld groups least recently used first, and
    /// accounts for them. Fails when the cache cannot fit them even after evicting everything evictable.
    pub(crate) fn reserve(&self, group: &str, bytes: u64) -> io::Result<()> {
        let mut state = self.lock();
        while state.total.saturating_add(bytes) > self.capacity {
            let victim = state
                .groups
                .iter()
                .filter(|(name, g)| g.holds == 0 && g.bytes > 0 && name.as_str() != group)
                .min_by_key(|(_, g)| g.last_used)
                .map(|(name, _)| name.clone());
            let Some(victim) = victim else {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!(
                        "the cache at {} cannot fit {bytes} more bytes: {} of {} bytes are in use by shards being \
                         read; raise the cache size",
                        self.root.display(),
                        state.total,
                        self.capacity
                    ),
                ));
            };
            let freed = self.evict(&victim)?;
            if let Some(g) = state.groups.get_mut(&victim) {
                g.bytes = g.bytes.saturating_sub(freed);
            }
            state.total = state.total.saturating_sub(freed);
            tracing::debug!(group = victim.as_str(), freed, "evicted from the cache");
        }
        state.total = state.total.saturating_add(bytes);
        let entry = state.groups.entry(group.to_owned()).or_default();
        entry.bytes = entry.bytes.saturating_add(bytes);
        Ok(())
    }

    /// Returns a reservation that was not used (the download failed).
    pub(crate) fn release(&self, group: &str, bytes: u64) {
        let mut state = self.lock();
        state.total = state.total.saturating_sub(bytes);
        if let Some(g) = state.groups.get_mut(group) {
            g.bytes = g.bytes.saturating_sub(bytes);
        }
    }

    /// Deletes the blobs directly in `group`'s directory (not its subdirectories, which are other groups)
    /// and returns the bytes freed. Readers that still map a deleted file keep a valid mapping.
    fn evict(&self, group: &str) -> io::Result<u64> {
        let dir = self.path(group);
        let mut freed = 0u64;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            let partial = entry.file_name().to_string_lossy().ends_with(PARTIAL_SUFFIX);
            if meta.is_file() && !partial {
                fs::remove_file(entry.path())?;
                freed = freed.saturating_add(meta.len());
            }
        }
        Ok(freed)
    }

    /// The bytes the cache accounts for.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.lock().total
    }
}

/// The group of object `key`: the directory that holds it.
pub(crate) fn group_of(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Collects (group, size, modified) of every complete blob under `dir`, deleting partial downloads.
fn scan(root: &Path, dir: &Path, out: &mut Vec<(String, u64, std::time::SystemTime)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.is_dir() {
            scan(root, &path, out)?;
        } else if entry.file_name().to_string_lossy().ends_with(PARTIAL_SUFFIX) {
            fs::remove_file(&path)?;
        } else if meta.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let key: Vec<_> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            let key = key.join("/");
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            out.push((group_of(&key).to_owned(), meta.len(), modified));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &Cache, key: &str, bytes: usize) {
        cache.reserve(group_of(key), bytes as u64).unwrap();
        let path = cache.path(key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, vec![7u8; bytes]).unwrap();
        cache.touch(group_of(key));
    }

    #[test]
    fn evicts_whole_unheld_groups_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::open(dir.path().to_owned(), 100).unwrap());
        put(&cache, "r/indices/a/0/__1", 30);
        put(&cache, "r/indices/a/0/__2", 10);
        put(&cache, "r/indices/a/1/__1", 40);
        put(&cache, "r/indices/a/meta-x.dat", 5);
        let hold = cache.hold("r/indices/a/1");
        cache.touch("r/indices/a/0");
        // Needs 30 more: the least recently used unheld group is the index metadata, then shard 0.
        put(&cache, "r/indices/a/2/__1", 30);
        assert!(!cache.path("r/indices/a/meta-x.dat").exists());
        assert!(!cache.path("r/indices/a/0/__1").exists() && !cache.path("r/indices/a/0/__2").exists());
        assert!(cache.path("r/indices/a/1/__1").exists(), "held shards stay");
        assert_eq!(cache.total(), 70);

        // Shard 1 is held and shard 2 is the one growing: nothing else can go.
        let err = cache.reserve("r/indices/a/2", 40).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        drop(hold);
        cache.reserve("r/indices/a/2", 40).unwrap();
        assert!(!cache.path("r/indices/a/1/__1").exists());

        // A reopened cache finds what is on disk and deletes partial downloads.
        fs::write(cache.partial_path(&cache.path("r/indices/a/2/__9")), b"half").unwrap();
        let reopened = Cache::open(dir.path().to_owned(), 100).unwrap();
        assert_eq!(reopened.total(), 30);
        assert_eq!(fs::read_dir(cache.path("r/indices/a/2")).unwrap().count(), 1);
    }
}

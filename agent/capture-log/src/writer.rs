//! The appending side: one writer per log directory, enforced with an exclusive `flock` on a lock file in it
//! (readers take no lock).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{io, Error, Result};
use crate::frame;
use crate::segment::{self, Position};

/// When appended frames are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fsync` at every [`LogWriter::flush`]: nothing flushed is lost to a power cut.
    Always,
    /// `fsync` at a flush when this long has passed since the last one: bounded loss, cheap.
    Interval(Duration),
    /// Leave it to the OS: survives a process crash, not a power cut.
    Never,
}

/// How a log is written. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Start a new segment once the current one reaches this size. Default 64 MiB.
    pub segment_bytes: u64,
    /// Delete the oldest segments while the log is larger than this. Default: no limit.
    pub retention_bytes: Option<u64>,
    /// Delete segments last written longer ago than this. Default: kept forever.
    pub retention_age: Option<Duration>,
    /// Default: `Interval(1 s)`.
    pub fsync: FsyncPolicy,
    /// zstd level for frames. Default 1 (fast; captured JSON still compresses several-fold).
    pub zstd_level: i32,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 64 * 1024 * 1024,
            retention_bytes: None,
            retention_age: None,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            zstd_level: 1,
        }
    }
}

/// File in a log directory on which its writer holds an exclusive `flock` for as long as it is open. It holds
/// the writer's process id, for the error another writer gets.
pub const LOCK_FILE: &str = "writer.lock";

/// Appends records to a log directory.
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    /// Holds the directory's lock; closing it (when the writer is dropped) releases the lock.
    _lock: File,
    config: LogConfig,
    encoder: frame::Encoder,
    file: BufWriter<File>,
    segment: u64,
    len: u64,
    last_sync: Instant,
    dirty: bool,
}

impl LogWriter {
    /// Opens (creating it if needed) the log in `dir` and starts a new segment after any existing ones. Fails
    /// with [`Error::Locked`] while another writer has the log open: two writers would interleave segments.
    pub fn open(dir: &Path, config: LogConfig) -> Result<LogWriter> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let lock = lock(dir)?;
        let next = segment::list(dir)?.last().map_or(0, |last| last.saturating_add(1));
        let (file, len) = create_segment(dir, next)?;
        let mut writer = LogWriter {
            dir: dir.to_path_buf(),
            _lock: lock,
            encoder: frame::Encoder::new(config.zstd_level)?,
            config,
            file,
            segment: next,
            len,
            last_sync: Instant::now(),
            dirty: false,
        };
        writer.apply_retention()?;
        tracing::debug!(dir = %dir.display(), segment = next, "capture log opened");
        Ok(writer)
    }

    /// Appends one record and returns where it went. It is visible to readers after the next
    /// [`flush`](Self::flush).
    pub fn append(&mut self, record: &[u8]) -> Result<Position> {
        let frame = self.encoder.encode(record)?;
        if self.len > segment::HEADER_LEN && self.len.saturating_add(frame.len() as u64) > self.config.segment_bytes {
            self.rotate()?;
        }
        let position = Position { segment: self.segment, offset: self.len };
        self.file.write_all(&frame).map_err(io("write", self.current_path()))?;
        self.len = self.len.saturating_add(frame.len() as u64);
        self.dirty = true;
        Ok(position)
    }

    /// Hands buffered frames to the OS (readers see them) and fsyncs as the policy says.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(io("write", self.current_path()))?;
        let due = match self.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => self.last_sync.elapsed() >= every,
            FsyncPolicy::Never => false,
        };
        if due && self.dirty {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes and fsyncs now, whatever the policy (at shutdown).
    pub fn sync(&mut self) -> Result<()> {
        self.file.flush().map_err(io("write", self.current_path()))?;
        self.file.get_ref().sync_data().map_err(io("fsync", self.current_path()))?;
        self.last_sync = Instant::now();
        self.dirty = false;
        Ok(())
    }

    /// Bytes of all segments of the log, the current one included.
    pub fn total_bytes(&self) -> Result<u64> {
        let mut total = 0u64;
        for s in segment::list(&self.dir)? {
            let path = segment::path(&self.dir, s);
            if s == self.segment {
                total = total.saturating_add(self.len);
            } else if let Ok(meta) = std::fs::metadata(&path) {
                total = total.saturating_add(meta.len());
            }
        }
        Ok(total)
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u64 {
        self.segment
    }

    fn current_path(&self) -> PathBuf {
        segment::path(&self.dir, self.segment)
    }

    fn rotate(&mut self) -> Result<()> {
        self.sync()?;
        let next = self.segment.saturating_add(1);
        let (file, len) = create_segment(&self.dir, next)?;
        self.file = file;
        self.segment = next;
        self.len = len;
        tracing::debug!(dir = %self.dir.display(), segment = next, "capture log rotated");
        self.apply_retention()
    }

    fn apply_retention(&mut self) -> Result<()> {
        if self.config.retention_bytes.is_none() && self.config.retention_age.is_none() {
            return Ok(());
        }
        let mut sizes = Vec::new();
        for s in segment::list(&self.dir)? {
            let path = segment::path(&self.dir, s);
            let meta = std::fs::metadata(&path).map_err(io("stat", &path))?;
            sizes.push((s, meta.len(), meta.modified().unwrap_or_else(|_| SystemTime::now())));
        }
        let mut total: u64 = sizes.iter().map(|(_, len, _)| *len).sum();
        for (s, len, modified) in sizes {
            if s >= self.segment {
                break;
            }
            let too_big = self.config.retention_bytes.is_some_and(|limit| total > limit);
            let too_old =
                self.config.retention_age.is_some_and(|age| modified.elapsed().map(|e| e > age).unwrap_or(false));
            if !too_big && !too_old {
                break;
            }
            let path = segment::path(&self.dir, s);
            std::fs::remove_file(&path).map_err(io("delete", &path))?;
            total = total.saturating_sub(len);
            tracing::debug!(segment = s, bytes = len, too_big, too_old, "capture log segment deleted by retention");
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!(error = %e, "capture log: final fsync failed");
        }
    }
}

/// Takes the exclusive lock of the log in `dir`, without waiting. The lock belongs to the open file: it ends
/// with the process however that ends, so a crash never leaves a stale lock behind.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("create", &path))?;
    // SAFETY: flock takes a descriptor and flags only; `file` keeps the descriptor open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::WouldBlock {
            return Err(Error::Io { op: "lock", path, source: error });
        }
        let mut holder = String::new();
        let holder = file.read_to_string(&mut holder).ok().map(|_| holder.trim().to_string()).filter(|h| !h.is_empty());
        return Err(Error::Locked { dir: dir.to_path_buf(), lock: path, holder });
    }
    file.set_len(0).map_err(io("write", &path))?;
    writeln!(file, "pid {}", std::process::id()).map_err(io("write", &path))?;
    Ok(file)
}

fn create_segment(dir: &Path, segment: u64) -> Result<(BufWriter<File>, u64)> {
    let path = segment::path(dir, segment);
    let mut file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(io("create", &path))?;
    file.write_all(&segment::header()).map_err(io("write", &path))?;
    file.sync_data().map_err(io("fsync", &path))?;
    // The new directory entry must survive a power cut too, or the segment could vanish with its frames.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("fsync", dir))?;
    Ok((BufWriter::with_capacity(256 * 1024, file), segment::HEADER_LEN))
}

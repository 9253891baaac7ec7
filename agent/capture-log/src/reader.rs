//! The reading side: iterates the records of a log in order, skipping torn tails and corrupt frames, and can
//! follow a log that is still being written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{io, Error, Result};
use crate::frame::{self, Decoded};
use crate::segment::{self, Position};

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it was.
    pub position: Position,
    /// The record bytes as appended.
    pub bytes: Vec<u8>,
}

/// What a reader had to skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records returned.
    pub records: u64,
    /// Segments whose end was an incomplete frame followed by a newer segment (a crash mid-append).
    pub torn_tails: u64,
    /// Corrupt regions skipped by resynchronising on the next valid frame.
    pub corrupt_regions: u64,
    /// Bytes skipped for either reason.
    pub skipped_bytes: u64,
}

/// Reads a log's records in order.
#[derive(Debug)]
pub struct LogReader {
    dir: PathBuf,
    segment: Option<u64>,
    file: Option<File>,
    /// Bytes read from the current segment; `buf[start..]` are unconsumed and begin at file offset `offset`.
    /// Consuming moves `start` instead of shifting the buffer, which cost most of a replay's CPU.
    buf: Vec<u8>,
    start: usize,
    offset: u64,
    stats: ReadStats,
}

impl LogReader {
    /// Opens the log in `dir` at its oldest record.
    pub fn open(dir: &Path) -> Result<LogReader> {
        Self::open_at(dir, None)
    }

    /// Opens the log at `position` (a record's position: reading resumes with that record), or at the oldest
    /// record when `None` or when retention deleted that segment.
    pub fn open_at(dir: &Path, position: Option<Position>) -> Result<LogReader> {
        if !dir.is_dir() {
            return Err(Error::Io {
                op: "open",
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a capture log directory"),
            });
        }
        let mut reader = LogReader {
            dir: dir.to_path_buf(),
            segment: None,
            file: None,
            buf: Vec::new(),
            start: 0,
            offset: 0,
            stats: ReadStats::default(),
        };
        if let Some(p) = position {
            if segment::list(dir)?.contains(&p.segment) {
                reader.open_segment(p.segment, p.offset.max(segment::HEADER_LEN))?;
            }
        }
        Ok(reader)
    }

    /// What was read and skipped so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Where the next record would be read from (for resuming), once a segment is open.
    pub fn position(&self) -> Option<Position> {
        self.segment.map(|segment| Position { segment, offset: self.offset })
    }

    /// Bytes at the end of the newest segment that do not (yet) form a complete frame: a frame being written,
    /// or a torn tail when no writer is running.
    pub fn pending_bytes(&self) -> usize {
        self.unread().len()
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// The next record, or `None` at the current end of the log. Calling again later returns records appended
    /// in the meantime.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.segment.is_none() {
                match segment::list(&self.dir)?.first() {
                    Some(&first) => self.open_segment(first, segment::HEADER_LEN)?,
                    None => return Ok(None),
                }
            }
            let mut decoded = frame::decode(self.unread());
            if matches!(decoded, Ok(Decoded::Incomplete { .. })) {
                // Only touch the file when the buffer runs dry: one read serves many frames.
                self.fill()?;
                decoded = frame::decode(self.unread());
            }
            match decoded {
                Ok(Decoded::Frame { record, len }) => {
                    let position = self.position_now();
                    self.consume(len);
                    self.stats.records += 1;
                    return Ok(Some(Record { position, bytes: record }));
                }
                Ok(Decoded::Incomplete { .. }) => {
                    // More bytes may still come, unless a newer segment exists: then this tail is torn.
                    if !self.advance_if_newer(true)? {
                        return Ok(None);
                    }
                }
                Err(e) => match frame::resync(self.unread(), 1) {
                    Some(at) => {
                        tracing::warn!(
                            segment = ?self.segment, offset = self.offset, skipped = at, reason = %e,
                            "capture log: corrupt frame skipped"
                        );
                        self.stats.corrupt_regions += 1;
                        self.stats.skipped_bytes += at as u64;
                        self.consume(at);
                    }
                    None => {
                        if !self.advance_if_newer(false)? {
                            return Ok(None);
                        }
                    }
                },
            }
        }
    }

    fn position_now(&self) -> Position {
        Position { segment: self.segment.unwrap_or_default(), offset: self.offset }
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.unread().len());
        self.start += n;
        self.offset = self.offset.saturating_add(n as u64);
    }

    /// Reads whatever the current segment has gained since the last read.
    fn fill(&mut self) -> Result<()> {
        let path = self.current_path();
        self.buf.drain(..self.start);
        self.start = 0;
        if let Some(file) = self.file.as_mut() {
            file.read_to_end(&mut self.buf).map_err(io("read", &path))?;
        }
        Ok(())
    }

    /// Moves to the next segment if there is one; the rest of the current one is skipped.
    fn advance_if_newer(&mut self, torn: bool) -> Result<bool> {
        let current = self.segment.unwrap_or_default();
        let Some(&next) = segment::list(&self.dir)?.iter().find(|&&s| s > current) else {
            return Ok(false);
        };
        // The writer may have appended between our read and its rotation: read once more before skipping.
        self.fill()?;
        if matches!(frame::decode(self.unread()), Ok(Decoded::Frame { .. })) {
            return Ok(true);
        }
        let unread = self.unread().len();
        if unread > 0 {
            tracing::warn!(
                segment = current,
                offset = self.offset,
                bytes = unread,
                torn,
                "capture log: skipping the unreadable end of a segment"
            );
            self.stats.skipped_bytes += unread as u64;
            if torn {
                self.stats.torn_tails += 1;
            } else {
                self.stats.corrupt_regions += 1;
            }
        }
        self.open_segment(next, segment::HEADER_LEN)?;
        Ok(true)
    }

    fn current_path(&self) -> PathBuf {
        segment::path(&self.dir, self.segment.unwrap_or_default())
    }

    fn open_segment(&mut self, segment: u64, offset: u64) -> Result<()> {
        let path = segment::path(&self.dir, segment);
        let mut file = File::open(&path).map_err(io("open", &path))?;
        let mut header = [0u8; segment::HEADER_LEN as usize];
        // A segment is created with its header synced before any frame, so a short header is corruption.
        file.read_exact(&mut header).map_err(io("read header of", &path))?;
        segment::check_header(&path, &header)?;
        file.seek(SeekFrom::Start(offset)).map_err(io("seek", &path))?;
        self.segment = Some(segment);
        self.file = Some(file);
        self.buf.clear();
        self.start = 0;
        self.offset = offset;
        Ok(())
    }
}

impl Iterator for LogReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        self.next_record().transpose()
    }
}

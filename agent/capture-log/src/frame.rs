//! The frame codec: pure functions over bytes, the unit a fuzzer drives.
//!
//! A frame is, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `FCF1` |
//! | 4 | payload length as stored |
//! | 4 | record length once decompressed |
//! | 1 | codec: 0 stored, 1 zstd |
//! | 3 | zero |
//! | 4 | CRC-32 of the 16 bytes above |
//! | n | payload |
//! | 4 | CRC-32 of the payload |
//!
//! The header checksum means a torn or overwritten length is never trusted to size a read.

/// Frame magic, `FCF1`.
pub const MAGIC: [u8; 4] = *b"FCF1";
/// Bytes before the payload.
pub const HEADER_LEN: usize = 20;
/// Bytes after the payload.
pub const TRAILER_LEN: usize = 4;
/// Largest record (and stored payload) a frame may hold: well above the 1 MiB records the proxy writes.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

const CODEC_STORED: u8 = 0;
const CODEC_ZSTD: u8 = 1;

/// Result of decoding at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, valid frame: the record and the frame's total length.
    Frame {
        /// The decompressed record.
        record: Vec<u8>,
        /// Bytes the frame occupies.
        len: usize,
    },
    /// The buffer ends before the frame does; at least this many bytes in total are needed.
    Incomplete {
        /// Total bytes needed from the frame start (a lower bound while the header is incomplete).
        needed: usize,
    },
}

/// Why the bytes at a position are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct FrameError {
    /// Offset of the problem relative to the frame start.
    pub offset: usize,
    /// What the format requires.
    pub expected: String,
    /// What was there.
    pub found: String,
}

fn fail(offset: usize, expected: impl Into<String>, found: impl Into<String>) -> FrameError {
    FrameError { offset, expected: expected.into(), found: found.into() }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = buf.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// Records shorter than this are stored: zstd's frame overhead leaves nothing to gain on them.
const MIN_COMPRESSED: usize = 128;

/// Encodes frames with one zstd context for all of them: creating a context per frame cost about a third of the
/// capture proxy's CPU on small requests (BENCHMARKS.md, "Capture proxy").
pub struct Encoder {
    compressor: zstd::bulk::Compressor<'static>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder compressing at zstd `level`.
    pub fn new(level: i32) -> Result<Encoder, crate::Error> {
        let compressor = zstd::bulk::Compressor::new(level).map_err(|source| crate::Error::Zstd { level, source })?;
        Ok(Encoder { compressor })
    }

    /// Encodes `record` as a frame, zstd-compressed unless compression does not pay.
    pub fn encode(&mut self, record: &[u8]) -> Result<Vec<u8>, crate::Error> {
        if record.len() > MAX_PAYLOAD {
            return Err(crate::Error::RecordTooLarge { len: record.len(), limit: MAX_PAYLOAD });
        }
        let compressed = if record.len() < MIN_COMPRESSED {
            None
        } else {
            self.compressor.compress(record).ok().filter(|c| c.len() < record.len())
        };
        Ok(frame_bytes(record, compressed.as_deref()))
    }
}

/// Encodes `record` as a frame, zstd-compressed at `level` unless compression does not pay (one-off: writers
/// keep an [`Encoder`]).
pub fn encode(record: &[u8], level: i32) -> Result<Vec<u8>, crate::Error> {
    Encoder::new(level)?.encode(record)
}

fn frame_bytes(record: &[u8], compressed: Option<&[u8]>) -> Vec<u8> {
    let (codec, payload) = match compressed {
        Some(c) => (CODEC_ZSTD, c),
        None => (CODEC_STORED, record),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    // Both lengths are ≤ MAX_PAYLOAD (checked above; compression only shrinks), so they fit in u32.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&[codec, 0, 0, 0]);
    let header_crc = crc32fast::hash(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out
}

/// Decodes the frame at the start of `buf`. Never panics and never allocates more than [`MAX_PAYLOAD`] for
/// any input.
pub fn decode(buf: &[u8]) -> Result<Decoded, FrameError> {
    let magic_len = buf.len().min(4);
    if buf.get(..magic_len) != MAGIC.get(..magic_len) {
        return Err(fail(0, "frame magic FCF1", format!("{:02x?}", buf.get(..magic_len).unwrap_or_default())));
    }
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(Decoded::Incomplete { needed: HEADER_LEN });
    };
    let stored_crc = u32_at(header, 16);
    let actual_crc = crc32fast::hash(header.get(..16).unwrap_or_default());
    // Fuzz builds (`cfg(fuzzing)`) skip both checksum comparisons, so mutated inputs reach what lies behind them.
    if stored_crc != actual_crc && !cfg!(fuzzing) {
        return Err(fail(16, format!("header CRC {stored_crc:08x}"), format!("{actual_crc:08x}")));
    }
    let payload_len = u32_at(header, 4) as usize;
    let record_len = u32_at(header, 8) as usize;
    let codec = header.get(12).copied().unwrap_or(u8::MAX);
    if payload_len > MAX_PAYLOAD || record_len > MAX_PAYLOAD {
        return Err(fail(4, format!("lengths ≤ {MAX_PAYLOAD}"), format!("{payload_len} stored, {record_len} raw")));
    }
    let total = HEADER_LEN + payload_len + TRAILER_LEN;
    let Some(frame) = buf.get(..total) else {
        return Ok(Decoded::Incomplete { needed: total });
    };
    let payload = frame.get(HEADER_LEN..HEADER_LEN + payload_len).unwrap_or_default();
    let stored_crc = u32_at(frame, HEADER_LEN + payload_len);
    let actual_crc = crc32fast::hash(payload);
    if stored_crc != actual_crc && !cfg!(fuzzing) {
        return Err(fail(
            HEADER_LEN + payload_len,
            format!("payload CRC {stored_crc:08x}"),
            format!("{actual_crc:08x}"),
        ));
    }
    let record = match codec {
        CODEC_STORED if payload_len == record_len => payload.to_vec(),
        CODEC_ZSTD => {
            let record = zstd::bulk::decompress(payload, record_len)
                .map_err(|e| fail(HEADER_LEN, "a zstd payload", e.to_string()))?;
            if record.len() != record_len {
                return Err(fail(8, format!("{record_len} decompressed bytes"), record.len().to_string()));
            }
            record
        }
        other => return Err(fail(12, "codec 0 with equal lengths, or codec 1", format!("codec {other}"))),
    };
    Ok(Decoded::Frame { record, len: total })
}

/// Finds the next offset after `from` where a valid frame starts (used to resynchronise after corruption).
pub fn resync(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = buf.get(at..)?;
        let found = rest.windows(4).position(|w| w == MAGIC)?;
        at += found;
        if let Ok(Decoded::Frame { .. }) = decode(buf.get(at..).unwrap_or_default()) {
            return Some(at);
        }
        at += 1;
    }
}

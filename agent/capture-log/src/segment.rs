//! Segment files: naming, the header, listing.

use std::path::{Path, PathBuf};

use crate::error::{io, Error, Result};

/// Segment header magic.
pub(crate) const MAGIC: [u8; 8] = *b"FERRYCAP";
/// The segment format version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
/// Header: magic, version (u32 LE), four zero bytes.
pub(crate) const HEADER_LEN: u64 = 16;
const EXTENSION: &str = "fcl";

/// Where a record lives: a segment's sequence number and the frame's byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment's sequence number.
    pub segment: u64,
    /// Byte offset of the frame within the segment.
    pub offset: u64,
}

pub(crate) fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Checks a segment header (`bytes` is at least [`HEADER_LEN`] long).
pub(crate) fn check_header(path: &Path, bytes: &[u8]) -> Result<()> {
    let magic = bytes.get(..8).unwrap_or_default();
    if magic != MAGIC {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            expected: "segment magic FERRYCAP".into(),
            found: format!("{magic:02x?}"),
        });
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(bytes.get(8..12).unwrap_or(&[0; 4]));
    let version = u32::from_le_bytes(v);
    if version != VERSION {
        return Err(Error::Unsupported { path: path.to_path_buf(), found: version, supported: VERSION });
    }
    Ok(())
}

pub(crate) fn path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.{EXTENSION}"))
}

/// The segments in `dir`, oldest first. Files that are not segments are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".fcl") {
            if stem.len() == 20 {
                if let Ok(n) = stem.parse::<u64>() {
                    segments.push(n);
                }
            }
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

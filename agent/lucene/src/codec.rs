//! `CodecUtil` headers and footers: the framing every Lucene file (and every Elasticsearch snapshot `.dat`
//! blob) shares. Checking them first means a body decoder never runs on bytes of the wrong kind or bytes
//! that were damaged in transit.

use crate::{Error, FileBytes, Result};

/// Magic number that starts every codec header.
pub const CODEC_MAGIC: u32 = 0x3fd7_6c17;
/// Magic number that starts every codec footer (the bitwise complement of [`CODEC_MAGIC`]).
pub const FOOTER_MAGIC: u32 = !CODEC_MAGIC;
/// Length of a codec footer: magic, algorithm id, checksum.
pub const FOOTER_LEN: usize = 16;

/// The checksum recorded in a file's footer, after checking the footer's framing. Does not hash the body;
/// see [`verify_footer`].
pub fn footer_checksum(file: &FileBytes) -> Result<u64> {
    let bytes: &[u8] = file;
    if bytes.len() < FOOTER_LEN {
        return Err(Error::Corrupt {
            file: file.name().to_owned(),
            offset: 0,
            expected: format!("at least {FOOTER_LEN} bytes for a codec footer"),
            found: format!("{} bytes", bytes.len()),
        });
    }
    let start = bytes.len() - FOOTER_LEN;
    let magic = u32::from_be_bytes(bytes[start..start + 4].try_into().expect("4 bytes"));
    if magic != FOOTER_MAGIC {
        return Err(Error::Corrupt {
            file: file.name().to_owned(),
            offset: start as u64,
            expected: format!("footer magic {FOOTER_MAGIC:#010x}"),
            found: format!("{magic:#010x}"),
        });
    }
    let algorithm = u32::from_be_bytes(bytes[start + 4..start + 8].try_into().expect("4 bytes"));
    if algorithm != 0 {
        return Err(Error::Corrupt {
            file: file.name().to_owned(),
            offset: start as u64 + 4,
            expected: "checksum algorithm 0 (CRC32)".to_owned(),
            found: algorithm.to_string(),
        });
    }
    let checksum = u64::from_be_bytes(bytes[start + 8..].try_into().expect("8 bytes"));
    if checksum >> 32 != 0 {
        return Err(Error::Corrupt {
            file: file.name().to_owned(),
            offset: start as u64 + 8,
            expected: "a CRC32 (upper 32 bits zero)".to_owned(),
            found: format!("{checksum:#018x}"),
        });
    }
    Ok(checksum)
}

/// Checks a file's footer and that the CRC32 of everything before the checksum matches it; returns the
/// checksum. Elasticsearch snapshots record this same value for every file they store.
///
/// Fuzz builds (`cfg(fuzzing)`) skip the comparison so that mutated inputs reach the decoders behind it.
pub fn verify_footer(file: &FileBytes) -> Result<u64> {
    let stored = footer_checksum(file)?;
    let bytes: &[u8] = file;
    let actual = u64::from(crc32fast::hash(&bytes[..bytes.len() - 8]));
    if actual != stored && !cfg!(fuzzing) {
        return Err(Error::Checksum { file: file.name().to_owned(), stored, actual });
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_footer(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&FOOTER_MAGIC.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&u64::from(crc).to_be_bytes());
        out
    }

    #[test]
    fn verifies_a_good_footer_and_rejects_a_flipped_byte() {
        let good = with_footer(b"hello lucene");
        let crc = verify_footer(&FileBytes::from_vec("f", good.clone())).unwrap();
        assert_eq!(crc, u64::from(crc32fast::hash(&good[..good.len() - 8])));

        let mut bad = good;
        bad[1] ^= 0x40;
        let err = verify_footer(&FileBytes::from_vec("f", bad)).unwrap_err();
        assert!(matches!(err, Error::Checksum { .. }), "{err}");
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let err = verify_footer(&FileBytes::from_vec("short", vec![1, 2, 3])).unwrap_err();
        assert!(err.to_string().contains("short"), "{err}");
    }
}

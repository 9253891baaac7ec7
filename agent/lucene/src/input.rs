//! A bounds-checked cursor over a file's bytes with Lucene's primitive encodings. Every read either returns a
//! value or an [`Error::Corrupt`] carrying the file name and the offset, so decoders never index out of range
//! and never need their own length checks.

use crate::codec::{CODEC_MAGIC, FOOTER_LEN};
use crate::{Error, Result};

/// Byte order of fixed-width integers in a file body: Lucene ≤ 8 writes big-endian, Lucene ≥ 9 little-endian.
/// Codec headers, footers and `segments_N` are big-endian in every version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Lucene 8 and earlier.
    Big,
    /// Lucene 9 and later.
    Little,
}

/// A cursor over `bytes`, which are the contents of `file` starting at `base` (non-zero for a slice of a
/// larger file, so offsets in errors are file offsets).
#[derive(Clone)]
pub struct DataInput<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
    base: u64,
    endian: Endian,
}

impl<'a> DataInput<'a> {
    /// A big-endian cursor at the start of `bytes`.
    pub fn new(file: &'a str, bytes: &'a [u8]) -> Self {
        DataInput { file, bytes, pos: 0, base: 0, endian: Endian::Big }
    }

    /// A cursor over `bytes`, which start at offset `base` of `file`.
    pub fn with_base(file: &'a str, bytes: &'a [u8], base: u64) -> Self {
        DataInput { file, bytes, pos: 0, base, endian: Endian::Big }
    }

    /// Switches the byte order used by `read_i16`/`read_i32`/`read_i64`.
    pub fn set_endian(&mut self, endian: Endian) {
        self.endian = endian;
    }

    /// The byte order in use.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The file name used in errors.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// Position relative to the start of `bytes`.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Position as a file offset, for error messages.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The whole underlying slice.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Moves to `pos` (relative to the start of `bytes`).
    pub fn seek(&mut self, pos: usize) -> Result<()> {
        if pos > self.bytes.len() {
            return Err(self.corrupt(format!("a position within {} bytes", self.bytes.len()), format!("seek to {pos}")));
        }
        self.pos = pos;
        Ok(())
    }

    /// An error at the current position.
    pub fn corrupt(&self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        self.corrupt_at(self.offset(), expected, found)
    }

    /// An error at a given file offset.
    pub fn corrupt_at(&self, offset: u64, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Corrupt { file: self.file.to_owned(), offset, expected: expected.into(), found: found.into() }
    }

    /// An "unsupported" error for this file.
    pub fn unsupported(&self, what: impl Into<String>, found: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Unsupported { file: self.file.to_owned(), what: what.into(), found: found.into(), hint: hint.into() }
    }

    /// The next `n` bytes.
    #[inline]
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            _ => Err(self.corrupt(format!("{n} more bytes"), format!("{} bytes before the end", self.remaining()))),
        }
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.read_bytes(n).map(|_| ())
    }

    #[inline]
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.read_bytes(N)?;
        Ok(b.try_into().expect("read_bytes returned N bytes"))
    }

    /// One byte.
    #[inline]
    pub fn read_u8(&mut self) -> Result<u8> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.corrupt("1 more byte", "end of data")),
        }
    }

    /// A 16-bit integer in the body byte order.
    pub fn read_i16(&mut self) -> Result<i16> {
        let a = self.read_array::<2>()?;
        Ok(match self.endian {
            Endian::Big => i16::from_be_bytes(a),
            Endian::Little => i16::from_le_bytes(a),
        })
    }

    /// A 32-bit integer in the body byte order.
    pub fn read_i32(&mut self) -> Result<i32> {
        let a = self.read_array::<4>()?;
        Ok(match self.endian {
            Endian::Big => i32::from_be_bytes(a),
            Endian::Little => i32::from_le_bytes(a),
        })
    }

    /// A 64-bit integer in the body byte order.
    pub fn read_i64(&mut self) -> Result<i64> {
        let a = self.read_array::<8>()?;
        Ok(match self.endian {
            Endian::Big => i64::from_be_bytes(a),
            Endian::Little => i64::from_le_bytes(a),
        })
    }

    /// A big-endian 32-bit integer, whatever the body order (codec headers, `segments_N`).
    pub fn read_be_i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.read_array::<4>()?))
    }

    /// A big-endian 64-bit integer, whatever the body order.
    pub fn read_be_i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.read_array::<8>()?))
    }

    /// A variable-length int (7 bits a byte, low group first), at most 5 bytes.
    #[inline]
    pub fn read_vint(&mut self) -> Result<u32> {
        let start = self.offset();
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.read_u8()?;
            value |= u32::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                if shift == 28 && b & 0x70 != 0 {
                    return Err(self.corrupt_at(start, "a VInt that fits 32 bits", format!("last byte {b:#04x}")));
                }
                return Ok(value);
            }
        }
        Err(self.corrupt_at(start, "a VInt of at most 5 bytes", "a longer run of continuation bits"))
    }

    /// A variable-length long, at most 9 bytes (Lucene's VLong is non-negative; 10 bytes are accepted for
    /// the negative values some versions write).
    #[inline]
    pub fn read_vlong(&mut self) -> Result<u64> {
        let start = self.offset();
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.read_u8()?;
            value |= u64::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt_at(start, "a VLong of at most 10 bytes", "a longer run of continuation bits"))
    }

    /// A VInt that must fit a non-negative `i32`, as a `usize` (lengths and counts).
    pub fn read_vint_len(&mut self, what: &str) -> Result<usize> {
        let start = self.offset();
        let v = self.read_vint()?;
        if v > i32::MAX as u32 {
            return Err(self.corrupt_at(start, format!("a non-negative {what}"), format!("{}", v as i32)));
        }
        Ok(v as usize)
    }

    /// A zig-zag encoded int.
    pub fn read_zint(&mut self) -> Result<i32> {
        let v = self.read_vint()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// A zig-zag encoded long.
    pub fn read_zlong(&mut self) -> Result<i64> {
        let v = self.read_vlong()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A string: VInt byte length, then UTF-8.
    pub fn read_string(&mut self) -> Result<String> {
        let start = self.offset();
        let len = self.read_vint_len("string length")?;
        let bytes = self.read_bytes(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.corrupt_at(start, "a UTF-8 string", format!("{len} bytes that are not UTF-8")))
    }

    /// A set of strings: VInt count, then the strings.
    pub fn read_string_set(&mut self) -> Result<Vec<String>> {
        let n = self.read_vint_len("set size")?;
        let mut out = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            out.push(self.read_string()?);
        }
        Ok(out)
    }

    /// A string map: VInt count, then key/value pairs, in file order.
    pub fn read_string_map(&mut self) -> Result<Vec<(String, String)>> {
        let n = self.read_vint_len("map size")?;
        let mut out = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            let k = self.read_string()?;
            let v = self.read_string()?;
            out.push((k, v));
        }
        Ok(out)
    }

    /// Checks a `CodecUtil` header for `codec` with a version in `min..=max`; returns the version.
    pub fn check_header(&mut self, codec: &str, min: i32, max: i32) -> Result<i32> {
        let name_at = self.offset() + 4;
        let name = self.read_header_name()?;
        if name != codec {
            return Err(self.corrupt_at(name_at, format!("codec {codec:?}"), format!("{name:?}")));
        }
        self.check_version(codec, min, max)
    }

    /// Reads a header's magic and codec name without checking the name; for files whose codec name selects
    /// the decoder (stored fields). Leaves the cursor at the version.
    pub fn read_header_name(&mut self) -> Result<String> {
        let start = self.offset();
        let magic = self.read_be_i32()? as u32;
        if magic != CODEC_MAGIC {
            return Err(self.corrupt_at(
                start,
                format!("codec header magic {CODEC_MAGIC:#010x}"),
                format!("{magic:#010x}"),
            ));
        }
        self.read_string()
    }

    /// Reads a header version and checks it is in `min..=max`.
    pub fn check_version(&mut self, codec: &str, min: i32, max: i32) -> Result<i32> {
        let at = self.offset();
        let version = self.read_be_i32()?;
        if version < min || version > max {
            return Err(Error::Unsupported {
                file: self.file.to_owned(),
                what: format!("{codec} format version (at byte {at})"),
                found: version.to_string(),
                hint: format!("this reader supports versions {min} to {max}"),
            });
        }
        Ok(version)
    }

    /// Checks the id and suffix that follow a header in an index header.
    pub fn check_id_and_suffix(&mut self, id: &[u8; 16], suffix: &str) -> Result<()> {
        let at = self.offset();
        let found = self.read_bytes(16)?;
        if found != id {
            return Err(self.corrupt_at(at, format!("segment id {}", hex(id)), hex(found)));
        }
        let at = self.offset();
        let len = self.read_u8()? as usize;
        let found = self.read_bytes(len)?;
        if found != suffix.as_bytes() {
            return Err(self.corrupt_at(
                at,
                format!("segment suffix {suffix:?}"),
                format!("{:?}", String::from_utf8_lossy(found)),
            ));
        }
        Ok(())
    }

    /// Checks a `CodecUtil` index header (header + segment id + suffix); returns the version.
    pub fn check_index_header(&mut self, codec: &str, min: i32, max: i32, id: &[u8; 16], suffix: &str) -> Result<i32> {
        let version = self.check_header(codec, min, max)?;
        self.check_id_and_suffix(id, suffix)?;
        Ok(version)
    }

    /// Fails unless the cursor stands exactly at the start of the footer.
    pub fn expect_footer_next(&self) -> Result<()> {
        let footer_at = self.bytes.len().checked_sub(FOOTER_LEN);
        if footer_at != Some(self.pos) {
            return Err(self.corrupt(
                "the codec footer to follow the body",
                format!("{} bytes before the end of the file", self.remaining()),
            ));
        }
        Ok(())
    }
}

/// Lower-case hex, for ids in messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vints_round_trip_and_overlong_ones_fail() {
        let mut input = DataInput::new("t", &[0x7f, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(input.read_vint().unwrap(), 127);
        assert_eq!(input.read_vint().unwrap(), 128);
        assert_eq!(input.read_vint().unwrap(), u32::MAX);
        let mut bad = DataInput::new("t", &[0xff; 6]);
        assert!(bad.read_vint().is_err());
        let mut short = DataInput::new("t", &[0x80]);
        assert!(short.read_vint().unwrap_err().to_string().contains("t: corrupt at byte 1"));
    }

    #[test]
    fn zigzag_decodes_negative_values() {
        let mut input = DataInput::new("t", &[0x01, 0x02, 0x03]);
        assert_eq!(input.read_zint().unwrap(), -1);
        assert_eq!(input.read_zint().unwrap(), 1);
        assert_eq!(input.read_zlong().unwrap(), -2);
    }

    #[test]
    fn huge_length_prefix_is_an_error() {
        let mut input = DataInput::new("t", &[0xff, 0xff, 0xff, 0xff, 0x07, b'a']);
        assert!(input.read_string().is_err());
    }
}

//! The four chunk compressions of Lucene 6–8 stored fields. Each reads one compressed piece whose
//! decompressed length the caller knows (from the chunk header), either into an output slice or just past it
//! when no document of the chunk is wanted.

use flate2::{Decompress, FlushDecompress, Status};

use crate::input::DataInput;
use crate::Result;

/// How chunks are compressed, chosen from the `.fdt` codec name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// LZ4 block format with no length prefix or end marker (`CompressionMode.FAST`, `FAST_DECOMPRESSION`).
    Lz4,
    /// VInt compressed length, then raw DEFLATE (`CompressionMode.HIGH_COMPRESSION`).
    Deflate,
    /// A dictionary and up to ten sub-blocks, each LZ4 with the dictionary as a prefix (Lucene 8.7+ BEST_SPEED).
    Lz4WithPresetDict,
    /// A dictionary and sub-blocks, each raw DEFLATE with the dictionary preset (Lucene 8.7+ BEST_COMPRESSION).
    DeflateWithPresetDict,
}

/// Reusable state for decompressing many pieces: the inflater and the sub-block length table.
pub(super) struct Decoder {
    compression: Compression,
    inflater: Option<Decompress>,
    block_lengths: Vec<usize>,
}

impl Decoder {
    pub(super) fn new(compression: Compression) -> Self {
        let inflater = match compression {
            Compression::Deflate | Compression::DeflateWithPresetDict => Some(Decompress::new(false)),
            Compression::Lz4 | Compression::Lz4WithPresetDict => None,
        };
        Decoder { compression, inflater, block_lengths: Vec::new() }
    }

    /// Decompresses the piece at the cursor into exactly `out` and leaves the cursor after it.
    pub(super) fn decompress(&mut self, input: &mut DataInput<'_>, out: &mut [u8]) -> Result<()> {
        match self.compression {
            Compression::Lz4 => {
                let len = lz4_compressed_len(input, out.len())?;
                lz4_block(input, len, out, &[])
            }
            Compression::Deflate => {
                let len = input.read_vint_len("compressed length")?;
                inflate(self.inflater_mut(), input, len, out, &[])
            }
            Compression::Lz4WithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out.len(), true)?;
                let (dict, rest) = out.split_at_mut(dict_len);
                lz4_block(input, self.block_lengths.first().copied().unwrap_or(0), dict, &[])?;
                for (chunk, &len) in rest.chunks_mut(block_len.max(1)).zip(self.block_lengths.iter().skip(1)) {
                    lz4_block(input, len, chunk, dict)?;
                }
                Ok(())
            }
            Compression::DeflateWithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out.len(), false)?;
                let (dict, rest) = out.split_at_mut(dict_len);
                let inflater = self.inflater_mut();
                let len = input.read_vint_len("compressed dictionary length")?;
                inflate(inflater, input, len, dict, &[])?;
                for chunk in rest.chunks_mut(block_len.max(1)) {
                    let len = input.read_vint_len("compressed block length")?;
                    inflate(inflater, input, len, chunk, dict)?;
                }
                Ok(())
            }
        }
    }

    /// Moves the cursor past the piece at the cursor without decompressing it (for plain LZ4 this still walks
    /// the sequence headers, since LZ4 records no compressed length).
    pub(super) fn skip(&mut self, input: &mut DataInput<'_>, out_len: usize) -> Result<()> {
        match self.compression {
            Compression::Lz4 => {
                let len = lz4_compressed_len(input, out_len)?;
                input.skip(len)
            }
            Compression::Deflate => {
                let len = input.read_vint_len("compressed length")?;
                input.skip(len)
            }
            Compression::Lz4WithPresetDict => {
                self.read_dict_header(input, out_len, true)?;
                let total = self.block_lengths.iter().try_fold(0usize, |acc, &l| acc.checked_add(l));
                input.skip(total.unwrap_or(usize::MAX))
            }
            Compression::DeflateWithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out_len, false)?;
                let blocks = block_count(out_len.saturating_sub(dict_len), block_len);
                for _ in 0..=blocks {
                    let len = input.read_vint_len("compressed block length")?;
                    input.skip(len)?;
                }
                Ok(())
            }
        }
    }

    fn inflater_mut(&mut self) -> &mut Decompress {
        self.inflater.get_or_insert_with(|| Decompress::new(false))
    }

    /// Reads `VInt dictLen, VInt blockLen` and checks them against the piece length; for LZ4 also reads the
    /// compressed lengths of the dictionary and every sub-block into `block_lengths`. Returns
    /// `(dict_len, block_len)` with `dict_len <= total`.
    fn read_dict_header(&mut self, input: &mut DataInput<'_>, total: usize, lz4: bool) -> Result<(usize, usize)> {
        let at = input.offset();
        let dict_len = input.read_vint_len("dictionary length")?;
        let block_len = input.read_vint_len("block length")?;
        let rest = total.checked_sub(dict_len).ok_or_else(|| {
            input.corrupt_at(at, format!("a dictionary of at most {total} bytes"), format!("{dict_len} bytes"))
        })?;
        if rest > 0 && block_len == 0 {
            return Err(input.corrupt_at(at, "a non-zero block length", format!("0 with {rest} bytes to decode")));
        }
        if lz4 {
            self.block_lengths.clear();
            for _ in 0..=block_count(rest, block_len) {
                self.block_lengths.push(input.read_vint_len("compressed block length")?);
            }
        }
        Ok((dict_len, block_len))
    }
}

fn block_count(len: usize, block_len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len.div_ceil(block_len.max(1))
    }
}

/// The number of input bytes the LZ4 block at the cursor takes to produce `out_len` bytes, found by walking
/// the sequence headers the way Lucene's decoder does (it stops as soon as the output is full, so the block
/// carries no end marker). Does not move the cursor.
fn lz4_compressed_len(input: &DataInput<'_>, out_len: usize) -> Result<usize> {
    let bytes = input.bytes().get(input.position()..).unwrap_or_default();
    let truncated = || input.corrupt("an LZ4 block that produces the chunk's length", "the end of the data first");
    let mut pos = 0usize;
    let mut produced = 0usize;
    loop {
        let token = *bytes.get(pos).ok_or_else(truncated)?;
        pos += 1;
        let mut literals = usize::from(token >> 4);
        if literals == 15 {
            literals = read_lz4_length(bytes, &mut pos, literals).ok_or_else(truncated)?;
        }
        pos = pos.checked_add(literals).filter(|&p| p <= bytes.len()).ok_or_else(truncated)?;
        produced = produced.saturating_add(literals);
        if produced >= out_len {
            return Ok(pos);
        }
        pos = pos.checked_add(2).filter(|&p| p <= bytes.len()).ok_or_else(truncated)?;
        let mut match_len = usize::from(token & 0x0f);
        if match_len == 15 {
            match_len = read_lz4_length(bytes, &mut pos, match_len).ok_or_else(truncated)?;
        }
        produced = produced.saturating_add(match_len).saturating_add(4);
        if produced >= out_len {
            return Ok(pos);
        }
    }
}

/// Adds LZ4's 255-run length extension bytes to `base`; `None` when the data ends inside the run.
#[inline]
fn read_lz4_length(bytes: &[u8], pos: &mut usize, base: usize) -> Option<usize> {
    let mut len = base;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        len = len.saturating_add(usize::from(b));
        if b != 0xff {
            return Some(len);
        }
    }
}

/// Decodes `len` bytes at the cursor as one LZ4 block that must fill `out` exactly, with `dict` logically
/// preceding `out` for back-references.
fn lz4_block(input: &mut DataInput<'_>, len: usize, out: &mut [u8], dict: &[u8]) -> Result<()> {
    let at = input.offset();
    let compressed = input.read_bytes(len)?;
    let result = if dict.is_empty() {
        lz4_flex::block::decompress_into(compressed, out)
    } else {
        lz4_flex::block::decompress_into_with_dict(compressed, out, dict)
    };
    match result {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(input.corrupt_at(at, format!("an LZ4 block of {} bytes", out.len()), format!("{n} bytes"))),
        Err(e) => Err(input.corrupt_at(at, format!("a valid LZ4 block of {} bytes", out.len()), e.to_string())),
    }
}

/// Inflates `len` bytes at the cursor (raw DEFLATE, optionally with a preset dictionary) into exactly `out`.
fn inflate(
    inflater: &mut Decompress,
    input: &mut DataInput<'_>,
    len: usize,
    out: &mut [u8],
    dict: &[u8],
) -> Result<()> {
    let at = input.offset();
    let compressed = input.read_bytes(len)?;
    if len == 0 {
        // Lucene writes a zero length for an empty piece instead of an empty DEFLATE stream.
        return if out.is_empty() {
            Ok(())
        } else {
            Err(input.corrupt_at(at, format!("compressed data for {} bytes", out.len()), "an empty piece"))
        };
    }
    inflater.reset(false);
    if !dict.is_empty() {
        inflater
            .set_dictionary(dict)
            .map_err(|e| input.corrupt_at(at, "a DEFLATE stream that accepts a preset dictionary", e.to_string()))?;
    }
    let status = inflater
        .decompress(compressed, out, FlushDecompress::Finish)
        .map_err(|e| input.corrupt_at(at, "a valid raw DEFLATE stream", e.to_string()))?;
    let produced = inflater.total_out();
    if status != Status::StreamEnd || produced != out.len() as u64 {
        return Err(input.corrupt_at(
            at,
            format!("a DEFLATE stream of exactly {} bytes", out.len()),
            format!("{produced} bytes, status {status:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate_raw(data: &[u8], dict: &[u8]) -> Vec<u8> {
        let mut c = flate2::Compress::new(flate2::Compression::new(6), false);
        if !dict.is_empty() {
            c.set_dictionary(dict).unwrap();
        }
        let mut out = Vec::with_capacity(data.len() + 64);
        c.compress_vec(data, &mut out, flate2::FlushCompress::Finish).unwrap();
        out
    }

    fn vint(out: &mut Vec<u8>, mut v: usize) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"lucene stored fields "[i % 21] ^ (i / 97) as u8).collect()
    }

    fn decode(c: Compression, bytes: &[u8], len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        let mut input = DataInput::new("t", bytes);
        Decoder::new(c).decompress(&mut input, &mut out)?;
        assert_eq!(input.remaining(), 1, "one trailing sentinel byte left");
        let mut skip = DataInput::new("t", bytes);
        Decoder::new(c).skip(&mut skip, len)?;
        assert_eq!(skip.position(), input.position(), "skip and decode agree on the length");
        Ok(out)
    }

    #[test]
    fn plain_lz4_stops_at_the_output_length() {
        let data = sample(3000);
        let mut bytes = lz4_flex::block::compress(&data);
        bytes.push(0xaa);
        assert_eq!(decode(Compression::Lz4, &bytes, data.len()).unwrap(), data);
        // Lucene's encoding of an empty piece: a single zero token.
        assert_eq!(decode(Compression::Lz4, &[0, 0xaa], 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn corrupt_lz4_is_an_error_not_a_panic() {
        let data = sample(3000);
        let bytes = lz4_flex::block::compress(&data);
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            let mut out = vec![0; data.len()];
            assert!(Decoder::new(Compression::Lz4)
                .decompress(&mut DataInput::new("t", &bytes[..cut]), &mut out)
                .is_err());
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0xff;
            let mut out = vec![0; data.len()];
            let _ = Decoder::new(Compression::Lz4).decompress(&mut DataInput::new("t", &bad), &mut out);
        }
        // A back-reference before the start of the output.
        let mut out = vec![0; 8];
        let err =
            Decoder::new(Compression::Lz4).decompress(&mut DataInput::new("t", &[0x14, b'a', 9, 0, 0x00]), &mut out);
        assert!(err.is_err());
    }

    #[test]
    fn plain_deflate_round_trips_and_rejects_damage() {
        let data = sample(5000);
        let c = deflate_raw(&data, &[]);
        let mut bytes = Vec::new();
        vint(&mut bytes, c.len());
        bytes.extend_from_slice(&c);
        bytes.push(0xaa);
        assert_eq!(decode(Compression::Deflate, &bytes, data.len()).unwrap(), data);
        let err = decode(Compression::Deflate, &bytes, data.len() + 1).unwrap_err();
        assert!(err.to_string().contains("exactly 5001 bytes"), "{err}");
        let mut bad = bytes.clone();
        let n = bad.len() / 2;
        bad[n] ^= 0x55;
        assert!(decode(Compression::Deflate, &bad, data.len()).is_err());
    }

    fn lz4_dict_piece(data: &[u8], dict_len: usize, block_len: usize) -> Vec<u8> {
        let dict = &data[..dict_len];
        let mut pieces = vec![lz4_flex::block::compress(dict)];
        for block in data[dict_len..].chunks(block_len) {
            pieces.push(lz4_flex::block::compress_with_dict(block, dict));
        }
        let mut out = Vec::new();
        vint(&mut out, dict_len);
        vint(&mut out, block_len);
        for p in &pieces {
            vint(&mut out, p.len());
        }
        for p in &pieces {
            out.extend_from_slice(p);
        }
        out.push(0xaa);
        out
    }

    #[test]
    fn lz4_with_preset_dict_round_trips() {
        let data = sample(10_000);
        let bytes = lz4_dict_piece(&data, 500, 950);
        assert_eq!(decode(Compression::Lz4WithPresetDict, &bytes, data.len()).unwrap(), data);
        let mut bad = bytes.clone();
        bad[0] = 0x7f; // dictionary larger than claimed block lengths allow
        assert!(decode(Compression::Lz4WithPresetDict, &bad, data.len()).is_err());
        assert!(decode(Compression::Lz4WithPresetDict, &bytes[..bytes.len() / 2], data.len()).is_err());
    }

    #[test]
    fn deflate_with_preset_dict_round_trips() {
        let data = sample(10_000);
        let (dict_len, block_len) = (500, 950);
        let dict = &data[..dict_len];
        let mut bytes = Vec::new();
        vint(&mut bytes, dict_len);
        vint(&mut bytes, block_len);
        let d = deflate_raw(dict, &[]);
        vint(&mut bytes, d.len());
        bytes.extend_from_slice(&d);
        for block in data[dict_len..].chunks(block_len) {
            let c = deflate_raw(block, dict);
            vint(&mut bytes, c.len());
            bytes.extend_from_slice(&c);
        }
        bytes.push(0xaa);
        assert_eq!(decode(Compression::DeflateWithPresetDict, &bytes, data.len()).unwrap(), data);
        // Empty dictionary is written as a zero length.
        let mut empty = Vec::new();
        vint(&mut empty, 0);
        vint(&mut empty, 0);
        vint(&mut empty, 0);
        empty.push(0xaa);
        assert_eq!(decode(Compression::DeflateWithPresetDict, &empty, 0).unwrap(), Vec::<u8>::new());
        let truncated = &bytes[..bytes.len() - 20];
        assert!(decode(Compression::DeflateWithPresetDict, truncated, data.len()).is_err());
    }
}

//! The chunk compressions of stored fields: Lucene's four (plain LZ4 and DEFLATE up to 8.6, and their
//! preset-dictionary forms from 8.7 on, also used by Lucene 9+), Elasticsearch 8.14+'s zstd and OpenSearch
//! custom-codecs' two zstd modes. Each reads one compressed piece whose
//! decompressed length the caller knows (from the chunk header), either into an output slice or just past it
//! when no document of the chunk is wanted.

use isal_sys::igzip_lib as isal;
use zstd::zstd_safe::DCtx;

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
    /// VInt compressed length, then one zstd frame; nothing at all for an empty piece (Elasticsearch
    /// `Zstd814StoredFieldsFormat`, both modes).
    Zstd,
    /// A dictionary and up to ten sub-blocks, each a length-prefixed zstd frame, the sub-blocks compressed
    /// with the dictionary's raw content (OpenSearch custom-codecs `ZstdCompressionMode`, codec `zstd`).
    ZstdWithPresetDict,
    /// VInt block length, then up to ten length-prefixed zstd frames (OpenSearch custom-codecs
    /// `ZstdNoDictCompressionMode`, codec `zstd_no_dict`).
    ZstdBlocks,
}

impl Compression {
    /// An upper bound of decompressed bytes per compressed byte: DEFLATE's limit is about 1032:1 (LZ4's
    /// 255:1), while zstd can encode a 128 KiB run as a 4-byte RLE block.
    pub fn max_expansion(self) -> usize {
        match self {
            Compression::Lz4
            | Compression::Deflate
            | Compression::Lz4WithPresetDict
            | Compression::DeflateWithPresetDict => 1100,
            Compression::Zstd | Compression::ZstdWithPresetDict | Compression::ZstdBlocks => 1 << 15,
        }
    }
}

/// Reusable state for decompressing many pieces: the inflater or zstd context, and the sub-block length table.
pub(super) struct Decoder {
    compression: Compression,
    inflater: Option<Inflater>,
    zstd: Option<DCtx<'static>>,
    block_lengths: Vec<usize>,
    /// The dictionary followed by one sub-block, for LZ4 blocks whose prefix is the dictionary.
    scratch: Vec<u8>,
}

/// Lucene's sub-block count for the preset-dictionary modes (`NUM_SUB_BLOCKS`); a valid piece never has more
/// blocks, which bounds what a damaged header can make the decoder do.
const MAX_SUB_BLOCKS: usize = 10;

impl Decoder {
    pub(super) fn new(compression: Compression) -> Self {
        let inflater = match compression {
            Compression::Deflate | Compression::DeflateWithPresetDict => Some(Inflater::new()),
            _ => None,
        };
        let zstd = match compression {
            Compression::Zstd | Compression::ZstdWithPresetDict | Compression::ZstdBlocks => Some(DCtx::create()),
            _ => None,
        };
        Decoder { compression, inflater, zstd, block_lengths: Vec::new(), scratch: Vec::new() }
    }

    /// Decompresses the piece at the cursor into exactly `out` and leaves the cursor after it.
    pub(super) fn decompress(&mut self, input: &mut DataInput<'_>, out: &mut [u8]) -> Result<()> {
        match self.compression {
            Compression::Lz4 => {
                let len = lz4_compressed_len(input, out.len())?;
                lz4_block(input, len, out)
            }
            Compression::Deflate => {
                let len = input.read_vint_len("compressed length")?;
                self.inflater_mut().inflate(input, len, out, &[])
            }
            Compression::Lz4WithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out.len(), true)?;
                let dict_compressed = self.block_lengths.first().copied().unwrap_or(0);
                lz4_block(input, dict_compressed, out.get_mut(..dict_len).unwrap_or_default())?;
                let mut start = dict_len;
                for (i, &len) in self.block_lengths.iter().enumerate().skip(1) {
                    let end = start.saturating_add(block_len).min(out.len());
                    if i == 1 {
                        // The first block directly follows the dictionary, so it can be decoded in place.
                        lz4_with_prefix(input, len, out.get_mut(..end).unwrap_or_default(), dict_len)?;
                    } else {
                        // Later blocks see the dictionary, not the block before them, as their prefix.
                        let (dict, rest) = out.split_at_mut(dict_len);
                        self.scratch.clear();
                        self.scratch.extend_from_slice(dict);
                        self.scratch.resize(end - start + dict_len, 0);
                        lz4_with_prefix(input, len, &mut self.scratch, dict_len)?;
                        let target = rest.get_mut(start - dict_len..end - dict_len).unwrap_or_default();
                        target.copy_from_slice(self.scratch.get(dict_len..).unwrap_or_default());
                    }
                    start = end;
                }
                Ok(())
            }
            Compression::DeflateWithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out.len(), false)?;
                let (dict, rest) = out.split_at_mut(dict_len);
                let inflater = self.inflater_mut();
                let len = input.read_vint_len("compressed dictionary length")?;
                inflater.inflate(input, len, dict, &[])?;
                for chunk in rest.chunks_mut(block_len.max(1)) {
                    let len = input.read_vint_len("compressed block length")?;
                    inflater.inflate(input, len, chunk, dict)?;
                }
                Ok(())
            }
            Compression::Zstd => {
                if out.is_empty() {
                    return Ok(());
                }
                let len = input.read_vint_len("compressed length")?;
                zstd_frame(self.zstd_mut(), input, len, out)
            }
            Compression::ZstdWithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out.len(), false)?;
                let (dict, rest) = out.split_at_mut(dict_len);
                let dctx = self.zstd_mut();
                let at = input.offset();
                // The dictionary itself is compressed without one; an empty load clears the previous chunk's.
                dctx.load_dictionary(&[]).map_err(|code| zstd_error(input, at, "a resettable zstd context", code))?;
                let len = input.read_vint_len("compressed dictionary length")?;
                zstd_frame(dctx, input, len, dict)?;
                // Lucene's writer hands the bytes to `ZstdDictCompress`, which treats them as raw content: a
                // stored document never starts with the zstd dictionary magic, so auto-detection agrees.
                dctx.load_dictionary(dict).map_err(|code| zstd_error(input, at, "a usable zstd dictionary", code))?;
                for chunk in rest.chunks_mut(block_len.max(1)) {
                    let len = input.read_vint_len("compressed block length")?;
                    zstd_frame(dctx, input, len, chunk)?;
                }
                Ok(())
            }
            Compression::ZstdBlocks => {
                let block_len = read_block_len(input, out.len())?;
                let dctx = self.zstd_mut();
                for chunk in out.chunks_mut(block_len.max(1)) {
                    let len = input.read_vint_len("compressed block length")?;
                    zstd_frame(dctx, input, len, chunk)?;
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
            Compression::DeflateWithPresetDict | Compression::ZstdWithPresetDict => {
                let (dict_len, block_len) = self.read_dict_header(input, out_len, false)?;
                let blocks = block_count(out_len.saturating_sub(dict_len), block_len);
                skip_length_prefixed(input, blocks + 1)
            }
            Compression::Zstd if out_len == 0 => Ok(()),
            Compression::Zstd => skip_length_prefixed(input, 1),
            Compression::ZstdBlocks => {
                let block_len = read_block_len(input, out_len)?;
                skip_length_prefixed(input, block_count(out_len, block_len))
            }
        }
    }

    fn inflater_mut(&mut self) -> &mut Inflater {
        self.inflater.get_or_insert_with(Inflater::new)
    }

    fn zstd_mut(&mut self) -> &mut DCtx<'static> {
        self.zstd.get_or_insert_with(DCtx::create)
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
        if block_count(rest, block_len) > MAX_SUB_BLOCKS {
            return Err(input.corrupt_at(
                at,
                format!("at most {MAX_SUB_BLOCKS} sub-blocks"),
                format!("block length {block_len} for {rest} bytes"),
            ));
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

/// Reads the block length of a `ZstdBlocks` piece of `total` bytes, checking it yields at most
/// [`MAX_SUB_BLOCKS`] blocks.
fn read_block_len(input: &mut DataInput<'_>, total: usize) -> Result<usize> {
    let at = input.offset();
    let block_len = input.read_vint_len("block length")?;
    if (total > 0 && block_len == 0) || block_count(total, block_len) > MAX_SUB_BLOCKS {
        return Err(input.corrupt_at(
            at,
            format!("a block length splitting {total} bytes into 1 to {MAX_SUB_BLOCKS} blocks"),
            block_len.to_string(),
        ));
    }
    Ok(block_len)
}

/// Skips `count` pieces that each start with a VInt compressed length.
fn skip_length_prefixed(input: &mut DataInput<'_>, count: usize) -> Result<()> {
    for _ in 0..count {
        let len = input.read_vint_len("compressed block length")?;
        input.skip(len)?;
    }
    Ok(())
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

/// Decodes `len` bytes at the cursor as one LZ4 block that must fill `out` exactly.
fn lz4_block(input: &mut DataInput<'_>, len: usize, out: &mut [u8]) -> Result<()> {
    let at = input.offset();
    let compressed = input.read_bytes(len)?;
    match lz4_flex::block::decompress_into(compressed, out) {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(input.corrupt_at(at, format!("an LZ4 block of {} bytes", out.len()), format!("{n} bytes"))),
        Err(e) => Err(input.corrupt_at(at, format!("a valid LZ4 block of {} bytes", out.len()), e.to_string())),
    }
}

/// Decodes the `len`-byte LZ4 block at the cursor into `buf[start..]`, which it must fill exactly, with
/// `buf[..start]` (a preset dictionary) available to back-references. Unlike a separate-dictionary decoder,
/// matches reaching into the prefix are ordinary in-buffer copies, which keeps Lucene 9's small chunks (ten
/// dictionary-prefixed sub-blocks per 80 KB) as fast to decode as Lucene 8's large ones.
fn lz4_with_prefix(input: &mut DataInput<'_>, len: usize, buf: &mut [u8], start: usize) -> Result<()> {
    let at = input.offset();
    let compressed = input.read_bytes(len)?;
    if lz4_decode_prefixed(compressed, buf, start).is_none() {
        return Err(input.corrupt_at(
            at,
            format!("a valid LZ4 block of {} bytes", buf.len().saturating_sub(start)),
            "a sequence that overruns the input, the output or the dictionary",
        ));
    }
    Ok(())
}

/// The LZ4 block decoder behind [`lz4_with_prefix`]; `None` on any inconsistency. Copies go 16 bytes at a
/// time when there is room, so short literals and matches avoid a `memcpy` call; the overshoot only writes
/// output positions that later sequences overwrite.
fn lz4_decode_prefixed(src: &[u8], buf: &mut [u8], start: usize) -> Option<()> {
    const WILD: usize = 16;
    let end = buf.len();
    let (mut s, mut d) = (0usize, start);
    while d < end {
        let token = *src.get(s)?;
        s += 1;
        let mut literals = usize::from(token >> 4);
        if literals == 15 {
            literals = read_lz4_length(src, &mut s, literals)?;
        }
        let literals_end = d.checked_add(literals).filter(|&e| e <= end)?;
        let src_end = s.checked_add(literals).filter(|&e| e <= src.len())?;
        if literals <= WILD && d + WILD <= end && s + WILD <= src.len() {
            buf.get_mut(d..d + WILD)?.copy_from_slice(src.get(s..s + WILD)?);
        } else {
            buf.get_mut(d..literals_end)?.copy_from_slice(src.get(s..src_end)?);
        }
        s = src_end;
        d = literals_end;
        if d == end {
            break;
        }
        let offset = usize::from(u16::from_le_bytes([*src.get(s)?, *src.get(s + 1)?]));
        s += 2;
        let mut match_len = usize::from(token & 0x0f);
        if match_len == 15 {
            match_len = read_lz4_length(src, &mut s, match_len)?;
        }
        let match_len = match_len.checked_add(4)?;
        let match_end = d.checked_add(match_len).filter(|&e| e <= end)?;
        let from = d.checked_sub(offset).filter(|_| offset > 0)?;
        if offset >= WILD && match_end + WILD <= end {
            // Each 16-byte step reads only bytes before the ones it writes, all of them final already.
            let mut i = 0;
            while i < match_len {
                buf.copy_within(from + i..from + i + WILD, d + i);
                i += WILD;
            }
        } else if offset >= match_len {
            buf.copy_within(from..from + match_len, d);
        } else {
            // Overlapping match: a run that repeats the last `offset` bytes.
            for i in 0..match_len {
                let b = *buf.get(from + i)?;
                *buf.get_mut(d + i)? = b;
            }
        }
        d = match_end;
    }
    Some(())
}

/// A raw-DEFLATE decoder on ISA-L's igzip: DEFLATE is almost all of a BEST_COMPRESSION scan's time, and igzip
/// made that scan 1.7× faster than zlib-rs did (BENCHMARKS.md). Its state (85 KiB, mostly the history window) is
/// allocated once and reused for every piece; between calls it holds no pointers that are ever followed.
struct Inflater {
    state: Box<isal::inflate_state>,
}

impl Inflater {
    fn new() -> Self {
        let layout = std::alloc::Layout::new::<isal::inflate_state>();
        // SAFETY: `inflate_state` is plain C data (integers, arrays, null-able pointers), so all-zero memory of its
        // layout is a valid value that the Box then owns; it is allocated in place because it is too large to
        // build on the stack first. `isal_inflate_init` then sets it up for raw DEFLATE (`crc_flag`
        // ISAL_DEFLATE, `hist_bits` 0 for the full 32 KiB window), which `isal_inflate_reset` and the stateless
        // call leave as they are.
        let state = unsafe {
            let ptr = std::alloc::alloc_zeroed(layout).cast::<isal::inflate_state>();
            if ptr.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            isal::isal_inflate_init(ptr);
            Box::from_raw(ptr)
        };
        Inflater { state }
    }

    /// Inflates `len` bytes at the cursor (raw DEFLATE, optionally with a preset dictionary) into exactly `out`.
    fn inflate(&mut self, input: &mut DataInput<'_>, len: usize, out: &mut [u8], dict: &[u8]) -> Result<()> {
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
        let too_large =
            |what: &str, n: usize| input.corrupt_at(at, format!("a {what} below 4 GiB"), format!("{n} bytes"));
        let avail_in = u32::try_from(compressed.len()).map_err(|_| too_large("DEFLATE stream", compressed.len()))?;
        let avail_out = u32::try_from(out.len()).map_err(|_| too_large("piece", out.len()))?;
        let dict_len = u32::try_from(dict.len()).map_err(|_| too_large("dictionary", dict.len()))?;
        let state = &mut *self.state;
        // igzip never writes through `next_in`; the C API just has no const pointer for it.
        state.next_in = compressed.as_ptr().cast_mut();
        state.avail_in = avail_in;
        state.next_out = out.as_mut_ptr();
        state.avail_out = avail_out;
        // SAFETY: `next_in`/`avail_in` and `next_out`/`avail_out` describe live slices that outlive the call, and
        // igzip reads and writes only within them (plus its own state). `isal_inflate_set_dict` copies the
        // dictionary. The pointers are cleared below, before the borrows end.
        let code = unsafe {
            if dict.is_empty() {
                // One-shot decoding straight into `out`, with no dictionary to honour.
                isal::isal_inflate_stateless(state)
            } else {
                isal::isal_inflate_reset(state);
                match isal::isal_inflate_set_dict(state, dict.as_ptr().cast_mut(), dict_len) {
                    0 => isal::isal_inflate(state),
                    refused => refused,
                }
            }
        };
        let (left, finished) = (state.avail_out, state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH);
        state.next_in = std::ptr::null_mut();
        state.next_out = std::ptr::null_mut();
        if code != isal::ISAL_DECOMP_OK as i32 || !finished || left != 0 {
            let found = match code {
                isal::ISAL_INVALID_BLOCK => "an invalid block header".to_owned(),
                isal::ISAL_INVALID_SYMBOL => "an invalid Huffman symbol".to_owned(),
                isal::ISAL_INVALID_LOOKBACK => "a back-reference before the start of the data".to_owned(),
                c if c == isal::ISAL_END_INPUT as i32 || (c == 0 && !finished && left != 0) => {
                    "the end of the data first".to_owned()
                }
                c if c == isal::ISAL_OUT_OVERFLOW as i32 || (c == 0 && !finished) => "more data".to_owned(),
                0 => format!("{} bytes", out.len().saturating_sub(left as usize)),
                c => format!("igzip error {c}"),
            };
            return Err(input.corrupt_at(at, format!("a raw DEFLATE stream of exactly {} bytes", out.len()), found));
        }
        Ok(())
    }
}

/// Decompresses the `len`-byte zstd frame at the cursor into exactly `out`, with whatever dictionary the
/// context holds. A zero length stands for an empty piece, as OpenSearch writes it.
fn zstd_frame(dctx: &mut DCtx<'static>, input: &mut DataInput<'_>, len: usize, out: &mut [u8]) -> Result<()> {
    let at = input.offset();
    let compressed = input.read_bytes(len)?;
    if len == 0 {
        return if out.is_empty() {
            Ok(())
        } else {
            Err(input.corrupt_at(at, format!("a zstd frame for {} bytes", out.len()), "an empty piece"))
        };
    }
    let produced = dctx
        .decompress(out, compressed)
        .map_err(|code| zstd_error(input, at, &format!("a valid zstd frame of {} bytes", out.len()), code))?;
    if produced != out.len() {
        return Err(input.corrupt_at(
            at,
            format!("a zstd frame of exactly {} bytes", out.len()),
            format!("{produced} bytes"),
        ));
    }
    Ok(())
}

fn zstd_error(input: &DataInput<'_>, at: u64, expected: &str, code: usize) -> crate::Error {
    input.corrupt_at(at, expected, format!("zstd error: {}", zstd::zstd_safe::get_error_name(code)))
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
        assert!(decode(Compression::Deflate, &bytes, data.len() - 1).is_err());
        let mut decoder = Decoder::new(Compression::Deflate);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            let mut out = vec![0; data.len()];
            let _ = decoder.decompress(&mut DataInput::new("t", &bad), &mut out);
        }
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
    fn prefixed_lz4_handles_runs_dictionary_matches_and_damage() {
        // Long runs compress to overlapping matches (offset 1) and matches that reach into the dictionary.
        let runs: Vec<u8> = (0..5000).map(|i| (i / 700) as u8).collect();
        let bytes = lz4_dict_piece(&runs, 100, 490);
        assert_eq!(decode(Compression::Lz4WithPresetDict, &bytes, runs.len()).unwrap(), runs);
        let data = sample(10_000);
        let bytes = lz4_dict_piece(&data, 500, 950);
        for i in 0..bytes.len() {
            for mask in [0x01, 0x80] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                let mut out = vec![0; data.len()];
                let _ =
                    Decoder::new(Compression::Lz4WithPresetDict).decompress(&mut DataInput::new("t", &bad), &mut out);
            }
        }
        // A back-reference before the start of the dictionary.
        let mut buf = [7u8; 12];
        assert!(lz4_decode_prefixed(&[0x10, b'a', 9, 0], &mut buf, 4).is_none());
        assert!(lz4_decode_prefixed(&[0x10, b'a', 5, 0, 0x30, b'x', b'y', b'z'], &mut buf, 4).is_some());
        assert_eq!(&buf[4..], b"a\x07\x07\x07\x07xyz");
    }

    fn deflate_dict_piece(data: &[u8], dict_len: usize, block_len: usize) -> Vec<u8> {
        let dict = &data[..dict_len];
        let mut bytes = Vec::new();
        vint(&mut bytes, dict_len);
        vint(&mut bytes, block_len);
        prefixed(&mut bytes, &deflate_raw(dict, &[]));
        for block in data[dict_len..].chunks(block_len) {
            prefixed(&mut bytes, &deflate_raw(block, dict));
        }
        bytes.push(0xaa);
        bytes
    }

    #[test]
    fn deflate_with_preset_dict_round_trips() {
        let data = sample(10_000);
        let bytes = deflate_dict_piece(&data, 500, 950);
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

    #[test]
    fn deflate_with_preset_dict_handles_large_blocks_and_rejects_damage() {
        // Sub-blocks larger than igzip's internal 64 KiB window, as a chunk holding one huge document gives,
        // that also refer back into the dictionary.
        let data: Vec<u8> = sample(300_000).iter().enumerate().map(|(i, &b)| b ^ (i / 7000) as u8).collect();
        let bytes = deflate_dict_piece(&data, 8_000, 100_000);
        let mut decoder = Decoder::new(Compression::DeflateWithPresetDict);
        // Twice with one decoder: nothing of the first piece may leak into the second.
        for _ in 0..2 {
            let mut out = vec![0; data.len()];
            decoder.decompress(&mut DataInput::new("t", &bytes), &mut out).unwrap();
            assert!(out == data);
        }
        // A stream that produces more or fewer bytes than the chunk header promises.
        for len in [data.len() - 1, data.len() + 1] {
            let err = decode(Compression::DeflateWithPresetDict, &bytes, len).unwrap_err();
            assert!(err.to_string().contains("raw DEFLATE stream of exactly"), "{err}");
        }
        // Flipped bits anywhere must give an error or wrong bytes, never a panic or an overrun.
        let small = sample(3_000);
        let bytes = deflate_dict_piece(&small, 300, 900);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let mut out = vec![0; small.len()];
            let _ = decoder.decompress(&mut DataInput::new("t", &bad), &mut out);
        }
        let mut out = vec![0; small.len()];
        decoder.decompress(&mut DataInput::new("t", &bytes), &mut out).unwrap();
        assert_eq!(out, small, "a decoder that saw damage still decodes a good piece");
    }

    fn zstd_compress(data: &[u8], dict: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
        let mut cctx = zstd::zstd_safe::CCtx::create();
        cctx.compress_using_dict(&mut out, data, dict, 3).unwrap();
        out
    }

    fn prefixed(out: &mut Vec<u8>, piece: &[u8]) {
        vint(out, piece.len());
        out.extend_from_slice(piece);
    }

    #[test]
    fn elasticsearch_zstd_is_one_frame_and_nothing_for_an_empty_piece() {
        let data = sample(7000);
        let mut bytes = Vec::new();
        prefixed(&mut bytes, &zstd_compress(&data, &[]));
        bytes.push(0xaa);
        assert_eq!(decode(Compression::Zstd, &bytes, data.len()).unwrap(), data);
        assert_eq!(decode(Compression::Zstd, &[0xaa], 0).unwrap(), Vec::<u8>::new());
        let err = decode(Compression::Zstd, &bytes, data.len() - 1).unwrap_err();
        assert!(err.to_string().contains("zstd"), "{err}");
        let mut bad = bytes.clone();
        let n = bad.len() / 2;
        bad[n] ^= 0x55;
        let mut out = vec![0; data.len()];
        let _ = Decoder::new(Compression::Zstd).decompress(&mut DataInput::new("t", &bad), &mut out);
        assert!(decode(Compression::Zstd, &bytes[..bytes.len() / 2], data.len()).is_err());
        // A long run compresses far beyond DEFLATE's ratio; the chunk-size sanity check must allow it.
        let run = vec![b' '; 1 << 20];
        let ratio = run.len() / zstd_compress(&run, &[]).len();
        assert!(ratio > Compression::Deflate.max_expansion() && ratio < Compression::Zstd.max_expansion(), "{ratio}");
    }

    /// Builds an OpenSearch `ZstdCompressionMode` piece the way its compressor splits the data.
    fn opensearch_dict_piece(data: &[u8]) -> Vec<u8> {
        let dict_len = data.len() / 60;
        let block_len = (data.len() - dict_len).div_ceil(10);
        let dict = &data[..dict_len];
        let mut out = Vec::new();
        vint(&mut out, dict_len);
        vint(&mut out, block_len);
        if dict.is_empty() {
            vint(&mut out, 0);
        } else {
            prefixed(&mut out, &zstd_compress(dict, &[]));
        }
        for block in data[dict_len..].chunks(block_len.max(1)) {
            prefixed(&mut out, &zstd_compress(block, dict));
        }
        out.push(0xaa);
        out
    }

    #[test]
    fn opensearch_zstd_with_dictionary_round_trips() {
        let data = sample(20_000);
        let bytes = opensearch_dict_piece(&data);
        let mut decoder = Decoder::new(Compression::ZstdWithPresetDict);
        // Twice with one decoder: the second piece must not see a dictionary left over from the first.
        for _ in 0..2 {
            let mut out = vec![0; data.len()];
            decoder.decompress(&mut DataInput::new("t", &bytes), &mut out).unwrap();
            assert_eq!(out, data);
        }
        assert_eq!(decode(Compression::ZstdWithPresetDict, &bytes, data.len()).unwrap(), data);
        // The empty piece: dictionary and block lengths 0, an empty dictionary frame.
        assert_eq!(decode(Compression::ZstdWithPresetDict, &[0, 0, 0, 0xaa], 0).unwrap(), Vec::<u8>::new());
        assert!(decode(Compression::ZstdWithPresetDict, &bytes[..bytes.len() - 9], data.len()).is_err());
        // A block length that would split the data into thousands of blocks is rejected up front.
        let mut many = Vec::new();
        vint(&mut many, 0);
        vint(&mut many, 1);
        assert!(decode(Compression::ZstdWithPresetDict, &many, 5000).is_err());
    }

    #[test]
    fn opensearch_zstd_without_dictionary_round_trips() {
        let data = sample(9_999);
        let block_len = data.len().div_ceil(10);
        let mut bytes = Vec::new();
        vint(&mut bytes, block_len);
        for block in data.chunks(block_len) {
            prefixed(&mut bytes, &zstd_compress(block, &[]));
        }
        bytes.push(0xaa);
        assert_eq!(decode(Compression::ZstdBlocks, &bytes, data.len()).unwrap(), data);
        assert_eq!(decode(Compression::ZstdBlocks, &[0, 0xaa], 0).unwrap(), Vec::<u8>::new());
        assert!(decode(Compression::ZstdBlocks, &bytes, data.len() + 1).is_err());
        let mut zero_block = Vec::new();
        vint(&mut zero_block, 0);
        assert!(decode(Compression::ZstdBlocks, &zero_block, 10).is_err());
    }
}

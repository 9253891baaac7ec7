//! Live docs `.liv` (`Lucene50LiveDocs`, Lucene 5–8, big-endian words; `Lucene90LiveDocs`, Lucene 9–10,
//! little-endian words): the hard-delete bitset of a segment, one bit per document, LSB-first within 64-bit
//! words, 1 = live. Also the [`DocBits`] set used for every
//! per-document flag in this crate.

use crate::codec::verify_footer;
use crate::commit::to_base36;
use crate::{DataInput, Endian, FileBytes, Result};

/// A fixed-size set of document numbers `0..len`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocBits {
    words: Vec<u64>,
    len: u32,
}

impl DocBits {
    /// A set over `0..len` with every bit clear (`filled = false`) or set.
    pub fn new(len: u32, filled: bool) -> DocBits {
        let mut words = vec![if filled { u64::MAX } else { 0 }; words_for(len)];
        if filled {
            clear_ghost_bits(&mut words, len);
        }
        DocBits { words, len }
    }

    /// Number of documents the set covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the set covers no documents.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `doc` is in the set; false for documents beyond the end.
    pub fn get(&self, doc: u32) -> bool {
        self.words.get((doc / 64) as usize).is_some_and(|w| w >> (doc % 64) & 1 == 1) && doc < self.len
    }

    /// Adds `doc`; ignored beyond the end.
    pub fn set(&mut self, doc: u32) {
        if doc < self.len {
            if let Some(w) = self.words.get_mut((doc / 64) as usize) {
                *w |= 1 << (doc % 64);
            }
        }
    }

    /// Removes `doc`.
    pub fn clear(&mut self, doc: u32) {
        if let Some(w) = self.words.get_mut((doc / 64) as usize) {
            *w &= !(1u64 << (doc % 64));
        }
    }

    /// Number of documents in the set.
    pub fn count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Removes every document that is in `other`.
    pub fn and_not(&mut self, other: &DocBits) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
    }
}

fn words_for(len: u32) -> usize {
    len.div_ceil(64) as usize
}

fn clear_ghost_bits(words: &mut [u64], len: u32) {
    if len % 64 != 0 {
        if let Some(last) = words.last_mut() {
            *last &= (1u64 << (len % 64)) - 1;
        }
    }
}

/// Reads the hard-delete file `_<seg>_<delGen>.liv` of a segment with `max_doc` documents and returns its
/// live set, after checking the checksum, the header (segment `id`, suffix = `del_gen` in base 36) and that
/// exactly `del_count` documents are deleted.
pub fn read_live_docs(file: &FileBytes, id: &[u8; 16], del_gen: u64, max_doc: u32, del_count: u32) -> Result<DocBits> {
    verify_footer(file)?;
    let mut input = DataInput::new(file.name(), file);
    let at = input.offset();
    let codec = input.read_header_name()?;
    let endian = match codec.as_str() {
        "Lucene50LiveDocs" => Endian::Big,
        "Lucene90LiveDocs" => Endian::Little,
        _ => return Err(input.corrupt_at(at, "codec Lucene50LiveDocs or Lucene90LiveDocs", format!("{codec:?}"))),
    };
    input.check_version(&codec, 0, 0)?;
    input.set_endian(endian);
    input.check_id_and_suffix(id, &to_base36(del_gen))?;
    let body_at = input.offset();
    let mut words = Vec::with_capacity(words_for(max_doc).min(input.remaining() / 8));
    for _ in 0..words_for(max_doc) {
        words.push(input.read_i64()? as u64);
    }
    input.expect_footer_next()?;
    let bits = DocBits { words, len: max_doc };
    let mut trimmed = bits.words.clone();
    clear_ghost_bits(&mut trimmed, max_doc);
    if trimmed != bits.words {
        return Err(input.corrupt_at(
            body_at,
            format!("no live bits beyond maxDoc {max_doc}"),
            "bits set past the end",
        ));
    }
    let deleted = max_doc.saturating_sub(bits.count());
    if deleted != del_count {
        return Err(input.corrupt_at(
            body_at,
            format!("{del_count} deleted documents (the commit's delCount)"),
            format!("{deleted} clear bits"),
        ));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_bits_ignore_out_of_range_docs() {
        let mut bits = DocBits::new(70, true);
        assert_eq!(bits.count(), 70);
        assert!(!bits.get(70));
        bits.clear(3);
        bits.set(1000);
        assert_eq!(bits.count(), 69);
        let mut other = DocBits::new(70, false);
        other.set(69);
        bits.and_not(&other);
        assert!(!bits.get(69));
        assert_eq!(bits.count(), 68);
    }
}

//! The corpus framing shared by Ferry's fuzz targets: a set of named files packed into one input by
//! `agent/lucene/fuzz/pack_corpus.py`, as repeated `[u8 name length][name][u32 LE length][bytes]`.
//! A truncated tail is cut off, so every input is some set of files.

/// The (name, contents) pairs packed into `data`, in order.
pub fn unpack(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    while let Some((&name_len, rest)) = data.split_first() {
        let Some((name, rest)) = rest.split_at_checked(name_len as usize) else { break };
        let Some((len, rest)) = rest.split_at_checked(4) else { break };
        let len = (u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        files.push((String::from_utf8_lossy(name).into_owned(), bytes.to_vec()));
        data = rest;
    }
    files
}

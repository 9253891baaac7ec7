//! Document lines: one JSON object per document, with `_source` embedded without re-serialising it, so what
//! is printed is what Elasticsearch stored.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_documents::source::{is_json, push_single_line_json};

/// How document commands print `_source`.
#[derive(clap::Args, Clone, Copy)]
pub struct SourceArgs {
    /// Print `_source` as a JSON string holding the exact stored bytes instead of as a JSON value.
    #[arg(long)]
    pub raw_source: bool,
}

/// Whether an error chain ends in a closed stdout (`ferry … | head`), which is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = |io: &io::Error| io.kind() == io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| match cause.downcast_ref::<ferry_documents::Error>() {
        Some(ferry_documents::Error::Consumer(inner)) => inner.downcast_ref::<io::Error>().is_some_and(broken),
        _ => cause.downcast_ref::<io::Error>().is_some_and(broken),
    })
}

/// A value in a document line besides `_source`.
pub enum Field<'a> {
    /// A JSON string.
    Str(&'a str),
    /// A JSON number.
    Int(u64),
}

/// Writes document lines to `out`, reusing one buffer for every line.
pub struct DocWriter<W: Write> {
    out: W,
    raw_source: bool,
    line: Vec<u8>,
}

impl<W: Write> DocWriter<W> {
    /// `raw_source`: print `_source` as a JSON string of the exact bytes rather than as a JSON value.
    pub fn new(out: W, raw_source: bool) -> Self {
        DocWriter { out, raw_source, line: Vec::with_capacity(4096) }
    }

    /// Writes one line: `head` fields, then `_source`, then `tail` fields; fields whose value is `None`
    /// are left out.
    pub fn write(
        &mut self,
        head: &[(&str, Option<Field<'_>>)],
        source: &[u8],
        tail: &[(&str, Option<Field<'_>>)],
    ) -> io::Result<()> {
        self.line.clear();
        self.line.push(b'{');
        for (key, value) in head.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
            push_key(&mut self.line, key);
            push_field(&mut self.line, value);
        }
        push_source(&mut self.line, source, self.raw_source);
        for (key, value) in tail.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
            push_key(&mut self.line, key);
            push_field(&mut self.line, value);
        }
        self.line.extend_from_slice(b"}\n");
        self.out.write_all(&self.line)
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn push_key(line: &mut Vec<u8>, key: &str) {
    if line.len() > 1 {
        line.push(b',');
    }
    push_str(line, key);
    line.push(b':');
}

fn push_str(line: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *line, s).expect("writing a string to a Vec cannot fail");
}

fn push_field(line: &mut Vec<u8>, value: &Field<'_>) {
    match value {
        Field::Str(s) => push_str(line, s),
        Field::Int(n) => line.extend_from_slice(n.to_string().as_bytes()),
    }
}

/// Embeds `_source`. As a value, JSON is copied byte for byte unless it contains line breaks, which one-line
/// output cannot hold: then whitespace outside strings is dropped and nothing else changes. As a raw string,
/// the bytes are escaped into a JSON string. Bytes that are not JSON (SMILE, CBOR, YAML sources) or not UTF-8
/// go out as `_source_base64`, so nothing is ever altered silently.
fn push_source(line: &mut Vec<u8>, source: &[u8], raw: bool) {
    if raw {
        if let Ok(text) = std::str::from_utf8(source) {
            push_key(line, "_source");
            push_str(line, text);
            return;
        }
    } else if is_json(source) {
        push_key(line, "_source");
        push_single_line_json(line, source);
        return;
    }
    push_key(line, "_source_base64");
    push_str(line, &STANDARD.encode(source));
}

/// Wraps an output error so it can stop a document read.
pub fn consumer_error(e: io::Error) -> ferry_documents::Error {
    ferry_documents::Error::Consumer(Box::new(e))
}

/// Tells the operator, on stderr, about live documents that were passed over, so nothing is dropped silently.
pub fn report_skipped(what: &str, stats: &ferry_documents::ReadStats) {
    if stats.without_source > 0 {
        eprintln!(
            "warning: {what}: {} live documents have no _source (disabled or filtered in the mapping) and cannot be re-indexed",
            stats.without_source
        );
    }
    if stats.without_id > 0 {
        eprintln!(
            "note: {what}: {} live documents have no id (nested documents, carried in their parent's _source)",
            stats.without_id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: &[u8], raw: bool) -> String {
        let mut out = Vec::new();
        let mut w = DocWriter::new(&mut out, raw);
        w.write(&[("_id", Some(Field::Str("a\"b"))), ("_type", None)], source, &[("doc", Some(Field::Int(7)))])
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_source_is_embedded_verbatim() {
        assert_eq!(
            line(br#"{"a": 1,  "b":"x y"}"#, false),
            "{\"_id\":\"a\\\"b\",\"_source\":{\"a\": 1,  \"b\":\"x y\"},\"doc\":7}\n"
        );
    }

    #[test]
    fn line_breaks_are_removed_only_outside_strings() {
        let out = line(b"\n{\"a\" :\n \"x \\\" \\n y\"}\n", false);
        assert_eq!(out, "{\"_id\":\"a\\\"b\",\"_source\":{\"a\":\"x \\\" \\n y\"},\"doc\":7}\n");
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["_source"]["a"], "x \" \n y");
    }

    #[test]
    fn raw_source_keeps_every_byte() {
        let src = b"\n{\"a\":1}\n\n";
        let out = line(src, true);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["_source"].as_str().unwrap().as_bytes(), src);
    }

    #[test]
    fn non_json_and_non_utf8_sources_go_out_as_base64() {
        let smile = b":)\n\x05\xfa\x80a\xc2\xfb";
        for raw in [false, true] {
            let parsed: serde_json::Value = serde_json::from_str(&line(smile, raw)).unwrap();
            assert_eq!(STANDARD.decode(parsed["_source_base64"].as_str().unwrap()).unwrap(), smile);
            assert!(parsed.get("_source").is_none());
        }
    }
}

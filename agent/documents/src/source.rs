//! `_source` bytes in line-oriented outputs (NDJSON document dumps, `_bulk` bodies), which cannot hold a raw
//! line break. Elasticsearch keeps the client's bytes, pretty-printing included; these helpers keep them
//! intact wherever the output format allows and change only insignificant whitespace where it does not.

use serde::de::IgnoredAny;

/// Whether `source` is one complete JSON value (rather than SMILE, CBOR, YAML or damaged bytes).
pub fn is_json(source: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(source).is_ok()
}

/// Appends JSON `source` to `out` on a single line: byte for byte when it holds no line break, otherwise with
/// the whitespace between tokens dropped (line breaks inside strings are always escaped in valid JSON, so
/// nothing else changes). `source` must be valid JSON ([`is_json`]).
pub fn push_single_line_json(out: &mut Vec<u8>, source: &[u8]) {
    if !source.iter().any(|&b| b == b'\n' || b == b'\r') {
        out.extend_from_slice(source);
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in source {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            in_string = b == b'"';
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_line(source: &[u8]) -> String {
        let mut out = Vec::new();
        push_single_line_json(&mut out, source);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_bytes_without_line_breaks_and_strips_whitespace_only_outside_strings() {
        assert_eq!(one_line(br#"{"a": 1,  "b":"x y"}"#), r#"{"a": 1,  "b":"x y"}"#);
        assert_eq!(one_line(b"\n{\"a\" :\n \"x \\\" \\n y\", \"b\": [1,\n 2]}\n"), r#"{"a":"x \" \n y","b":[1,2]}"#);
    }

    #[test]
    fn recognises_json_and_rejects_other_encodings() {
        assert!(is_json(b"\n{\"a\":1}\n"));
        assert!(!is_json(b":)\n\x05\xfa\x80a\xc2\xfb"));
        assert!(!is_json(b"{\"a\":"));
    }
}

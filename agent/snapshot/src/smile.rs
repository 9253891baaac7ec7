//! A decoder for SMILE, the binary JSON Elasticsearch uses for every `*.dat` blob in a snapshot repository.
//!
//! It implements the whole format as Jackson writes it: tiny/short/long ASCII and Unicode strings, shared
//! property-name and string-value back-references, zigzag VInts, 32/64-bit floats, big integers and big
//! decimals, and both raw and 7-bit binary. Binary stays bytes ([`Value::Binary`]) because a snapshot's
//! `meta_hash` is the literal content of small Lucene files. Nesting is capped at [`MAX_DEPTH`] so hostile
//! input cannot exhaust the stack.

use base64::Engine as _;

use crate::{Error, Result};

/// Deepest nesting of arrays and objects accepted; Elasticsearch metadata nests a few dozen levels at most.
pub const MAX_DEPTH: usize = 256;

/// Shared-name and shared-value tables hold at most this many entries; the writer starts over when full.
const MAX_SHARED: usize = 1024;

/// Only strings of at most this many UTF-8 bytes enter the shared-value table.
const MAX_SHARED_VALUE_BYTES: usize = 65;

/// Largest big-decimal scale accepted; Elasticsearch metadata has no big decimals at all, and a bound keeps a
/// hostile scale from producing a gigantic string.
const MAX_DECIMAL_SCALE: u64 = 1000;

const HEADER: &[u8; 3] = b":)\n";
const END_OF_STRING: u8 = 0xFC;

/// A decoded SMILE (or JSON) value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any integer that fits 64 bits.
    Int(i64),
    /// An integer too large for 64 bits, in decimal.
    BigInt(String),
    /// A 32- or 64-bit float.
    Float(f64),
    /// An arbitrary-precision decimal, in plain decimal notation.
    BigDecimal(String),
    /// A string.
    String(String),
    /// Raw bytes (SMILE binary, raw or 7-bit encoded).
    Binary(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// An object, in document order (duplicate keys are kept).
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value of the first `key` in an object; `None` for missing keys and non-objects.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::BigInt(_) => "an integer",
            Value::Float(_) | Value::BigDecimal(_) => "a decimal number",
            Value::String(_) => "a string",
            Value::Binary(_) => "binary",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Converts to JSON for printing and for callers that do not care about binary: binary becomes a
    /// standard base64 string (as Jackson prints it), big numbers become JSON numbers when they fit and
    /// strings otherwise, non-finite floats become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(s) => s.parse::<u64>().map(J::from).unwrap_or_else(|_| J::String(s.clone())),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::BigDecimal(s) => J::String(s.clone()),
            Value::String(s) => J::String(s.clone()),
            Value::Binary(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Converts parsed JSON (a blob body written as JSON rather than SMILE) into a value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Value::Int(i),
                (None, Some(u), _) => Value::BigInt(u.to_string()),
                (None, None, Some(f)) => Value::Float(f),
                (None, None, None) => Value::BigDecimal(n.to_string()),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            J::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }
}

/// True when `bytes` start with the SMILE signature `:)\n`.
pub fn has_header(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER)
}

/// Decodes one SMILE document (header required) from `bytes`. `file` names the bytes in errors and `base`
/// is their offset within that file, so error offsets point into the blob.
pub fn decode(file: &str, bytes: &[u8], base: u64) -> Result<Value> {
    let mut d = Decoder {
        file,
        bytes,
        pos: 0,
        base,
        names_enabled: false,
        values_enabled: false,
        names: Vec::new(),
        values: Vec::new(),
    };
    let header = d.take(3)?;
    if header != HEADER {
        return Err(d.corrupt_at(0, "SMILE header \":)\\n\"", format!("{header:02x?}")));
    }
    let flags = d.byte()?;
    if flags >> 4 != 0 {
        return Err(Error::Unsupported {
            what: format!("{file}: SMILE format version {}", flags >> 4),
            hint: "only SMILE version 0 (every Jackson release) exists".to_owned(),
        });
    }
    d.names_enabled = flags & 0x01 != 0;
    d.values_enabled = flags & 0x02 != 0;
    let value = d.value(0)?;
    // Jackson may close a document with the optional end-of-content marker.
    if d.peek() == Some(0xFF) {
        d.pos += 1;
    }
    if d.pos != bytes.len() {
        return Err(d.corrupt("end of the SMILE document", format!("{} trailing bytes", bytes.len() - d.pos)));
    }
    Ok(value)
}

struct Decoder<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
    base: u64,
    names_enabled: bool,
    values_enabled: bool,
    names: Vec<String>,
    values: Vec<String>,
}

impl<'a> Decoder<'a> {
    fn corrupt(&self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        self.corrupt_at(self.pos, expected, found)
    }

    fn corrupt_at(&self, pos: usize, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Corrupt {
            file: self.file.to_owned(),
            offset: self.base.saturating_add(pos as u64),
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek().ok_or_else(|| self.corrupt("another byte", "end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            self.corrupt(format!("{n} more bytes"), format!("{} bytes before the end", self.bytes.len() - self.pos))
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn utf8(&mut self, len: usize) -> Result<String> {
        let at = self.pos;
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|e| self.corrupt_at(at, "UTF-8 text", e.to_string()))
    }

    /// Text up to the end-of-string marker (long strings and long names).
    fn terminated(&mut self) -> Result<String> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == END_OF_STRING)
            .ok_or_else(|| self.corrupt("an end-of-string marker 0xFC", "end of input"))?;
        let text = self.utf8(len)?;
        // Step over the end-of-string marker found above.
        self.pos += 1;
        Ok(text)
    }

    /// SMILE's unsigned VInt: 7 bits per byte, most significant first; the last byte has its high bit set
    /// and carries 6 bits.
    fn vint(&mut self) -> Result<u64> {
        let at = self.pos;
        let mut value: u64 = 0;
        for _ in 0..10 {
            let b = self.byte()?;
            if b & 0x80 != 0 {
                return value
                    .checked_mul(64)
                    .map(|v| v | u64::from(b & 0x3F))
                    .ok_or_else(|| self.corrupt_at(at, "a VInt that fits 64 bits", "an overflowing VInt"));
            }
            value = value
                .checked_mul(128)
                .map(|v| v | u64::from(b))
                .ok_or_else(|| self.corrupt_at(at, "a VInt that fits 64 bits", "an overflowing VInt"))?;
        }
        Err(self.corrupt_at(at, "a VInt of at most 10 bytes", "a longer one"))
    }

    fn length(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let n = self.vint()?;
        let remaining = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            // Every length counts bytes still to come (7-bit binary needs more), so anything larger than
            // the rest of the input is corrupt; checking here keeps allocations bounded by the input size.
            Ok(n) if n <= remaining => Ok(n),
            _ => Err(self.corrupt_at(
                at,
                format!("a {what} length within the {remaining} remaining bytes"),
                n.to_string(),
            )),
        }
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.vint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// `n` bytes of 7 data bits each, folded into an integer; the writer puts any surplus high bits first.
    fn seven_bit_word(&mut self, n: usize) -> Result<u64> {
        let at = self.pos;
        let raw = self.take(n)?;
        let mut out: u64 = 0;
        for &b in raw {
            if b & 0x80 != 0 {
                return Err(self.corrupt_at(at, "7-bit encoded bytes", format!("{b:#04x}")));
            }
            out = (out << 7) | u64::from(b);
        }
        Ok(out)
    }

    /// Binary written 7 bits per byte: each 7 raw bytes take 8, a tail of n bytes takes n + 1.
    fn seven_bit_binary(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        for _ in 0..len / 7 {
            let word = self.seven_bit_word(8)?;
            out.extend_from_slice(&word.to_be_bytes()[1..]);
        }
        let tail = len % 7;
        if tail > 0 {
            let at = self.pos;
            let head = self.seven_bit_word(tail)?;
            let last = self.byte()?;
            if u32::from(last) >> tail != 0 {
                return Err(self.corrupt_at(
                    at,
                    format!("a final byte with at most {tail} bits"),
                    format!("{last:#04x}"),
                ));
            }
            let word = (head << tail) | u64::from(last);
            out.extend_from_slice(&word.to_be_bytes()[8 - tail..]);
        }
        Ok(out)
    }

    fn remember_value(&mut self, text: &str) {
        if self.values_enabled && !text.is_empty() && text.len() <= MAX_SHARED_VALUE_BYTES {
            if self.values.len() >= MAX_SHARED {
                self.values.clear();
            }
            self.values.push(text.to_owned());
        }
    }

    fn remember_name(&mut self, name: &str) {
        if self.names_enabled {
            if self.names.len() >= MAX_SHARED {
                self.names.clear();
            }
            self.names.push(name.to_owned());
        }
    }

    fn shared_value(&self, at: usize, index: usize) -> Result<Value> {
        if !self.values_enabled {
            return Err(self.corrupt_at(at, "no shared string value (disabled in the header)", "a back-reference"));
        }
        self.values.get(index).map(|s| Value::String(s.clone())).ok_or_else(|| {
            self.corrupt_at(at, format!("a shared value index below {}", self.values.len()), index.to_string())
        })
    }

    fn shared_name(&self, at: usize, index: usize) -> Result<String> {
        if !self.names_enabled {
            return Err(self.corrupt_at(at, "no shared property name (disabled in the header)", "a back-reference"));
        }
        self.names.get(index).cloned().ok_or_else(|| {
            self.corrupt_at(at, format!("a shared name index below {}", self.names.len()), index.to_string())
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let at = self.pos;
        let token = self.byte()?;
        let short_len = usize::from(token & 0x1F);
        match token {
            0x01..=0x1F => self.shared_value(at, usize::from(token) - 1),
            0x20 => Ok(Value::String(String::new())),
            0x21 => Ok(Value::Null),
            0x22 => Ok(Value::Bool(false)),
            0x23 => Ok(Value::Bool(true)),
            0x24 | 0x25 => Ok(Value::Int(self.zigzag()?)),
            0x26 => {
                let len = self.length("big integer")?;
                let bytes = self.seven_bit_binary(len)?;
                let decimal = twos_complement_decimal(&bytes);
                Ok(decimal.parse::<i64>().map(Value::Int).unwrap_or(Value::BigInt(decimal)))
            }
            0x28 => {
                let bits = self.seven_bit_word(5)?;
                Ok(Value::Float(f64::from(f32::from_bits(bits as u32))))
            }
            0x29 => {
                let bits = self.seven_bit_word(10)?;
                Ok(Value::Float(f64::from_bits(bits)))
            }
            0x2A => {
                let scale_at = self.pos;
                let scale = self.zigzag()?;
                if scale.unsigned_abs() > MAX_DECIMAL_SCALE {
                    return Err(self.corrupt_at(
                        scale_at,
                        format!("a big decimal scale within ±{MAX_DECIMAL_SCALE}"),
                        scale.to_string(),
                    ));
                }
                let len = self.length("big decimal")?;
                let bytes = self.seven_bit_binary(len)?;
                Ok(Value::BigDecimal(apply_scale(&twos_complement_decimal(&bytes), scale)))
            }
            0x40..=0x7F => {
                let text = self.utf8(short_len + if token < 0x60 { 1 } else { 33 })?;
                self.remember_value(&text);
                Ok(Value::String(text))
            }
            0x80..=0xBF => {
                let text = self.utf8(short_len + if token < 0xA0 { 2 } else { 34 })?;
                self.remember_value(&text);
                Ok(Value::String(text))
            }
            0xC0..=0xDF => {
                let v = i64::from(token & 0x1F);
                Ok(Value::Int((v >> 1) ^ -(v & 1)))
            }
            0xE0 | 0xE4 => Ok(Value::String(self.terminated()?)),
            0xE8 => {
                let len = self.length("7-bit binary")?;
                Ok(Value::Binary(self.seven_bit_binary(len)?))
            }
            0xEC..=0xEF => {
                let low = self.byte()?;
                self.shared_value(at, (usize::from(token & 0x03) << 8) | usize::from(low))
            }
            0xF8 => {
                let depth = self.descend(at, depth)?;
                let mut items = Vec::new();
                while self.peek() != Some(0xF9) {
                    items.push(self.value(depth)?);
                }
                self.pos += 1;
                Ok(Value::Array(items))
            }
            0xFA => {
                let depth = self.descend(at, depth)?;
                let mut entries = Vec::new();
                loop {
                    let key_at = self.pos;
                    let key = self.byte()?;
                    let name = match key {
                        0xFB => break,
                        0x20 => String::new(),
                        0x30..=0x33 => {
                            let low = self.byte()?;
                            self.shared_name(key_at, (usize::from(key & 0x03) << 8) | usize::from(low))?
                        }
                        0x34 => {
                            let name = self.terminated()?;
                            self.remember_name(&name);
                            name
                        }
                        0x40..=0x7F => self.shared_name(key_at, usize::from(key & 0x3F))?,
                        0x80..=0xF7 => {
                            let len = usize::from(key & 0x3F) + if key < 0xC0 { 1 } else { 2 };
                            let name = self.utf8(len)?;
                            self.remember_name(&name);
                            name
                        }
                        other => {
                            return Err(self.corrupt_at(
                                key_at,
                                "a property name or end of object",
                                format!("token {other:#04x}"),
                            ))
                        }
                    };
                    entries.push((name, self.value(depth)?));
                }
                Ok(Value::Object(entries))
            }
            0xFD => {
                let len = self.length("raw binary")?;
                Ok(Value::Binary(self.take(len)?.to_vec()))
            }
            other => Err(self.corrupt_at(at, "a SMILE value token", format!("token {other:#04x}"))),
        }
    }

    fn descend(&self, at: usize, depth: usize) -> Result<usize> {
        if depth >= MAX_DEPTH {
            return Err(self.corrupt_at(at, format!("nesting of at most {MAX_DEPTH} levels"), "deeper nesting"));
        }
        Ok(depth + 1)
    }
}

/// The decimal form of a big-endian two's-complement integer of any length.
fn twos_complement_decimal(bytes: &[u8]) -> String {
    let negative = bytes.first().is_some_and(|&b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = bytes.to_vec();
    if negative {
        for b in magnitude.iter_mut() {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by ten over base-256 digits yields the decimal digits, least significant first.
    let mut digits = String::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut rem: u32 = 0;
        for b in magnitude.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(char::from(b'0' + rem as u8));
    }
    if digits.is_empty() {
        digits.push('0');
    }
    if negative {
        digits.push('-');
    }
    digits.chars().rev().collect()
}

/// `unscaled × 10^-scale` in plain notation, as Java's `BigDecimal.toPlainString` prints it. The caller
/// bounds `scale` by [`MAX_DECIMAL_SCALE`].
fn apply_scale(unscaled: &str, scale: i64) -> String {
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", unscaled),
    };
    let shift = usize::try_from(scale.unsigned_abs()).unwrap_or(0);
    if scale <= 0 {
        let zeros = if digits == "0" { 0 } else { shift };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    match digits.len().checked_sub(shift) {
        Some(int_len) if int_len > 0 => {
            let (int, frac) = digits.split_at(int_len);
            format!("{sign}{int}.{frac}")
        }
        _ => format!("{sign}0.{}{digits}", "0".repeat(shift.saturating_sub(digits.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive 7-bit encoder following the format description, as a model for the decoder.
    fn seven_bit(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunks = data.chunks_exact(7);
        for chunk in &mut chunks {
            let word = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            for i in (0..8).rev() {
                out.push(((word >> (7 * i)) & 0x7F) as u8);
            }
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let k = tail.len();
            let word = tail.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            let head = word >> k;
            for i in (0..k).rev() {
                out.push(((head >> (7 * i)) & 0x7F) as u8);
            }
            out.push((word & ((1 << k) - 1)) as u8);
        }
        out
    }

    fn vint(mut v: u64) -> Vec<u8> {
        let mut out = vec![0x80 | (v & 0x3F) as u8];
        v >>= 6;
        while v > 0 {
            out.push((v & 0x7F) as u8);
            v >>= 7;
        }
        out.reverse();
        out
    }

    fn doc(flags: u8, body: &[u8]) -> Vec<u8> {
        let mut out = b":)\n".to_vec();
        out.push(flags);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn decodes_scalars_strings_and_shared_back_references() {
        let mut body = vec![0xFA];
        body.extend_from_slice(&[0x80, b'a', 0xC4]); // "a": 2 (small int, zigzag)
        body.extend_from_slice(&[0x81, b'b', b'c', 0x41, b'x', b'y']); // "bc": "xy"
        body.extend_from_slice(&[0x40, 0x01]); // shared name 0 ("a"): shared value 0 ("xy")
        body.extend_from_slice(&[0x80, b'n', 0x24]);
        body.extend(vint(((-1234i64 << 1) ^ (-1234i64 >> 63)) as u64)); // "n": -1234
        body.extend_from_slice(&[0x80, b'f', 0x29]);
        let bits = 1.5f64.to_bits();
        for i in (0..10).rev() {
            body.push(((bits >> (7 * i)) & 0x7F) as u8);
        }
        body.extend_from_slice(&[0x80, b'u', 0x80, 0xC3, 0xA9]); // "u": "é" (tiny Unicode)
        body.extend_from_slice(&[0x80, b'l', 0xE0]);
        body.extend_from_slice(&[b'z'; 70]);
        body.push(0xFC);
        body.extend_from_slice(&[0x80, b't', 0xF8, 0x23, 0x22, 0x21, 0x20, 0xF9]);
        body.push(0xFB);
        let value = decode("t", &doc(0x03, &body), 0).unwrap();
        let json = value.to_json();
        assert_eq!(json["a"], serde_json::json!("xy"), "{json}"); // the later duplicate wins in JSON
        assert_eq!(value.get("a"), Some(&Value::Int(2)));
        assert_eq!(json["bc"], "xy");
        assert_eq!(json["n"], -1234);
        assert_eq!(json["f"], 1.5);
        assert_eq!(json["u"], "é");
        assert_eq!(json["l"], "z".repeat(70));
        assert_eq!(json["t"], serde_json::json!([true, false, null, ""]));
    }

    #[test]
    fn binary_round_trips_through_both_encodings() {
        for len in 0..40usize {
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x85)).collect();
            let mut seven = vec![0xE8];
            seven.extend(vint(len as u64));
            seven.extend(seven_bit(&data));
            assert_eq!(decode("t", &doc(0x00, &seven), 0).unwrap(), Value::Binary(data.clone()), "7-bit, {len}");
            let mut raw = vec![0xFD];
            raw.extend(vint(len as u64));
            raw.extend_from_slice(&data);
            assert_eq!(decode("t", &doc(0x04, &raw), 0).unwrap(), Value::Binary(data), "raw, {len}");
        }
    }

    #[test]
    fn big_numbers_print_exactly() {
        let big: [u8; 9] = [0x01, 0, 0, 0, 0, 0, 0, 0, 0]; // 2^64
        let mut body = vec![0x26];
        body.extend(vint(9));
        body.extend(seven_bit(&big));
        assert_eq!(decode("t", &doc(0, &body), 0).unwrap(), Value::BigInt("18446744073709551616".into()));

        let mut body = vec![0x2A];
        body.extend(vint(4)); // zigzag 4 = scale 2
        body.extend(vint(2));
        body.extend(seven_bit(&(-12345i16).to_be_bytes()));
        assert_eq!(decode("t", &doc(0, &body), 0).unwrap(), Value::BigDecimal("-123.45".into()));
        assert_eq!(apply_scale("5", 3), "0.005");
        assert_eq!(apply_scale("5", -2), "500");
    }

    #[test]
    fn bad_input_is_an_error_with_an_offset() {
        let err = decode("blob.dat", &doc(0x03, &[0xFA, 0x80, b'a', 0xFE]), 100).unwrap_err();
        assert!(matches!(err, Error::Corrupt { offset: 107, .. }), "{err}");
        assert!(err.to_string().contains("blob.dat") && err.to_string().contains("0xfe"), "{err}");
        // A shared-name reference with nothing shared yet.
        assert!(decode("t", &doc(0x03, &[0xFA, 0x40, 0x21, 0xFB]), 0).is_err());
        // Shared values disabled in the header.
        assert!(decode("t", &doc(0x01, &[0x01]), 0).is_err());
        // A length longer than the input.
        assert!(decode("t", &doc(0x04, &[0xFD, 0x3F, 0xBF]), 0).is_err());
        assert!(decode("t", b":(\n\x00\x21", 0).is_err());
        assert!(decode("t", &doc(0x00, &[0x21, 0x21]), 0).is_err());
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let deep = doc(0, &[vec![0xF8; MAX_DEPTH + 1], vec![0xF9; MAX_DEPTH + 1]].concat());
        let err = decode("t", &deep, 0).unwrap_err();
        assert!(err.to_string().contains("nesting"), "{err}");
        let ok = doc(0, &[vec![0xF8; MAX_DEPTH], vec![0xF9; MAX_DEPTH]].concat());
        assert!(decode("t", &ok, 0).is_ok());
    }

    #[test]
    fn mutating_any_byte_of_a_real_body_never_panics() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/snapshots/ES_7_10_BWC_Check/meta-KhcpVj8aRMek0oLMUSPHeg.dat"
        );
        let blob = std::fs::read(path).unwrap();
        let start = blob.windows(3).position(|w| w == b":)\n").unwrap();
        let body = &blob[start..blob.len() - 16];
        let mut failures = 0;
        for pos in 0..body.len() {
            for replacement in [0x00, 0xFF, 0x80, 0x3F, 0xFA, 0xF8, 0xFD, body[pos] ^ 0x01] {
                let mut mutated = body.to_vec();
                mutated[pos] = replacement;
                failures += usize::from(decode("meta", &mutated, 0).is_err());
            }
        }
        assert!(failures > body.len(), "{failures} of {} mutations rejected", body.len() * 8);
    }

    #[test]
    fn every_prefix_of_a_real_body_fails_cleanly() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/snapshots/ES_7_10_BWC_Check/indices/0edrmuSPR1CIr2B6BZbMJA/0/snap-KhcpVj8aRMek0oLMUSPHeg.dat"
        );
        let blob = std::fs::read(path).unwrap();
        let start = blob.windows(3).position(|w| w == b":)\n").unwrap();
        let body = &blob[start..blob.len() - 16];
        let full = decode("snap", body, 0).unwrap();
        assert_eq!(full.get("name"), Some(&Value::String("rfs-snapshot".into())));
        for len in 0..body.len() {
            assert!(decode("snap", &body[..len], 0).is_err(), "prefix of {len} bytes decoded");
        }
    }
}

//! Decoding of one document's stored fields from its decompressed bytes: the `fieldNumber << 3 | type` header
//! and the six value encodings Lucene 6–10 write (`CompressingStoredFieldsWriter`,
//! `Lucene90CompressingStoredFieldsWriter`).

use crate::input::DataInput;
use crate::{Error, Result};

use super::{StoredFieldVisitor, StoredValue};

const STRING: u64 = 0;
const BYTE_ARR: u64 = 1;
const NUMERIC_INT: u64 = 2;
const NUMERIC_FLOAT: u64 = 3;
const NUMERIC_LONG: u64 = 4;
const NUMERIC_DOUBLE: u64 = 5;
const TYPE_BITS: u32 = 3;
const TYPE_MASK: u64 = 7;

const SECOND: i64 = 1000;
const HOUR: i64 = 60 * 60 * SECOND;
const DAY: i64 = 24 * HOUR;

/// Where a document's bytes came from, so decode errors name the `.fdt` chunk and the document: offsets
/// inside decompressed data mean nothing to someone holding the file.
pub(super) struct DocumentSource<'a> {
    /// The `.fdt` name.
    pub file: &'a str,
    /// File offset of the chunk header.
    pub chunk_offset: u64,
    /// The document.
    pub doc: u32,
}

impl DocumentSource<'_> {
    fn error(&self, err: Error) -> Error {
        match err {
            Error::Corrupt { offset, expected, found, .. } => Error::Corrupt {
                file: self.file.to_owned(),
                offset: self.chunk_offset,
                expected: format!("{expected} (doc {}, byte {offset} of its decompressed data)", self.doc),
                found,
            },
            other => other,
        }
    }
}

/// Decodes the `num_fields` fields of one document from `input` (which holds exactly that document's bytes)
/// and hands each to `visitor`. Fails if the bytes end early or are left over, so a wrong length or field
/// count in the chunk header is caught rather than silently misaligning the next document. Errors from the
/// visitor are returned unchanged.
pub(super) fn visit_fields<V: StoredFieldVisitor + ?Sized>(
    input: &mut DataInput<'_>,
    num_fields: u32,
    source: &DocumentSource<'_>,
    visitor: &mut V,
) -> Result<()> {
    for _ in 0..num_fields {
        let (field_number, value) = read_field(input).map_err(|e| source.error(e))?;
        visitor.field(field_number, value)?;
    }
    if input.remaining() != 0 {
        return Err(source.error(input.corrupt(
            format!("the document to end after its {num_fields} fields"),
            format!("{} bytes left over", input.remaining()),
        )));
    }
    Ok(())
}

/// One field: the `fieldNumber << 3 | type` VLong and the value.
fn read_field<'a>(input: &mut DataInput<'a>) -> Result<(u32, StoredValue<'a>)> {
    let at = input.offset();
    let info = input.read_vlong()?;
    let field_number = u32::try_from(info >> TYPE_BITS)
        .map_err(|_| input.corrupt_at(at, "a field number that fits 32 bits", (info >> TYPE_BITS).to_string()))?;
    let value = match info & TYPE_MASK {
        STRING => {
            let bytes = read_len_prefixed(input)?;
            let s = std::str::from_utf8(bytes)
                .map_err(|_| input.corrupt_at(at, "a UTF-8 string value", format!("{} invalid bytes", bytes.len())))?;
            StoredValue::Str(s)
        }
        BYTE_ARR => StoredValue::Bytes(read_len_prefixed(input)?),
        NUMERIC_INT => StoredValue::Int(input.read_zint()?),
        NUMERIC_FLOAT => StoredValue::Float(read_zfloat(input)?),
        NUMERIC_LONG => StoredValue::Long(read_tlong(input)?),
        NUMERIC_DOUBLE => StoredValue::Double(read_zdouble(input)?),
        other => return Err(input.corrupt_at(at, "a stored field type 0..=5", other.to_string())),
    };
    Ok((field_number, value))
}

fn read_len_prefixed<'a>(input: &mut DataInput<'a>) -> Result<&'a [u8]> {
    let len = input.read_vint_len("value length")?;
    input.read_bytes(len)
}

/// Lucene's variable-length float: 0xFF then the raw bits as an int (negative values), a high bit marking a
/// small integer in -1..=125, or else the top byte of a positive float followed by a short and a byte. The
/// int and short follow the body byte order (big-endian up to Lucene 8, little-endian from Lucene 9).
pub(super) fn read_zfloat(input: &mut DataInput<'_>) -> Result<f32> {
    let b = input.read_u8()?;
    if b == 0xff {
        Ok(f32::from_bits(input.read_i32()? as u32))
    } else if b & 0x80 != 0 {
        Ok(f32::from(i16::from(b & 0x7f) - 1))
    } else {
        let middle = u32::from(input.read_i16()? as u16);
        let low = u32::from(input.read_u8()?);
        Ok(f32::from_bits(u32::from(b) << 24 | middle << 8 | low))
    }
}

/// Lucene's variable-length double: 0xFF then the raw bits as a long, 0xFE then a float's bits as an int, a
/// high bit marking a small integer in -1..=124, or else the top byte of a positive double followed by an
/// int, a short and a byte (in the body byte order, like [`read_zfloat`]).
pub(super) fn read_zdouble(input: &mut DataInput<'_>) -> Result<f64> {
    let b = input.read_u8()?;
    if b == 0xff {
        Ok(f64::from_bits(input.read_i64()? as u64))
    } else if b == 0xfe {
        Ok(f64::from(f32::from_bits(input.read_i32()? as u32)))
    } else if b & 0x80 != 0 {
        Ok(f64::from(i16::from(b & 0x7f) - 1))
    } else {
        let high = u64::from(input.read_i32()? as u32);
        let middle = u64::from(input.read_i16()? as u16);
        let low = u64::from(input.read_u8()?);
        Ok(f64::from_bits(u64::from(b) << 56 | high << 24 | middle << 8 | low))
    }
}

/// Lucene's timestamp-friendly long: a header byte with 5 low value bits, a continuation flag (0x20) for a
/// VLong of higher bits, and a 2-bit multiplier (1, second, hour, day) applied after zig-zag decoding.
/// Multiplication wraps as in Java, so any bytes decode without panicking.
pub(super) fn read_tlong(input: &mut DataInput<'_>) -> Result<i64> {
    let header = input.read_u8()?;
    let mut bits = u64::from(header & 0x1f);
    if header & 0x20 != 0 {
        bits |= input.read_vlong()?.wrapping_shl(5);
    }
    let value = ((bits >> 1) as i64) ^ -((bits & 1) as i64);
    Ok(match header & 0xc0 {
        0x40 => value.wrapping_mul(SECOND),
        0x80 => value.wrapping_mul(HOUR),
        0xc0 => value.wrapping_mul(DAY),
        _ => value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(bytes: &[u8]) -> DataInput<'_> {
        DataInput::new("t", bytes)
    }

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl StoredFieldVisitor for Collect {
        fn start_document(&mut self, _: u32) -> Result<()> {
            Ok(())
        }
        fn field(&mut self, n: u32, v: StoredValue<'_>) -> Result<()> {
            self.0.push(format!("{n}:{v:?}"));
            Ok(())
        }
        fn end_document(&mut self, _: u32) -> Result<()> {
            Ok(())
        }
    }

    const SOURCE: DocumentSource<'static> = DocumentSource { file: "_0.fdt", chunk_offset: 77, doc: 5 };

    fn visit(bytes: &[u8], n: u32) -> Result<Vec<String>> {
        let mut c = Collect::default();
        visit_fields(&mut input(bytes), n, &SOURCE, &mut c)?;
        Ok(c.0)
    }

    #[test]
    fn a_hand_built_document_decodes_every_type() {
        let doc = [
            0 << 3,
            2,
            b'h',
            b'i', // field 0 string "hi"
            (1 << 3) | 1,
            2,
            0xff,
            b'x', // field 1 bytes
            (2 << 3) | 2,
            3, // field 2 int -2
            (3 << 3) | 3,
            0x80 | 4, // field 3 float 3
            (4 << 3) | 4,
            0x40 | 2, // field 4 long 1000
            (5 << 3) | 5,
            0x80, // field 5 double -1
            0x80 | (6 << 3),
            0x01,
            0, // field 22 (two-byte VLong header), empty string
        ];
        let got = visit(&doc, 7).unwrap();
        assert_eq!(
            got,
            [
                "0:Str(\"hi\")",
                "1:Bytes([255, 120])",
                "2:Int(-2)",
                "3:Float(3.0)",
                "4:Long(1000)",
                "5:Double(-1.0)",
                "22:Str(\"\")"
            ]
        );
    }

    #[test]
    fn malformed_documents_name_the_chunk_and_doc() {
        let leftover = visit(&[0 << 3, 1, b'a', 0x00], 1).unwrap_err().to_string();
        assert!(leftover.contains("_0.fdt: corrupt at byte 77") && leftover.contains("doc 5"), "{leftover}");
        assert!(visit(&[6], 1).unwrap_err().to_string().contains("type 0..=5"));
        assert!(visit(&[0, 2, 0xc3, 0x28], 1).unwrap_err().to_string().contains("UTF-8"));
        assert!(visit(&[(1 << 3) | 1, 9, 1], 1).is_err());
        assert!(visit(&[], 1).is_err());
    }

    #[test]
    fn zfloat_covers_small_ints_negative_and_positive_floats() {
        assert_eq!(read_zfloat(&mut input(&[0x80])).unwrap(), -1.0);
        assert_eq!(read_zfloat(&mut input(&[0x80 | 126])).unwrap(), 125.0);
        let neg = (-2.25f32).to_bits().to_be_bytes();
        assert_eq!(read_zfloat(&mut input(&[0xff, neg[0], neg[1], neg[2], neg[3]])).unwrap(), -2.25);
        let pos = 3.5f32.to_bits().to_be_bytes();
        assert_eq!(read_zfloat(&mut input(&pos)).unwrap(), 3.5);
        assert!(read_zfloat(&mut input(&[0xff, 1])).is_err());
    }

    #[test]
    fn zdouble_covers_all_four_forms() {
        assert_eq!(read_zdouble(&mut input(&[0x80 | 125])).unwrap(), 124.0);
        let f = 2.5f32.to_bits().to_be_bytes();
        assert_eq!(read_zdouble(&mut input(&[0xfe, f[0], f[1], f[2], f[3]])).unwrap(), 2.5);
        let mut neg = vec![0xff];
        neg.extend_from_slice(&(-0.1f64).to_bits().to_be_bytes());
        assert_eq!(read_zdouble(&mut input(&neg)).unwrap(), -0.1);
        let pos = 1e300f64.to_bits().to_be_bytes();
        assert_eq!(read_zdouble(&mut input(&pos)).unwrap(), 1e300);
        assert!(read_zdouble(&mut input(&pos[..5])).is_err());
    }

    #[test]
    fn tlong_applies_multipliers_and_continuation() {
        // zigzag(3) = 6, day encoding.
        assert_eq!(read_tlong(&mut input(&[0xc0 | 6])).unwrap(), 3 * DAY);
        // zigzag(-1) = 1, second encoding.
        assert_eq!(read_tlong(&mut input(&[0x40 | 1])).unwrap(), -SECOND);
        // 100 = zigzag 200 = 0b110_01000: low 5 bits 8, continuation VLong 6.
        assert_eq!(read_tlong(&mut input(&[0x20 | 8, 6])).unwrap(), 100);
        // An absurd continuation wraps instead of overflowing.
        assert!(read_tlong(&mut input(&[0xe0 | 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).is_ok());
    }
}

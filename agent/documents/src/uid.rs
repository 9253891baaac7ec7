//! Elasticsearch's `_id` encoding (`org.elasticsearch.index.mapper.Uid`): ids are stored compactly by shape —
//! numeric strings as packed digits, URL-safe base64 strings (such as auto-generated ids) as their decoded
//! bytes, anything else as UTF-8 — and tagged by the first byte so they can be turned back into the string the
//! client used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Prefix of a numeric id: digits packed two per byte, `0xF` in the low nibble ends an odd-length id.
const NUMERIC: u8 = 0xfe;
/// Prefix of an id stored as UTF-8.
const UTF8: u8 = 0xff;
/// Prefix added to a base64 id whose decoded first byte would collide with the other prefixes.
const BASE64_ESCAPE: u8 = 0xfd;

/// Decodes a stored `_id` into the id string the client used. Errors describe what is wrong with the bytes.
pub fn decode_id(bytes: &[u8]) -> Result<String, String> {
    match bytes.first() {
        None => Err("an empty _id".to_owned()),
        Some(&NUMERIC) => decode_numeric(&bytes[1..]),
        Some(&UTF8) => std::str::from_utf8(&bytes[1..])
            .map(str::to_owned)
            .map_err(|e| format!("a UTF-8 _id (0xff prefix) with invalid UTF-8 at byte {}", e.valid_up_to() + 1)),
        Some(&BASE64_ESCAPE) => Ok(URL_SAFE_NO_PAD.encode(&bytes[1..])),
        Some(_) => Ok(URL_SAFE_NO_PAD.encode(bytes)),
    }
}

fn decode_numeric(packed: &[u8]) -> Result<String, String> {
    let mut id = String::with_capacity(packed.len() * 2);
    for (i, &b) in packed.iter().enumerate() {
        let last = i + 1 == packed.len();
        for (half, nibble) in [(0, b >> 4), (1, b & 0x0f)] {
            match nibble {
                0..=9 => id.push(char::from(b'0' + nibble)),
                0x0f if last && half == 1 => {}
                _ => return Err(format!("a numeric _id digit at byte {}, found nibble {nibble:#x}", i + 1)),
            }
        }
    }
    if id.is_empty() {
        return Err("a numeric _id with at least one digit".to_owned());
    }
    Ok(id)
}

/// Splits a 5.x `_uid` (`type#id`) into type and id at the first `#` (types cannot contain `#`, ids can).
pub fn split_uid(uid: &str) -> Option<(&str, &str)> {
    uid.split_once('#').filter(|(ty, id)| !ty.is_empty() && !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_all_four_forms() {
        assert_eq!(decode_id(b"\xffcomplexdoc").unwrap(), "complexdoc");
        assert_eq!(decode_id(&[0xfe, 0x12, 0x3f]).unwrap(), "123");
        assert_eq!(decode_id(&[0xfe, 0x12, 0x34]).unwrap(), "1234");
        // An auto-generated id: its base64 decoding is stored raw.
        let raw = URL_SAFE_NO_PAD.decode("AVvkm4fP_zhRTkpBqxhd").unwrap();
        assert_eq!(decode_id(&raw).unwrap(), "AVvkm4fP_zhRTkpBqxhd");
        // A base64 id whose first decoded byte is >= 0xfd carries the escape prefix.
        let mut escaped = vec![BASE64_ESCAPE];
        escaped.extend(URL_SAFE_NO_PAD.decode("_____w").unwrap());
        assert_eq!(decode_id(&escaped).unwrap(), "_____w");
    }

    #[test]
    fn rejects_malformed_ids() {
        assert!(decode_id(&[]).is_err());
        assert!(decode_id(&[0xfe]).is_err());
        assert!(decode_id(&[0xfe, 0xa1]).is_err());
        assert!(decode_id(&[0xfe, 0xf1, 0x11]).is_err(), "0xf only ends the last byte");
        assert!(decode_id(&[0xff, 0xc3]).is_err());
    }

    #[test]
    fn splits_uid_on_first_hash() {
        assert_eq!(split_uid("type1#a#b"), Some(("type1", "a#b")));
        assert_eq!(split_uid("nohash"), None);
        assert_eq!(split_uid("#id"), None);
    }
}

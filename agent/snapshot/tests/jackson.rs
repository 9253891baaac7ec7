//! SMILE written by Jackson itself (the library Elasticsearch uses), decoded and compared with the JSON
//! Jackson wrote for the same content. The documents come from `data/JacksonSmileGen.java` (run against
//! Debian's jackson-dataformat-smile 2.7.8); they exercise what the fixtures do not: shared string values,
//! both shared tables overflowing and starting over, long and Unicode names, 7-bit and raw binary, 32/64-bit
//! floats, big integers and big decimals (printed as plain decimal strings on the JSON side), deep nesting.

use ferry_snapshot::smile::{self, Value};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

fn check(name: &str, flags: u8) {
    let bytes = data(name);
    assert_eq!(bytes[3], flags, "{name}: header flags");
    let value = smile::decode(name, &bytes, 0).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(&data("jackson.json")).unwrap();
    assert_eq!(value.to_json(), expected, "{name}");
    // Binary stays bytes.
    let bin = value.get("bin13").unwrap();
    assert_eq!(bin, &Value::Binary((0..13).map(|i: u8| i.wrapping_mul(37).wrapping_add(11)).collect()));
}

#[test]
fn shared_values_and_seven_bit_binary_match_jackson() {
    check("jackson_shared_7bit.smile", 0x03);
}

#[test]
fn raw_binary_without_shared_values_matches_jackson() {
    check("jackson_raw_binary.smile", 0x05);
}

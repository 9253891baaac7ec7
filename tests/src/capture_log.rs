//! Reading back what `ferry capture` wrote, through `ferry capture inspect --json --dump`, for tests that check
//! the capture log exchange by exchange.

use std::ffi::OsStr;
use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

/// The exchanges in the capture log `log`, one JSON object each (`method`, `path`, `status`, `complete`,
/// `request_base64`, `response_base64`, …), and the summary `ferry capture inspect` printed on stderr.
pub fn inspect(log: &Path) -> (Vec<Value>, String) {
    let out = crate::run_ferry([
        OsStr::new("capture"),
        OsStr::new("inspect"),
        OsStr::new("--json"),
        OsStr::new("--dump"),
        log.as_os_str(),
    ]);
    out.assert_success("ferry capture inspect");
    let exchanges = out
        .stdout_str()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    (exchanges, out.stderr)
}

/// The bytes of the base64 string `field` of an inspected exchange (e.g. `request_base64`). Panics when the
/// field is missing or not base64.
pub fn b64(exchange: &Value, field: &str) -> Vec<u8> {
    let text = exchange[field].as_str().unwrap_or_else(|| panic!("no string {field} in {exchange}"));
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("{field} is not base64: {e}"))
}

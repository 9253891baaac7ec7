//! Editing JSON and NDJSON request bodies. Every editor returns `None` when nothing changed, so the caller keeps
//! the captured bytes (and their compression) instead of re-serialising; lines an edit does not touch are copied
//! byte for byte.

use crate::json::{Json, Object};

/// Edits a whole-JSON body. An empty body has nothing to edit.
pub(crate) fn edit_json(
    body: &[u8],
    edit: impl FnOnce(&mut Json) -> Result<bool, String>,
) -> Result<Option<Vec<u8>>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut json = Json::parse(body).map_err(|e| format!("body is not JSON: {e}"))?;
    Ok(edit(&mut json)?.then(|| json.to_vec()))
}

/// Edits the action-line parameters of a `_bulk` body (`{"index": {<params>}}`); the source line after each
/// action other than `delete` is copied unchanged whatever it holds. Blank lines are kept as they are.
pub(crate) fn edit_bulk(
    body: &[u8],
    mut edit: impl FnMut(&mut Object) -> Result<bool, String>,
) -> Result<Option<Vec<u8>>, String> {
    let mut expect_source = false;
    edit_lines(body, |number, line| {
        if std::mem::take(&mut expect_source) || line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut json = Json::parse(line).map_err(|e| format!("_bulk line {number}: action line is not JSON: {e}"))?;
        let shape_error = || format!("_bulk line {number}: action line is not {{\"<action>\": {{...}}}}");
        let object = json.as_object_mut().ok_or_else(shape_error)?;
        let [(action, params)] = object.0.as_mut_slice() else { return Err(shape_error()) };
        expect_source = action != "delete";
        let params = params.as_object_mut().ok_or_else(shape_error)?;
        Ok(edit(params).map_err(|e| format!("_bulk line {number}: {e}"))?.then(|| json.to_vec()))
    })
}

/// Edits the header lines of an `_msearch` body (header and search body alternate; an empty header line means
/// `{}`); search bodies are copied unchanged.
pub(crate) fn edit_msearch(
    body: &[u8],
    mut edit: impl FnMut(&mut Object) -> Result<bool, String>,
) -> Result<Option<Vec<u8>>, String> {
    let mut header = true;
    edit_lines(body, |number, line| {
        let is_header = header;
        header = !header;
        if !is_header || line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut json =
            Json::parse(line).map_err(|e| format!("_msearch line {number}: header line is not JSON: {e}"))?;
        let object =
            json.as_object_mut().ok_or_else(|| format!("_msearch line {number}: header line is not an object"))?;
        Ok(edit(object).map_err(|e| format!("_msearch line {number}: {e}"))?.then(|| json.to_vec()))
    })
}

/// Walks `\n`-separated lines (1-based numbers); a line the callback replaces keeps its trailing whitespace
/// (a `\r` from a CRLF client).
fn edit_lines(
    body: &[u8],
    mut edit: impl FnMut(usize, &[u8]) -> Result<Option<Vec<u8>>, String>,
) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        if index > 0 {
            out.push(b'\n');
        }
        match edit(index.saturating_add(1), line)? {
            Some(new) => {
                let kept = line.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
                out.extend_from_slice(&new);
                out.extend_from_slice(line.get(line.len().saturating_sub(kept)..).unwrap_or_default());
                changed = true;
            }
            None => out.extend_from_slice(line),
        }
    }
    Ok(changed.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_type(params: &mut Object) -> Result<bool, String> {
        Ok(params.remove("_type"))
    }

    #[test]
    fn bulk_sources_survive_byte_for_byte_even_when_they_look_like_actions() {
        let body = b"{\"index\":{\"_index\":\"a\",\"_type\":\"doc\",\"_id\":\"1\"}}\r\n\
                     {\"index\":{\"_type\":\"doc\"}, \"n\" : 1.50}\r\n\
                     {\"delete\":{\"_index\":\"a\",\"_type\":\"doc\",\"_id\":\"2\"}}\n\
                     \n\
                     {\"update\":{\"_index\":\"a\",\"_id\":\"3\"}}\n\
                     {\"doc\":{\"_type\":\"kept\"}}\n";
        let out = edit_bulk(body, drop_type).unwrap().unwrap();
        let expected = b"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\r\n\
                         {\"index\":{\"_type\":\"doc\"}, \"n\" : 1.50}\r\n\
                         {\"delete\":{\"_index\":\"a\",\"_id\":\"2\"}}\n\
                         \n\
                         {\"update\":{\"_index\":\"a\",\"_id\":\"3\"}}\n\
                         {\"doc\":{\"_type\":\"kept\"}}\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(expected));
    }

    #[test]
    fn untouched_bodies_report_no_change() {
        let body = b"{\"index\":{\"_index\":\"a\"}}\n{\"x\":1}\n";
        assert_eq!(edit_bulk(body, drop_type).unwrap(), None);
        assert_eq!(edit_json(b"  ", |_| Ok(true)).unwrap(), None);
    }

    #[test]
    fn malformed_action_lines_name_their_line() {
        let error = edit_bulk(b"{\"index\":{}}\n{}\nnot json\n", drop_type).unwrap_err();
        assert!(error.starts_with("_bulk line 3: action line is not JSON"), "{error}");
        let error = edit_bulk(b"{\"index\":{},\"create\":{}}\n", drop_type).unwrap_err();
        assert!(error.contains("line 1") && error.contains("<action>"), "{error}");
        let error = edit_msearch(b"{}\n{}\n[1]\n{}\n", |_| Ok(false)).unwrap_err();
        assert_eq!(error, "_msearch line 3: header line is not an object");
    }

    #[test]
    fn msearch_bodies_are_never_parsed() {
        let body = b"\n{\"query\":{\"type\":{\"value\":\"doc\"}}}\n{\"index\":\"a\",\"type\":\"doc\"}\nnot even json\n";
        let out = edit_msearch(body, |h| Ok(h.remove("type"))).unwrap().unwrap();
        assert_eq!(out, b"\n{\"query\":{\"type\":{\"value\":\"doc\"}}}\n{\"index\":\"a\"}\nnot even json\n".to_vec());
    }
}

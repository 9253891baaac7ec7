//! What a `_bulk` request body says about the items of its response.

use std::collections::HashSet;

use serde_json::Value;

/// Positions (in response `items` order) of the `index` and `create` actions that carry no `_id`, whose ids the
/// server generates and so differ between source and target. Reading stops at the first line that is not a
/// valid action, since the positions after it cannot be trusted; the positions before it are still returned.
pub(crate) fn auto_id_items(body: &[u8]) -> HashSet<usize> {
    let mut auto = HashSet::new();
    let mut lines = body.split(|&b| b == b'\n').filter(|line| !line.trim_ascii().is_empty());
    let mut position = 0usize;
    while let Some(line) = lines.next() {
        let Ok(Value::Object(action)) = serde_json::from_slice::<Value>(line) else {
            break;
        };
        let Some((name, meta)) = action.iter().next() else {
            break;
        };
        let has_source = match name.as_str() {
            "index" | "create" => {
                if meta.get("_id").is_none_or(Value::is_null) {
                    auto.insert(position);
                }
                true
            }
            "update" => true,
            "delete" => false,
            _ => break,
        };
        if has_source && lines.next().is_none() {
            break;
        }
        position = position.saturating_add(1);
    }
    auto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_without_ids_are_found_in_item_order() {
        let body = b"{\"index\":{\"_index\":\"logs\"}}\n{\"msg\":\"a\"}\n\
                     {\"delete\":{\"_index\":\"logs\",\"_id\":\"9\"}}\n\
                     {\"create\":{\"_index\":\"logs\",\"_id\":null}}\n{\"msg\":\"b\"}\n\
                     {\"update\":{\"_index\":\"logs\",\"_id\":\"1\"}}\n{\"doc\":{\"x\":1}}\n\
                     {\"index\":{\"_index\":\"logs\",\"_type\":\"doc\",\"_id\":\"2\"}}\n{\"msg\":\"c\"}\n\n\
                     {\"index\":{}}\n{}\n";
        let mut got: Vec<usize> = auto_id_items(body).into_iter().collect();
        got.sort_unstable();
        assert_eq!(got, [0, 2, 5]);
    }

    #[test]
    fn garbage_stops_the_scan_without_losing_earlier_items() {
        let body = b"{\"index\":{}}\n{}\nnot json\n{\"index\":{}}\n{}\n";
        assert_eq!(auto_id_items(body), HashSet::from([0]));
        assert!(auto_id_items(b"\xff\xfe[").is_empty());
        assert!(auto_id_items(b"{\"bogus\":{}}\n").is_empty());
    }
}

//! `_cat` responses as rows, so they compare like JSON whatever format the client asked for.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Columns that describe one cluster's physical state, not the data: they differ between any two clusters
/// holding the same documents (uuids are generated, sizes and deleted counts follow merges, the clock moves).
const PER_CLUSTER_COLUMNS: &[&str] = &[
    "uuid",
    "store.size",
    "pri.store.size",
    "dataset.size",
    "docs.deleted",
    "epoch",
    "timestamp",
    "creation.date",
    "creation.date.string",
];

/// Splits a text `_cat` response into rows: objects keyed by the header when `header` (`?v`) is set and the row
/// has as many cells as the header, otherwise arrays of cells. A row that does not fit the header (an empty
/// cell shifts the split) becomes its cells joined by single spaces, since column padding depends on the widest
/// value in each cluster.
pub(crate) fn text_rows(text: &str, header: bool) -> Value {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let columns: Option<Vec<&str>> = if header { lines.next().map(|h| h.split_whitespace().collect()) } else { None };
    let rows = lines.map(|line| {
        let cells: Vec<&str> = line.split_whitespace().collect();
        match &columns {
            Some(columns) if columns.len() == cells.len() => Value::Object(
                columns.iter().zip(cells).map(|(c, v)| (c.to_string(), Value::String(v.to_string()))).collect(),
            ),
            Some(_) => Value::String(cells.join(" ")),
            None => Value::Array(cells.into_iter().map(|c| Value::String(c.to_string())).collect()),
        }
    });
    Value::Array(rows.collect())
}

/// Prepares rows for comparison: drops per-cluster columns, maps source index names through `renames`, and
/// sorts the rows unless the request sorted them (`s=`): without it, `_cat` row order is whatever order the
/// cluster state holds, which differs between clusters.
pub(crate) fn normalise(rows: &mut Value, renames: Option<&BTreeMap<String, String>>, sorted_by_request: bool) {
    let Value::Array(rows) = rows else {
        return;
    };
    for row in rows.iter_mut() {
        if let Value::Object(cells) = row {
            cells.retain(|column, _| !PER_CLUSTER_COLUMNS.contains(&column.as_str()));
            rename_index(cells, renames);
        }
    }
    if !sorted_by_request {
        rows.sort_by_cached_key(Value::to_string);
    }
}

fn rename_index(cells: &mut Map<String, Value>, renames: Option<&BTreeMap<String, String>>) {
    let Some(renames) = renames else {
        return;
    };
    if let Some(Value::String(index)) = cells.get_mut("index") {
        if let Some(renamed) = renames.get(index.as_str()) {
            *index = renamed.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn header_rows_become_objects_and_sort() {
        let text = "health status index uuid docs.count store.size\n\
                    green  open   b     u1   3          10kb\n\
                    yellow open   a     u2   5          1mb\n\
                    odd    row\n";
        let mut rows = text_rows(text, true);
        normalise(&mut rows, Some(&BTreeMap::from([("a".to_string(), "a2".to_string())])), false);
        assert_eq!(
            rows,
            json!([
                "odd row",
                {"health": "green", "status": "open", "index": "b", "docs.count": "3"},
                {"health": "yellow", "status": "open", "index": "a2", "docs.count": "5"},
            ])
        );
        assert_eq!(text_rows("1700000000 10:00:00 42\n", false), json!([["1700000000", "10:00:00", "42"]]));
    }
}

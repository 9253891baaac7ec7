//! Snapshot-level and index-level metadata: `snap-<uuid>.dat` (SnapshotInfo), `meta-<uuid>.dat` (the global
//! cluster metadata: templates) and `indices/<id>/meta-<key>.dat` (IndexMetadata: settings, mappings,
//! aliases).

use std::collections::BTreeMap;

use crate::blob::decode_body;
use crate::doc::{with_opt, with_req, Node};
use crate::smile::Value;
use crate::{Error, Result, SnapshotState};

/// What a snapshot recorded about itself (`snap-<uuid>.dat` at the repository root).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotInfo {
    /// The snapshot name.
    pub name: String,
    /// The snapshot UUID.
    pub uuid: String,
    /// The id of the Elasticsearch version that took it, e.g. `7100299`.
    pub version_id: Option<u32>,
    /// Index names, in the order the snapshot lists them.
    pub indices: Vec<String>,
    /// Data stream names (7.9+).
    pub data_streams: Vec<String>,
    /// The outcome.
    pub state: SnapshotState,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// Whether the global cluster state (templates …) was included.
    pub include_global_state: Option<bool>,
    /// Start time, epoch milliseconds.
    pub start_time: Option<i64>,
    /// End time, epoch milliseconds.
    pub end_time: Option<i64>,
    /// Shards the snapshot tried to copy.
    pub total_shards: Option<u32>,
    /// Shards it copied.
    pub successful_shards: Option<u32>,
    /// The whole document, for printing.
    pub raw: serde_json::Value,
}

/// The cluster-wide metadata a snapshot carries (`meta-<uuid>.dat`), reduced to what a migration recreates.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalMetadata {
    /// Legacy index templates (`_template`), by name; embedded compressed mappings are expanded to JSON.
    pub legacy_templates: BTreeMap<String, serde_json::Value>,
    /// Composable index templates (`_index_template`, 7.8+), by name.
    pub index_templates: BTreeMap<String, serde_json::Value>,
    /// Component templates (`_component_template`, 7.8+), by name.
    pub component_templates: BTreeMap<String, serde_json::Value>,
    /// The whole `meta-data` document.
    pub raw: serde_json::Value,
}

/// One index as a snapshot recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexMetadata {
    /// The index name.
    pub name: String,
    /// The index UUID (`index.uuid`), when recorded.
    pub uuid: Option<String>,
    /// Primary shard count (`index.number_of_shards`).
    pub number_of_shards: u32,
    /// Settings as a flat map (`index.refresh_interval` → `"1s"`); list values are kept as JSON arrays.
    pub settings: BTreeMap<String, String>,
    /// Mappings as (type, mapping) pairs in stored order: several types for indices created by 5.x, one
    /// (often `_doc`) later, none for an index without mappings.
    pub mappings: Vec<(String, serde_json::Value)>,
    /// Aliases by name.
    pub aliases: BTreeMap<String, serde_json::Value>,
    /// `index.version.created`: the Elasticsearch (or masked OpenSearch) version id that created the index.
    pub version_created: Option<u32>,
    /// `open` or `close`.
    pub state: Option<String>,
    /// The whole document, for printing.
    pub raw: serde_json::Value,
}

/// Whether an index's documents carry their original `_source`, which is what a migration copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAvailability {
    /// `_source` is stored with every document.
    Stored,
    /// The index stores no usable `_source`; `reason` names the setting or mapping that says so.
    Unavailable {
        /// The setting or mapping that disables or replaces `_source`, as a sentence fragment.
        reason: String,
    },
}

impl SnapshotInfo {
    pub(crate) fn parse(file: &str, value: &Value) -> Result<SnapshotInfo> {
        let root = Node::root(file, value);
        with_req(&root, "snapshot", |node| {
            let string = |key: &str| with_opt(&node, key, |n| n.str().map(str::to_owned));
            let strings = |key: &str| with_opt(&node, key, |n| n.strings()).map(Option::unwrap_or_default);
            Ok(SnapshotInfo {
                name: with_req(&node, "name", |n| n.str().map(str::to_owned))?,
                uuid: string("uuid")?.unwrap_or_default(),
                version_id: with_opt(&node, "version_id", |n| n.unsigned::<u32>())?,
                indices: strings("indices")?,
                data_streams: strings("data_streams")?,
                state: string("state")?.map_or(SnapshotState::NotRecorded, |s| SnapshotState::from_name(&s)),
                reason: string("reason")?,
                include_global_state: with_opt(&node, "include_global_state", |n| n.bool())?,
                start_time: with_opt(&node, "start_time", |n| n.i64())?,
                end_time: with_opt(&node, "end_time", |n| n.i64())?,
                total_shards: with_opt(&node, "total_shards", |n| n.unsigned::<u32>())?,
                successful_shards: with_opt(&node, "successful_shards", |n| n.unsigned::<u32>())?,
                raw: node.value.to_json(),
            })
        })
    }
}

impl GlobalMetadata {
    pub(crate) fn parse(file: &str, value: &Value) -> Result<GlobalMetadata> {
        let root = Node::root(file, value);
        with_req(&root, "meta-data", |node| {
            let legacy_templates = with_opt(&node, "templates", |templates| {
                let mut out = BTreeMap::new();
                for (name, template) in templates.entries()? {
                    let path = templates.child_path(name);
                    out.insert(name.clone(), template_json(templates.at(template, &path))?);
                }
                Ok(out)
            })?
            .unwrap_or_default();
            // 7.8+ keeps composable and component templates as custom metadata, each wrapped once more in
            // an object of the same name.
            let custom = |key: &str| {
                with_opt(&node, key, |outer| {
                    with_opt(&outer, key, |inner| {
                        Ok(inner.entries()?.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
                    })
                })
                .map(|found| found.flatten().unwrap_or_default())
            };
            Ok(GlobalMetadata {
                legacy_templates,
                index_templates: custom("index_template")?,
                component_templates: custom("component_template")?,
                raw: node.value.to_json(),
            })
        })
    }
}

/// A legacy template as JSON, with its mappings decoded the same way as an index's.
fn template_json(node: Node<'_>) -> Result<serde_json::Value> {
    let mut json = node.value.to_json();
    if let Some(mappings) = with_opt(&node, "mappings", parse_mappings)? {
        if let Some(object) = json.as_object_mut() {
            let expanded = mappings.into_iter().map(|(t, m)| serde_json::json!({ t: m })).collect();
            object.insert("mappings".to_owned(), serde_json::Value::Array(expanded));
        }
    }
    Ok(json)
}

impl IndexMetadata {
    pub(crate) fn parse(file: &str, value: &Value, expected_name: &str) -> Result<IndexMetadata> {
        let root = Node::root(file, value);
        let entries = root.entries()?;
        let (name, body) = match entries {
            [(name, body)] => (name, body),
            _ => return Err(root.schema(format!("an object with the single key {expected_name:?}"))),
        };
        if name != expected_name {
            return Err(Error::Schema {
                file: file.to_owned(),
                path: "$".to_owned(),
                expected: format!("metadata of index {expected_name:?}"),
                found: format!("metadata of index {name:?}"),
            });
        }
        let path = root.child_path(name);
        let node = root.at(body, &path);
        let settings = with_opt(&node, "settings", |n| {
            let mut out = BTreeMap::new();
            flatten_settings(n, "", &mut out)?;
            Ok(out)
        })?
        .unwrap_or_default();
        let number_of_shards = settings
            .get("index.number_of_shards")
            .ok_or_else(|| schema_setting(file, name, "index.number_of_shards", "a shard count", "nothing"))?;
        let number_of_shards = number_of_shards.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
            schema_setting(file, name, "index.number_of_shards", "a positive count", number_of_shards)
        })?;
        let version_created = settings
            .get("index.version.created")
            .map(|v| {
                v.parse::<u32>().map_err(|_| schema_setting(file, name, "index.version.created", "a version id", v))
            })
            .transpose()?;
        let aliases = with_opt(&node, "aliases", |n| {
            // Very old metadata lists alias names only.
            if let Value::Array(_) = n.value {
                return Ok(n.strings()?.into_iter().map(|a| (a, serde_json::json!({}))).collect());
            }
            Ok(n.entries()?.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
        })?
        .unwrap_or_default();
        Ok(IndexMetadata {
            name: name.clone(),
            uuid: settings.get("index.uuid").cloned(),
            number_of_shards,
            mappings: with_opt(&node, "mappings", parse_mappings)?.unwrap_or_default(),
            aliases,
            version_created,
            state: with_opt(&node, "state", |n| n.str().map(str::to_owned))?,
            settings,
            raw: node.value.to_json(),
        })
    }
}

impl IndexMetadata {
    /// Whether the index stores `_source`, decided from its settings and mappings the way the cluster does:
    /// `_source.enabled: false` (any version), `_source.mode: synthetic` (Elasticsearch 8.4+),
    /// `index.mapping.source.mode` (8.17+, `stored` wins over everything), `index.mode: time_series|logsdb`
    /// (synthetic by default), and OpenSearch's derived source (`index.derived_source.enabled`, and
    /// `index.knn.derived_source.enabled`, which drops vector fields from the stored source).
    pub fn source_availability(&self) -> SourceAvailability {
        let unavailable = |reason: String| SourceAvailability::Unavailable { reason };
        let setting = |key: &str| self.settings.get(key).map(String::as_str);
        match setting("index.mapping.source.mode") {
            Some("stored") => return SourceAvailability::Stored,
            Some(mode @ ("synthetic" | "disabled")) => {
                return unavailable(format!("index.mapping.source.mode is {mode}"));
            }
            _ => {}
        }
        for (type_name, mapping) in &self.mappings {
            let source = mapping.get("_source");
            if source.and_then(|s| s.get("enabled")).and_then(|e| e.as_bool()) == Some(false) {
                return unavailable(format!("the {type_name} mapping has _source.enabled: false"));
            }
            match source.and_then(|s| s.get("mode")).and_then(|m| m.as_str()) {
                Some("stored") => return SourceAvailability::Stored,
                Some(mode @ ("synthetic" | "disabled")) => {
                    return unavailable(format!("the {type_name} mapping has _source.mode: {mode}"));
                }
                _ => {}
            }
        }
        if let Some(mode @ ("time_series" | "logsdb")) = setting("index.mode") {
            return unavailable(format!("index.mode is {mode}, whose _source is synthetic by default"));
        }
        for key in ["index.derived_source.enabled", "index.knn.derived_source.enabled"] {
            if setting(key) == Some("true") {
                return unavailable(format!("{key} is true (OpenSearch derives _source from other fields)"));
            }
        }
        SourceAvailability::Stored
    }
}

fn schema_setting(file: &str, index: &str, key: &str, expected: &str, found: &str) -> Error {
    Error::Schema {
        file: file.to_owned(),
        path: format!("$.{index}.settings.{key}"),
        expected: expected.to_owned(),
        found: format!("{found:?}"),
    }
}

/// Settings are stored flat (`index.number_of_shards`), but nested objects are folded the same way in case a
/// writer did not flatten them; scalars become their text and lists stay JSON arrays.
fn flatten_settings(node: Node<'_>, prefix: &str, out: &mut BTreeMap<String, String>) -> Result<()> {
    for (key, value) in node.entries()? {
        let full = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(_) => {
                let path = node.child_path(key);
                flatten_settings(node.at(value, &path), &full, out)?;
            }
            Value::String(s) => {
                out.insert(full, s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(full, other.to_json().to_string());
            }
        }
    }
    Ok(())
}

/// Mappings in every stored shape: an array of `{type: mapping}` objects or of embedded compressed blobs
/// (CompressedXContent: `DFL\0` + DEFLATE of JSON or SMILE), or a plain `{type: mapping}` object.
fn parse_mappings(node: Node<'_>) -> Result<Vec<(String, serde_json::Value)>> {
    let mut out = Vec::new();
    let push_object = |n: Node<'_>, out: &mut Vec<(String, serde_json::Value)>| -> Result<()> {
        for (type_name, mapping) in n.entries()? {
            out.push((type_name.clone(), mapping.to_json()));
        }
        Ok(())
    };
    match node.value {
        Value::Object(_) => push_object(node, &mut out)?,
        _ => {
            for (i, item) in node.items()?.iter().enumerate() {
                let path = node.index_path(i);
                let element = node.at(item, &path);
                match item {
                    Value::Binary(bytes) => {
                        let name = format!("{} ({})", node.file, path.text());
                        // CompressedXContent: `DFL\0` + DEFLATE of JSON or SMILE, the same body shape as a blob's.
                        let decoded = decode_body(&name, bytes, 0)?;
                        push_object(Node::root(&name, &decoded), &mut out)?;
                    }
                    _ => push_object(element, &mut out)?,
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    #[test]
    fn embedded_compressed_mappings_are_inflated() {
        let mut encoder = flate2::write::DeflateEncoder::new(b"DFL\0".to_vec(), flate2::Compression::new(3));
        encoder.write_all(br#"{"doc":{"properties":{"a":{"type":"keyword"}}}}"#).unwrap();
        let compressed = encoder.finish().unwrap();
        let settings = object(vec![
            ("index.number_of_shards", Value::String("3".into())),
            ("index.version.created", Value::String("6082399".into())),
        ]);
        let body = object(vec![
            ("settings", settings),
            ("mappings", Value::Array(vec![Value::Binary(compressed)])),
            ("aliases", Value::Array(vec![Value::String("old_alias".into())])),
        ]);
        let doc = object(vec![("idx", body)]);
        let meta = IndexMetadata::parse("meta.dat", &doc, "idx").unwrap();
        assert_eq!(meta.number_of_shards, 3);
        assert_eq!(meta.version_created, Some(6082399));
        assert_eq!(meta.mappings, [("doc".to_owned(), serde_json::json!({"properties": {"a": {"type": "keyword"}}}))]);
        assert!(meta.aliases.contains_key("old_alias"));

        let err = IndexMetadata::parse("meta.dat", &doc, "other").unwrap_err().to_string();
        assert!(err.contains("other") && err.contains("idx"), "{err}");
        let no_shards = object(vec![("idx", object(vec![("settings", object(vec![]))]))]);
        let err = IndexMetadata::parse("meta.dat", &no_shards, "idx").unwrap_err().to_string();
        assert!(err.contains("index.number_of_shards"), "{err}");
    }
}

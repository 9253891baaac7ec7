//! Reading the metadata to migrate, from a snapshot or from a live cluster, into one version-neutral shape.

use std::collections::BTreeMap;

use ferry_client::Client;
use ferry_snapshot::Repository;
use serde_json::Value;

use crate::transform::{flatten_settings, typed_pairs};
use crate::{Error, Result};

/// The metadata of a source cluster or snapshot, normalised: templates as the source's own JSON bodies, indices
/// with flat settings and (type, mapping) pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceMetadata {
    /// The source's version (`5.6.16`), when known, for messages.
    pub version: Option<String>,
    /// Legacy templates (`_template`) by name.
    pub legacy_templates: BTreeMap<String, Value>,
    /// Composable index templates (`_index_template`) by name.
    pub index_templates: BTreeMap<String, Value>,
    /// Component templates (`_component_template`) by name.
    pub component_templates: BTreeMap<String, Value>,
    /// Indices in source order.
    pub indices: Vec<SourceIndex>,
}

/// One source index.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceIndex {
    /// The index name.
    pub name: String,
    /// Settings with flat keys (`index.number_of_shards`).
    pub settings: BTreeMap<String, Value>,
    /// (type, mapping) pairs: several for multi-type indices (ES ≤ 6), `_doc` for typeless ones.
    pub mappings: Vec<(String, Value)>,
    /// Aliases by name, with their filter and routing.
    pub aliases: BTreeMap<String, Value>,
}

impl SourceMetadata {
    /// Reads a snapshot's templates (when it included the global state) and every index it holds.
    pub fn from_snapshot(repository: &Repository, snapshot_name: &str) -> Result<SourceMetadata> {
        let _span = tracing::debug_span!("metadata_from_snapshot", snapshot = snapshot_name).entered();
        let snapshot = repository.find_snapshot(snapshot_name)?;
        let info = repository.snapshot_info(snapshot)?;
        let mut source =
            SourceMetadata { version: info.version_id.map(ferry_snapshot::version_name), ..SourceMetadata::default() };
        if info.include_global_state != Some(false) {
            let global = repository.global_metadata(snapshot)?;
            source.legacy_templates = global.legacy_templates;
            source.index_templates = global.index_templates;
            source.component_templates = global.component_templates;
        }
        for name in &info.indices {
            let index = repository.index_metadata(snapshot, name)?;
            let settings = index.settings.into_iter().map(|(key, value)| (key, snapshot_setting(value))).collect();
            source.indices.push(SourceIndex {
                name: index.name,
                settings,
                mappings: index.mappings,
                aliases: index.aliases,
            });
        }
        Ok(source)
    }

    /// Reads a live cluster's templates and indices through its GET APIs. Template APIs a version does not have
    /// (`_index_template` before 7.8) read as empty.
    pub async fn from_cluster(client: &Client) -> Result<SourceMetadata> {
        let info = client.info().await?;
        let mut source = SourceMetadata { version: Some(info.version.to_string()), ..SourceMetadata::default() };
        source.legacy_templates = object_entries("GET /_template", get_optional(client, "/_template").await?)?;
        let listed = |key: &str, inner: &str, body: Option<Value>| -> Result<BTreeMap<String, Value>> {
            let mut out = BTreeMap::new();
            let Some(body) = body else { return Ok(out) };
            let request = format!("GET /_{}", key.trim_end_matches('s'));
            let items = body.get(key).and_then(Value::as_array).ok_or_else(|| Error::UnexpectedResponse {
                request: request.clone(),
                detail: format!("no {key:?} array"),
            })?;
            for item in items {
                let name = item.get("name").and_then(Value::as_str);
                let template = item.get(inner);
                let (Some(name), Some(template)) = (name, template) else {
                    return Err(Error::UnexpectedResponse {
                        request,
                        detail: format!("an entry without name/{inner}"),
                    });
                };
                out.insert(name.to_owned(), template.clone());
            }
            Ok(out)
        };
        source.index_templates =
            listed("index_templates", "index_template", get_optional(client, "/_index_template").await?)?;
        source.component_templates =
            listed("component_templates", "component_template", get_optional(client, "/_component_template").await?)?;
        let request = "GET /_all?flat_settings=true&expand_wildcards=open,closed";
        let (status, body) = client.get_json("/_all?flat_settings=true&expand_wildcards=open,closed").await?;
        if status != 200 {
            return Err(Error::UnexpectedResponse {
                request: request.into(),
                detail: format!("HTTP {status}: {body}"),
            });
        }
        for (name, index) in object_entries(request, Some(body))? {
            let settings = index.get("settings").map(flatten_settings).unwrap_or_default();
            let mappings = index.get("mappings").map(typed_pairs).unwrap_or_default();
            let aliases = match index.get("aliases") {
                Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                _ => BTreeMap::new(),
            };
            source.indices.push(SourceIndex { name, settings, mappings, aliases });
        }
        Ok(source)
    }
}

/// A snapshot keeps list settings as JSON array text; everything else stays a string, as the cluster stored it.
fn snapshot_setting(value: String) -> Value {
    if value.starts_with('[') {
        if let Ok(array @ Value::Array(_)) = serde_json::from_str(&value) {
            return array;
        }
    }
    Value::String(value)
}

/// `GET path`, with 404 (and the 400 of versions without the API) meaning "nothing here".
async fn get_optional(client: &Client, path: &str) -> Result<Option<Value>> {
    let (status, body) = client.get_json(path).await?;
    match status {
        200 => Ok(Some(body)),
        400 | 404 | 405 => Ok(None),
        other => {
            Err(Error::UnexpectedResponse { request: format!("GET {path}"), detail: format!("HTTP {other}: {body}") })
        }
    }
}

fn object_entries(request: &str, body: Option<Value>) -> Result<BTreeMap<String, Value>> {
    match body {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => Ok(map.into_iter().collect()),
        Some(other) => Err(Error::UnexpectedResponse {
            request: request.to_owned(),
            detail: format!("expected an object, got {}", kind_of(&other)),
        }),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

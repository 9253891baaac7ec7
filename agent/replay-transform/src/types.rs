//! `remove_types`: turns Elasticsearch ≤ 6 typed requests into the typeless forms 7+ and OpenSearch accept.
//!
//! Covers what the Migration Assistant's type-mapping sanitizer does for replayed traffic (typed document
//! URLs, typed `_bulk`, typed index creation with the types' mappings merged) and adds the rest of the typed
//! URL surface (`_update`/`_create`/`_source`/`_explain`/`_termvectors`, type-scoped searches and counts, the
//! mapping APIs, legacy templates), `include_type_name`, and the `_type` / `type` fields of `_mget`,
//! `_msearch` and `_reindex` bodies. Unlike the Migration Assistant it never routes a type to its own index:
//! splitting types into indices is a `rename_index` decision the user makes explicitly.

use http::Method;

use crate::body;
use crate::config::TypeNames;
use crate::json::{Json, Object};
use crate::rules::{Draft, Failure};
use crate::target::{is_index_expression, Api};

/// Endpoints that may follow a type in the path and simply lose it: `/{index}/{type}/_search` →
/// `/{index}/_search`.
const TYPE_SCOPED_ENDPOINTS: &[&str] = &[
    "_search",
    "_count",
    "_bulk",
    "_mget",
    "_msearch",
    "_validate",
    "_delete_by_query",
    "_update_by_query",
    "_termvectors",
    "_mtermvectors",
    "_mapping",
    "_mappings",
    "_field_caps",
    "_search_shards",
];

/// Single-document endpoints whose 7+ form puts the endpoint before the id: `/{index}/{type}/{id}/_update` →
/// `/{index}/_update/{id}`.
const DOCUMENT_ENDPOINTS: &[&str] = &["_update", "_create", "_source", "_explain", "_termvectors"];

/// Object-valued top-level mapping parameters that are never type names.
const MAPPING_PARAMETERS: &[&str] = &["properties", "runtime", "dynamic_templates"];

/// Type-level mapping parameters that Elasticsearch 7+ and OpenSearch reject; dropped while unwrapping, as the
/// Migration Assistant does.
const REMOVED_META_FIELDS: &[&str] = &["_all", "_parent"];

/// A compiled `remove_types` rule.
#[derive(Debug, Clone)]
pub(crate) struct TypeRemoval {
    /// `None`: every name.
    names: Option<Vec<String>>,
}

impl TypeRemoval {
    pub(crate) fn new(names: &TypeNames) -> TypeRemoval {
        TypeRemoval {
            names: match names {
                TypeNames::Any => None,
                TypeNames::List(list) => Some(list.clone()),
            },
        }
    }

    /// Whether `name` is a type this rule removes. `_doc` (the type name ES 6 recommended, and the typeless
    /// placeholder of 7) always is; other names starting with `_` are endpoints, never types.
    fn removes(&self, name: &str) -> bool {
        name == "_doc"
            || (!name.is_empty()
                && !name.starts_with('_')
                && self.names.as_ref().is_none_or(|names| names.iter().any(|n| n == name)))
    }

    /// A comma-separated list of types in a path segment.
    fn removes_list(&self, segment: &str) -> bool {
        !segment.is_empty() && segment.split(',').all(|t| self.removes(t))
    }

    /// A `type` field: a name, a comma list, or an array of names.
    fn removes_json(&self, value: &Json) -> bool {
        match value {
            Json::String(s) => self.removes_list(s),
            Json::Array(items) => items.iter().all(|item| item.as_str().is_some_and(|s| self.removes(s))),
            _ => false,
        }
    }

    fn drop_field(&self, object: &mut Object, field: &str) -> bool {
        object.get(field).is_some_and(|v| self.removes_json(v)) && object.remove(field)
    }

    pub(crate) fn apply(&self, draft: &mut Draft) -> Result<(), Failure> {
        // Absent means typed: every ES ≤ 6 request is, and 6.x only accepts typeless bodies with `=false`.
        let typed_body = draft.target.param("include_type_name").is_none_or(|v| v != "false");
        draft.target.remove_param("include_type_name");
        let method = draft.parts.method.clone();
        let url_type = self.rewrite_path(&method, draft);
        match draft.target.api(&method) {
            Api::Bulk => draft.edit_body(|b| body::edit_bulk(b, |params| Ok(self.drop_field(params, "_type")))),
            Api::Mget => draft.edit_body(|b| {
                body::edit_json(b, |json| {
                    let docs = json.as_object_mut().and_then(|o| o.get_mut("docs"));
                    let Some(Json::Array(docs)) = docs else { return Ok(false) };
                    Ok(docs
                        .iter_mut()
                        .filter_map(Json::as_object_mut)
                        .fold(false, |changed, doc| self.drop_field(doc, "_type") | changed))
                })
            }),
            Api::Msearch => draft.edit_body(|b| body::edit_msearch(b, |header| Ok(self.drop_field(header, "type")))),
            Api::Reindex => draft.edit_body(|b| {
                body::edit_json(b, |json| {
                    let Some(root) = json.as_object_mut() else { return Ok(false) };
                    let mut changed = false;
                    for part in ["source", "dest"] {
                        if let Some(object) = root.get_mut(part).and_then(Json::as_object_mut) {
                            changed |= self.drop_field(object, "type");
                        }
                    }
                    Ok(changed)
                })
            }),
            Api::CreateIndex | Api::Template if typed_body => draft.edit_body(|b| {
                body::edit_json(b, |json| match json.as_object_mut().and_then(|o| o.get_mut("mappings")) {
                    Some(mappings) => self.unwrap_mappings(mappings),
                    None => Ok(false),
                })
            }),
            Api::PutMapping if typed_body => {
                draft.edit_body(|b| body::edit_json(b, |json| self.unwrap_put_mapping(json, url_type.as_deref())))
            }
            _ => Ok(()),
        }
    }

    /// Rewrites the path to its typeless form; returns the type a mapping URL named (its body may be wrapped in
    /// it).
    fn rewrite_path(&self, method: &Method, draft: &mut Draft) -> Option<String> {
        let segs: Vec<&str> = draft.target.segments.iter().map(String::as_str).collect();
        let mut url_type = None;
        let rewritten: Vec<&str> = match segs.as_slice() {
            [m @ ("_mapping" | "_mappings"), t, rest @ ..] if self.is_mapping_type(t, rest) => {
                url_type = Some(*t);
                [*m].into_iter().chain(rest.iter().copied()).collect()
            }
            [i, m @ ("_mapping" | "_mappings"), t, rest @ ..]
                if is_index_expression(i) && self.is_mapping_type(t, rest) =>
            {
                url_type = Some(*t);
                [*i, *m].into_iter().chain(rest.iter().copied()).collect()
            }
            [i, t, rest @ ..] if is_index_expression(i) && self.removes_list(t) => match rest {
                // Index with a generated id.
                [] if method == Method::POST => vec![*i, "_doc"],
                [] => return None,
                [endpoint, id] if DOCUMENT_ENDPOINTS.contains(endpoint) => vec![*i, *endpoint, *id],
                [endpoint, ..] if TYPE_SCOPED_ENDPOINTS.contains(endpoint) => {
                    if matches!(*endpoint, "_mapping" | "_mappings") {
                        url_type = Some(*t);
                    }
                    [*i].into_iter().chain(rest.iter().copied()).collect()
                }
                [id, endpoint] if DOCUMENT_ENDPOINTS.contains(endpoint) => vec![*i, *endpoint, *id],
                [id, more @ ..] => [*i, "_doc", *id].into_iter().chain(more.iter().copied()).collect(),
            },
            _ => return None,
        };
        let url_type = url_type.map(str::to_string);
        let rewritten = rewritten.into_iter().map(str::to_string).collect();
        draft.target.set_segments(rewritten);
        url_type
    }

    /// The segment after `_mapping` is a type unless it starts the field-mapping API (`_mapping/field/{f}`).
    fn is_mapping_type(&self, segment: &str, rest: &[&str]) -> bool {
        (segment != "field" || rest.is_empty()) && self.removes_list(segment)
    }

    fn is_type_key(&self, key: &str, value: &Json) -> bool {
        value.as_object().is_some() && !MAPPING_PARAMETERS.contains(&key) && self.removes(key)
    }

    /// `mappings: {type: {...}, ...}` → `mappings: {...}`, merging several types into one mapping when their
    /// fields agree (Elasticsearch 5 indices could have several).
    fn unwrap_mappings(&self, mappings: &mut Json) -> Result<bool, String> {
        let Some(object) = mappings.as_object() else { return Ok(false) };
        let (types, others): (Vec<_>, Vec<_>) = object.0.iter().partition(|(k, v)| self.is_type_key(k, v));
        if types.is_empty() {
            return Ok(false);
        }
        if !others.is_empty() {
            let types: Vec<&str> = types.iter().map(|(k, _)| k.as_str()).collect();
            let others: Vec<&str> = others.iter().map(|(k, _)| k.as_str()).collect();
            return Err(format!("mappings mix types {types:?} with other keys {others:?}; cannot remove types"));
        }
        let mut merged = Object::default();
        for (type_name, mapping) in &types {
            let Some(mapping) = mapping.as_object() else { continue };
            merge_type(&mut merged, type_name, mapping)?;
        }
        *mappings = Json::Object(merged);
        Ok(true)
    }

    /// A put-mapping body `{type: {...}}` (the type usually repeats the URL's) → `{...}`.
    fn unwrap_put_mapping(&self, json: &mut Json, url_type: Option<&str>) -> Result<bool, String> {
        let Some(object) = json.as_object() else { return Ok(false) };
        let [(key, value)] = object.0.as_slice() else { return Ok(false) };
        let Json::Object(mapping) = value else { return Ok(false) };
        let named_by_url = url_type.is_some_and(|t| t == key);
        if MAPPING_PARAMETERS.contains(&key.as_str()) || !(named_by_url || self.is_type_key(key, value)) {
            return Ok(false);
        }
        let mut merged = Object::default();
        merge_type(&mut merged, key, mapping)?;
        *json = Json::Object(merged);
        Ok(true)
    }
}

/// Adds one type's mapping to the typeless one: fields and parameters already present must be identical.
fn merge_type(merged: &mut Object, type_name: &str, mapping: &Object) -> Result<(), String> {
    for (key, value) in &mapping.0 {
        if REMOVED_META_FIELDS.contains(&key.as_str()) {
            continue;
        }
        if key == "properties" {
            let fields =
                value.as_object().ok_or_else(|| format!("type {type_name:?}: `properties` is not an object"))?;
            if merged.get("properties").is_none() {
                merged.0.push(("properties".to_string(), Json::Object(Object::default())));
            }
            let Some(Json::Object(target)) = merged.get_mut("properties") else {
                return Err(format!("type {type_name:?}: `properties` is not an object"));
            };
            for (field, definition) in &fields.0 {
                match target.get(field) {
                    Some(existing) if !existing.same(definition) => {
                        return Err(format!("field {field:?} is mapped differently by type {type_name:?} and another type; cannot merge types"));
                    }
                    Some(_) => {}
                    None => target.0.push((field.clone(), definition.clone())),
                }
            }
            continue;
        }
        match merged.get(key) {
            Some(existing) if !existing.same(value) => {
                return Err(format!(
                    "mapping parameter {key:?} differs between type {type_name:?} and another type; cannot merge types"
                ));
            }
            Some(_) => {}
            None => merged.0.push((key.clone(), value.clone())),
        }
    }
    Ok(())
}

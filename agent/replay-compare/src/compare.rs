//! The comparison of a target response with the source response to the same request.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::config::{CompareConfig, ResolvedConfig, Rules};
use crate::endpoint::route;
use crate::pattern::pointer;
use crate::{bulk, cat, Result, MAX_BODY_BYTES};

/// Excerpts of values in a [`Difference`] are cut to about this many bytes of JSON, so one huge `_source` or a
/// whole body does not bloat the results file.
pub const EXCERPT_BYTES: usize = 512;

/// Most elements listed on each side of an [`DifferenceKind::Order`] difference.
const ORDER_EXCERPT_ITEMS: usize = 20;

/// The outcome of comparing one pair of responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// No difference survived normalisation.
    pub matched: bool,
    /// What differs, in body order (at most `max_differences` of them).
    pub differences: Vec<Difference>,
}

/// One thing that differs between the source and the target response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Where, as a JSON pointer into the body (`""`: the status or the whole body). Array positions are the
    /// source's, except for [`DifferenceKind::MissingInSource`], which only the target has.
    pub path: String,
    /// What kind of difference.
    pub kind: DifferenceKind,
    /// The source's value (an excerpt of at most about [`EXCERPT_BYTES`]), absent when the source has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// The target's value, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
}

/// The kinds of [`Difference`]; each tells the user something different about the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The status codes differ (the target refused or failed what the source accepted, or the reverse); the
    /// values are the two statuses, and only the bodies' `error` objects are compared further.
    Status,
    /// The source has a field, hit, bucket or item the target lacks (data or a feature missing on the target).
    MissingInTarget,
    /// The target has one the source lacks (extra data, or a newer version adding a field).
    MissingInSource,
    /// Same place, same type, different value (a count, a term, an error type).
    Value,
    /// Same place, different JSON types, or JSON on one side and not on the other: typically a mapping that
    /// differs (a number in the source, a string in the target).
    Type,
    /// The same hits or buckets in another order; the values list the common elements in each side's order.
    Order,
}

/// Compares target responses with source responses under one configuration.
///
/// Built-in normalisation, outside documents (`_source`, `fields`, `highlight`) and mapping `properties`, where
/// every field is user data and always compared:
/// - ignored: `took`, `ingest_took`, `_shards`, `_seq_no`, `_primary_term` (timing and replication state of one
///   cluster); `_version` unless `versions` (backfilled documents restart at version 1); `_type` (ES ≤ 6 names a
///   type, 7 says `_doc`, 8 and OpenSearch 2 omit it, and type removal is part of the migration); `_score`,
///   `max_score`, `_explanation` unless `scores`; `_scroll_id`, `pit_id`, `_node`, `cluster_uuid`,
///   `index_uuid` (server-generated); timestamps and durations (`@timestamp`, `timestamp`, `creation_date`,
///   `start_time`, `end_time`, keys ending `_millis` or `_nanos`); index `uuid`, `version`, `provided_name` in
///   settings; `_id` of documents whose id the server generated (`POST /idx/_doc`, `_bulk` index/create
///   actions without `_id`, as the request shows).
/// - search `hits.total`: ES 6's number equals ES 7's `{value, relation: "eq"}`, and a `gte` lower bound
///   matches any exact count at or above it. Hits are matched by `_index` (source names mapped through
///   `index_renames`) and `_id`; an order difference is reported only across groups of equal score or sort
///   values.
/// - aggregations: bucket arrays are matched by `key` (a number and its string form match, so a mapping that
///   turned a number into a keyword shows as a type difference on `key`), in their defined order; numbers
///   within `float_tolerance`; `doc_count_error_upper_bound` (depends on shard count) ignored.
/// - `error` objects are compared by `type` only: reasons embed index uuids, node names and version-specific
///   wording; when types differ both whole objects are shown.
/// - `_bulk` items are compared position by position, so each item's status, result and error is checked.
/// - `_cat` responses (text or `format=json`) become rows, per-cluster columns (uuid, sizes, deleted docs,
///   clocks) are dropped, and rows are sorted unless the request asked for an order (`s=`).
/// - Endpoints describing the cluster itself (`info`, `_cluster.*`, `_nodes`…) are compared by status only.
/// - Other bodies that are not JSON are compared byte for byte.
///
/// The request is the one sent to the target (after transformation): endpoint and auto-id detection use it.
#[derive(Debug, Clone)]
pub struct Comparer {
    config: ResolvedConfig,
}

impl Comparer {
    /// Validates the configuration (every problem reported at once in [`crate::Error::Config`]).
    pub fn new(config: CompareConfig) -> Result<Comparer> {
        Ok(Comparer { config: ResolvedConfig::new(config)? })
    }

    /// Compares the responses of source and target to `request`.
    pub fn compare(
        &self,
        request: &http::Request<Bytes>,
        source: &http::Response<Bytes>,
        target: &http::Response<Bytes>,
    ) -> Verdict {
        self.compare_knowing(request, GeneratedIds::of(request), source, target)
    }

    /// [`compare`](Self::compare) for a caller that already worked out the request's [`GeneratedIds`] (a `_bulk`
    /// body is scanned once).
    pub fn compare_knowing(
        &self,
        request: &http::Request<Bytes>,
        generated: GeneratedIds,
        source: &http::Response<Bytes>,
        target: &http::Response<Bytes>,
    ) -> Verdict {
        let route = route(request.method(), request.uri().path());
        let name = route.endpoint.name.as_str();
        let rules = self.config.rules(name);
        let mut walk = Walk {
            rules: &rules,
            renames: &self.config.renames,
            limit: self.config.max_differences,
            generated,
            path: Vec::new(),
            out: Vec::new(),
        };
        let (mut s, mut t) = (Body::read(source), Body::read(target));
        let folded = rules.created_as_updated && s.fold_written() && t.fold_written();
        let written = |status: http::StatusCode| matches!(status.as_u16(), 200 | 201);
        let same_status =
            source.status() == target.status() || (folded && written(source.status()) && written(target.status()));
        if !same_status {
            let (s, t) = (Value::from(source.status().as_u16()), Value::from(target.status().as_u16()));
            walk.push(DifferenceKind::Status, Some(&s), Some(&t));
        }
        if rules.body && request.method() != http::Method::HEAD {
            let query = request.uri().query().unwrap_or_default();
            if name.starts_with("_cat.") {
                s = s.cat_rows(query, Some(&self.config.renames));
                t = t.cat_rows(query, None);
            } else if name.starts_with("indices.") {
                s.rename_top_level_keys(&self.config.renames);
            }
            // A document (`GET /idx/_source/id`) or `_cat` rows are user data throughout; their error bodies are not.
            let data = (name == "doc.get_source" && source.status().is_success())
                || (name.starts_with("_cat.") && matches!(s, Body::Json(Value::Array(_))));
            walk.bodies(if data { Zone::Doc } else { Zone::Meta }, &s, &t, same_status);
        }
        Verdict { matched: walk.out.is_empty(), differences: walk.out }
    }
}

/// The request body with its content coding removed, for reading `_bulk` actions.
/// Which document ids in the response to a request the server generates: the top-level `_id` of an index
/// request without an id (`POST /idx/_doc`), and the `_id` of `_bulk` items whose action gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedIds {
    /// The response's own `_id`.
    pub root: bool,
    /// Positions in the response's `items`.
    pub items: HashSet<usize>,
}

impl GeneratedIds {
    /// For a request as sent to the target.
    pub fn of(request: &http::Request<Bytes>) -> GeneratedIds {
        let route = route(request.method(), request.uri().path());
        let name = route.endpoint.name.as_str();
        GeneratedIds {
            root: name == "doc.index" && route.doc_id.is_none(),
            items: if name == "_bulk" { bulk::auto_id_items(&body_bytes(request)) } else { HashSet::new() },
        }
    }
}

fn body_bytes(request: &http::Request<Bytes>) -> Cow<'_, [u8]> {
    let encoding = request.headers().get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    ferry_traffic::message::decode_content(request.body(), encoding, MAX_BODY_BYTES).unwrap_or_default()
}

/// A response body, classified for comparison.
enum Body {
    Empty,
    Json(Value),
    Bytes(Bytes),
}

impl Body {
    /// For [`crate::CompareConfig::created_as_updated`]: every write result (`"result": "created"` or
    /// `"updated"`, top level or in `_bulk` items) becomes `"written"`, with status 201 or 200 becoming 200.
    /// Returns whether the body is a write response at all.
    fn fold_written(&mut self) -> bool {
        fn fold(value: &mut Value) -> bool {
            let Value::Object(object) = value else { return false };
            let mut found = false;
            if matches!(object.get("result").and_then(Value::as_str), Some("created" | "updated")) {
                object.insert("result".to_string(), Value::from("written"));
                if matches!(object.get("status").and_then(Value::as_u64), Some(200 | 201)) {
                    object.insert("status".to_string(), Value::from(200));
                }
                found = true;
            }
            if let Some(Value::Array(items)) = object.get_mut("items") {
                for item in items.iter_mut() {
                    if let Value::Object(actions) = item {
                        for action in actions.values_mut() {
                            found |= fold(action);
                        }
                    }
                }
            }
            found
        }
        match self {
            Body::Json(value) => fold(value),
            Body::Empty | Body::Bytes(_) => false,
        }
    }

    /// Removes a content coding the body still has (a target client may hand it over compressed) and parses
    /// JSON when the body looks like JSON; what does not decode or parse is compared as bytes.
    fn read(response: &http::Response<Bytes>) -> Body {
        let headers = response.headers();
        let encoding = headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
        let bytes = match ferry_traffic::message::decode_content(response.body(), encoding, MAX_BODY_BYTES) {
            Ok(Cow::Borrowed(_)) => response.body().clone(),
            Ok(Cow::Owned(decoded)) => Bytes::from(decoded),
            Err(_) => response.body().clone(),
        };
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() {
            return Body::Empty;
        }
        let json_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        if json_type || matches!(trimmed.first(), Some(b'{' | b'[')) {
            if let Ok(value) = serde_json::from_slice(trimmed) {
                return Body::Json(value);
            }
        }
        Body::Bytes(bytes)
    }

    fn cat_rows(self, query: &str, renames: Option<&BTreeMap<String, String>>) -> Body {
        let param = |name: &str| query.split('&').any(|p| p == name || p.starts_with(&format!("{name}=")));
        let mut rows = match self {
            Body::Json(rows @ Value::Array(_)) => rows,
            Body::Bytes(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => cat::text_rows(text, param("v") && !query.split('&').any(|p| p == "v=false")),
                Err(_) => return Body::Bytes(bytes),
            },
            other => return other,
        };
        cat::normalise(&mut rows, renames, param("s"));
        Body::Json(rows)
    }

    /// Index-level APIs key their response by index name (`GET /idx/_mapping`) or name it in `index`
    /// (`PUT /idx`), and renames change that name.
    fn rename_top_level_keys(&mut self, renames: &BTreeMap<String, String>) {
        let Body::Json(Value::Object(map)) = self else {
            return;
        };
        if let Some(Value::String(index)) = map.get_mut("index") {
            if let Some(renamed) = renames.get(index.as_str()) {
                *index = renamed.clone();
            }
        }
        if map.keys().any(|k| renames.contains_key(k)) {
            *map = std::mem::take(map).into_iter().map(|(k, v)| (renames.get(&k).cloned().unwrap_or(k), v)).collect();
        }
    }
}

/// Where in a body the walk is, which decides the built-in rules that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// API metadata: built-in ignores apply.
    Meta,
    /// Inside `aggregations`: keys are aggregation names chosen by users, bucket arrays are matched by key.
    Aggs,
    /// User data (documents, mappings, `_cat` rows): compared as is, only user ignores apply.
    Doc,
}

impl Zone {
    fn enter(self, key: &str) -> Zone {
        match self {
            Zone::Doc => Zone::Doc,
            _ if matches!(key, "_source" | "fields" | "highlight" | "properties" | "docvalue_fields") => Zone::Doc,
            Zone::Meta if matches!(key, "aggregations" | "aggs") => Zone::Aggs,
            zone => zone,
        }
    }
}

/// One comparison in progress: the current path and the differences found so far.
struct Walk<'a> {
    rules: &'a Rules,
    renames: &'a BTreeMap<String, String>,
    limit: usize,
    generated: GeneratedIds,
    path: Vec<String>,
    out: Vec<Difference>,
}

impl Walk<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    fn push(&mut self, kind: DifferenceKind, source: Option<&Value>, target: Option<&Value>) {
        if !self.full() {
            let path = pointer(&self.path);
            self.out.push(Difference { path, kind, source: source.map(excerpt), target: target.map(excerpt) });
        }
    }

    fn ignored(&self) -> bool {
        self.rules.ignore.iter().any(|pattern| pattern.matches(&self.path))
    }

    fn bodies(&mut self, zone: Zone, source: &Body, target: &Body, same_status: bool) {
        if !same_status {
            // Different statuses: the bodies say different things by design; only why a request failed helps.
            let only_error = |body: &Body| -> Map<String, Value> {
                let error = match body {
                    Body::Json(json) => json.get("error"),
                    _ => None,
                };
                error.map(|e| ("error".to_string(), e.clone())).into_iter().collect()
            };
            return self.object(Zone::Meta, &only_error(source), &only_error(target));
        }
        match (source, target) {
            (Body::Empty, Body::Empty) => {}
            (Body::Json(s), Body::Json(t)) => self.value(zone, s, t),
            (Body::Bytes(s), Body::Bytes(t)) => {
                if s != t {
                    let at = s.iter().zip(t.iter()).take_while(|(a, b)| a == b).count();
                    self.push(DifferenceKind::Value, Some(&text_excerpt(s, at)), Some(&text_excerpt(t, at)));
                }
            }
            (Body::Empty, t) => self.push(DifferenceKind::MissingInSource, None, Some(&t.excerpt())),
            (s, Body::Empty) => self.push(DifferenceKind::MissingInTarget, Some(&s.excerpt()), None),
            (s, t) => self.push(DifferenceKind::Type, Some(&s.excerpt()), Some(&t.excerpt())),
        }
    }

    fn value(&mut self, zone: Zone, source: &Value, target: &Value) {
        if self.full() {
            return;
        }
        match (source, target) {
            (Value::Object(s), Value::Object(t)) => self.object(zone, s, t),
            (Value::Array(s), Value::Array(t)) => self.array(zone, s, t),
            (Value::Number(s), Value::Number(t)) => {
                if !numbers_equal(s, t, self.rules.tolerance) {
                    self.push(DifferenceKind::Value, Some(source), Some(target));
                }
            }
            (s, t) if std::mem::discriminant(s) == std::mem::discriminant(t) => {
                if s != t {
                    self.push(DifferenceKind::Value, Some(source), Some(target));
                }
            }
            _ => self.push(DifferenceKind::Type, Some(source), Some(target)),
        }
    }

    /// Compares `source` and `target` (either may be absent) at `path + key`.
    fn child(&mut self, zone: Zone, key: &str, source: Option<&Value>, target: Option<&Value>) {
        self.path.push(key.to_string());
        if !self.ignored() {
            match (source, target) {
                (Some(s), Some(t)) => self.value(zone, s, t),
                (Some(s), None) => self.push(DifferenceKind::MissingInTarget, Some(s), None),
                (None, Some(t)) => self.push(DifferenceKind::MissingInSource, None, Some(t)),
                (None, None) => {}
            }
        }
        self.path.pop();
    }

    fn object(&mut self, zone: Zone, source: &Map<String, Value>, target: &Map<String, Value>) {
        let keys = source.keys().chain(target.keys().filter(|k| !source.contains_key(*k)));
        for key in keys {
            if self.full() {
                return;
            }
            if self.ignored_by_default(zone, key) {
                continue;
            }
            let (s, t) = (source.get(key), target.get(key));
            let child_zone = zone.enter(key);
            match (key.as_str(), s, t) {
                ("hits", Some(Value::Object(s)), Some(Value::Object(t)))
                    if zone != Zone::Doc && s.get("hits").is_some_and(Value::is_array) =>
                {
                    self.nested(key, |walk| walk.hits(s, t));
                }
                ("buckets", Some(Value::Array(s)), Some(Value::Array(t))) if zone == Zone::Aggs => {
                    self.nested(key, |walk| {
                        walk.keyed(Zone::Aggs, s, t, &|b, _| bucket_key(b), &|b| (0..b.len()).collect())
                    });
                }
                ("error", Some(Value::Object(s)), Some(Value::Object(t))) if zone == Zone::Meta => {
                    if s.get("type") != t.get("type") {
                        let (s, t) = (Value::Object(s.clone()), Value::Object(t.clone()));
                        self.nested(key, |walk| walk.push(DifferenceKind::Value, Some(&s), Some(&t)));
                    }
                }
                ("_index", Some(Value::String(s)), t) if zone == Zone::Meta => {
                    let renamed = Value::String(self.renames.get(s).unwrap_or(s).clone());
                    self.child(child_zone, key, Some(&renamed), t);
                }
                _ => self.child(child_zone, key, s, t),
            }
        }
    }

    /// Runs `f` with `key` appended to the path, unless the user ignores that path.
    fn nested(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(key.to_string());
        if !self.ignored() {
            f(self);
        }
        self.path.pop();
    }

    fn array(&mut self, zone: Zone, source: &[Value], target: &[Value]) {
        let len = source.len().max(target.len());
        for i in 0..len {
            if self.full() {
                return;
            }
            self.child(zone, &i.to_string(), source.get(i), target.get(i));
        }
    }

    fn ignored_by_default(&self, zone: Zone, key: &str) -> bool {
        match zone {
            Zone::Doc => false,
            Zone::Aggs => key == "doc_count_error_upper_bound",
            Zone::Meta => match key {
                "took"
                | "ingest_took"
                | "_shards"
                | "_seq_no"
                | "_primary_term"
                | "_type"
                | "_scroll_id"
                | "pit_id"
                | "_node"
                | "cluster_uuid"
                | "index_uuid"
                | "@timestamp"
                | "timestamp"
                | "creation_date"
                | "creation_date_string"
                | "start_time"
                | "end_time" => true,
                "_version" => !self.rules.versions,
                "_score" | "max_score" | "_explanation" => !self.rules.scores,
                "_id" => self.auto_id_at_path(),
                _ => key.ends_with("_millis") || key.ends_with("_nanos") || self.generated_setting(key),
            },
        }
    }

    /// Whether an `_id` at the current path was generated by the server (see [`Comparer`]).
    fn auto_id_at_path(&self) -> bool {
        match self.path.as_slice() {
            [] => self.generated.root,
            [items, position, _action] if items == "items" => {
                position.parse::<usize>().is_ok_and(|p| self.generated.items.contains(&p))
            }
            _ => false,
        }
    }

    /// Index settings each cluster sets for itself (`index.uuid`, `index.version.created`, `index.provided_name`),
    /// nested or flat (`flat_settings=true`).
    fn generated_setting(&self, key: &str) -> bool {
        let mut parents = self.path.iter().rev().map(String::as_str);
        match (parents.next(), parents.next()) {
            (Some("index"), Some("settings")) => matches!(key, "uuid" | "version" | "provided_name"),
            (Some("settings"), _) => {
                key == "index.uuid" || key == "index.provided_name" || key.starts_with("index.version.")
            }
            _ => false,
        }
    }

    /// A search `hits` object: `total` normalised, the `hits` array matched by index and id.
    fn hits(&mut self, source: &Map<String, Value>, target: &Map<String, Value>) {
        let keys = source.keys().chain(target.keys().filter(|k| !source.contains_key(*k)));
        for key in keys {
            if self.ignored_by_default(Zone::Meta, key) {
                continue;
            }
            let (s, t) = (source.get(key), target.get(key));
            match (key.as_str(), s, t) {
                ("total", Some(s), Some(t)) => match (total(s), total(t)) {
                    (Some(s_total), Some(t_total)) => {
                        if !totals_agree(s_total, t_total) {
                            self.nested(key, |walk| walk.push(DifferenceKind::Value, Some(s), Some(t)));
                        }
                    }
                    _ => self.child(Zone::Meta, key, Some(s), Some(t)),
                },
                ("hits", Some(Value::Array(s)), Some(Value::Array(t))) => {
                    let renames = self.renames;
                    let key_of = |hit: &Value, source_side: bool| hit_key(hit, source_side.then_some(renames));
                    self.nested(key, |walk| walk.keyed(Zone::Meta, s, t, &key_of, &tie_groups));
                }
                _ => self.child(Zone::Meta, key, s, t),
            }
        }
    }

    /// Compares arrays whose elements have identities (hits, buckets): matched elements are compared wherever
    /// they are, unmatched ones reported missing, and one order difference if common elements are out of order.
    /// `groups` gives each source element its position class: elements of one class may come in any order.
    /// Arrays with elements lacking a key, or with duplicate keys, are compared position by position.
    fn keyed(
        &mut self,
        zone: Zone,
        source: &[Value],
        target: &[Value],
        key_of: &dyn Fn(&Value, bool) -> Option<String>,
        groups: &dyn Fn(&[Value]) -> Vec<usize>,
    ) {
        let (Some(source_keys), Some(target_keys)) =
            (keys(source, |v| key_of(v, true)), keys(target, |v| key_of(v, false)))
        else {
            return self.array(zone, source, target);
        };
        let target_at: HashMap<&str, usize> = target_keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        let source_at: HashMap<&str, usize> = source_keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        for (i, (key, s)) in source_keys.iter().zip(source).enumerate() {
            if self.full() {
                return;
            }
            let t = target_at.get(key.as_str()).and_then(|&j| target.get(j));
            self.child(zone, &i.to_string(), Some(s), t);
        }
        for (j, (key, t)) in target_keys.iter().zip(target).enumerate() {
            if !source_at.contains_key(key.as_str()) {
                self.child(zone, &j.to_string(), None, Some(t));
            }
        }
        let order_matters = self.rules.hit_order || zone == Zone::Aggs;
        if !order_matters {
            return;
        }
        let source_groups = groups(source);
        let order = target_keys.iter().filter_map(|k| source_at.get(k.as_str())).filter_map(|&i| source_groups.get(i));
        if !order.clone().zip(order.skip(1)).all(|(a, b)| a <= b) {
            let listed = |keys: &[String], other: &HashMap<&str, usize>| -> Value {
                let common = keys.iter().filter(|k| other.contains_key(k.as_str()));
                Value::Array(common.take(ORDER_EXCERPT_ITEMS).map(|k| Value::String(k.clone())).collect())
            };
            let (s, t) = (listed(&source_keys, &target_at), listed(&target_keys, &source_at));
            self.push(DifferenceKind::Order, Some(&s), Some(&t));
        }
    }
}

/// Each element's key, or `None` if one has none or two share one.
fn keys(items: &[Value], key_of: impl Fn(&Value) -> Option<String>) -> Option<Vec<String>> {
    let keys: Vec<String> = items.iter().map(key_of).collect::<Option<_>>()?;
    let distinct: HashSet<&String> = keys.iter().collect();
    (distinct.len() == keys.len()).then_some(keys)
}

/// `index/id` of a search hit (index mapped through `renames` on the source side).
fn hit_key(hit: &Value, renames: Option<&BTreeMap<String, String>>) -> Option<String> {
    let id = match hit.get("_id")? {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    let index = hit.get("_index").and_then(Value::as_str).unwrap_or_default();
    let index = renames.and_then(|r| r.get(index)).map(String::as_str).unwrap_or(index);
    Some(format!("{index}/{id}"))
}

/// The tie group of each hit: neighbours with equal `sort` values (or scores, when unsorted) share one, since
/// shards break such ties in no defined order.
fn tie_groups(hits: &[Value]) -> Vec<usize> {
    let rank = |hit: &Value| (hit.get("sort").cloned(), hit.get("_score").cloned());
    let mut group = 0usize;
    let mut groups = Vec::with_capacity(hits.len());
    for (i, hit) in hits.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| hits.get(p));
        if previous.is_some_and(|p| rank(p) != rank(hit)) {
            group = group.saturating_add(1);
        }
        groups.push(group);
    }
    groups
}

/// A bucket's key as text, so that `5` and `"5"` name the same bucket and the type difference shows on `key`.
fn bucket_key(bucket: &Value) -> Option<String> {
    match bucket.get("key")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        }),
        other => Some(other.to_string()),
    }
}

/// `hits.total` as (count, exact): ES 6 gives a number, ES 7+ `{value, relation}` (`gte` is a lower bound).
fn total(value: &Value) -> Option<(u64, bool)> {
    match value {
        Value::Number(n) => Some((n.as_u64()?, true)),
        Value::Object(o) => Some((o.get("value")?.as_u64()?, o.get("relation").and_then(Value::as_str) != Some("gte"))),
        _ => None,
    }
}

fn totals_agree((s, s_exact): (u64, bool), (t, t_exact): (u64, bool)) -> bool {
    match (s_exact, t_exact) {
        (true, true) | (false, false) => s == t,
        (true, false) => s >= t,
        (false, true) => t >= s,
    }
}

/// Integers compare exactly; otherwise relative to the larger magnitude (or absolutely below 1).
fn numbers_equal(a: &Number, b: &Number, tolerance: f64) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= tolerance * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

impl Body {
    fn excerpt(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Json(v) => excerpt(v),
            Body::Bytes(b) => text_excerpt(b, 0),
        }
    }
}

/// A value cut to about [`EXCERPT_BYTES`] of JSON: itself when small, else the start of its JSON text ending
/// in `…`. Serialisation stops at the limit, so excerpting a 50 MB body costs no more than a small one.
pub(crate) fn excerpt(value: &Value) -> Value {
    let mut out = Bounded(Vec::new());
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => value.clone(),
        Err(_) => {
            let text = match std::str::from_utf8(&out.0) {
                Ok(text) => text,
                Err(e) => std::str::from_utf8(out.0.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default(),
            };
            Value::String(format!("{text}…"))
        }
    }
}

/// A non-JSON body excerpt around byte `at` (the first difference): `{"offset": at, "text": "…"}`.
fn text_excerpt(bytes: &[u8], at: usize) -> Value {
    let start = at.saturating_sub(32).min(bytes.len());
    let end = start.saturating_add(EXCERPT_BYTES / 2).min(bytes.len());
    let text = String::from_utf8_lossy(bytes.get(start..end).unwrap_or_default()).into_owned();
    serde_json::json!({ "offset": at, "text": text })
}

/// A writer that refuses bytes past [`EXCERPT_BYTES`], keeping what fit.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = EXCERPT_BYTES.saturating_sub(self.0.len());
        if buf.len() > room {
            self.0.extend_from_slice(buf.get(..room).unwrap_or_default());
            return Err(std::io::Error::other("excerpt limit reached"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! The transformations: pure functions over JSON that rewrite source metadata into something the target accepts,
//! each recording a human-readable note of what it changed (or a problem where it had to guess).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::Target;

/// What the transformations did to one item: notes describe changes, problems need a person's attention.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Log {
    /// Changes made, one sentence each.
    pub notes: Vec<String>,
    /// Things that may not migrate as intended (a conflict resolved by a guess, an unsupported feature).
    pub problems: Vec<String>,
}

impl Log {
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub(crate) fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }
}

/// Settings the target computes itself or rejects when given: identity, history and allocation internals.
const DROPPED_SETTING_PREFIXES: &[&str] = &[
    "index.uuid",
    "index.creation_date",
    "index.version.",
    "index.provided_name",
    "index.history.uuid",
    "index.routing.allocation.",
    "index.resize.",
    "index.shrink.",
    "index.verified_before_close",
    "index.frozen",
    "index.search.throttled",
    "index.mapping.single_type",
    "index.mapper.dynamic",
    "index.format",
    "index.soft_deletes.",
    "index.store.snapshot.",
    "index.lifecycle.",
    "index.xpack.",
    "index.downsample.",
    "index.blocks.",
    "archived.",
];

/// Settings only Elasticsearch understands, dropped for OpenSearch targets.
const ELASTICSEARCH_ONLY_SETTING_PREFIXES: &[&str] = &["index.routing.rebalance.", "index.time_series.", "index.mode"];

/// Built-in analysis component types (Elasticsearch 5–8 and OpenSearch without plugins); anything else needs an
/// analysis plugin the target may not have.
const BUILTIN_ANALYSIS_TYPES: &[&str] = &[
    // analyzers
    "standard",
    "simple",
    "whitespace",
    "stop",
    "keyword",
    "pattern",
    "fingerprint",
    "custom",
    "snowball",
    "arabic",
    "armenian",
    "basque",
    "bengali",
    "brazilian",
    "bulgarian",
    "catalan",
    "cjk",
    "czech",
    "danish",
    "dutch",
    "english",
    "estonian",
    "finnish",
    "french",
    "galician",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "latvian",
    "lithuanian",
    "norwegian",
    "persian",
    "portuguese",
    "romanian",
    "russian",
    "sorani",
    "spanish",
    "swedish",
    "turkish",
    "thai",
    // tokenizers
    "letter",
    "lowercase",
    "uax_url_email",
    "classic",
    "ngram",
    "nGram",
    "edge_ngram",
    "edgeNGram",
    "char_group",
    "simple_pattern",
    "simple_pattern_split",
    "path_hierarchy",
    "PathHierarchy",
    // token filters
    "apostrophe",
    "asciifolding",
    "cjk_bigram",
    "cjk_width",
    "common_grams",
    "condition",
    "decimal_digit",
    "delimited_payload",
    "delimited_payload_filter",
    "dictionary_decompounder",
    "elision",
    "flatten_graph",
    "hunspell",
    "hyphenation_decompounder",
    "keep_types",
    "keep",
    "keyword_marker",
    "keyword_repeat",
    "kstem",
    "length",
    "limit",
    "multiplexer",
    "pattern_capture",
    "pattern_replace",
    "porter_stem",
    "predicate_token_filter",
    "remove_duplicates",
    "reverse",
    "shingle",
    "stemmer",
    "stemmer_override",
    "synonym",
    "synonym_graph",
    "trim",
    "truncate",
    "unique",
    "uppercase",
    "word_delimiter",
    "word_delimiter_graph",
    "min_hash",
    "arabic_normalization",
    "german_normalization",
    "hindi_normalization",
    "indic_normalization",
    "sorani_normalization",
    "persian_normalization",
    "scandinavian_normalization",
    "scandinavian_folding",
    "serbian_normalization",
    "classic_filter",
    "fingerprint_filter",
    "nGram_filter",
    "edge_ngram_filter",
    "ngram_filter",
    // character filters
    "html_strip",
    "mapping",
];

/// Flattens nested settings (`{"index": {"number_of_shards": "1"}}`) into `index.number_of_shards` keys, adding
/// the `index.` prefix the server would add, so every source shape is filtered the same way.
pub fn flatten_settings(settings: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, child, out);
                }
            }
            leaf => {
                let key = if prefix.starts_with("index.") || prefix.starts_with("archived.") {
                    prefix.to_owned()
                } else {
                    format!("index.{prefix}")
                };
                out.insert(key, leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", settings, &mut out);
    out
}

/// Drops the settings a new index on `target` must not be given, each with a note.
pub fn filter_settings(settings: &mut BTreeMap<String, Value>, target: &Target, log: &mut Log) {
    let before: Vec<String> = settings.keys().cloned().collect();
    for key in before {
        let internal = DROPPED_SETTING_PREFIXES.iter().any(|p| key == p.trim_end_matches('.') || key.starts_with(p));
        let es_only = target.is_opensearch() && ELASTICSEARCH_ONLY_SETTING_PREFIXES.iter().any(|p| key.starts_with(p));
        if internal || es_only {
            settings.remove(&key);
            let why = if internal { "set by the cluster or not accepted on a new index" } else { "Elasticsearch only" };
            log.note(format!("dropped setting {key} ({why})"));
        }
    }
}

/// Drops analysis components whose type needs a plugin (ICU, kuromoji, phonetic …), then the custom analyzers
/// and normalizers that use a dropped component. Returns the names of dropped analyzers and normalizers, which
/// [`drop_analyzer_references`] removes from the mappings.
pub fn drop_plugin_analysis(settings: &mut BTreeMap<String, Value>, log: &mut Log) -> BTreeSet<String> {
    // Components are `index.analysis.<kind>.<name>.<param…>` keys; collect each component's type first.
    let mut types: BTreeMap<(String, String), String> = BTreeMap::new();
    for (key, value) in settings.iter() {
        let mut parts = key.splitn(5, '.');
        if let (Some("index"), Some("analysis"), Some(kind), Some(name), Some("type")) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        {
            if let Some(t) = value.as_str() {
                types.insert((kind.to_owned(), name.to_owned()), t.to_owned());
            }
        }
    }
    let mut dropped: BTreeSet<(String, String)> = types
        .iter()
        .filter(|(_, t)| !BUILTIN_ANALYSIS_TYPES.contains(&t.as_str()))
        .map(|(component, _)| component.clone())
        .collect();
    for (kind, name) in &dropped {
        let t = types.get(&(kind.clone(), name.clone())).map_or("?", String::as_str);
        log.problem(format!("dropped {kind} {name}: type {t:?} needs an analysis plugin the target may not have"));
    }
    // Custom analyzers and normalizers reference tokenizers, filters and char filters by name.
    let mut dropped_names: BTreeSet<String> = BTreeSet::new();
    for (key, value) in settings.iter() {
        let mut parts = key.splitn(5, '.');
        let (Some("index"), Some("analysis"), Some(kind @ ("analyzer" | "normalizer")), Some(name), Some(param)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let referenced_kind = match param {
            "tokenizer" => "tokenizer",
            p if p == "filter" || p.starts_with("filter.") => "filter",
            p if p == "char_filter" || p.starts_with("char_filter.") => "char_filter",
            _ => continue,
        };
        let names: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(missing) = names.iter().find(|n| dropped.contains(&(referenced_kind.to_owned(), (**n).to_owned())))
        {
            if dropped_names.insert(name.to_owned()) {
                log.problem(format!("dropped {kind} {name}: it uses the dropped {referenced_kind} {missing}"));
            }
        }
    }
    for name in &dropped_names {
        dropped.insert(("analyzer".to_owned(), name.clone()));
        dropped.insert(("normalizer".to_owned(), name.clone()));
    }
    settings.retain(|key, _| {
        let mut parts = key.splitn(5, '.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("index"), Some("analysis"), Some(kind), Some(name)) => {
                !dropped.contains(&(kind.to_owned(), name.to_owned()))
            }
            _ => true,
        }
    });
    dropped.into_iter().filter(|(kind, _)| kind == "analyzer" || kind == "normalizer").map(|(_, n)| n).collect()
}

/// Removes field parameters that name an analyzer or normalizer in `dropped`, so the field falls back to the
/// default instead of failing index creation.
pub fn drop_analyzer_references(mapping: &mut Value, dropped: &BTreeSet<String>, log: &mut Log) {
    if dropped.is_empty() {
        return;
    }
    for_each_field(mapping, &mut |path, field| {
        for param in ["analyzer", "search_analyzer", "search_quote_analyzer", "normalizer"] {
            if let Some(name) = field.get(param).and_then(Value::as_str).map(str::to_owned) {
                if dropped.contains(&name) {
                    field.remove(param);
                    log.problem(format!("field {path}: removed {param} {name} (dropped), the default applies"));
                }
            }
        }
    });
}

/// Calls `visit` on every field definition of a (typeless) mapping: `properties`, multi-field `fields`, and
/// the `mapping` of each dynamic template, with a dotted path for messages.
fn for_each_field(mapping: &mut Value, visit: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
    fn properties(prefix: &str, object: &mut Map<String, Value>, visit: &mut dyn FnMut(&str, &mut Map<String, Value>)) {
        for key in ["properties", "fields"] {
            if let Some(Value::Object(children)) = object.get_mut(key) {
                for (name, child) in children.iter_mut() {
                    if let Value::Object(field) = child {
                        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                        visit(&path, field);
                        properties(&path, field, visit);
                    }
                }
            }
        }
    }
    let Value::Object(root) = mapping else { return };
    properties("", root, visit);
    if let Some(Value::Array(templates)) = root.get_mut("dynamic_templates") {
        for template in templates {
            if let Value::Object(named) = template {
                for (name, body) in named.iter_mut() {
                    if let Some(Value::Object(field)) = body.get_mut("mapping") {
                        let path = format!("dynamic_templates.{name}");
                        visit(&path, field);
                        properties(&path, field, visit);
                    }
                }
            }
        }
    }
}

/// Removes `_all` (gone in Elasticsearch 7 and OpenSearch) and every field's `include_in_all`.
pub fn remove_all_field(mapping: &mut Value, log: &mut Log) {
    if let Some(root) = mapping.as_object_mut() {
        if root.remove("_all").is_some() {
            log.note("removed _all (not supported since Elasticsearch 7)");
        }
    }
    let mut fields = Vec::new();
    for_each_field(mapping, &mut |path, field| {
        if field.remove("include_in_all").is_some() {
            fields.push(path.to_owned());
        }
    });
    if !fields.is_empty() {
        log.note(format!("removed include_in_all from {}", fields.join(", ")));
    }
}

/// Rewrites Elasticsearch 5 `string` fields: `not_analyzed` (and `no`) become `keyword`, analyzed ones `text`,
/// keeping only the parameters the new type accepts.
pub fn convert_string_fields(mapping: &mut Value, log: &mut Log) {
    for_each_field(mapping, &mut |path, field| {
        if field.get("type").and_then(Value::as_str) != Some("string") {
            return;
        }
        let index = field.remove("index");
        let keyword = matches!(index.as_ref().and_then(Value::as_str), Some("not_analyzed" | "no"));
        if matches!(index.as_ref().and_then(Value::as_str), Some("no")) || index == Some(Value::Bool(false)) {
            field.insert("index".into(), Value::Bool(false));
        }
        let (new_type, unsupported): (&str, &[&str]) = if keyword {
            (
                "keyword",
                &[
                    "analyzer",
                    "search_analyzer",
                    "search_quote_analyzer",
                    "position_increment_gap",
                    "fielddata",
                    "term_vector",
                    "index_options",
                ],
            )
        } else {
            ("text", &["doc_values", "ignore_above", "null_value", "normalizer"])
        };
        field.insert("type".into(), Value::String(new_type.into()));
        let mut removed = Vec::new();
        for param in unsupported {
            if field.remove(*param).is_some() {
                removed.push(*param);
            }
        }
        // `fielddata` was an object (`{"format": "disabled"}`) on 5.x strings; text only takes a boolean.
        if let Some(fielddata) = field.get("fielddata") {
            if !fielddata.is_boolean() {
                field.remove("fielddata");
                removed.push("fielddata");
            }
        }
        let mut note = format!("field {path}: string → {new_type}");
        if !removed.is_empty() {
            note.push_str(&format!(" (removed {})", removed.join(", ")));
        }
        log.note(note);
    });
}

/// For OpenSearch targets: `dense_vector` → `knn_vector` (`dims` → `dimension`) and `flattened` → `flat_object`,
/// dropping the parameters the OpenSearch types do not have.
pub fn convert_opensearch_types(mapping: &mut Value, target: &Target, log: &mut Log) {
    if !target.is_opensearch() {
        return;
    }
    for_each_field(mapping, &mut |path, field| match field.get("type").and_then(Value::as_str) {
        Some("dense_vector") => {
            let dims = field.get("dims").cloned();
            let similarity = field.get("similarity").and_then(Value::as_str).map(str::to_owned);
            field.clear();
            field.insert("type".into(), Value::String("knn_vector".into()));
            match dims {
                Some(dims) => {
                    field.insert("dimension".into(), dims);
                }
                None => log.problem(format!("field {path}: dense_vector without dims; knn_vector needs a dimension")),
            }
            log.note(format!("field {path}: dense_vector → knn_vector"));
            if let Some(similarity) = similarity {
                log.problem(format!(
                    "field {path}: similarity {similarity:?} not carried over; set index.knn and a knn method \
                     with the matching space_type to search by it"
                ));
            }
        }
        Some("flattened") => {
            let removed: Vec<String> = field.keys().filter(|k| k.as_str() != "type").cloned().collect();
            field.retain(|k, _| k == "type");
            field.insert("type".into(), Value::String("flat_object".into()));
            let mut note = format!("field {path}: flattened → flat_object");
            if !removed.is_empty() {
                note.push_str(&format!(" (removed {})", removed.join(", ")));
            }
            log.note(note);
            if target.version.major < 2 || (target.version.major == 2 && target.version.minor < 7) {
                log.problem(format!("field {path}: flat_object needs OpenSearch 2.7 or later"));
            }
        }
        _ => {}
    });
}

/// How the mappings of one source index (or legacy template) become target mappings.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedMappings {
    /// One typeless mapping (possibly empty) for the one target index.
    One(Value),
    /// One typeless mapping per type, for [`crate::TypeRule::Split`] of a multi-type index.
    PerType(Vec<(String, Value)>),
}

/// Removes `_default_` and reduces (type, mapping) pairs to typeless mappings: several types are merged into one
/// (`split == false`) or kept apart. A field defined differently by two types keeps the first definition and is
/// reported as a problem.
pub fn resolve_types(types: &[(String, Value)], split: bool, log: &mut Log) -> TypedMappings {
    let mut kept: Vec<(String, Value)> = Vec::new();
    for (name, mapping) in types {
        if name == "_default_" {
            log.note("removed the _default_ mapping (not supported since Elasticsearch 7)");
        } else {
            kept.push((name.clone(), mapping.clone()));
        }
    }
    match kept.len() {
        0 => TypedMappings::One(Value::Object(Map::new())),
        1 => {
            let (name, mapping) = kept.remove(0);
            if name != "_doc" {
                log.note(format!("mapping type {name} removed (indices are typeless since Elasticsearch 7)"));
            }
            TypedMappings::One(mapping)
        }
        _ if split => {
            let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
            log.note(format!("types {} split into one index each", names.join(", ")));
            TypedMappings::PerType(kept)
        }
        _ => {
            let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
            log.note(format!("types {} merged into one mapping", names.join(", ")));
            let mut merged = Value::Object(Map::new());
            for (name, mapping) in &kept {
                merge_mapping(&mut merged, mapping, "", name, log);
            }
            TypedMappings::One(merged)
        }
    }
}

/// Merges `from` into `into`: objects are merged key by key (so `properties` of both types combine), and a
/// conflicting leaf keeps the value already there.
fn merge_mapping(into: &mut Value, from: &Value, path: &str, type_name: &str, log: &mut Log) {
    let (Value::Object(into), Value::Object(from)) = (into, from) else { return };
    for (key, value) in from {
        let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        match into.get_mut(key) {
            None => {
                into.insert(key.clone(), value.clone());
            }
            Some(existing) if existing.is_object() && value.is_object() => {
                merge_mapping(existing, value, &child_path, type_name, log);
            }
            Some(existing) if existing == value => {}
            Some(existing) => log.problem(format!(
                "type {type_name}: {child_path} is {value} but an earlier type set {existing}; kept the earlier"
            )),
        }
    }
}

/// Every transformation of a typeless mapping for `target`, in order; `dropped_analyzers` come from
/// [`drop_plugin_analysis`] on the same item's settings.
pub fn transform_mapping(mapping: &mut Value, target: &Target, dropped_analyzers: &BTreeSet<String>, log: &mut Log) {
    remove_all_field(mapping, log);
    convert_string_fields(mapping, log);
    convert_opensearch_types(mapping, target, log);
    drop_analyzer_references(mapping, dropped_analyzers, log);
}

/// Reads the mappings of a legacy template or a `GET /<index>` answer as (type, mapping) pairs: the snapshot's
/// list of single-type objects, a typed object (`{"doc": {"properties": …}}`, ES ≤ 6), or a typeless mapping
/// (returned as type `_doc`).
pub fn typed_pairs(mappings: &Value) -> Vec<(String, Value)> {
    const ROOT_PARAMS: &[&str] = &[
        "properties",
        "dynamic",
        "dynamic_templates",
        "_source",
        "_routing",
        "_meta",
        "_all",
        "_field_names",
        "_size",
        "date_detection",
        "numeric_detection",
        "dynamic_date_formats",
        "enabled",
        "runtime",
        "_data_stream_timestamp",
    ];
    match mappings {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|object| object.iter().map(|(t, m)| (t.clone(), m.clone())))
            .collect(),
        Value::Object(map) if map.is_empty() => Vec::new(),
        Value::Object(map) if map.keys().any(|k| ROOT_PARAMS.contains(&k.as_str())) => {
            vec![("_doc".to_owned(), mappings.clone())]
        }
        Value::Object(map) => map.iter().map(|(t, m)| (t.clone(), m.clone())).collect(),
        _ => Vec::new(),
    }
}

/// Turns flat settings back into a JSON object for a request body (flat keys are accepted by every version).
pub fn settings_object(settings: &BTreeMap<String, Value>) -> Value {
    Value::Object(settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn opensearch() -> Target {
        Target::opensearch(2, 11)
    }

    #[test]
    fn settings_are_flattened_with_the_index_prefix() {
        let flat = flatten_settings(&json!({"index": {"number_of_shards": "1", "analysis": {"analyzer": {"a":
            {"type": "standard"}}}}, "number_of_replicas": 0}));
        assert_eq!(flat.get("index.number_of_shards"), Some(&json!("1")));
        assert_eq!(flat.get("index.number_of_replicas"), Some(&json!(0)));
        assert_eq!(flat.get("index.analysis.analyzer.a.type"), Some(&json!("standard")));
    }

    #[test]
    fn internal_settings_of_a_real_7_10_index_are_dropped() {
        // ES_7_10_Single, index posts_2023_02_25.
        let mut settings: BTreeMap<String, Value> = [
            ("index.creation_date", "1711120608041"),
            ("index.number_of_replicas", "1"),
            ("index.number_of_shards", "1"),
            ("index.provided_name", "posts_2023_02_25"),
            ("index.routing.allocation.include._tier_preference", "data_content"),
            ("index.uuid", "CsS2Nx5QQ9ObYacB1k-vDg"),
            ("index.version.created", "7100299"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
        let mut log = Log::default();
        filter_settings(&mut settings, &opensearch(), &mut log);
        assert_eq!(settings.keys().collect::<Vec<_>>(), ["index.number_of_replicas", "index.number_of_shards"]);
        assert_eq!(log.notes.len(), 5);
        assert!(log.notes.iter().any(|n| n.contains("index.routing.allocation.include._tier_preference")));
    }

    #[test]
    fn plugin_analysis_is_dropped_with_the_analyzers_and_fields_using_it() {
        let mut settings = flatten_settings(&json!({"index": {"analysis": {
        "tokenizer": {"icu": {"type": "icu_tokenizer"}},
        "filter": {"email": {"type": "pattern_capture", "patterns": ["([^@]+)"]}},
        "analyzer": {
            "uses_icu": {"type": "custom", "tokenizer": "icu", "filter": ["lowercase"]},
            "email": {"type": "custom", "tokenizer": "uax_url_email", "filter": ["email", "lowercase"]}
        }}}}));
        let mut log = Log::default();
        let dropped = drop_plugin_analysis(&mut settings, &mut log);
        assert_eq!(dropped.into_iter().collect::<Vec<_>>(), ["uses_icu"]);
        assert!(settings.keys().all(|k| !k.contains(".icu.") && !k.contains("uses_icu")));
        assert!(settings.contains_key("index.analysis.analyzer.email.tokenizer"));
        assert_eq!(log.problems.len(), 2);

        let mut mapping = json!({"properties": {"body": {"type": "text", "analyzer": "uses_icu"},
            "mail": {"type": "text", "analyzer": "email"}}});
        drop_analyzer_references(&mut mapping, &["uses_icu".to_owned()].into(), &mut log);
        assert_eq!(
            mapping,
            json!({"properties": {"body": {"type": "text"}, "mail": {"type": "text", "analyzer": "email"}}})
        );
    }

    #[test]
    fn all_and_include_in_all_are_removed() {
        // From the 5.6 fixture's security_audit_log template, with an include_in_all added to a field.
        let mut mapping = json!({"_all": {"enabled": false}, "dynamic": "strict", "properties": {
            "action": {"type": "keyword", "include_in_all": false},
            "obj": {"properties": {"inner": {"type": "text", "include_in_all": true}}}}});
        let mut log = Log::default();
        remove_all_field(&mut mapping, &mut log);
        assert_eq!(
            mapping,
            json!({"dynamic": "strict", "properties": {"action": {"type": "keyword"},
            "obj": {"properties": {"inner": {"type": "text"}}}}})
        );
        assert_eq!(log.notes.len(), 2);
        assert!(log.notes[1].contains("action, obj.inner"));
    }

    #[test]
    fn strings_become_text_or_keyword() {
        let mut mapping = json!({"properties": {
            "title": {"type": "string", "analyzer": "english", "fields": {"raw": {"type": "string",
                "index": "not_analyzed", "ignore_above": 256}}},
            "tag": {"type": "string", "index": "not_analyzed", "doc_values": true},
            "blob": {"type": "string", "index": "no"},
            "old": {"type": "string", "fielddata": {"format": "disabled"}, "doc_values": false}},
            "dynamic_templates": [{"s": {"match_mapping_type": "string", "mapping": {"type": "string",
                "index": "not_analyzed"}}}]});
        let mut log = Log::default();
        convert_string_fields(&mut mapping, &mut log);
        assert_eq!(
            mapping,
            json!({"properties": {
            "title": {"type": "text", "analyzer": "english", "fields": {"raw": {"type": "keyword",
                "ignore_above": 256}}},
            "tag": {"type": "keyword", "doc_values": true},
            "blob": {"type": "keyword", "index": false},
            "old": {"type": "text"}},
            "dynamic_templates": [{"s": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}]})
        );
        assert_eq!(log.notes.len(), 6);
        assert!(log.notes.iter().any(|n| n == "field old: string → text (removed doc_values, fielddata)"));
    }

    #[test]
    fn vectors_and_flattened_fields_get_opensearch_types() {
        let original = json!({"properties": {"v": {"type": "dense_vector", "dims": 3, "similarity": "cosine",
            "index": true}, "labels": {"type": "flattened", "ignore_above": 10}}});
        let mut mapping = original.clone();
        let mut log = Log::default();
        convert_opensearch_types(&mut mapping, &opensearch(), &mut log);
        assert_eq!(
            mapping,
            json!({"properties": {"v": {"type": "knn_vector", "dimension": 3},
            "labels": {"type": "flat_object"}}})
        );
        assert_eq!(log.notes.len(), 2);
        assert_eq!(log.problems.len(), 1);

        let mut untouched = original.clone();
        convert_opensearch_types(&mut untouched, &Target::elasticsearch(8, 11), &mut Log::default());
        assert_eq!(untouched, original);

        let mut old = original;
        let mut log = Log::default();
        convert_opensearch_types(&mut old, &Target::opensearch(1, 3), &mut log);
        assert!(log.problems.iter().any(|p| p.contains("2.7")));
    }

    #[test]
    fn the_5_6_fixture_types_merge_or_split() {
        // ES_5_6_Updates_Deletes, index test_updates_deletes, in stored order.
        let types = vec![
            (
                "type2".to_owned(),
                json!({"properties": {"content": {"fields": {"keyword": {"ignore_above": 256,
                "type": "keyword"}}, "type": "text"}, "contents": {"type": "text"}}}),
            ),
            ("type1".to_owned(), json!({"properties": {"title": {"type": "text"}}})),
        ];
        let mut log = Log::default();
        let TypedMappings::One(merged) = resolve_types(&types, false, &mut log) else { panic!("merge gave types") };
        assert_eq!(merged["properties"].as_object().map(|p| p.len()), Some(3));
        assert!(log.problems.is_empty());
        let TypedMappings::PerType(split) = resolve_types(&types, true, &mut Log::default()) else {
            panic!("split gave one mapping")
        };
        assert_eq!(split.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["type2", "type1"]);
    }

    #[test]
    fn merge_conflicts_keep_the_first_type_and_are_reported() {
        let types = vec![
            ("_default_".to_owned(), json!({"_all": {"enabled": false}})),
            ("a".to_owned(), json!({"properties": {"f": {"type": "keyword"}}})),
            ("b".to_owned(), json!({"properties": {"f": {"type": "long"}}})),
        ];
        let mut log = Log::default();
        let TypedMappings::One(merged) = resolve_types(&types, false, &mut log) else { panic!("merge gave types") };
        assert_eq!(merged, json!({"properties": {"f": {"type": "keyword"}}}));
        assert_eq!(log.problems.len(), 1);
        assert!(log.problems[0].contains("properties.f.type"));
        assert!(log.notes[0].contains("_default_"));
    }

    #[test]
    fn mapping_shapes_are_recognised() {
        // Snapshot legacy template (5.6 .ml-notifications), ES 6 typed GET, ES 7 typeless GET, empty.
        let listed = json!([{"audit_message": {"properties": {"job_id": {"type": "keyword"}}}}]);
        assert_eq!(typed_pairs(&listed)[0].0, "audit_message");
        let typed = json!({"doc": {"properties": {"a": {"type": "text"}}}, "other": {}});
        assert_eq!(typed_pairs(&typed).len(), 2);
        let typeless = json!({"dynamic": "strict", "properties": {"a": {"type": "text"}}});
        assert_eq!(typed_pairs(&typeless), vec![("_doc".to_owned(), typeless.clone())]);
        assert!(typed_pairs(&json!({})).is_empty());
    }
}

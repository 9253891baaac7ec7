//! The plan: every source item with its transformed target body, what was changed, what is doubtful, and what
//! will be done with it. Building a plan is pure; only [`crate::mark_existing`] and [`crate::apply`] talk to the
//! target.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use regex::Regex;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::transform::{
    drop_plugin_analysis, filter_settings, flatten_settings, resolve_types, settings_object, transform_mapping,
    typed_pairs, Log, TypedMappings,
};
use crate::{Error, Result, SourceIndex, SourceMetadata, Target, TypeRule};

/// What an item is; the order is the order items are created in, dependencies first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `_component_template`: composable templates name them, so they come first.
    ComponentTemplate,
    /// `_index_template` (composable).
    IndexTemplate,
    /// `_template` (legacy).
    LegacyTemplate,
    /// An index with its settings and mappings.
    Index,
    /// An alias over one or more indices, added once they exist.
    Alias,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::ComponentTemplate => "component_template",
            Kind::IndexTemplate => "index_template",
            Kind::LegacyTemplate => "legacy_template",
            Kind::Index => "index",
            Kind::Alias => "alias",
        })
    }
}

/// What will happen to an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "reason")]
pub enum Action {
    /// It does not exist on the target (or the target was not asked yet) and will be created.
    Create,
    /// It exists on the target and is left alone.
    Exists,
    /// It exists on the target and will be replaced (only when asked: an index is deleted and recreated).
    Overwrite,
    /// Not migrated, for the reason given (not in an allowlist, a system item).
    Skip(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create => f.write_str("create"),
            Action::Exists => f.write_str("exists"),
            Action::Overwrite => f.write_str("overwrite"),
            Action::Skip(reason) => write!(f, "skip ({reason})"),
        }
    }
}

/// One thing to create on the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Its name on the target.
    pub name: String,
    /// The source item it comes from, when the name differs (a split multi-type index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The request body that creates it.
    pub body: Value,
    /// Notes and problems from the transformations.
    #[serde(flatten)]
    pub log: Log,
    /// What will be done.
    #[serde(flatten)]
    pub action: Action,
}

/// The migration plan for one source and target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The source version, when known.
    pub source_version: Option<String>,
    /// The target as detected.
    #[serde(serialize_with = "display")]
    pub target: Target,
    /// The items in creation order.
    pub items: Vec<Item>,
}

fn display<S: serde::Serializer, T: fmt::Display>(value: &T, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Names to include: each entry is an exact name or a regular expression that must match the whole name. An
/// empty allowlist includes every item except system ones.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<(String, Regex)>,
}

impl Allowlist {
    /// Compiles the entries; an entry that is not a valid regular expression is an error, never ignored.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(entries: I) -> Result<Allowlist> {
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.into();
            let regex = Regex::new(&format!("^(?:{entry})$"))
                .map_err(|source| Error::Allowlist { entry: entry.clone(), source })?;
            out.push((entry, regex));
        }
        Ok(Allowlist { entries: out })
    }

    /// Whether `name` is included. System names (a leading `.`) are only included when an entry names them
    /// explicitly: an entry equal to the name, or a pattern that itself starts with a dot.
    pub fn includes(&self, name: &str, system: bool) -> bool {
        if self.entries.is_empty() {
            return !system;
        }
        self.entries
            .iter()
            .any(|(entry, regex)| entry == name || (regex.is_match(name) && (!system || names_dot(entry))))
    }
}

/// Whether an allowlist pattern deliberately targets dot names: `\.kibana.*` or `.kibana.*`, but not `.*`.
fn names_dot(entry: &str) -> bool {
    entry.starts_with("\\.")
        || entry.strip_prefix('.').is_some_and(|rest| rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// How to build a plan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What multi-type indices become.
    pub type_rule: TypeRule,
    /// Indices (and so their aliases) to migrate.
    pub indices: Allowlist,
    /// Templates (all three kinds) to migrate.
    pub templates: Allowlist,
    /// Replace items that exist on the target instead of reporting them.
    pub overwrite: bool,
}

impl Plan {
    /// Transforms every source item for `target`. Every item is listed, the skipped ones with the reason.
    pub fn build(source: &SourceMetadata, target: Target, options: &Options) -> Result<Plan> {
        if !target.is_opensearch() && target.version.major < 7 {
            return Err(Error::Unsupported {
                target: target.to_string(),
                hint: "typed (multi-type) targets are not written; migrate to Elasticsearch 7+ or OpenSearch".into(),
            });
        }
        let mut items = Vec::new();
        for (name, body) in &source.component_templates {
            items.push(template_item(Kind::ComponentTemplate, name, body, &target, options));
        }
        for (name, body) in &source.index_templates {
            items.push(template_item(Kind::IndexTemplate, name, body, &target, options));
        }
        for (name, body) in &source.legacy_templates {
            items.push(template_item(Kind::LegacyTemplate, name, body, &target, options));
        }
        let mut aliases: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
        for index in &source.indices {
            let system = index.name.starts_with('.');
            if !options.indices.includes(&index.name, system) {
                let reason = if system { "system index" } else { "not in the index allowlist" };
                items.push(skipped(Kind::Index, &index.name, reason));
                continue;
            }
            for item in index_items(index, &target, &options.type_rule) {
                for (alias, properties) in &index.aliases {
                    aliases.entry(alias.clone()).or_default().push((item.name.clone(), properties.clone()));
                }
                items.push(item);
            }
        }
        for (alias, members) in aliases {
            let actions: Vec<Value> = members
                .into_iter()
                .map(|(index, properties)| {
                    let mut add = match properties {
                        Value::Object(map) => map,
                        _ => Map::new(),
                    };
                    add.insert("index".into(), Value::String(index));
                    add.insert("alias".into(), Value::String(alias.clone()));
                    json!({ "add": add })
                })
                .collect();
            let mut log = Log::default();
            if actions.len() > 1 {
                log.note(format!("alias over {} indices", actions.len()));
            }
            items.push(Item {
                kind: Kind::Alias,
                name: alias,
                source: None,
                body: json!({ "actions": actions }),
                log,
                action: Action::Create,
            });
        }
        items.sort_by_key(|item| item.kind);
        tracing::debug!(items = items.len(), %target, "metadata plan built");
        Ok(Plan { source_version: source.version.clone(), target, items })
    }

    /// How many items have problems.
    pub fn problem_count(&self) -> usize {
        self.items.iter().filter(|item| !item.log.problems.is_empty()).count()
    }
}

fn skipped(kind: Kind, name: &str, reason: &str) -> Item {
    Item {
        kind,
        name: name.to_owned(),
        source: None,
        body: Value::Null,
        log: Log::default(),
        action: Action::Skip(reason.to_owned()),
    }
}

/// Whether a template belongs to the cluster or a product (x-pack, security, monitoring) rather than the user:
/// dot names, only dot patterns, or `_meta.managed`.
fn is_system_template(name: &str, body: &Value) -> bool {
    let patterns: Vec<&str> = match body.get("index_patterns").or_else(|| body.get("template")) {
        Some(Value::String(p)) => vec![p.as_str()],
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    name.starts_with('.')
        || (!patterns.is_empty() && patterns.iter().all(|p| p.starts_with('.')))
        || body.pointer("/_meta/managed") == Some(&Value::Bool(true))
}

fn template_item(kind: Kind, name: &str, body: &Value, target: &Target, options: &Options) -> Item {
    let system = is_system_template(name, body);
    if !options.templates.includes(name, system) {
        let reason = if system { "system template" } else { "not in the template allowlist" };
        return skipped(kind, name, reason);
    }
    let mut log = Log::default();
    let body = match kind {
        Kind::LegacyTemplate => legacy_template(body, target, &mut log),
        // Composable and component templates keep settings, mappings and aliases under `template`.
        _ => {
            let mut out = body.clone();
            if let Some(inner) = out.get_mut("template") {
                *inner = template_section(inner, target, &mut log);
            }
            out
        }
    };
    Item { kind, name: name.to_owned(), source: None, body, log, action: Action::Create }
}

/// A legacy template's body: `template` (ES 5) becomes `index_patterns`, typed mappings become one typeless
/// mapping, settings and fields are transformed.
fn legacy_template(body: &Value, target: &Target, log: &mut Log) -> Value {
    let mut out = Map::new();
    match (body.get("index_patterns"), body.get("template")) {
        (Some(patterns), _) => {
            out.insert("index_patterns".into(), patterns.clone());
        }
        (None, Some(pattern)) => {
            out.insert("index_patterns".into(), json!([pattern]));
            log.note("template pattern moved to index_patterns");
        }
        (None, None) => log.problem("no index_patterns: the target will reject the template"),
    }
    for key in ["order", "version", "aliases"] {
        if let Some(value) = body.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    let mut section = Map::new();
    for key in ["settings", "mappings"] {
        if let Some(value) = body.get(key) {
            section.insert(key.into(), value.clone());
        }
    }
    if let Value::Object(transformed) = template_section(&Value::Object(section), target, log) {
        out.extend(transformed);
    }
    Value::Object(out)
}

/// The `settings` and `mappings` of a template (legacy, or the `template` object of composable and component
/// templates), transformed; other keys (aliases) pass through.
fn template_section(section: &Value, target: &Target, log: &mut Log) -> Value {
    let mut out = section.as_object().cloned().unwrap_or_default();
    let mut dropped = BTreeSet::new();
    if let Some(settings) = section.get("settings") {
        let mut flat = flatten_settings(settings);
        filter_settings(&mut flat, target, log);
        dropped = drop_plugin_analysis(&mut flat, log);
        out.insert("settings".into(), settings_object(&flat));
    }
    if let Some(mappings) = section.get("mappings") {
        let pairs = typed_pairs(mappings);
        let mut mapping = match resolve_types(&pairs, false, log) {
            TypedMappings::One(mapping) => mapping,
            // resolve_types only splits when asked to.
            TypedMappings::PerType(_) => Value::Object(Map::new()),
        };
        transform_mapping(&mut mapping, target, &dropped, log);
        out.insert("mappings".into(), mapping);
    }
    Value::Object(out)
}

/// The target indices for one source index: one, or one per type under [`TypeRule::Split`].
fn index_items(index: &SourceIndex, target: &Target, rule: &TypeRule) -> Vec<Item> {
    let mut log = Log::default();
    let mut settings = index.settings.clone();
    filter_settings(&mut settings, target, &mut log);
    let dropped = drop_plugin_analysis(&mut settings, &mut log);
    let type_count = index.mappings.iter().filter(|(t, _)| t != "_default_").count();
    let split = matches!(rule, TypeRule::Split { .. });
    let resolved = resolve_types(&index.mappings, split, &mut log);
    let outputs: Vec<(String, Value)> = match resolved {
        TypedMappings::One(mapping) => vec![(index.name.clone(), mapping)],
        TypedMappings::PerType(types) => types
            .into_iter()
            .map(|(doc_type, mapping)| (rule.target_index(&index.name, Some(&doc_type), type_count), mapping))
            .collect(),
    };
    outputs
        .into_iter()
        .map(|(name, mut mapping)| {
            let mut item_log = log.clone();
            transform_mapping(&mut mapping, target, &dropped, &mut item_log);
            let source = (name != index.name).then(|| index.name.clone());
            Item {
                kind: Kind::Index,
                name,
                source,
                body: json!({ "settings": settings_object(&settings), "mappings": mapping }),
                log: item_log,
                action: Action::Create,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five_six() -> SourceMetadata {
        // ES_5_6_Updates_Deletes as the snapshot reader returns it, with one 5.x template.
        SourceMetadata {
            version: Some("5.6.16".into()),
            legacy_templates: [
                (
                    "triggered_watches".to_owned(),
                    json!({"aliases": {}, "mappings": [{"triggered_watch": {"_all": {"enabled": false},
                        "dynamic": "strict", "properties": {"state": {"type": "keyword"}}}}], "order": 2147483647,
                        "settings": {"index": {"mapper": {"dynamic": "false"}, "number_of_shards": "1"}},
                        "template": ".triggered_watches*"}),
                ),
                (
                    "logs".to_owned(),
                    json!({"mappings": [{"event": {"_all": {"enabled": false}, "properties": {"msg": {"type":
                        "string"}}}}], "order": 0, "settings": {"index": {"number_of_shards": "2"}},
                        "template": "logs-*"}),
                ),
            ]
            .into(),
            indices: vec![SourceIndex {
                name: "test_updates_deletes".into(),
                settings: [
                    ("index.creation_date", "1724427845717"),
                    ("index.number_of_replicas", "0"),
                    ("index.number_of_shards", "1"),
                    ("index.provided_name", "test_updates_deletes"),
                    ("index.uuid", "o6EB80-3TeKFKdLzRP-UgQ"),
                    ("index.version.created", "5061699"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect(),
                mappings: vec![
                    ("type2".into(), json!({"properties": {"content": {"type": "text"}}})),
                    ("type1".into(), json!({"properties": {"title": {"type": "text"}}})),
                ],
                aliases: [("all_updates".to_owned(), json!({}))].into(),
            }],
            ..SourceMetadata::default()
        }
    }

    #[test]
    fn a_5_6_snapshot_plans_templates_indices_and_aliases_in_order() {
        let plan = Plan::build(&five_six(), Target::opensearch(2, 11), &Options::default()).unwrap();
        let summary: Vec<String> = plan.items.iter().map(|i| format!("{} {} {}", i.kind, i.name, i.action)).collect();
        assert_eq!(
            summary,
            [
                "legacy_template logs create",
                "legacy_template triggered_watches skip (system template)",
                "index test_updates_deletes create",
                "alias all_updates create",
            ]
        );
        let logs = &plan.items[0].body;
        assert_eq!(logs["index_patterns"], json!(["logs-*"]));
        assert_eq!(logs["mappings"], json!({"properties": {"msg": {"type": "text"}}}));
        assert_eq!(logs["settings"], json!({"index.number_of_shards": "2"}));
        let index = &plan.items[2].body;
        assert_eq!(index["settings"], json!({"index.number_of_replicas": "0", "index.number_of_shards": "1"}));
        assert_eq!(index["mappings"]["properties"].as_object().map(|p| p.len()), Some(2));
        assert_eq!(
            plan.items[3].body,
            json!({"actions": [{"add": {"index": "test_updates_deletes",
            "alias": "all_updates"}}]})
        );
    }

    #[test]
    fn split_gives_one_index_per_type_and_the_alias_covers_them() {
        let options = Options { type_rule: "split".parse().unwrap(), ..Options::default() };
        let plan = Plan::build(&five_six(), Target::opensearch(2, 11), &options).unwrap();
        let indices: Vec<&Item> = plan.items.iter().filter(|i| i.kind == Kind::Index).collect();
        assert_eq!(
            indices.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            ["test_updates_deletes_type2", "test_updates_deletes_type1"]
        );
        assert_eq!(indices[1].body["mappings"], json!({"properties": {"title": {"type": "text"}}}));
        assert_eq!(indices[0].source.as_deref(), Some("test_updates_deletes"));
        let alias = plan.items.iter().find(|i| i.kind == Kind::Alias).unwrap();
        assert_eq!(alias.body["actions"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn allowlists_take_names_and_regexes_and_dot_names_only_when_named() {
        let list = Allowlist::new(["logs", "posts_.*", "\\.kibana.*"]).unwrap();
        assert!(list.includes("logs", false));
        assert!(list.includes("posts_2024_01_01", false));
        assert!(!list.includes("logs2", false));
        assert!(list.includes(".kibana_1", true));
        let everything = Allowlist::new([".*"]).unwrap();
        assert!(everything.includes("x", false));
        assert!(!everything.includes(".security", true));
        assert!(!Allowlist::new(["posts.*"]).unwrap().includes(".posts", true));
        assert!(Allowlist::new([".security"]).unwrap().includes(".security", true));
        assert!(!Allowlist::default().includes(".security", true));
        assert!(Allowlist::default().includes("anything", false));
        assert!(matches!(Allowlist::new(["(unclosed"]), Err(Error::Allowlist { .. })));
    }

    #[test]
    fn elasticsearch_6_targets_are_refused() {
        let err = Plan::build(&five_six(), Target::elasticsearch(6, 8), &Options::default()).unwrap_err();
        assert!(err.to_string().contains("Elasticsearch 7+"), "{err}");
    }

    #[test]
    fn composable_and_component_templates_of_the_7_10_fixture_pass_through() {
        // ES_7_10_BWC_Check.
        let source = SourceMetadata {
            index_templates: [(
                "fwc_template".to_owned(),
                json!({"composed_of": ["fwc_mappings", "fwc_settings"],
                "index_patterns": ["fwc_index*"], "template": {"aliases": {"fwc_alias": {}}}}),
            )]
            .into(),
            component_templates: [
                (
                    "fwc_mappings".to_owned(),
                    json!({"template": {"mappings": {"properties": {"content": {"type":
                    "text"}, "title": {"type": "text"}}}}}),
                ),
                (
                    "fwc_settings".to_owned(),
                    json!({"template": {"settings": {"index": {"number_of_replicas": "0",
                    "number_of_shards": "1"}}}}),
                ),
            ]
            .into(),
            ..SourceMetadata::default()
        };
        let plan = Plan::build(&source, Target::opensearch(3, 0), &Options::default()).unwrap();
        let kinds: Vec<Kind> = plan.items.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [Kind::ComponentTemplate, Kind::ComponentTemplate, Kind::IndexTemplate]);
        assert_eq!(plan.items[0].body, source.component_templates["fwc_mappings"]);
        assert_eq!(
            plan.items[1].body["template"]["settings"],
            json!({"index.number_of_replicas": "0",
            "index.number_of_shards": "1"})
        );
        assert_eq!(plan.items[2].body, source.index_templates["fwc_template"]);
        assert!(plan.items.iter().all(|i| i.log.notes.is_empty() && i.log.problems.is_empty()));
    }
}

//! The `[compare]` table of the replay configuration, and the rules resolved from it per endpoint.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::pattern::Pattern;
use crate::{Error, Result};

/// How responses are compared (TOML table `[compare]`). Every option has a default, so an empty table (or none)
/// gives the built-in normalisation described on [`crate::Comparer`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareConfig {
    /// Paths ignored in every JSON body: JSON pointers where `*` matches one segment, `**` any number, and `*`
    /// inside a segment any characters (`/hits/hits/*/_source/updated_at`, `/**/*_at`). Default: none.
    pub ignore: Vec<String>,
    /// Relative tolerance for numbers when either side is not an integer (aggregation averages and sums come out
    /// differently rounded when shards reduce in another order). Default `1e-9`.
    pub float_tolerance: f64,
    /// Compare `_score` and `max_score`. Default false: scores depend on per-shard term statistics, so a target
    /// with another shard count or another merge history scores the same documents differently.
    pub scores: bool,
    /// Compare `_version`. Default false: backfilled documents start again at version 1 on the target, so every
    /// later write reports a different version although the document is the same.
    pub versions: bool,
    /// Treat a write answered `created` on one side and `updated` on the other (201 against 200, in `_bulk` items
    /// too) as the same. For replays whose capture began before the backfill's snapshot: those writes land on
    /// documents the backfill already brought over, so the target says `updated` where the source said `created`.
    /// Default false.
    pub created_as_updated: bool,
    /// Report search hits that come back in another order (beyond ties of equal score or sort values, which
    /// shards may break either way). Default true.
    pub hit_order: bool,
    /// Source index name → target index name, for indices the request transformation renames: source values of
    /// `_index` (and index keys of index-level responses) are mapped before comparing. The comparer only sees
    /// the request as sent to the target, so it cannot infer renames itself. Default: none.
    pub index_renames: BTreeMap<String, String>,
    /// The most differences kept per response; further ones are dropped (a `_bulk` of 10,000 failed items
    /// should not make a 10,000-entry line). Default 100.
    pub max_differences: usize,
    /// Overrides per endpoint, keyed by endpoint name (`_search`, `doc.get`) or a prefix ending in `*`
    /// (`_cat.*`); an exact name wins over the longest prefix.
    pub endpoints: BTreeMap<String, EndpointConfig>,
}

impl Default for CompareConfig {
    fn default() -> CompareConfig {
        CompareConfig {
            ignore: Vec::new(),
            float_tolerance: 1e-9,
            scores: false,
            versions: false,
            created_as_updated: false,
            hit_order: true,
            index_renames: BTreeMap::new(),
            max_differences: 100,
            endpoints: BTreeMap::new(),
        }
    }
}

/// Per-endpoint options (TOML `[compare.endpoints."_search"]`); unset options inherit `[compare]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// More paths to ignore for this endpoint, added to the global ones.
    pub ignore: Vec<String>,
    /// Overrides `float_tolerance`.
    pub float_tolerance: Option<f64>,
    /// Overrides `scores`.
    pub scores: Option<bool>,
    /// Overrides `hit_order`.
    pub hit_order: Option<bool>,
    /// Compare bodies (true) or only status codes (false). Default true, except for endpoints that describe the
    /// cluster itself rather than its data (`info`, `_cluster.*`, `_nodes`, `_tasks`, `indices.stats`, and the
    /// `_cat` APIs about nodes, shards, health and segments), whose bodies always differ between two clusters.
    pub body: Option<bool>,
}

/// Endpoints compared by status only unless configured otherwise (see [`EndpointConfig::body`]).
const STATUS_ONLY: &[&str] = &[
    "info",
    "_cluster.*",
    "_nodes",
    "_tasks",
    "indices.stats",
    "_cat.nodes",
    "_cat.health",
    "_cat.allocation",
    "_cat.master",
    "_cat.cluster_manager",
    "_cat.shards",
    "_cat.segments",
    "_cat.recovery",
    "_cat.thread_pool",
    "_cat.plugins",
    "_cat.nodeattrs",
    "_cat.pending_tasks",
    "_cat.fielddata",
    "_cat.tasks",
];

/// The options that apply to one response, resolved from the global and per-endpoint settings.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) ignore: Vec<Pattern>,
    pub(crate) tolerance: f64,
    pub(crate) scores: bool,
    pub(crate) versions: bool,
    pub(crate) created_as_updated: bool,
    pub(crate) hit_order: bool,
    pub(crate) body: bool,
}

/// Every endpoint's rules, resolved once when the comparer is built.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedConfig {
    global: Rules,
    exact: BTreeMap<String, Rules>,
    /// Prefix rules, longest prefix first.
    prefixes: Vec<(String, Rules)>,
    pub(crate) renames: BTreeMap<String, String>,
    pub(crate) max_differences: usize,
}

impl ResolvedConfig {
    /// Checks every option and reports all problems at once.
    pub(crate) fn new(config: CompareConfig) -> Result<ResolvedConfig> {
        let mut problems = Vec::new();
        check_tolerance("float_tolerance", config.float_tolerance, &mut problems);
        if config.max_differences == 0 {
            problems.push("max_differences must be at least 1".to_string());
        }
        let global_ignore = parse_patterns(&config.ignore, &mut problems);
        let global = Rules {
            ignore: global_ignore,
            tolerance: config.float_tolerance,
            scores: config.scores,
            versions: config.versions,
            created_as_updated: config.created_as_updated,
            hit_order: config.hit_order,
            body: true,
        };
        let mut exact = BTreeMap::new();
        let mut prefixes = Vec::new();
        for (key, endpoint) in &config.endpoints {
            if key.is_empty() || key == "*" {
                problems.push(format!("endpoints.{key:?}: name an endpoint or a prefix such as \"_cat.*\""));
                continue;
            }
            if let Some(tolerance) = endpoint.float_tolerance {
                check_tolerance(&format!("endpoints.{key:?}.float_tolerance"), tolerance, &mut problems);
            }
            let mut ignore = global.ignore.clone();
            ignore.extend(parse_patterns(&endpoint.ignore, &mut problems));
            let rules = Rules {
                ignore,
                tolerance: endpoint.float_tolerance.unwrap_or(global.tolerance),
                scores: endpoint.scores.unwrap_or(global.scores),
                versions: global.versions,
                created_as_updated: global.created_as_updated,
                hit_order: endpoint.hit_order.unwrap_or(global.hit_order),
                body: endpoint.body.unwrap_or_else(|| !status_only_by_default(key)),
            };
            match key.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix.to_string(), rules)),
                None => {
                    exact.insert(key.clone(), rules);
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config(problems.join("; ")));
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(ResolvedConfig {
            global,
            exact,
            prefixes,
            renames: config.index_renames,
            max_differences: config.max_differences,
        })
    }

    /// The rules for an endpoint: its exact entry, else the longest matching prefix, else the global ones.
    pub(crate) fn rules(&self, endpoint: &str) -> std::borrow::Cow<'_, Rules> {
        if let Some(rules) = self.exact.get(endpoint) {
            return std::borrow::Cow::Borrowed(rules);
        }
        if let Some((_, rules)) = self.prefixes.iter().find(|(prefix, _)| endpoint.starts_with(prefix.as_str())) {
            return std::borrow::Cow::Borrowed(rules);
        }
        if status_only_by_default(endpoint) {
            return std::borrow::Cow::Owned(Rules { body: false, ..self.global.clone() });
        }
        std::borrow::Cow::Borrowed(&self.global)
    }
}

fn status_only_by_default(endpoint: &str) -> bool {
    STATUS_ONLY.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => endpoint.starts_with(prefix),
        None => *entry == endpoint,
    })
}

fn check_tolerance(name: &str, value: f64, problems: &mut Vec<String>) {
    if !value.is_finite() || value < 0.0 {
        problems.push(format!("{name} must be a finite number ≥ 0, not {value}"));
    }
}

fn parse_patterns(patterns: &[String], problems: &mut Vec<String>) -> Vec<Pattern> {
    patterns
        .iter()
        .filter_map(|text| match Pattern::parse(text) {
            Ok(pattern) => Some(pattern),
            Err(problem) => {
                problems.push(problem);
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_resolve_per_endpoint() {
        let config: CompareConfig = toml::from_str(
            r#"
            ignore = ["/**/updated_at"]
            scores = true
            [endpoints."_search"]
            ignore = ["/aggregations/*/value"]
            hit_order = false
            [endpoints."_cat.*"]
            body = true
            [endpoints."_cat.indices"]
            float_tolerance = 0.5
            "#,
        )
        .unwrap();
        assert_eq!(config.max_differences, 100, "unset options keep their defaults");
        let resolved = ResolvedConfig::new(config).unwrap();
        let search = resolved.rules("_search");
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(search.ignore.len(), 2, "endpoint patterns add to the global ones");
        assert!(search.ignore.iter().any(|p| p.matches(&path(&["x", "updated_at"]))));
        assert!(search.ignore.iter().any(|p| p.matches(&path(&["aggregations", "avg", "value"]))));
        assert_eq!(resolved.rules("doc.get").ignore.len(), 1);
        assert!(!search.hit_order && search.scores && search.body);
        assert!(resolved.rules("_cat.nodes").body, "a configured prefix overrides the status-only default");
        assert_eq!(resolved.rules("_cat.indices").tolerance, 0.5);
        assert!(resolved.rules("doc.get").hit_order);
        assert!(!resolved.rules("_cluster.health").body);
        assert!(!resolved.rules("info").body);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let config: CompareConfig = toml::from_str(
            r#"
            ignore = ["took"]
            float_tolerance = -1.0
            max_differences = 0
            [endpoints."*"]
            "#,
        )
        .unwrap();
        let err = ResolvedConfig::new(config).unwrap_err().to_string();
        for part in ["\"took\"", "float_tolerance", "max_differences", "endpoints.\"*\""] {
            assert!(err.contains(part), "{part} missing from {err}");
        }
        assert!(toml::from_str::<CompareConfig>("ignor = []").is_err(), "unknown keys are refused");
    }
}

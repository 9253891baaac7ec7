//! `ferry compare`: document counts per index between a source (a snapshot or a live cluster) and a target, and a
//! content check — every document or a sample — that fetches each source document's id from the target and
//! compares the parsed `_source` (targets may re-serialise, so bytes are not compared), naming the first
//! differences.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use ferry_client::Client;
use ferry_documents::read_commit;
use ferry_lucene::Commit;
use ferry_metadata::{transform::typed_pairs, Allowlist, TypeRule};
use http::Method;
use serde::Serialize;
use serde_json::{json, Value};

use crate::cluster::TargetArgs;
use crate::repo::{RepoArgs, Source, SourceArgs};

/// Documents fetched from the target per `_mget` (and read per scroll page from a live source).
const BATCH: usize = 500;

/// `ferry compare` arguments.
#[derive(clap::Args)]
pub struct Command {
    #[command(flatten)]
    from: SourceArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Indices to compare (repeatable): an exact name or a regular expression matching the whole name.
    /// Default: every index except dot (system) indices.
    #[arg(long = "index", value_name = "NAME|REGEX")]
    indices: Vec<String>,
    /// The rule the migration used for multi-type (ES 5.x/6.x) indices: merge, split or split:<pattern>.
    #[arg(long, default_value = "merge")]
    type_rule: TypeRule,
    /// Check the content of about this percentage of documents (chosen by a hash of the id, so the same ones
    /// every run) instead of all of them. Counts always cover every document.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    sample: Option<f64>,
    /// How many differences to name.
    #[arg(long, default_value_t = 10)]
    max_differences: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!("{text:?} is not a percentage in (0, 100]")),
    }
}

/// One source document as the comparison needs it.
struct SourceDoc {
    index: String,
    id: String,
    routing: Option<String>,
    source: Value,
}

/// One difference between source and target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Difference {
    /// The index's document counts differ.
    Count { index: String, source: u64, target: u64 },
    /// The target index does not exist.
    MissingIndex { index: String },
    /// A source document is not on the target.
    Missing { index: String, id: String },
    /// The document is on the target with a different `_source`.
    Changed { index: String, id: String, detail: String },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Count { index, source, target } => {
                write!(f, "{index}: {source} documents on the source, {target} on the target")
            }
            Difference::MissingIndex { index } => write!(f, "{index}: index missing on the target"),
            Difference::Missing { index, id } => write!(f, "{index}/{id}: missing on the target"),
            Difference::Changed { index, id, detail } => write!(f, "{index}/{id}: _source differs at {detail}"),
        }
    }
}

/// Per target index totals.
#[derive(Debug, Clone, Default, Serialize)]
struct IndexTotals {
    source: u64,
    target: Option<u64>,
    checked: u64,
    missing: u64,
    changed: u64,
}

/// The comparison's state: totals, and the first differences found.
struct Comparison {
    client: Client,
    sample: Option<f64>,
    max_differences: usize,
    totals: BTreeMap<String, IndexTotals>,
    differences: Vec<Difference>,
    difference_count: u64,
    batch: Vec<SourceDoc>,
}

impl Comparison {
    fn record(&mut self, difference: Difference) {
        self.difference_count += 1;
        if self.differences.len() < self.max_differences {
            self.differences.push(difference);
        }
    }

    /// Counts a source document and queues it for the content check when sampled.
    async fn add(&mut self, doc: SourceDoc) -> anyhow::Result<()> {
        let totals = self.totals.entry(doc.index.clone()).or_default();
        totals.source += 1;
        if self.sample.is_none_or(|percent| sampled(&doc.id, percent)) {
            self.batch.push(doc);
            if self.batch.len() >= BATCH {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Fetches the queued documents from the target and compares them.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        let mut by_index: BTreeMap<String, Vec<SourceDoc>> = BTreeMap::new();
        for doc in batch {
            by_index.entry(doc.index.clone()).or_default().push(doc);
        }
        for (index, docs) in by_index {
            let wanted: Vec<Value> = docs
                .iter()
                .map(|doc| match &doc.routing {
                    Some(routing) => json!({"_id": doc.id, "routing": routing}),
                    None => json!({"_id": doc.id}),
                })
                .collect();
            let path = format!("/{index}/_mget");
            let body = Bytes::from(json!({ "docs": wanted }).to_string());
            let response = self.client.request(Method::POST, &path, Some(body)).await?;
            if response.status == 404 {
                // The index is missing: counted once in `finish`, and every document is missing.
                let totals = self.totals.entry(index.clone()).or_default();
                totals.checked += docs.len() as u64;
                totals.missing += docs.len() as u64;
                continue;
            }
            let url = self.client.url(&path);
            let json = response.error_for_status(&url)?.json()?;
            let found = json.get("docs").and_then(Value::as_array).context("_mget answer without docs")?;
            if found.len() != docs.len() {
                bail!("{url}: asked for {} documents, got {}", docs.len(), found.len());
            }
            for (doc, answer) in docs.iter().zip(found) {
                let totals = self.totals.entry(index.clone()).or_default();
                totals.checked += 1;
                let target_source = match answer.get("found") {
                    Some(Value::Bool(true)) => answer.get("_source"),
                    _ => None,
                };
                let difference = match target_source {
                    None => {
                        totals.missing += 1;
                        Some(Difference::Missing { index: index.clone(), id: doc.id.clone() })
                    }
                    Some(target) => first_difference(&doc.source, target).map(|detail| {
                        totals.changed += 1;
                        Difference::Changed { index: index.clone(), id: doc.id.clone(), detail }
                    }),
                };
                if let Some(difference) = difference {
                    self.record(difference);
                }
            }
        }
        Ok(())
    }

    /// Checks what is still queued and compares every index's count with the target's `_count`.
    async fn finish(&mut self) -> anyhow::Result<()> {
        self.flush().await?;
        let indices: Vec<String> = self.totals.keys().cloned().collect();
        for index in indices {
            let (status, body) = self.client.get_json(&format!("/{index}/_count")).await?;
            let target = match status {
                200 => body.get("count").and_then(Value::as_u64).context("_count answer without count")?,
                404 => {
                    self.record(Difference::MissingIndex { index: index.clone() });
                    continue;
                }
                other => bail!("GET /{index}/_count: HTTP {other}: {body}"),
            };
            let totals = self.totals.entry(index.clone()).or_default();
            totals.target = Some(target);
            let source = totals.source;
            if source != target {
                self.record(Difference::Count { index, source, target });
            }
        }
        Ok(())
    }
}

/// Whether a document is in a `percent` sample: FNV-1a of the id, so the choice is the same on every run.
fn sampled(id: &str, percent: f64) -> bool {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    ((hash % 10_000) as f64) < percent * 100.0
}

/// Where two parsed `_source` documents first differ, as a JSON pointer with both values; `None` when equal.
fn first_difference(source: &Value, target: &Value) -> Option<String> {
    fn walk(path: &str, source: &Value, target: &Value) -> Option<String> {
        match (source, target) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, value) in a {
                    let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                    match b.get(key) {
                        Some(other) => {
                            if let Some(found) = walk(&child, value, other) {
                                return Some(found);
                            }
                        }
                        None => return Some(format!("{child}: {value} on the source, absent on the target")),
                    }
                }
                b.iter().find(|(key, _)| !a.contains_key(*key)).map(|(key, value)| {
                    format!(
                        "{path}/{}: absent on the source, {value} on the target",
                        key.replace('~', "~0").replace('/', "~1")
                    )
                })
            }
            (Value::Array(a), Value::Array(b)) => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    if let Some(found) = walk(&format!("{path}/{i}"), x, y) {
                        return Some(found);
                    }
                }
                (a.len() != b.len())
                    .then(|| format!("{path}: {} items on the source, {} on the target", a.len(), b.len()))
            }
            // Re-serialisation may turn 1.0 into 1: equal numbers are equal.
            (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
            (a, b) if a == b => None,
            (a, b) => {
                Some(format!("{}: {a} on the source, {b} on the target", if path.is_empty() { "/" } else { path }))
            }
        }
    }
    walk("", source, target)
}

/// Runs `ferry compare`; fails (non-zero exit) when any difference is found.
pub fn run(command: Command) -> anyhow::Result<()> {
    let allowlist = Allowlist::new(command.indices.iter().cloned())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let client = Client::new(command.target.config()?).context("the --target cluster")?;
    let mut comparison = Comparison {
        client,
        sample: command.sample,
        max_differences: command.max_differences,
        totals: BTreeMap::new(),
        differences: Vec::new(),
        difference_count: 0,
        batch: Vec::new(),
    };
    match command.from.resolve()? {
        Source::Snapshot { repo, snapshot } => {
            compare_snapshot(repo, snapshot, &allowlist, &command.type_rule, &runtime, &mut comparison)?
        }
        Source::Cluster { config } => {
            let source = Client::new(config).context("the --source cluster")?;
            runtime.block_on(compare_cluster(&source, &allowlist, &command.type_rule, &mut comparison))?
        }
    }
    runtime.block_on(comparison.finish())?;
    print(&comparison, command.json)?;
    if comparison.difference_count > 0 {
        bail!("{} differences between source and target", comparison.difference_count);
    }
    Ok(())
}

fn compare_snapshot(
    repo: &RepoArgs,
    snapshot: &str,
    allowlist: &Allowlist,
    rule: &TypeRule,
    runtime: &tokio::runtime::Runtime,
    comparison: &mut Comparison,
) -> anyhow::Result<()> {
    let repository = repo.open().with_context(|| format!("repository {}", repo.display()))?;
    let entry = repository.find_snapshot(snapshot)?;
    let info = repository.snapshot_info(entry)?;
    for index in info.indices.iter().filter(|name| allowlist.includes(name, name.starts_with('.'))) {
        let meta = repository.index_metadata(entry, index)?;
        let type_count = meta.mappings.iter().filter(|(t, _)| t != "_default_").count();
        comparison.totals.entry(rule.target_index(index, None, type_count)).or_default();
        for shard in 0..meta.number_of_shards {
            let _span = tracing::debug_span!("compare_shard", index = %index, shard).entered();
            let dir = repository.shard_directory(entry, index, shard)?;
            let commit =
                Commit::read(&dir, dir.segments_file_name()).with_context(|| format!("index {index} shard {shard}"))?;
            // Documents stream into the comparison, which queries the target one batch at a time.
            read_commit(&dir, &commit, |_, doc| {
                let consumer = |e: anyhow::Error| ferry_documents::Error::Consumer(e.into());
                let source: Value = serde_json::from_slice(doc.source)
                    .map_err(|e| consumer(anyhow::anyhow!("_source of {} is not JSON: {e}", doc.id)))?;
                let doc = SourceDoc {
                    index: rule.target_index(index, doc.doc_type, type_count),
                    id: doc.id.to_owned(),
                    routing: doc.routing.map(str::to_owned),
                    source,
                };
                runtime.block_on(comparison.add(doc)).map_err(consumer)
            })
            .with_context(|| format!("index {index} shard {shard}"))?;
        }
    }
    Ok(())
}

async fn compare_cluster(
    source: &Client,
    allowlist: &Allowlist,
    rule: &TypeRule,
    comparison: &mut Comparison,
) -> anyhow::Result<()> {
    let (status, listed) = source.get_json("/_cat/indices?format=json&h=index&expand_wildcards=open").await?;
    if status != 200 {
        bail!("GET /_cat/indices on the source: HTTP {status}: {listed}");
    }
    let mut names: Vec<String> = listed
        .as_array()
        .context("_cat/indices answer is not an array")?
        .iter()
        .filter_map(|row| row.get("index").and_then(Value::as_str).map(str::to_owned))
        .filter(|name| allowlist.includes(name, name.starts_with('.')))
        .collect();
    names.sort();
    for index in names {
        let (_, mapping) = source.get_json(&format!("/{index}/_mapping")).await?;
        let type_count = mapping.pointer(&format!("/{index}/mappings")).map(|m| typed_pairs(m).len()).unwrap_or(0);
        comparison.totals.entry(rule.target_index(&index, None, type_count)).or_default();
        let query = json!({"size": BATCH, "sort": ["_doc"]}).to_string();
        let path = format!("/{index}/_search?scroll=1m");
        let mut page = source
            .request(Method::POST, &path, Some(Bytes::from(query)))
            .await?
            .error_for_status(&source.url(&path))?
            .json()?;
        loop {
            let hits = page.pointer("/hits/hits").and_then(Value::as_array).cloned().unwrap_or_default();
            if hits.is_empty() {
                break;
            }
            for hit in hits {
                let id = hit.get("_id").and_then(Value::as_str).context("search hit without _id")?;
                let doc_type = hit.get("_type").and_then(Value::as_str);
                comparison
                    .add(SourceDoc {
                        index: rule.target_index(&index, doc_type, type_count),
                        id: id.to_owned(),
                        routing: hit.get("_routing").and_then(Value::as_str).map(str::to_owned),
                        source: hit.get("_source").cloned().unwrap_or(Value::Null),
                    })
                    .await?;
            }
            let scroll_id =
                page.get("_scroll_id").and_then(Value::as_str).context("search answer without _scroll_id")?;
            let body = Bytes::from(json!({"scroll": "1m", "scroll_id": scroll_id}).to_string());
            page = source
                .request(Method::POST, "/_search/scroll", Some(body))
                .await?
                .error_for_status(&source.url("/_search/scroll"))?
                .json()?;
        }
        if let Some(scroll_id) = page.get("_scroll_id").and_then(Value::as_str) {
            let body = Bytes::from(json!({"scroll_id": scroll_id}).to_string());
            // Scrolls expire on their own; failing to clear one early is not worth failing the comparison.
            let _ = source.request(Method::DELETE, "/_search/scroll", Some(body)).await;
        }
    }
    Ok(())
}

fn print(comparison: &Comparison, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let out = json!({
            "equal": comparison.difference_count == 0,
            "indices": comparison.totals,
            "difference_count": comparison.difference_count,
            "differences": comparison.differences,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{:<40} {:>10} {:>10} {:>10} {:>8} {:>8}", "INDEX", "SOURCE", "TARGET", "CHECKED", "MISSING", "CHANGED");
    for (index, t) in &comparison.totals {
        let target = t.target.map_or_else(|| "-".to_owned(), |n| n.to_string());
        println!("{index:<40} {:>10} {target:>10} {:>10} {:>8} {:>8}", t.source, t.checked, t.missing, t.changed);
    }
    if comparison.difference_count == 0 {
        println!("no differences");
    } else {
        println!("{} differences; the first:", comparison.difference_count);
        for difference in &comparison.differences {
            println!("  {difference}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_documents_have_no_difference_even_when_re_serialised() {
        let source: Value = serde_json::from_str(r#"{"b": [1, {"c": 2.0}], "a": "x"}"#).unwrap();
        let target: Value = serde_json::from_str(r#"{"a":"x","b":[1,{"c":2}]}"#).unwrap();
        assert_eq!(first_difference(&source, &target), None);
    }

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let source = json!({"title": "old", "tags": ["a", "b"], "n/x": 1});
        assert_eq!(
            first_difference(&source, &json!({"title": "new", "tags": ["a", "b"], "n/x": 1})).as_deref(),
            Some("/title: \"old\" on the source, \"new\" on the target")
        );
        assert_eq!(
            first_difference(&source, &json!({"title": "old", "tags": ["a"], "n/x": 1})).as_deref(),
            Some("/tags: 2 items on the source, 1 on the target")
        );
        assert_eq!(
            first_difference(&source, &json!({"title": "old", "tags": ["a", "b"]})).as_deref(),
            Some("/n~1x: 1 on the source, absent on the target")
        );
        assert_eq!(
            first_difference(&json!({}), &json!({"extra": true})).as_deref(),
            Some("/extra: absent on the source, true on the target")
        );
        assert_eq!(
            first_difference(&json!(1), &json!("1")).as_deref(),
            Some("/: 1 on the source, \"1\" on the target")
        );
    }

    #[test]
    fn sampling_is_stable_and_roughly_proportional() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("doc-{i}")).collect();
        let picked = ids.iter().filter(|id| sampled(id, 10.0)).count();
        assert!((800..1200).contains(&picked), "{picked}");
        assert!(ids.iter().all(|id| sampled(id, 100.0)));
        assert_eq!(sampled("doc-1", 10.0), sampled("doc-1", 10.0));
    }
}

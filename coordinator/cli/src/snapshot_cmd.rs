//! `ferry snapshot …`: read a snapshot repository (its metadata and its shards' documents) with no cluster.

use std::io::{self, BufWriter};

use anyhow::{bail, Context};
use clap::Subcommand;
use ferry_documents::{read_commit, ReadStats};
use ferry_lucene::Commit;
use ferry_snapshot::{version_name, Repository, SnapshotEntry};
use serde_json::json;

use crate::output::{consumer_error, report_skipped, DocWriter, Field, SourceArgs};
use crate::repo::RepoArgs;

/// `ferry snapshot` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// List the snapshots in a repository with their state, version and indices.
    List {
        #[command(flatten)]
        repo: RepoArgs,
        /// Print one JSON object for machines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a snapshot's indices (shards, settings, mapping types, aliases) and templates.
    Show {
        #[command(flatten)]
        repo: RepoArgs,
        /// The snapshot name.
        #[arg(long)]
        snapshot: String,
        /// Print the full metadata as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every live document of a snapshot as one JSON line.
    Docs {
        #[command(flatten)]
        repo: RepoArgs,
        /// The snapshot name.
        #[arg(long)]
        snapshot: String,
        /// Only these indices (repeatable); all of the snapshot's indices by default.
        #[arg(long = "index")]
        indices: Vec<String>,
        /// Only this shard number.
        #[arg(long)]
        shard: Option<u32>,
        #[command(flatten)]
        source: SourceArgs,
    },
}

/// Runs one `ferry snapshot` subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List { repo, json } => list(&repo, json),
        Command::Show { repo, snapshot, json } => show(&repo, &snapshot, json),
        Command::Docs { repo, snapshot, indices, shard, source } => {
            docs(&repo, &snapshot, &indices, shard, source.raw_source)
        }
    }
}

/// The version that took a snapshot: recorded in the repository data since 7.9, and in every snapshot's own
/// info before that.
fn snapshot_version(repository: &Repository, entry: &SnapshotEntry) -> anyhow::Result<String> {
    if let Some(version) = &entry.version {
        return Ok(version.clone());
    }
    let info = repository.snapshot_info(entry)?;
    Ok(info.version_id.map(version_name).unwrap_or_else(|| "unknown".to_owned()))
}

/// Lists snapshots with state, version and indices.
fn list(repo: &RepoArgs, json: bool) -> anyhow::Result<()> {
    let repository = repo.open()?;
    let versions =
        repository.snapshots().iter().map(|s| snapshot_version(&repository, s)).collect::<anyhow::Result<Vec<_>>>()?;
    if json {
        let snapshots: Vec<_> = repository
            .snapshots()
            .iter()
            .zip(&versions)
            .map(|(s, version)| {
                json!({"name": s.name, "uuid": s.uuid, "state": s.state.to_string(), "version": version, "indices": s.indices})
            })
            .collect();
        println!(
            "{}",
            json!({"repository": repo.display(), "generation": repository.generation(), "snapshots": snapshots})
        );
        return Ok(());
    }
    if repository.snapshots().is_empty() {
        println!("no snapshots in {}", repo.display());
        return Ok(());
    }
    let width = repository.snapshots().iter().map(|s| s.name.len()).max().unwrap_or(8).max(8);
    println!("{:width$}  {:8}  {:10}  INDICES", "SNAPSHOT", "STATE", "VERSION");
    for (s, version) in repository.snapshots().iter().zip(&versions) {
        println!("{:width$}  {:8}  {:10}  {}", s.name, s.state.to_string(), version, s.indices.join(", "));
    }
    Ok(())
}

/// Shows a snapshot's indices and templates; `--json` prints the full metadata.
fn show(repo: &RepoArgs, name: &str, json: bool) -> anyhow::Result<()> {
    let repository = repo.open()?;
    let entry = repository.find_snapshot(name)?;
    let info = repository.snapshot_info(entry)?;
    let global = repository.global_metadata(entry)?;
    let mut indices = Vec::new();
    for index in &entry.indices {
        indices.push(repository.index_metadata(entry, index).with_context(|| format!("index {index}"))?);
    }
    if json {
        let indices: serde_json::Map<_, _> = indices.iter().map(|m| (m.name.clone(), m.raw.clone())).collect();
        println!("{}", json!({"snapshot": info.raw, "global_metadata": global.raw, "indices": indices}));
        return Ok(());
    }
    let version = snapshot_version(&repository, entry)?;
    println!("snapshot {} ({}), state {}, taken by version {version}", entry.name, entry.uuid, entry.state);
    println!("\nindices:");
    for m in &indices {
        let types: Vec<&str> = m.mappings.iter().map(|(t, _)| t.as_str()).collect();
        let aliases: Vec<&str> = m.aliases.keys().map(String::as_str).collect();
        println!("  {}", m.name);
        let created = m.version_created.map(version_name).unwrap_or_else(|| "an unknown version".to_owned());
        println!("    shards {}, created by {created}", m.number_of_shards);
        println!("    mapping types: {}", if types.is_empty() { "(none)".to_owned() } else { types.join(", ") });
        println!("    aliases: {}", if aliases.is_empty() { "(none)".to_owned() } else { aliases.join(", ") });
        let settings: Vec<String> = m
            .settings
            .iter()
            .filter(|(k, _)| !BOOKKEEPING_SETTINGS.contains(&k.as_str()))
            .map(|(k, v)| format!("{}={v}", k.strip_prefix("index.").unwrap_or(k)))
            .collect();
        println!("    settings: {}", if settings.is_empty() { "(defaults)".to_owned() } else { settings.join(", ") });
    }
    println!("\ntemplates:");
    for (kind, templates) in [
        ("legacy", &global.legacy_templates),
        ("index (composable)", &global.index_templates),
        ("component", &global.component_templates),
    ] {
        let names: Vec<&str> = templates.keys().map(String::as_str).collect();
        println!("  {kind}: {}", if names.is_empty() { "(none)".to_owned() } else { names.join(", ") });
    }
    Ok(())
}

/// Settings the cluster maintains itself; shown elsewhere or of no interest when planning a migration.
const BOOKKEEPING_SETTINGS: &[&str] =
    &["index.uuid", "index.creation_date", "index.version.created", "index.provided_name", "index.number_of_shards"];

/// The `_type` to print for an index's documents: only where it carries information (several mapping types,
/// or a single custom one); `_doc` is the typeless default.
fn printed_type<'a>(doc_type: Option<&'a str>, mapping_types: &'a [(String, serde_json::Value)]) -> Option<&'a str> {
    let single = match mapping_types {
        [(only, _)] => Some(only.as_str()),
        _ => None,
    };
    let ty = doc_type.or(single)?;
    (mapping_types.len() > 1 || ty != "_doc").then_some(ty)
}

/// Prints every live document of the chosen indices and shards.
fn docs(repo: &RepoArgs, name: &str, only: &[String], shard: Option<u32>, raw_source: bool) -> anyhow::Result<()> {
    let repository = repo.open()?;
    let entry = repository.find_snapshot(name)?;
    for index in only {
        if !entry.indices.contains(index) {
            bail!("snapshot {name} has no index {index:?}; it has: {}", entry.indices.join(", "));
        }
    }
    let indices: Vec<&String> = entry.indices.iter().filter(|i| only.is_empty() || only.contains(i)).collect();
    let mut out = DocWriter::new(BufWriter::with_capacity(1 << 16, io::stdout().lock()), raw_source);
    let mut total = ReadStats::default();
    let mut shards_read = 0;
    for index in indices {
        let meta = repository.index_metadata(entry, index).with_context(|| format!("index {index}"))?;
        if let ferry_snapshot::SourceAvailability::Unavailable { reason } = meta.source_availability() {
            bail!("index {index} stores no _source to copy ({reason}); reindex it with _source stored first");
        }
        let shards: Vec<u32> = match shard {
            Some(s) if s >= meta.number_of_shards => {
                bail!("index {index} has {} shards; there is no shard {s}", meta.number_of_shards)
            }
            Some(s) => vec![s],
            None => (0..meta.number_of_shards).collect(),
        };
        for s in shards {
            let span = tracing::info_span!("shard", index = %index, shard = s);
            let _entered = span.enter();
            let dir = repository.shard_directory(entry, index, s)?;
            let commit =
                Commit::read(&dir, dir.segments_file_name()).with_context(|| format!("index {index} shard {s}"))?;
            let stats = read_commit(&dir, &commit, |_, doc| {
                out.write(
                    &[
                        ("_index", Some(Field::Str(index))),
                        ("_id", Some(Field::Str(doc.id))),
                        ("_type", printed_type(doc.doc_type, &meta.mappings).map(Field::Str)),
                        ("_routing", doc.routing.map(Field::Str)),
                    ],
                    doc.source,
                    &[],
                )
                .map_err(consumer_error)
            })
            .with_context(|| format!("index {index} shard {s}"))?;
            report_skipped(&format!("index {index} shard {s}"), &stats);
            total += stats;
            shards_read += 1;
        }
    }
    out.flush()?;
    tracing::info!(
        documents = total.documents,
        source_bytes = total.source_bytes,
        shards = shards_read,
        "snapshot read"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_is_printed_only_when_it_says_something() {
        let typed = vec![("type1".to_owned(), json!({})), ("type2".to_owned(), json!({}))];
        assert_eq!(printed_type(Some("type2"), &typed), Some("type2"));
        let single_doc = vec![("_doc".to_owned(), json!({}))];
        assert_eq!(printed_type(None, &single_doc), None);
        let custom = vec![("doc".to_owned(), json!({}))];
        assert_eq!(printed_type(None, &custom), Some("doc"));
        assert_eq!(printed_type(None, &[]), None);
    }
}

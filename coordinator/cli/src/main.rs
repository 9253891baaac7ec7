//! `ferry`: the operator's command. Today it holds the standalone tools that need no daemon — reading snapshot
//! repositories and Lucene indices; the coordinator console joins it later.

mod lucene_cmd;
mod output;
mod snapshot_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferry", version, about = "Migrate Elasticsearch and OpenSearch clusters with zero downtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read Elasticsearch/OpenSearch snapshot repositories.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Read plain Lucene index directories (a shard's `index/` folder).
    #[command(subcommand)]
    Lucene(LuceneCommand),
}

#[derive(Subcommand)]
enum SnapshotCommand {
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

#[derive(Subcommand)]
enum LuceneCommand {
    /// Print every live document of a Lucene index directory as one JSON line.
    Docs {
        /// The index directory (holding `segments_N`).
        dir: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Read every live document without printing it, and report counts, bytes and time.
    Scan {
        /// The index directory (holding `segments_N`).
        dir: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RepoArgs {
    /// The repository: a directory (the `location` of an `fs` repository).
    #[arg(long)]
    repo: PathBuf,
}

#[derive(Args, Clone, Copy)]
struct SourceArgs {
    /// Print `_source` as a JSON string holding the exact stored bytes instead of as a JSON value.
    #[arg(long)]
    raw_source: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Snapshot(SnapshotCommand::List { repo, json }) => snapshot_cmd::list(&repo.repo, json),
        Command::Snapshot(SnapshotCommand::Show { repo, snapshot, json }) => {
            snapshot_cmd::show(&repo.repo, &snapshot, json)
        }
        Command::Snapshot(SnapshotCommand::Docs { repo, snapshot, indices, shard, source }) => {
            snapshot_cmd::docs(&repo.repo, &snapshot, &indices, shard, source.raw_source)
        }
        Command::Lucene(LuceneCommand::Docs { dir, source }) => lucene_cmd::docs(&dir, source.raw_source),
        Command::Lucene(LuceneCommand::Scan { dir, json }) => lucene_cmd::scan(&dir, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

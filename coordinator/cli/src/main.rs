//! `ferry`: the operator's command. It holds the standalone tools that need no daemon — reading snapshot
//! repositories and Lucene indices — and will hold the coordinator console. `main` only parses arguments and
//! hands each command group to its module.

mod backfill_cmd;
mod capture_cmd;
mod cluster;
mod compare_cmd;
mod lucene_cmd;
mod metadata_cmd;
mod output;
mod replay_cmd;
mod repo;
mod snapshot_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Snapshot(snapshot_cmd::Command),
    /// Read plain Lucene index directories (a shard's `index/` folder).
    #[command(subcommand)]
    Lucene(lucene_cmd::Command),
    /// Copy every live document of a snapshot (or a local Lucene directory) into a target cluster, resumably.
    Backfill(backfill_cmd::Command),
    /// Migrate templates, indices and aliases from a snapshot or a live cluster to a target.
    #[command(subcommand)]
    Metadata(metadata_cmd::Command),
    /// Compare document counts and contents between a source (snapshot or cluster) and a target.
    Compare(compare_cmd::Command),
    /// Run the capture proxy in front of a source cluster, or inspect a capture log (`capture inspect DIR`).
    Capture(capture_cmd::Command),
    /// Replay a capture against a target and compare every response, or summarise results (`replay report`).
    Replay(replay_cmd::Command),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Snapshot(command) => snapshot_cmd::run(command),
        Command::Lucene(command) => lucene_cmd::run(command),
        Command::Backfill(command) => backfill_cmd::run(command),
        Command::Capture(command) => capture_cmd::run(command),
        Command::Replay(command) => replay_cmd::run(command),
        Command::Metadata(command) => metadata_cmd::run(command),
        Command::Compare(command) => compare_cmd::run(command),
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

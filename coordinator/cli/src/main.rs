//! `ferry`: the operator's command. It holds the standalone tools that need no daemon — reading snapshot
//! repositories and Lucene indices — and will hold the coordinator console. `main` only parses arguments and
//! hands each command group to its module.

mod lucene_cmd;
mod output;
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

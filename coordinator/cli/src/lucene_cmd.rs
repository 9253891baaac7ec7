//! `ferry lucene …`: read a plain Lucene index directory, such as a shard's data directory.

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use ferry_documents::{read_commit, ReadStats};
use ferry_lucene::{Commit, FsDirectory};

use crate::output::{consumer_error, report_skipped, DocWriter, Field, SourceArgs};

/// `ferry lucene` subcommands.
#[derive(Subcommand)]
pub enum Command {
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

/// Runs one `ferry lucene` subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Docs { dir, source } => docs(&dir, source.raw_source),
        Command::Scan { dir, json } => scan(&dir, json),
    }
}

fn open(dir: &Path) -> anyhow::Result<(FsDirectory, Commit)> {
    let directory = FsDirectory::open(dir)?;
    let commit =
        Commit::read_latest(&directory).with_context(|| format!("reading the latest commit in {}", dir.display()))?;
    Ok((directory, commit))
}

/// Prints every live document as a JSON line with its segment and doc id.
fn docs(dir: &Path, raw_source: bool) -> anyhow::Result<()> {
    let (directory, commit) = open(dir)?;
    let mut out = DocWriter::new(BufWriter::with_capacity(1 << 16, io::stdout().lock()), raw_source);
    let stats = read_commit(&directory, &commit, |segment, doc| {
        out.write(
            &[
                ("_id", Some(Field::Str(doc.id))),
                ("_type", doc.doc_type.map(Field::Str)),
                ("_routing", doc.routing.map(Field::Str)),
            ],
            doc.source,
            &[("segment", Some(Field::Str(segment))), ("doc", Some(Field::Int(doc.doc.into())))],
        )
        .map_err(consumer_error)
    })?;
    out.flush()?;
    report_skipped(&dir.display().to_string(), &stats);
    Ok(())
}

/// Reads every live document the way a backfill does, without printing it, and reports the rate.
fn scan(dir: &Path, json: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let (directory, commit) = open(dir)?;
    let stats: ReadStats = read_commit(&directory, &commit, |_, _| Ok(()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let docs_per_sec = stats.documents as f64 / elapsed.max(1e-9);
    let mb_per_sec = stats.source_bytes as f64 / 1e6 / elapsed.max(1e-9);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "docs": stats.documents,
                "source_bytes": stats.source_bytes,
                "segments": commit.segments.len(),
                "without_id": stats.without_id,
                "without_source": stats.without_source,
                "elapsed_ms": (elapsed * 1000.0).round() as u64,
                "docs_per_sec": docs_per_sec.round(),
                "mb_per_sec": (mb_per_sec * 10.0).round() / 10.0,
            })
        );
    } else {
        println!(
            "{} live documents, {:.1} MB of _source, {} segments in {:.3} s: {:.0} docs/s, {:.1} MB/s",
            stats.documents,
            stats.source_bytes as f64 / 1e6,
            commit.segments.len(),
            elapsed,
            docs_per_sec,
            mb_per_sec
        );
        report_skipped(&dir.display().to_string(), &stats);
    }
    Ok(())
}

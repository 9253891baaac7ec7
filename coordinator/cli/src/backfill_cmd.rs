//! `ferry backfill`: every live document of a snapshot's indices (or of a local Lucene directory) into a target
//! cluster, one shard at a time, resumable from per-shard checkpoints.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use ferry_backfill::{
    run_unit, BulkReply, BulkTarget, DeadLetterWriter, Options, ShardSource, TargetIndex, Totals, TotalsSnapshot, Unit,
};
use ferry_client::Client;
use ferry_metadata::TypeRule;
use ferry_ops::RetryPolicy;
use ferry_snapshot::{Repository, SnapshotEntry};

use crate::cluster::TargetArgs;
use crate::repo::RepoArgs;

/// `ferry backfill` arguments: a source (a snapshot, or a Lucene directory), a target and tuning.
#[derive(clap::Args)]
pub struct Command {
    /// The snapshot repository: a directory, or `s3://bucket/prefix` (default region and cache settings).
    #[arg(long)]
    repo: Option<String>,
    /// The snapshot to read (with --repo).
    #[arg(long, requires = "repo", conflicts_with = "lucene")]
    snapshot: Option<String>,
    /// A local Lucene index directory to read instead of a snapshot (a node's `indices/<uuid>/<shard>/index`);
    /// needs exactly one --index, the target index name.
    #[arg(long, value_name = "DIR", conflicts_with = "repo", requires = "indices")]
    lucene: Option<PathBuf>,
    /// Indices to migrate (repeatable). Default: every index in the snapshot except those starting with `.`.
    #[arg(long = "index", value_name = "NAME")]
    indices: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Compress `_bulk` bodies with gzip.
    #[arg(long)]
    gzip: bool,
    /// Where per-shard checkpoints live: `<state-dir>/<snapshot>/<index>/<shard>.json`.
    #[arg(long, value_name = "DIR", default_value = "ferry-state")]
    state_dir: PathBuf,
    /// The dead-letter file (NDJSON, appended to). Default: `<state-dir>/dead-letter.ndjson`.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// `_bulk` requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    in_flight: u16,
    /// Upper bound of one `_bulk` body in bytes (a single larger document is sent alone).
    #[arg(long, default_value_t = 4_000_000, value_parser = clap::value_parser!(u64).range(1024..=1_000_000_000))]
    batch_bytes: u64,
    /// Sends per `_bulk` request before the shard fails (429, 5xx and connection errors are retried).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// First retry wait cap in milliseconds; it doubles per attempt (full jitter), up to 30 s.
    #[arg(long, default_value_t = 200)]
    retry_base_ms: u64,
    /// How documents of multi-type (ES 5.x/6.x) indices map to indices: merge, split or split:<pattern>
    /// (`{index}` and `{type}` are replaced); must match the metadata migration's rule.
    #[arg(long, default_value = "merge")]
    type_rule: TypeRule,
    /// Print the final totals as one JSON line on stdout.
    #[arg(long)]
    json: bool,
}

/// The S3 blob cache bound when reading an `s3://` repository (the other repository commands' default, 20G).
const DEFAULT_S3_CACHE_BYTES: u64 = 20 << 30;

/// `ferry-client` as the backfill's `_bulk` target.
struct ClientTarget(Client);

impl BulkTarget for ClientTarget {
    async fn bulk(&self, body: Bytes) -> Result<BulkReply, String> {
        let response = self.0.request_ndjson(http::Method::POST, "/_bulk", body).await.map_err(|e| e.to_string())?;
        Ok(BulkReply { status: response.status, body: response.body.to_vec() })
    }
}

/// A unit before its source is opened: opening reads and verifies the shard's files, so it happens just in time.
struct Planned {
    label: String,
    index: String,
    shard: u32,
    target: TargetIndex,
    checkpoint: PathBuf,
}

/// Runs `ferry backfill`.
pub fn run(command: Command) -> anyhow::Result<()> {
    let mut config = command.target.config()?;
    config.gzip |= command.gzip;
    let target = Arc::new(ClientTarget(Client::new(config).context("the --target cluster")?));
    let dead_letter_path = command.dead_letter.clone().unwrap_or_else(|| command.state_dir.join("dead-letter.ndjson"));
    let dead_letters = Arc::new(DeadLetterWriter::new(dead_letter_path));
    let options = Options {
        max_bytes: usize::try_from(command.batch_bytes).unwrap_or(usize::MAX),
        in_flight: usize::from(command.in_flight),
        retry: RetryPolicy {
            max_attempts: command.max_attempts,
            base: Duration::from_millis(command.retry_base_ms),
            ..RetryPolicy::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let totals = Arc::new(Totals::default());
    let started = Instant::now();
    let progress = Progress::start(Arc::clone(&totals));

    let mut failures = Vec::new();
    let mut run_one = |planned: Planned, open: &dyn Fn(&Planned) -> ferry_backfill::Result<ShardSource>| {
        let result = open(&planned).and_then(|source| {
            let unit =
                Unit { source, target: planned.target.clone(), checkpoint: planned.checkpoint.clone(), range: None };
            runtime.block_on(run_unit(
                unit,
                Arc::clone(&target),
                Arc::clone(&dead_letters),
                options,
                Arc::clone(&totals),
            ))
        });
        match result {
            Ok(report) => {
                let (ids, sources) = (report.without_id, report.without_source);
                if sources > 0 {
                    progress.println(format!(
                        "warning: {}: {sources} live documents have no _source and cannot be re-indexed",
                        planned.label
                    ));
                }
                if ids > 0 {
                    progress.println(format!(
                        "note: {}: {ids} nested documents travel inside their parent's _source",
                        planned.label
                    ));
                }
            }
            Err(e) => {
                progress.println(format!("error: {}: {e}", planned.label));
                failures.push(planned.label);
            }
        }
    };

    match (&command.repo, &command.lucene) {
        (Some(repo), None) => {
            let name = command.snapshot.as_deref().context("--snapshot is required with --repo")?;
            let repo_args = RepoArgs {
                repo: repo.clone(),
                s3_region: None,
                s3_endpoint: None,
                cache_dir: None,
                cache_size: DEFAULT_S3_CACHE_BYTES,
            };
            let repo = repo_args.open()?;
            let snapshot = repo.find_snapshot(name)?.clone();
            for planned in plan_snapshot(&repo, &snapshot, &command)? {
                run_one(planned, &|p| ShardSource::snapshot(&repo, &snapshot, &p.index, p.shard));
            }
        }
        (None, Some(dir)) => {
            let [index] = command.indices.as_slice() else {
                anyhow::bail!("--lucene needs exactly one --index: the target index name");
            };
            let planned = Planned {
                label: format!("{} → {index}", dir.display()),
                index: index.clone(),
                shard: 0,
                target: TargetIndex::fixed(index.clone()),
                checkpoint: command.state_dir.join("lucene").join(index).join("0.json"),
            };
            run_one(planned, &|_| ShardSource::lucene(dir));
        }
        _ => anyhow::bail!("give a source: --repo DIR --snapshot NAME, or --lucene DIR --index NAME"),
    }
    progress.finish();

    let totals = totals.snapshot();
    print_totals(&totals, started.elapsed(), dead_letters.path(), command.json);
    if !failures.is_empty() {
        anyhow::bail!(
            "{} shard(s) failed ({}); acknowledged progress is checkpointed in {}: rerun the same command to resume",
            failures.len(),
            failures.join(", "),
            command.state_dir.display()
        );
    }
    Ok(())
}

/// The shards of the snapshot's selected indices, each with its target index naming and checkpoint path.
fn plan_snapshot(repo: &Repository, snapshot: &SnapshotEntry, command: &Command) -> anyhow::Result<Vec<Planned>> {
    let indices: Vec<String> = if command.indices.is_empty() {
        snapshot.indices.iter().filter(|i| !i.starts_with('.')).cloned().collect()
    } else {
        for index in &command.indices {
            anyhow::ensure!(snapshot.indices.contains(index), "snapshot {} holds no index {index:?}", snapshot.name);
        }
        command.indices.clone()
    };
    let mut planned = Vec::new();
    for index in indices {
        let metadata = repo.index_metadata(snapshot, &index)?;
        let type_count = metadata.mappings.iter().filter(|(ty, _)| ty != "_default_").count();
        let target = match &command.type_rule {
            TypeRule::Merge => TargetIndex::fixed(index.clone()),
            rule => {
                let (rule, source_index) = (rule.clone(), index.clone());
                TargetIndex::per_type(index.clone(), move |ty| rule.target_index(&source_index, Some(ty), type_count))
            }
        };
        for shard in 0..metadata.number_of_shards {
            planned.push(Planned {
                label: format!("{}/{index}/{shard}", snapshot.name),
                index: index.clone(),
                shard,
                target: target.clone(),
                checkpoint: checkpoint_path(&command.state_dir, &snapshot.name, &index, shard),
            });
        }
    }
    Ok(planned)
}

fn checkpoint_path(state_dir: &Path, snapshot: &str, index: &str, shard: u32) -> PathBuf {
    state_dir.join(snapshot).join(index).join(format!("{shard}.json"))
}

fn print_totals(totals: &TotalsSnapshot, elapsed: Duration, dead_letter: &Path, json: bool) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mb = totals.bytes as f64 / 1e6;
    if json {
        let mut value = serde_json::to_value(totals).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("elapsed_ms".into(), (elapsed.as_millis() as u64).into());
            map.insert("docs_per_sec".into(), (totals.indexed as f64 / secs).round().into());
            map.insert("mb_per_sec".into(), (((mb / secs) * 10.0).round() / 10.0).into());
        }
        println!("{value}");
    } else {
        println!(
            "{} documents indexed, {} dead-lettered{}, {} retried, {} already done in earlier runs; {} requests, \
             {mb:.1} MB in {secs:.1} s ({:.0} docs/s, {:.1} MB/s)",
            totals.indexed,
            totals.dead_lettered,
            if totals.dead_lettered > 0 { format!(" (see {})", dead_letter.display()) } else { String::new() },
            totals.retried,
            totals.resumed,
            totals.requests,
            totals.indexed as f64 / secs,
            mb / secs,
        );
    }
}

/// Progress on stderr: a bar (documents, MB, rate, ETA) on a terminal, a plain line every 10 s otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(totals: Arc<Totals>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} docs {msg} ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let (stop_flag, thread_bar) = (Arc::clone(&stop), bar.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut last_line = Instant::now();
            while !stop_flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let t = totals.snapshot();
                let done = t.indexed.saturating_add(t.dead_lettered);
                match &thread_bar {
                    Some(bar) => {
                        bar.set_length(t.expected.max(done));
                        bar.set_position(done);
                        bar.set_message(format!("{:.1} MB", t.bytes as f64 / 1e6));
                    }
                    None if last_line.elapsed() >= Duration::from_secs(10) => {
                        last_line = Instant::now();
                        let secs = started.elapsed().as_secs_f64().max(1e-9);
                        let rate = done as f64 / secs;
                        let eta = match t.expected.checked_sub(done) {
                            Some(left) if rate > 0.0 => format!("{:.0} s", left as f64 / rate),
                            _ => "unknown".into(),
                        };
                        eprintln!(
                            "progress: {done}/{} docs, {:.1} MB, {rate:.0} docs/s, {:.1} MB/s, ETA {eta}",
                            t.expected,
                            t.bytes as f64 / 1e6,
                            t.bytes as f64 / 1e6 / secs
                        );
                    }
                    None => {}
                }
            }
        });
        Progress { bar, stop, thread: Some(thread) }
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

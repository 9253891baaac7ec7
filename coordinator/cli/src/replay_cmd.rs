//! `ferry replay`: replay a capture against a target cluster and compare every response, and
//! `ferry replay report RESULTS`: summarise a results file.

use std::io::{BufReader, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferry_replay::{Config, KafkaConfig, Replay, SourceConfig, DEFAULT_GROUP};
use ferry_replay_compare::CompareConfig;
use ferry_replay_transform::RuleConfig;

use crate::cluster::TargetArgs;

/// Arguments of `ferry replay`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Command {
    #[command(subcommand)]
    report: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Summarise a results file: matches and mismatches per endpoint and index, latencies, top differences.
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The results file (`--out` of a replay).
    results: PathBuf,
    /// The summary as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The capture log directory to replay.
    #[arg(long = "log", value_name = "DIR", required_unless_present = "kafka")]
    log_dir: Option<PathBuf>,
    /// Kafka bootstrap servers to consume the capture from (with --topic).
    #[arg(long, value_name = "BROKERS", conflicts_with = "log_dir", requires = "topic")]
    kafka: Option<String>,
    /// The Kafka topic.
    #[arg(long, value_name = "NAME", requires = "kafka")]
    topic: Option<String>,
    /// The Kafka consumer group (replayers in one group share the partitions).
    #[arg(long, value_name = "G", requires = "kafka", default_value = DEFAULT_GROUP)]
    group: String,
    #[command(flatten)]
    target: TargetArgs,
    /// The results file (NDJSON, one line per replayed request; appended to).
    #[arg(long, value_name = "RESULTS.ndjson", required = true)]
    out: Option<PathBuf>,
    /// Divide the captured time between requests by this factor.
    #[arg(long, default_value_t = 1.0, conflicts_with = "as_fast_as_possible")]
    speedup: f64,
    /// Ignore the captured timing: send as fast as order and limits allow.
    #[arg(long)]
    as_fast_as_possible: bool,
    /// Let a request overtake requests of other connections that were answered before it began in the capture
    /// (by default it waits for them). Only for captures whose connections are known to be independent.
    #[arg(long)]
    no_causal_order: bool,
    /// Keep tailing the log (or consuming the topic) for new records instead of exiting when it is drained (stop
    /// with SIGINT/SIGTERM).
    #[arg(long)]
    follow: bool,
    /// A TOML file with `[[transform]]` rules and a `[compare]` table.
    #[arg(long, value_name = "FILE.toml")]
    rules: Option<PathBuf>,
    /// Where the checkpoint, dead letters and sent journal live. Default: `<log dir>.replay-state`; required
    /// with --kafka.
    #[arg(long = "state", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Requests in flight at once, over all connections.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_in_flight: u64,
    /// Sends per request when the target is unreachable or throttles.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Serve Prometheus metrics on this address.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 5)]
    progress_secs: u64,
}

/// The `--rules` file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    transform: Vec<RuleConfig>,
    #[serde(default)]
    compare: CompareConfig,
}

/// Runs `ferry replay …`.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command.report {
        Some(Sub::Report(args)) => report(args),
        None => replay(command.run),
    }
}

fn report(args: ReportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.results).with_context(|| format!("opening {}", args.results.display()))?;
    let report = ferry_replay_compare::report::Report::from_reader(BufReader::new(file))
        .with_context(|| format!("reading {}", args.results.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        write!(out, "{}", report.render_text())?;
    }
    out.flush()?;
    Ok(())
}

fn replay(args: RunArgs) -> anyhow::Result<()> {
    let source = match (args.log_dir, args.kafka, args.topic) {
        (Some(dir), None, _) => SourceConfig::Log { dir },
        (None, Some(brokers), Some(topic)) => {
            anyhow::ensure!(
                args.state_dir.is_some(),
                "--kafka needs --state DIR (where the dead letters and the sent journal are kept)"
            );
            SourceConfig::Kafka { kafka: Box::new(KafkaConfig::new(&brokers, &topic)), group: args.group }
        }
        _ => anyhow::bail!("give either --log DIR or --kafka BROKERS --topic NAME"),
    };
    let Some(out) = args.out else { anyhow::bail!("--out RESULTS.ndjson is required") };
    let mut config = Config::with_source(source, args.target.config()?, out);
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading --rules {}", path.display()))?;
        let rules: RulesFile = toml::from_str(&text).with_context(|| format!("--rules {}", path.display()))?;
        config.transform = rules.transform;
        config.compare = rules.compare;
    }
    config.state_dir = args.state_dir;
    config.follow = args.follow;
    config.speedup = args.speedup;
    config.as_fast_as_possible = args.as_fast_as_possible;
    config.causal_order = !args.no_causal_order;
    config.max_in_flight = usize::try_from(args.max_in_flight).unwrap_or(usize::MAX);
    config.max_attempts = args.max_attempts;
    config.metrics_listen = args.metrics;
    let source_name = match &config.source {
        SourceConfig::Log { dir } => dir.display().to_string(),
        SourceConfig::Kafka { kafka, group } => format!("Kafka topic {} (group {group})", kafka.topic),
    };
    let replay = Replay::new(config)?;
    let metrics = replay.metrics();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let done = Arc::new(AtomicBool::new(false));
    let progress = (args.progress_secs > 0).then(|| {
        let (metrics, done) = (metrics.clone(), done.clone());
        let every = Duration::from_secs(args.progress_secs);
        std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
                if waited >= every {
                    waited = Duration::ZERO;
                    eprintln!("{}", metrics.progress_line());
                }
            }
        })
    });
    let result = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        anyhow::Ok(replay.run(shutdown).await?)
    });
    done.store(true, Ordering::Relaxed);
    if let Some(thread) = progress {
        let _ = thread.join();
    }
    let summary = result.with_context(|| format!("replaying {source_name}"))?;
    eprintln!(
        "replayed {} requests from {} records: {} matched, {} mismatched, {} errors; {} dead-lettered, {} replayed twice, {} skipped partial, {} not captured, {} idle connections expired, {} retries",
        summary.replayed,
        summary.records,
        summary.matched,
        summary.mismatched,
        summary.errors,
        summary.dead_lettered,
        summary.replayed_twice,
        summary.skipped_partial,
        summary.dropped_by_capture,
        summary.expired_connections,
        summary.retries,
    );
    Ok(())
}

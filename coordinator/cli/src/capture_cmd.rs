//! `ferry capture`: run the capture proxy in front of a source cluster, and `ferry capture inspect`: list or
//! dump the exchanges recorded in a capture log.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use ferry_capture::{Config, RunningProxy, SuppressRule};
use ferry_capture_log::LogReader;
use ferry_traffic::exchange::{assemble, Connection, Exchange};
use ferry_traffic::TrafficStream;

/// Arguments of `ferry capture`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Command {
    #[command(subcommand)]
    inspect: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// List the request/response exchanges in a capture log.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// TOML configuration file; the flags below override its settings.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address clients connect to, e.g. 0.0.0.0:9200.
    #[arg(long)]
    listen: Option<String>,
    /// The source cluster, http://host:port or https://host:port.
    #[arg(long)]
    upstream: Option<String>,
    /// Capture log directory.
    #[arg(long = "log")]
    log_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on this address.
    #[arg(long)]
    metrics: Option<String>,
    /// Forward but do not capture requests whose path matches this regular expression (repeatable).
    #[arg(long = "suppress-path")]
    suppress_path: Vec<String>,
    /// Send captured records to these Kafka brokers (host:port,…); the capture log becomes the spill buffer
    /// used while Kafka is slow or down. Needs --topic (or a [capture.kafka] section).
    #[arg(long, value_name = "BROKERS")]
    kafka: Option<String>,
    /// The Kafka topic of captured traffic.
    #[arg(long, value_name = "NAME")]
    topic: Option<String>,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// The capture log directory.
    dir: PathBuf,
    /// One JSON object per exchange instead of a table.
    #[arg(long)]
    json: bool,
    /// Print each exchange's raw request and response bytes.
    #[arg(long)]
    dump: bool,
}

/// Runs `ferry capture …`.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command.inspect {
        Some(Sub::Inspect(args)) => inspect(args),
        None => serve(command.run),
    }
}

fn serve(args: RunArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => {
            let (Some(listen), Some(upstream), Some(log)) = (&args.listen, &args.upstream, &args.log_dir) else {
                anyhow::bail!("--listen, --upstream and --log are required without --config");
            };
            Config::new(listen, upstream, log)
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(upstream) = args.upstream {
        config.upstream = upstream;
    }
    if let Some(log) = args.log_dir {
        config.capture.log_dir = log;
    }
    if args.metrics.is_some() {
        config.metrics_listen = args.metrics;
    }
    match (args.kafka, args.topic, &mut config.capture.kafka) {
        (None, None, _) => {}
        (brokers, topic, Some(kafka)) => {
            if let Some(brokers) = brokers {
                kafka.brokers = brokers;
            }
            if let Some(topic) = topic {
                kafka.topic = topic;
            }
        }
        (Some(brokers), Some(topic), None) => {
            config.capture.kafka = Some(ferry_capture::KafkaConfig::new(&brokers, &topic));
        }
        (Some(_), None, None) => anyhow::bail!("--kafka needs --topic"),
        (None, Some(_), None) => anyhow::bail!("--topic needs --kafka"),
    }
    config.suppress.extend(
        args.suppress_path.into_iter().map(|path| SuppressRule { path: Some(path), ..SuppressRule::default() }),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        // Installed before the address is announced, so a signal sent as soon as it is known is not fatal.
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        // Tests and scripts read the bound address (the port may have been 0) from stderr.
        let announce = |running: &RunningProxy| {
            eprintln!("listening on {}", running.local_addr());
            if let Some(addr) = running.metrics_addr() {
                eprintln!("metrics on {addr}");
            }
        };
        ferry_capture::run_until(config, announce, shutdown).await?;
        anyhow::Ok(())
    })
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let mut reader = LogReader::open(&args.dir)?;
    let mut records = Vec::new();
    for record in reader.by_ref() {
        let record = record?;
        let stream = TrafficStream::decode(&record.bytes).with_context(|| {
            format!("record at segment {} offset {}", record.position.segment, record.position.offset)
        })?;
        records.push(stream);
    }
    let stats = reader.stats();
    let connections = assemble(&records);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for connection in &connections {
        for exchange in &connection.exchanges {
            if args.json {
                writeln!(out, "{}", exchange_json(connection, exchange, args.dump))?;
            } else {
                writeln!(out, "{}", exchange_line(connection, exchange))?;
                if args.dump {
                    writeln!(out, "--- request\n{}", String::from_utf8_lossy(&exchange.request))?;
                    writeln!(out, "--- response\n{}", String::from_utf8_lossy(&exchange.response))?;
                }
            }
        }
    }
    out.flush()?;
    let exchanges: usize = connections.iter().map(|c| c.exchanges.len()).sum();
    let dropped: u64 = connections.iter().map(|c| c.dropped).sum();
    eprintln!(
        "{} records, {} connections, {exchanges} exchanges, {dropped} requests not captured; skipped: {} torn tails, {} corrupt regions, {} bytes; {} bytes pending at the end",
        stats.records,
        connections.len(),
        stats.torn_tails,
        stats.corrupt_regions,
        stats.skipped_bytes,
        reader.pending_bytes()
    );
    Ok(())
}

fn millis(from: Option<ferry_traffic::Timestamp>, to: Option<ferry_traffic::Timestamp>) -> Option<f64> {
    Some((to?.as_nanos() - from?.as_nanos()) as f64 / 1e6)
}

fn request_line(exchange: &Exchange) -> (&str, &str) {
    exchange.request_head.as_ref().map_or(("?", "?"), |h| (h.method.as_str(), h.target.as_str()))
}

fn exchange_line(connection: &Connection, exchange: &Exchange) -> String {
    let (method, target) = request_line(exchange);
    let status = exchange.response_head.as_ref().map_or("-".to_string(), |h| h.status.to_string());
    let total = millis(exchange.request_start, exchange.response_end).map_or("-".into(), |ms| format!("{ms:.3}ms"));
    format!(
        "{} {method} {target} {status} req={}B resp={}B {total}{}",
        connection.id,
        exchange.request.len(),
        exchange.response.len(),
        if exchange.complete { "" } else { " incomplete" }
    )
}

fn exchange_json(connection: &Connection, exchange: &Exchange, dump: bool) -> serde_json::Value {
    let (method, target) = request_line(exchange);
    let mut value = serde_json::json!({
        "connection": connection.id,
        "method": method,
        "path": target,
        "status": exchange.response_head.as_ref().map(|h| h.status),
        "request_bytes": exchange.request.len(),
        "response_bytes": exchange.response.len(),
        "complete": exchange.complete,
        "request_ms": millis(exchange.request_start, exchange.request_end),
        "first_byte_ms": millis(exchange.request_end, exchange.response_start),
        "total_ms": millis(exchange.request_start, exchange.response_end),
    });
    if dump {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        value["request_base64"] = b64.encode(&exchange.request).into();
        value["response_base64"] = b64.encode(&exchange.response).into();
    }
    value
}
